/**
 * Push server (gnet's push example): every client gets a line per tick from the reactor's
 * ticker. `npx tsx examples/push.ts --port 9000 --interval 1000`, then `nc 127.0.0.1 9000`.
 */
import { parseArgs } from 'node:util'
import { serve, type Conn } from 'riptide'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '9000' }, interval: { type: 'string', default: '1000' } },
  })
  const clients = new Set<Conn>()
  let tick = 0
  const engine = await serve(
    `tcp://127.0.0.1:${values.port}`,
    {
      onOpen(conn) {
        clients.add(conn)
      },
      onClose(conn) {
        clients.delete(conn)
      },
      onTick() {
        tick++
        for (const c of clients) c.write(`tick ${tick} to ${clients.size} clients\n`)
        return Number(values.interval)
      },
    },
    { ticker: true },
  )
  console.log(`riptide push server on 127.0.0.1:${engine.port}`)
  process.once('SIGINT', () => void engine.stop())
}

void main()
