/**
 * DNS over UDP and TCP on one riptide engine, authoritative or recursive:
 * `npx tsx examples/dns/server.ts --port 5353 --zone examples/dns/example.zone`, then
 * `dig @127.0.0.1 -p 5353 www.example.test AAAA` (add `+tcp` for TCP); or
 * `npx tsx examples/dns/server.ts --port 5300 --resolve --root 127.0.0.2:5353` to resolve
 * iteratively from a root server. See README.md here.
 * With `--tunnel-zone t.example. --tunnel-target 127.0.0.1:22` it also serves the DNS tunnel's
 * zone, beside either (examples/dns-tunnel/README.md).
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { serveTunnel } from '../dns-tunnel/tunnel-server'
import { serveDns, type DnsServerOptions } from './dns-server'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '5353' },
      zone: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      resolve: { type: 'boolean', default: false },
      root: { type: 'string', multiple: true },
      'tunnel-zone': { type: 'string' },
      'tunnel-target': { type: 'string' },
    },
  })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port}`)
  const tunnelZone = values['tunnel-zone']
  const target = values['tunnel-target']
  if ((tunnelZone === undefined) !== (target === undefined)) throw new Error('--tunnel-zone and --tunnel-target go together')
  let answers: Pick<DnsServerOptions, 'zone' | 'resolve'>
  let roots: string[] = []
  if (values.resolve) {
    roots = values.root ?? []
    if (roots.length === 0 || values.zone !== undefined) throw new Error('--resolve takes one or more --root ip:port, and no --zone')
    // Servers found by referral are asked on the first root's port, so a local hierarchy can
    // run on a test port (on the Internet every server is on 53).
    const rootPort = Number(/:(\d+)$/.exec(roots[0])?.[1] ?? 53)
    answers = { resolve: { roots, port: rootPort } }
  } else {
    answers = { zone: readFileSync(values.zone ?? `${__dirname}/example.zone`, 'utf8') }
  }
  const tunnel = tunnelZone === undefined || target === undefined ? undefined : await serveTunnel({ zone: tunnelZone, target })
  const server = await serveDns({ ...answers, port, host: values.host, tunnel })
  if (server.zone !== undefined) {
    console.log(`riptide dns: ${server.zone.origin} (${server.zone.recordCount} records) on ${values.host}:${server.port} udp+tcp`)
  } else {
    console.log(`riptide dns: recursive from ${roots.join(', ')} on ${values.host}:${server.port} udp+tcp`)
  }
  if (tunnel !== undefined) console.log(`riptide dns: tunnel zone ${tunnelZone} to tcp://${target}`)
  const stop = () => void Promise.all([server.stop(), tunnel?.stop()])
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

void main()
