/**
 * Echo server: `npx tsx examples/echo.ts --port 9000` (or `node --import tsx ...`).
 * Prints its address once and nothing per message; Ctrl-C stops it cleanly.
 */
import { parseArgs } from 'node:util'
import { serve } from 'riptide'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '9000' }, host: { type: 'string', default: '127.0.0.1' } },
  })
  const engine = await serve(`tcp://${values.host}:${values.port}`, {
    onTraffic(conn, data) {
      conn.write(data)
    },
  })
  console.log(`riptide echo listening on ${values.host}:${engine.port}`)
  const stop = () => void engine.stop()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

void main()
