/**
 * gnet's codec example: a length-field framed echo server. Each frame is a 2-byte big-endian
 * length and a body; `onTraffic` gets whole bodies and `write` frames replies.
 * `npx tsx examples/codec-server.ts --port 9000`
 */
import { parseArgs } from 'node:util'
import { codecs, serve } from 'riptide'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '9000' } } })
  const engine = await serve(
    { url: `tcp://127.0.0.1:${values.port}`, codec: codecs.lengthField({ lengthFieldLength: 2, maxFrameLength: 65537 }) },
    {
      onTraffic(conn, frame) {
        conn.write(frame)
      },
      onError(conn, err) {
        console.error(`connection ${conn?.id}: ${(err as Error).message}`)
      },
    },
    { frameTimeout: 10_000 },
  )
  console.log(`riptide codec server on 127.0.0.1:${engine.port}`)
  process.once('SIGINT', () => void engine.stop({ drainTimeout: 1000 }))
}

void main()
