/**
 * WebSocket echo server: `npx tsx examples/ws-echo.ts --port 9001` (add `--tls` with
 * `--cert`/`--key` PEM files for wss://). Echoes text as text and binary as binary, with
 * permessage-deflate when the client offers it, pings idle clients every 30 s, refuses paths
 * other than `/echo` with 404. Try it with `npx wscat -c ws://127.0.0.1:9001/echo`.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { codecs, serve, WebSocketCloseError } from 'riptide'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '9001' },
      host: { type: 'string', default: '127.0.0.1' },
      tls: { type: 'boolean', default: false },
      cert: { type: 'string' },
      key: { type: 'string' },
    },
  })
  const scheme = values.tls ? 'tls' : 'tcp'
  const tls = values.tls ? { tls: { cert: readFileSync(values.cert ?? 'cert.pem', 'utf8'), key: readFileSync(values.key ?? 'key.pem', 'utf8') } } : {}
  const engine = await serve(`${scheme}://${values.host}:${values.port}`, {
    onUpgrade(_conn, request) {
      return request.path === '/echo' ? undefined : { status: 404 }
    },
    onTraffic(conn, message, { binary }) {
      // Text arrives as its UTF-8 bytes; a string goes back as text, bytes as binary.
      conn.write(binary ? message.slice() : Buffer.from(message).toString())
    },
    onClose(conn, err) {
      if (err instanceof WebSocketCloseError) console.log(`${conn.id} closed ${err.closeCode} ${err.reason}`)
      else if (err !== undefined) console.log(`${conn.id} failed ${err.code}`)
    },
  }, { codec: codecs.websocket({ compression: true, idleTimeout: 30_000 }), ...tls })
  console.log(`riptide WebSocket echo on ${values.tls ? 'wss' : 'ws'}://${values.host}:${engine.port}/echo`)
  const stop = () => void engine.stop()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

void main()
