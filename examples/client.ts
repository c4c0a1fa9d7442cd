/**
 * Reconnecting client with a heartbeat (knet's echo client): sends numbered frames, checks
 * that every echo comes back in order, and reconnects with backoff when the server goes away.
 * Start `npx tsx examples/codec-server.ts --port 9000`, then `npx tsx examples/client.ts --port 9000`.
 */
import { parseArgs } from 'node:util'
import { codecs, connect } from 'riptide'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '9000' }, count: { type: 'string', default: '100' } } })
  let sent = 0
  let echoed = 0
  const conn = await connect(
    `tcp://127.0.0.1:${values.port}`,
    {
      onOpen(c) {
        console.log(`connected to ${c.remoteAddress}:${c.remotePort}`)
        c.write(`frame ${sent++}`)
      },
      onTraffic(c, frame) {
        const text = Buffer.from(frame).toString()
        if (text === 'ping') return
        if (text !== `frame ${echoed}`) throw new Error(`out of order: got ${text}, expected frame ${echoed}`)
        echoed++
        if (sent < Number(values.count)) c.write(`frame ${sent++}`)
        else c.close()
      },
      onReconnecting(_c, attempt, delay) {
        console.log(`connection lost; attempt ${attempt} in ${delay} ms`)
        sent = echoed
      },
      onClose(_c, err) {
        console.log(`done: ${echoed} frames echoed${err ? ` (${err.code})` : ''}`)
      },
    },
    {
      codec: codecs.lengthField({ lengthFieldLength: 2 }),
      heartbeat: { interval: 1000, timeout: 5000, ping: 'ping' },
      reconnect: { initialDelay: 100, maxDelay: 5000, maxAttempts: 20 },
    },
  )
  void conn
}

void main()
