/**
 * The uWebSockets.js WebSocket peer: `App().ws('/*')` without compression (uWS's default,
 * `DISABLED`), loaded as bench/peers/uws-http.ts loads it. `--mode echo` (W1) sends every
 * message back (`ws.send(message, isBinary)`); `--mode pubsub` (W2) subscribes connections
 * that open `/sub` to one topic and publishes every message from any other connection (the
 * publisher opens `/pub`) with `app.publish`, as uWS's own pub/sub benchmarks do.
 * `node --import tsx bench/peers/uws-ws.ts --port 9001 --mode echo|pubsub`
 */
import { parseArgs } from 'node:util'
import { firstLine, loadUws } from './uws-load'

/** The part of uWebSockets.js this peer uses. */
interface UwsSocket {
  send(message: ArrayBuffer, isBinary: boolean): number
  subscribe(topic: string): boolean
  getUserData(): { url: string }
}
interface UwsRequest {
  getUrl(): string
  getHeader(name: string): string
}
interface UwsUpgradeResponse {
  upgrade(data: { url: string }, key: string, protocol: string, extensions: string, context: unknown): void
}
interface UwsApp {
  ws(
    pattern: string,
    behavior: {
      compression: number
      maxPayloadLength: number
      idleTimeout: number
      maxBackpressure: number
      upgrade(res: UwsUpgradeResponse, req: UwsRequest, context: unknown): void
      open(ws: UwsSocket): void
      message(ws: UwsSocket, message: ArrayBuffer, isBinary: boolean): void
    },
  ): UwsApp
  publish(topic: string, message: ArrayBuffer, isBinary: boolean): boolean
  listen(host: string, port: number, cb: (token: unknown) => void): UwsApp
}

const TOPIC = 'w2'
const { values } = parseArgs({ options: { port: { type: 'string', default: '9001' }, mode: { type: 'string', default: 'echo' } } })
let uws: { App(): UwsApp }
try {
  uws = loadUws().module as { App(): UwsApp }
} catch (err) {
  console.log(JSON.stringify({ error: firstLine(err) }))
  process.exit(3)
}
const pubsub = values.mode === 'pubsub'
const app: UwsApp = uws.App().ws('/*', {
  compression: 0,
  maxPayloadLength: 1 << 20,
  idleTimeout: 0,
  // Buffer for slow subscribers rather than drop: every peer must deliver every message.
  maxBackpressure: 1 << 30,
  upgrade(res, req, context) {
    res.upgrade(
      { url: req.getUrl() },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    )
  },
  open(ws) {
    if (pubsub && ws.getUserData().url === '/sub') ws.subscribe(TOPIC)
  },
  message(ws, message, isBinary) {
    if (pubsub) app.publish(TOPIC, message, isBinary)
    else ws.send(message, isBinary)
  },
})
app.listen('127.0.0.1', Number(values.port), (token) => {
  if (!token) {
    console.log(JSON.stringify({ error: `cannot listen on port ${values.port}` }))
    process.exit(3)
  }
  console.log(`uWebSockets.js WebSocket ${pubsub ? 'pub/sub' : 'echo'} listening on 127.0.0.1:${values.port}`)
})
process.once('SIGTERM', () => process.exit(0))
