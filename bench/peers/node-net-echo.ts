/**
 * The `node:net` echo peer for benchmarks: the idiomatic server the research measured
 * (`s.on('data', d => s.write(d))`, no-delay). With `--context`, every connection keeps the
 * same session object as riptide-echo.ts `--context` (M1's `node:net (context object)` row).
 * `node --import tsx bench/peers/node-net-echo.ts --port 9001 [--context]`
 */
import net from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { port: { type: 'string', default: '9001' }, context: { type: 'boolean', default: false } } })
const server = net.createServer({ noDelay: true }, (s) => {
  if (values.context) {
    const session = { openedAt: Date.now(), bytes: 0 }
    s.on('data', (d) => {
      session.bytes += d.length
      s.write(d)
    })
  } else {
    s.on('data', (d) => s.write(d))
  }
  s.on('error', () => {})
})
server.listen(Number(values.port), '127.0.0.1', () => {
  const addr = server.address() as net.AddressInfo
  console.log(`node:net echo listening on 127.0.0.1:${addr.port}`)
})
process.once('SIGTERM', () => server.close(() => process.exit(0)))
