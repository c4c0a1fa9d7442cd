/**
 * The `ws` npm package's WebSocket echo peer (W1): `new WebSocketServer({ port,
 * perMessageDeflate: false })`, every message sent back with its type.
 * `node --import tsx bench/peers/ws-echo.ts --port 9001`
 */
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'

/** The part of `ws` this peer uses (the package ships no types; __test__/ws.d.ts has the client's). */
interface WsSocket {
  on(event: 'message', cb: (data: Buffer, isBinary: boolean) => void): void
  send(data: Buffer, options: { binary: boolean }): void
}
interface WsServer {
  on(event: 'connection', cb: (ws: WsSocket) => void): void
  on(event: 'listening', cb: () => void): void
}
const { WebSocketServer } = createRequire(__filename)('ws') as {
  WebSocketServer: new (options: { host: string; port: number; perMessageDeflate: boolean; maxPayload: number }) => WsServer
}

const { values } = parseArgs({ options: { port: { type: 'string', default: '9001' } } })
const server = new WebSocketServer({ host: '127.0.0.1', port: Number(values.port), perMessageDeflate: false, maxPayload: 1 << 20 })
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))
})
server.on('listening', () => console.log(`ws echo listening on 127.0.0.1:${values.port}`))
process.once('SIGTERM', () => process.exit(0))
