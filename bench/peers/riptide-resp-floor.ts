/**
 * D1's floor: a riptide RESP server that answers every command with `+OK` without looking at
 * it (no command table, no keyspace, no clock). It costs what any riptide Redis server must
 * pay per request (the reactor, the Rust RESP codec, the call into JS and its dispatch, one
 * staged write), so examples/redis's row minus this one is the cost of its commands.
 * `node --import tsx bench/peers/riptide-resp-floor.ts --port 6390`
 */
import { parseArgs } from 'node:util'
import { codecs, resp, RespCommands, serve } from 'riptide'

const commands = new RespCommands()

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '6390' } } })
  const engine = await serve(
    `tcp://127.0.0.1:${values.port}`,
    {
      onTraffic(conn, frame) {
        for (const c = commands.read(frame); c.next(); ) conn.write(resp.ok)
      },
    },
    { codec: codecs.resp({ batch: true }) },
  )
  console.log(`riptide resp floor on 127.0.0.1:${engine.port}`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void engine.stop())
}

void main()
