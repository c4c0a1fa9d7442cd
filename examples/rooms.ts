/**
 * Chat rooms with topic pub/sub: each line a client sends is `/join <room>`, `/leave <room>`
 * or `<room> <text>`, published to everyone in that room (over every reactor; the line codec
 * frames each message once for all of them). `npx tsx examples/rooms.ts --port 9000`, then
 * `nc 127.0.0.1 9000` in a few terminals: `/join lobby`, `lobby hello`.
 */
import { parseArgs } from 'node:util'
import { codecs, serve } from 'riptide'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '9000' } } })
  const engine = await serve(
    `tcp://127.0.0.1:${values.port}`,
    {
      onTraffic(conn, data) {
        const line = Buffer.from(data).toString().trim()
        const [first, ...rest] = line.split(' ')
        const text = rest.join(' ')
        try {
          if (first === '/join') {
            conn.subscribe(text)
            conn.write(`joined ${text} (${engine.subscriberCount(text)} here)`)
          } else if (first === '/leave') {
            conn.unsubscribe(text)
            conn.write(`left ${text}`)
          } else if (conn.isSubscribed(first)) {
            engine.publish(first, `[${first}] ${conn.remoteAddress}:${conn.remotePort}: ${text}`)
          } else {
            conn.write(`join ${first} first: /join ${first}`)
          }
        } catch (err) {
          conn.write(`error: ${(err as Error).message}`)
        }
      },
    },
    // Slow readers lose messages rather than grow the server's memory.
    { codec: codecs.line(), backpressure: { policy: 'drop', maxBackpressure: 256 * 1024 } },
  )
  console.log(`riptide rooms on 127.0.0.1:${engine.port}`)
  process.once('SIGINT', () => void engine.stop())
}

void main()
