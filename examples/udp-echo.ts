/**
 * UDP echo: `npx tsx examples/udp-echo.ts --port 9000`. Each datagram is echoed to its sender
 * (gnet's model). Add `--sessions 30000` for a Conn per peer that closes after 30 s idle.
 */
import { parseArgs } from 'node:util'
import { serve } from 'riptide'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '9000' }, sessions: { type: 'string', default: '0' } },
  })
  const engine = await serve(
    `udp://127.0.0.1:${values.port}`,
    {
      onOpen(conn) {
        console.log(`session from ${conn.remoteAddress}:${conn.remotePort}`)
      },
      onTraffic(conn, data) {
        conn.write(data)
      },
      onClose(conn) {
        console.log(`session ${conn.remoteAddress}:${conn.remotePort} expired`)
      },
    },
    { udpSessionTimeout: Number(values.sessions) },
  )
  console.log(`riptide udp echo on 127.0.0.1:${engine.port}`)
  process.once('SIGINT', () => void engine.stop())
}

void main()
