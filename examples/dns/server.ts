/**
 * DNS over UDP and TCP on one riptide engine, authoritative or recursive:
 * `npx tsx examples/dns/server.ts --port 5353 --zone examples/dns/example.zone`, then
 * `dig @127.0.0.1 -p 5353 www.example.test AAAA` (add `+tcp` for TCP); or
 * `npx tsx examples/dns/server.ts --port 5300 --resolve --root 127.0.0.2:5353` to resolve
 * iteratively from a root server. See README.md here.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { serveDns } from './dns-server'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '5353' },
      zone: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      resolve: { type: 'boolean', default: false },
      root: { type: 'string', multiple: true },
    },
  })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port}`)
  if (values.resolve) {
    const roots = values.root ?? []
    if (roots.length === 0 || values.zone !== undefined) throw new Error('--resolve takes one or more --root ip:port, and no --zone')
    // Servers found by referral are asked on the first root's port, so a local hierarchy can
    // run on a test port (on the Internet every server is on 53).
    const rootPort = Number(/:(\d+)$/.exec(roots[0])?.[1] ?? 53)
    const server = await serveDns({ resolve: { roots, port: rootPort }, port, host: values.host })
    console.log(`riptide dns: recursive from ${roots.join(', ')} on ${values.host}:${server.port} udp+tcp`)
    process.once('SIGINT', () => void server.stop())
    process.once('SIGTERM', () => void server.stop())
    return
  }
  const zonePath = values.zone ?? `${__dirname}/example.zone`
  const server = await serveDns({ zone: readFileSync(zonePath, 'utf8'), port, host: values.host })
  console.log(`riptide dns: ${server.zone!.origin} (${server.zone!.recordCount} records) on ${values.host}:${server.port} udp+tcp`)
  process.once('SIGINT', () => void server.stop())
  process.once('SIGTERM', () => void server.stop())
}

void main()
