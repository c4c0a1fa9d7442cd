/**
 * A Redis-protocol server on riptide: `npx tsx examples/redis/server.ts --port 6380`, then
 * `redis-cli -p 6380 set greeting hello`. The RESP codec (`codecs.resp()`) frames commands in
 * Rust; `commands.ts` answers them as redis-server 7 does. Pipelined commands are answered in
 * order (one `onTraffic` per command, replies queued in the order written).
 */
import { parseArgs } from 'node:util'
import { codecs, parseCommand, resp, serve } from 'riptide'
import { execute } from './commands'
import { Store } from './store'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '6380' } } })
  const db = new Store()
  const engine = await serve(
    `tcp://127.0.0.1:${values.port}`,
    {
      onTraffic(conn, frame) {
        const out = execute(db, parseCommand(frame), Date.now())
        if (out instanceof Uint8Array) conn.write(out)
        else {
          conn.write(out.reply)
          if (out.close === true) conn.close()
        }
      },
      onError(conn, err) {
        // A RESP protocol error: redis-server's answer, then the connection is closed.
        const code = (err as { code?: string }).code
        if (conn !== undefined && code?.startsWith('ERR_RESP_') === true) {
          conn.write(resp.error(`ERR ${(err as Error).message}`))
          conn.close()
        }
      },
      // Active expiry, as redis-server's: a bounded slice of the keys with a TTL, 10 times a second.
      onTick() {
        db.sweep(Date.now())
        return 100
      },
    },
    { codec: codecs.resp(), ticker: true },
  )
  console.log(`riptide redis on 127.0.0.1:${engine.port}`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void engine.stop({ drainTimeout: 1000 }))
}

void main()
