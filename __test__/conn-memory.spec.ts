// The JS side of an idle connection stays small: a `Conn` is a flyweight (its place in the
// table, its peer, a word of flags and the context), so a server whose `onOpen` sets
// `conn.context` holds little JS heap per connection.
import test from 'ava'
import { spawn } from 'node:child_process'
import net from 'node:net'
import { join } from 'node:path'
import { until } from './helpers'

test('an idle connection with onOpen + context holds under 300 B of JS heap in the server', async (t) => {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(__dirname, 'fixtures', 'context-heap-server.ts')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  t.teardown(() => child.kill())
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  await until(() => /port (\d+)/.test(out), 15_000)
  const port = Number(/port (\d+)/.exec(out)![1])
  const sockets: net.Socket[] = []
  t.teardown(() => sockets.forEach((s) => s.destroy()))
  /** Opens connections up to `total`, then the server's heap once it has opened them all. */
  const heapAt = async (total: number): Promise<number> => {
    while (sockets.length < total) sockets.push(net.connect(port, '127.0.0.1').on('error', () => {}))
    for (;;) {
      const mark = out.length
      child.stdin.write('heap\n')
      await until(() => /heap \d+ \d+\n/.test(out.slice(mark)), 10_000)
      const [, opened, bytes] = /heap (\d+) (\d+)\n/.exec(out.slice(mark))!
      if (Number(opened) === total) return Number(bytes)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const from = await heapAt(500)
  const to = await heapAt(2500)
  const perConn = (to - from) / 2000
  t.log(`${perConn.toFixed(0)} B of JS heap per connection`)
  t.true(perConn < 300, `${perConn} B per connection`)
})
