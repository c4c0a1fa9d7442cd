// T8 EMFILE in a child under prlimit, T10 reset during write, timer lateness.
import test from 'ava'
import { spawn } from 'node:child_process'
import net from 'node:net'
import { join } from 'node:path'
import { serve } from 'riptide'
import { connect, readExactly, until } from '../helpers'
import { openFds, percentile } from './helpers'

test.serial('T10: peers resetting mid-write give exactly one onClose with a code; fds return to baseline', async (t) => {
  const closes = new Map<number, string | undefined>()
  const callbacks = new Map<number, number>()
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn) {
      conn.write(Buffer.alloc(16 << 20), () => callbacks.set(conn.id, (callbacks.get(conn.id) ?? 0) + 1))
    },
    onClose(conn, err) {
      t.false(closes.has(conn.id), 'onClose once')
      closes.set(conn.id, err?.code)
    },
  }, { socketSendBuffer: 16384 })
  const baseline = openFds()
  const N = 200
  for (let i = 0; i < N; i++) {
    const s = await connect(engine.port)
    s.write('go')
    await new Promise<void>((resolve) => s.once('data', () => resolve()))
    s.resetAndDestroy()
  }
  await until(() => closes.size === N, 10_000)
  await until(() => callbacks.size === N)
  const codes = new Set(closes.values())
  t.log(`close codes: ${[...codes].join(', ')}`)
  for (const c of codes) t.true(c === 'ECONNRESET' || c === 'EPIPE', String(c))
  t.true([...callbacks.values()].every((n) => n === 1), 'every write callback once')
  await until(() => openFds() <= baseline)
  await engine.stop()
})

test.serial('T8: out of descriptors under prlimit, the engine pauses accepting, keeps serving, and recovers', async (t) => {
  const child = spawn('prlimit', ['--nofile=64:64', process.execPath, '--import', 'tsx', join(__dirname, '..', 'fixtures', 'emfile-server.ts')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  await until(() => /port (\d+)/.test(out), 15_000)
  const port = Number(/port (\d+)/.exec(out)![1])
  const first = await connect(port)
  const rest: net.Socket[] = []
  for (let i = 0; i < 100; i++) {
    const s = net.connect(port, '127.0.0.1')
    s.on('error', () => {})
    rest.push(s)
  }
  await new Promise((r) => setTimeout(r, 1500))
  first.write('alive')
  t.is((await readExactly(first, 5)).toString(), 'alive', 'existing connections keep working')
  for (const s of rest.slice(0, 80)) s.destroy()
  await new Promise((r) => setTimeout(r, 1200))
  const late = await connect(port)
  late.write('again')
  t.is((await readExactly(late, 5)).toString(), 'again', 'accepting resumed')
  child.stdin.write('stats\n')
  await until(() => /stats (\d+)/.test(out))
  const errors = Number(/stats (\d+)/.exec(out)![1])
  t.true(errors > 0, 'accept errors were counted')
  const warnings = (out.match(/accepting paused/g) ?? []).length
  t.true(warnings >= 1 && warnings <= 4, `rate-limited log lines: ${warnings}`)
  for (const s of [first, late, ...rest]) s.destroy()
  child.kill()
})

test.serial('timers: 2,000 connection timers never fire early; p99 lateness within a tick + 20 ms', async (t) => {
  const late: number[] = []
  let early = 0
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      for (let i = 0; i < 20; i++) {
        const delay = 10 + Math.floor(Math.random() * 990)
        const due = performance.now() + delay
        conn.setTimeout(delay, () => {
          const now = performance.now()
          if (now < due - 1) early++
          late.push(now - due)
        })
      }
    },
  })
  const clients = await Promise.all(Array.from({ length: 100 }, () => connect(engine.port)))
  await until(() => late.length === 2000, 10_000)
  t.log(`lateness p50 ${percentile(late, 50).toFixed(1)} ms, p99 ${percentile(late, 99).toFixed(1)} ms`)
  t.is(early, 0)
  t.true(percentile(late, 99) <= 21)
  for (const c of clients) c.destroy()
  await engine.stop()
})
