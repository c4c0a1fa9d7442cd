/**
 * The riptide WebRTC peer (RTC1, RTC2): a `webrtc://` listener (signalling on TCP, data on UDP
 * of the same port, one reactor) whose handler echoes each reliable message with `conn.write`
 * and each unreliable one with `conn.send(data, { reliable: false })`. Answers stats requests
 * on stdin (see stats-channel.ts).
 * `node --import tsx bench/peers/riptide-webrtc.ts --port 9208`
 */
import { parseArgs } from 'node:util'
import { serve, type EventHandler } from 'riptide'
import { serveStats } from './stats-channel'

const echo: EventHandler = {
  onTraffic(conn, data) {
    conn.write(data)
  },
  onUnreliable(conn, data) {
    conn.send(data, { reliable: false })
  },
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '9208' } } })
  const engine = await serve(`webrtc://127.0.0.1:${values.port}`, echo)
  console.log(`riptide webrtc listening on 127.0.0.1:${engine.port}`)
  serveStats(engine)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
