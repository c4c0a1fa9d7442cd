/**
 * Client for examples/codec-server.ts: sends length-field frames and prints the echoes.
 * `npx tsx examples/codec-client.ts --port 9000 hello world`
 */
import { parseArgs } from 'node:util'
import { codecs, connect } from 'riptide'

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { port: { type: 'string', default: '9000' } }, allowPositionals: true })
  const words = positionals.length > 0 ? positionals : ['hello', 'riptide']
  let left = words.length
  const conn = await connect(
    `tcp://127.0.0.1:${values.port}`,
    {
      onTraffic(c, frame) {
        console.log(`echo: ${Buffer.from(frame).toString()}`)
        if (--left === 0) c.close()
      },
    },
    { codec: codecs.lengthField({ lengthFieldLength: 2 }) },
  )
  for (const w of words) conn.write(w)
}

void main()
