/**
 * The `node:http` peer: the TechEmpower-style plaintext handler (`Content-Length`, keep-alive).
 * With `--cert` and `--key` (PEM files) it is the `node:https` peer: the same handler on
 * `https.createServer`.
 * `node --import tsx bench/peers/node-http.ts --port 8082 [--cert cert.pem --key key.pem]`
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type net from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { port: { type: 'string', default: '8082' }, cert: { type: 'string' }, key: { type: 'string' } } })
const handler: http.RequestListener = (_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 13, Server: 'node' })
  res.end('Hello, World!')
}
const tls = values.cert && values.key ? { cert: readFileSync(values.cert), key: readFileSync(values.key) } : undefined
const server = tls ? https.createServer(tls, handler) : http.createServer(handler)
server.keepAliveTimeout = 60_000
server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`node:${tls ? 'https' : 'http'} listening on 127.0.0.1:${(server.address() as net.AddressInfo).port}`)
})
process.once('SIGTERM', () => process.exit(0))
