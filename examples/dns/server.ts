/**
 * Authoritative DNS over UDP and TCP on one riptide engine:
 * `npx tsx examples/dns/server.ts --port 5353 --zone examples/dns/example.zone`, then
 * `dig @127.0.0.1 -p 5353 www.example.test AAAA` (add `+tcp` for TCP). See README.md here.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { serveDns } from './dns-server'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '5353' },
      zone: { type: 'string', default: `${__dirname}/example.zone` },
      host: { type: 'string', default: '127.0.0.1' },
    },
  })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port}`)
  const server = await serveDns({ zone: readFileSync(values.zone, 'utf8'), port, host: values.host })
  console.log(`riptide dns: ${server.zone.origin} (${server.zone.recordCount} records) on ${values.host}:${server.port} udp+tcp`)
  process.once('SIGINT', () => void server.engine.stop())
  process.once('SIGTERM', () => void server.engine.stop())
}

void main()
