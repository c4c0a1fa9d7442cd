/**
 * The riptide WebSocket peer (TypeScript API, one reactor, `codecs.websocket()` without
 * compression). `--mode echo` (W1) sends every message back; `--mode pubsub` (W2) subscribes
 * connections that open `/sub` to one topic and publishes every message from any other
 * connection (the publisher opens `/pub`) to it with `engine.publish`. Answers stats requests
 * on stdin (see stats-channel.ts).
 * `node --import tsx bench/peers/riptide-ws.ts --port 9001 --mode echo|pubsub`
 */
import { parseArgs } from 'node:util'
import { codecs, serve, type WebSocketHandler } from 'riptide'
import { serveStats } from './stats-channel'

const TOPIC = 'w2'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '9001' }, mode: { type: 'string', default: 'echo' } } })
  const pubsub = values.mode === 'pubsub'
  const handler: WebSocketHandler<string> = pubsub
    ? {
        onUpgrade(conn, request) {
          conn.context = request.path
        },
        onOpen(conn) {
          if (conn.context === '/sub') conn.subscribe(TOPIC)
        },
        onTraffic(_conn, message, { binary }) {
          engine.publish(TOPIC, binary ? message : Buffer.from(message).toString())
        },
      }
    : {
        onTraffic(conn, message, { binary }) {
          conn.write(binary ? message : Buffer.from(message).toString())
        },
      }
  const engine = await serve(`tcp://127.0.0.1:${values.port}`, handler, { codec: codecs.websocket({ maxPayload: 1 << 20 }) })
  console.log(`riptide WebSocket ${pubsub ? 'pub/sub' : 'echo'} listening on 127.0.0.1:${engine.port}`)
  serveStats(engine)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
