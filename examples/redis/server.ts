/**
 * A Redis-protocol server on riptide: `npx tsx examples/redis/server.ts --port 6380`, then
 * `redis-cli -p 6380 set greeting hello`. The RESP codec (`codecs.resp({ batch: true })`)
 * frames commands in Rust and hands every whole command of one read over at once;
 * `commands.ts` answers them as redis-server 7 does. Pipelined commands are answered in order,
 * their replies written together (one `conn.write` per read).
 */
import { parseArgs } from 'node:util'
import { codecs, resp, RespCommands, serve } from 'riptide'
import { execute } from './commands'
import { Replies } from './replies'
import { Store } from './store'

/** The cursor over a read's commands, and its replies until they are written (both reused). */
const commands = new RespCommands()
const replies = new Replies()

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '6380' } } })
  const db = new Store()
  const engine = await serve(
    `tcp://127.0.0.1:${values.port}`,
    {
      onTraffic(conn, frame) {
        // One clock reading for the read's commands: they arrived together.
        const now = Date.now()
        let close = false
        const args = commands.read(frame)
        while (!close && args.next()) {
          const out = execute(db, args, now)
          const reply = out instanceof Uint8Array ? out : out.reply
          // QUIT: what follows it in the read is not run, as redis-server does.
          close = !(out instanceof Uint8Array) && out.close === true
          // A read of one command (no pipelining) is answered with its reply as it is.
          if (replies.empty && (close || !args.more)) conn.write(reply)
          else replies.push(reply)
        }
        if (!replies.empty) conn.write(replies.take())
        if (close) conn.close()
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
    { codec: codecs.resp({ batch: true }), ticker: true },
  )
  console.log(`riptide redis on 127.0.0.1:${engine.port}`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void engine.stop({ drainTimeout: 1000 }))
}

void main()
