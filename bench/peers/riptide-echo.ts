/**
 * The riptide echo peer (TypeScript API, one reactor): writes back every chunk it receives.
 * Answers stats requests on stdin (see stats-channel.ts).
 * `node --import tsx bench/peers/riptide-echo.ts --port 9001`
 */
import { parseArgs } from 'node:util'
import { serve, type Driver } from 'riptide'
import { serveStats } from './stats-channel'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '9001' }, driver: { type: 'string', default: 'same-thread' } } })
  const engine = await serve(`tcp://127.0.0.1:${values.port}`, {
    onTraffic(conn, data) {
      conn.write(data)
    },
  }, { driver: values.driver as Driver })
  console.log(`riptide echo listening on 127.0.0.1:${engine.port}`)
  serveStats(engine)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
