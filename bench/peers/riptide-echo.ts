/**
 * The riptide echo peer (TypeScript API, one reactor): writes back every chunk it receives.
 * With `--context`, an `onOpen` gives every connection a small session object in
 * `conn.context` (M1's `riptide (onOpen + context)` row). Answers stats requests on stdin
 * (see stats-channel.ts).
 * `node --import tsx bench/peers/riptide-echo.ts --port 9001 [--context]`
 */
import { parseArgs } from 'node:util'
import { serve, type Driver, type EventHandler } from 'riptide'
import { serveStats } from './stats-channel'

/** The per-connection state of the `--context` handler (the same as node-net-echo.ts's). */
interface Session {
  openedAt: number
  bytes: number
}

const bare: EventHandler = {
  onTraffic(conn, data) {
    conn.write(data)
  },
}

const withContext: EventHandler<Session> = {
  onOpen(conn) {
    conn.context = { openedAt: Date.now(), bytes: 0 }
  },
  onTraffic(conn, data) {
    conn.context.bytes += data.length
    conn.write(data)
  },
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '9001' }, driver: { type: 'string', default: 'same-thread' }, context: { type: 'boolean', default: false } },
  })
  const handler = values.context ? withContext : bare
  const engine = await serve(`tcp://127.0.0.1:${values.port}`, handler as EventHandler, { driver: values.driver as Driver })
  console.log(`riptide echo listening on 127.0.0.1:${engine.port}`)
  serveStats(engine)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
