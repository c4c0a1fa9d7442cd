/**
 * WebSocket client: `npx tsx examples/ws-client.ts --url ws://127.0.0.1:9001/echo` (the
 * server of `examples/ws-echo.ts`; for wss:// add `--ca ca.pem`). Sends each line typed as a
 * text message and prints what comes back, offers permessage-deflate, pings every 10 s and
 * prints the round trip from its pong, and reconnects (a new handshake each time) when the
 * server goes away. Ctrl-D closes with 1000.
 */
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { connect, WebSocketCloseError, type WebSocketUrl } from 'riptide'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'ws://127.0.0.1:9001/echo' },
      ca: { type: 'string' },
    },
  })
  const tls = values.ca === undefined ? {} : { tls: { ca: readFileSync(values.ca, 'utf8') } }
  let pinged = 0
  const ws = await connect(values.url as WebSocketUrl, {
    onOpen(conn) {
      console.log(`open, subprotocol ${conn.protocol ?? 'none'}, extensions ${conn.header('sec-websocket-extensions') ?? 'none'}`)
    },
    onTraffic(_conn, message, { binary }) {
      console.log(binary ? `< ${message.length} bytes` : `< ${Buffer.from(message).toString()}`)
    },
    onPong() {
      console.log(`pong after ${Date.now() - pinged} ms`)
    },
    onReconnecting(_conn, attempt, delay) {
      console.log(`lost; attempt ${attempt} in ${delay} ms`)
    },
    onClose(_conn, err) {
      console.log(err instanceof WebSocketCloseError ? `closed ${err.closeCode} ${err.reason}` : `closed ${err?.code ?? ''}`)
      clearInterval(timer)
      lines.close()
    },
  }, { compression: true, reconnect: { initialDelay: 200, maxDelay: 5000 }, ...tls })
  const timer = setInterval(() => {
    if (!ws.open) return
    pinged = Date.now()
    ws.ping()
  }, 10_000)
  const lines = createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    if (ws.open) ws.write(line)
  })
  lines.once('close', () => ws.close(1000, 'bye'))
}

main().catch((err: unknown) => {
  // A refused handshake (ERR_WS_UPGRADE_REFUSED, with the status) or an unreachable server.
  console.error(String(err))
  process.exitCode = 1
})
