/**
 * Authoritative DNS over UDP and TCP on one riptide engine:
 * `npx tsx examples/dns/server.ts --port 5353 --zone examples/dns/example.zone`, then
 * `dig @127.0.0.1 -p 5353 www.example.test AAAA` (add `+tcp` for TCP). See README.md here.
 * With `--tunnel-zone t.example. --tunnel-target 127.0.0.1:22` it also serves the DNS tunnel's
 * zone (examples/dns-tunnel/README.md).
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { serveTunnel } from '../dns-tunnel/tunnel-server'
import { serveDns } from './dns-server'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '5353' },
      zone: { type: 'string', default: `${__dirname}/example.zone` },
      host: { type: 'string', default: '127.0.0.1' },
      'tunnel-zone': { type: 'string' },
      'tunnel-target': { type: 'string' },
    },
  })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port}`)
  const zone = values['tunnel-zone']
  const target = values['tunnel-target']
  if ((zone === undefined) !== (target === undefined)) throw new Error('--tunnel-zone and --tunnel-target go together')
  const tunnel = zone === undefined || target === undefined ? undefined : await serveTunnel({ zone, target })
  const server = await serveDns({ zone: readFileSync(values.zone, 'utf8'), port, host: values.host, tunnel })
  console.log(`riptide dns: ${server.zone.origin} (${server.zone.recordCount} records) on ${values.host}:${server.port} udp+tcp`)
  if (tunnel !== undefined) console.log(`riptide dns: tunnel zone ${zone} to tcp://${target}`)
  const stop = () => void Promise.all([server.engine.stop(), tunnel?.stop()])
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

void main()
