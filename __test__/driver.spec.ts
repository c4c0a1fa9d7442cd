import test from 'ava'
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { Client, serve } from 'riptide'
import { connect, randomBytes, readExactly, until } from './helpers'

/** Names of this process's threads (Linux), to see the reactor thread come and go. */
function threadNames(): string[] {
  return readdirSync('/proc/self/task').map((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim()
    } catch {
      return '' // the thread exited while we listed
    }
  })
}

const linux = process.platform === 'linux' ? test.serial : test.skip

linux("driver: 'thread' runs the reactor on a thread of its own, which stop() ends", async (t) => {
  const before = threadNames().filter((n) => n === 'riptide-reactor').length
  const engine = await serve('tcp://127.0.0.1:0', { onTraffic: (c, d) => void c.write(d) }, { driver: 'thread' })
  // The thread names itself as it starts, a moment after serve() returns.
  await until(() => threadNames().filter((n) => n === 'riptide-reactor').length === before + 1)
  const s = await connect(engine.port)
  const data = randomBytes(7, 256 * 1024)
  const echoed = readExactly(s, data.length)
  s.write(data)
  t.true((await echoed).equals(data))
  s.destroy()
  await engine.stop()
  await until(() => threadNames().filter((n) => n === 'riptide-reactor').length === before)
  t.pass()
})

test("the thread driver batches: many events per JS call, at most a few calls per wake", async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', { onTraffic: (c, d) => void c.write(d) }, { driver: 'thread' })
  const sockets = await Promise.all(Array.from({ length: 32 }, () => connect(engine.port)))
  const rounds = 200
  // Each socket: one 32-byte ping at a time, the next once the echo is back.
  await Promise.all(
    sockets.map(
      (s, i) =>
        new Promise<void>((resolve, reject) => {
          let got = 0
          let round = 0
          s.on('data', (d: Buffer) => {
            got += d.length
            if (got < 32) return
            got -= 32
            if (++round === rounds) return resolve()
            s.write(randomBytes(i * rounds + round, 32))
          })
          s.once('error', reject)
          s.write(randomBytes(i * rounds, 32))
        }),
    ),
  )
  const st = engine.stats()
  t.true(st.events >= 32 * rounds, `events ${st.events}`)
  t.true(st.jsCalls <= st.wakes * 4, `calls ${st.jsCalls} for ${st.wakes} wakes`)
  t.true(st.events / st.jsCalls > 1.5, `only ${(st.events / st.jsCalls).toFixed(2)} events per JS call`)
  for (const s of sockets) s.destroy()
  await engine.stop()
})

test('a client on the thread driver dials, echoes and closes', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', { onTraffic: (c, d) => void c.write(d) })
  const received: Buffer[] = []
  const client = new Client({ onTraffic: (_c, d) => void received.push(Buffer.from(d)) }, { driver: 'thread' })
  const conn = await client.dial(`tcp://127.0.0.1:${engine.port}`)
  conn.write('over the reactor thread')
  while (Buffer.concat(received).length < 23) await new Promise((r) => setTimeout(r, 5))
  t.is(Buffer.concat(received).toString(), 'over the reactor thread')
  await client.stop()
  await engine.stop()
})

test('a graceful stop on the thread driver drains, and one with nothing open still finishes', async (t) => {
  const idle = await serve('tcp://127.0.0.1:0', {}, { driver: 'thread' })
  t.deepEqual(await idle.stop({ drainTimeout: 1000 }), { drained: 0, reset: 0 })
  const engine = await serve('tcp://127.0.0.1:0', { onTraffic: (c) => void c.write(Buffer.alloc(1 << 20, 1)) }, { driver: 'thread' })
  const s = await connect(engine.port)
  const got = readExactly(s, 1 << 20)
  s.write('x')
  // Let the write start, then stop: the queued megabyte still arrives before the close.
  await new Promise((r) => setTimeout(r, 20))
  const counts = await engine.stop({ drainTimeout: 5000 })
  t.is((await got).length, 1 << 20)
  t.deepEqual(counts, { drained: 1, reset: 0 })
  s.destroy()
})

test('driver names are validated, in options and in RIPTIDE_DRIVER', async (t) => {
  await t.throwsAsync(serve('tcp://127.0.0.1:0', {}, { driver: 'fiber' as 'thread' }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /options\.driver must be one of same-thread, thread/,
  })
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', "require('riptide')"], {
    env: { ...process.env, RIPTIDE_DRIVER: 'fiber' },
    encoding: 'utf8',
    timeout: 30_000,
  })
  t.not(r.status, 0)
  t.regex(r.stderr, /RIPTIDE_DRIVER must be one of same-thread, thread/)
})
