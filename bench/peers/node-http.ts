/**
 * The `node:http` peer: the TechEmpower-style plaintext handler (`Content-Length`, keep-alive).
 * `node --import tsx bench/peers/node-http.ts --port 8082`
 */
import http from 'node:http'
import type net from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { port: { type: 'string', default: '8082' } } })
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 13, Server: 'node' })
  res.end('Hello, World!')
})
server.keepAliveTimeout = 60_000
server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`node:http listening on 127.0.0.1:${(server.address() as net.AddressInfo).port}`)
})
process.once('SIGTERM', () => process.exit(0))
