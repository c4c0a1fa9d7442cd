/**
 * Unix-socket echo: `npx tsx examples/uds-echo.ts --path /tmp/riptide.sock`, then
 * `nc -U /tmp/riptide.sock`. The socket file is removed when the server stops.
 */
import { parseArgs } from 'node:util'
import { serve } from 'riptide'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { path: { type: 'string', default: '/tmp/riptide.sock' } } })
  const engine = await serve(`unix://${values.path}`, {
    onTraffic(conn, data) {
      conn.write(data)
    },
  })
  console.log(`riptide unix echo on ${JSON.stringify(engine.addresses[0])}`)
  process.once('SIGINT', () => void engine.stop())
}

void main()
