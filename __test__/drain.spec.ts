// engine.stop({ drainTimeout }) that drops nothing (issue 22): `onDrain` for every open
// connection, which stays open until it closes or the deadline closes it with FIN;
// connections still queued in the listener's backlog accepted and drained (a naive stop resets
// them); the agent port for HAProxy's agent-check; the tcp_migrate_req warning. The loaded
// multi-process scenarios (same-port upgrade, rolling restart behind HAProxy) are in
// reliability/drain.spec.ts.
import test from 'ava'
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, readSync, closeSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { codecs, serve, type LogLevel } from 'riptide'
import { handler } from './fixtures/drain-handler'
import { closed, open } from './ws-clients'

const MIGRATE_REQ = (() => {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim()
  } catch {
    return undefined
  }
})()

// Serial tests run first: this one must be the file's first reusePort engine (the warning is
// once per process).
test.serial('reusePort warns once when net.ipv4.tcp_migrate_req is 0', async (t) => {
  const warnings: string[] = []
  const logger = (level: LogLevel, msg: string) => {
    if (level === 'warn') warnings.push(msg)
  }
  const a = await serve('tcp://127.0.0.1:0', handler, { reusePort: true, logger })
  const b = await serve(`tcp://127.0.0.1:${a.port}`, handler, { reusePort: true, logger })
  await Promise.all([a.stop(), b.stop()])
  const expected = MIGRATE_REQ === '0' ? 1 : 0
  t.is(warnings.filter((w) => w.includes('tcp_migrate_req')).length, expected, warnings.join('\n'))
  t.log(`tcp_migrate_req=${MIGRATE_REQ ?? 'absent'}: ${warnings.length} warning(s), 1 passed, 0 failed`)
})

/** Lines a socket receives, and how it ended: 'end' (FIN), an error code, or undefined yet. */
function record(socket: net.Socket): { lines: string[]; ended: () => string | undefined } {
  const lines: string[] = []
  let rest = ''
  let ended: string | undefined
  socket.on('data', (d: Buffer) => {
    rest += d.toString()
    for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
      lines.push(rest.slice(0, nl))
      rest = rest.slice(nl + 1)
    }
  })
  socket.on('end', () => (ended ??= 'end'))
  socket.on('error', (err: NodeJS.ErrnoException) => (ended ??= err.code ?? 'error'))
  return { lines, ended: () => ended }
}

test('onDrain for every open connection; the deadline closes them with FIN', async (t) => {
  const drained: number[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    ...handler,
    onDrain(conn) {
      drained.push(conn.id)
      handler.onDrain!(conn)
    },
  }, { codec: codecs.line() })
  const N = 20
  const sockets = await Promise.all(Array.from({ length: N }, () => new Promise<net.Socket>((resolve) => {
    const s = net.connect(engine.port, '127.0.0.1', () => resolve(s))
  })))
  const seen = sockets.map(record)
  for (const [i, s] of sockets.entries()) s.write(`hello ${i}\n`)
  while (seen.some((r) => r.lines.length < 1)) await new Promise((r) => setTimeout(r, 5))
  const counts = await engine.stop({ drainTimeout: 300 })
  // Wait for the FINs to reach the clients.
  while (seen.some((r) => r.ended() === undefined)) await new Promise((r) => setTimeout(r, 5))
  let passed = 0
  for (const [i, r] of seen.entries()) {
    if (r.lines.join('|') === `hello ${i}|GOAWAY` && r.ended() === 'end') passed++
  }
  t.log(`${passed} passed, ${N - passed} failed`)
  t.is(passed, N)
  t.is(drained.length, N)
  t.deepEqual(counts, { drained: N, reset: 0 })
  for (const s of sockets) s.destroy()
})

test('without onDrain a drain closes each connection after its queued bytes', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      conn.write(data)
    },
  }, { codec: codecs.line() })
  const s = await new Promise<net.Socket>((resolve) => {
    const c = net.connect(engine.port, '127.0.0.1', () => resolve(c))
  })
  const r = record(s)
  s.write('one\n')
  while (r.lines.length < 1) await new Promise((res) => setTimeout(res, 5))
  const started = Date.now()
  const counts = await engine.stop({ drainTimeout: 10_000 })
  while (r.ended() === undefined) await new Promise((res) => setTimeout(res, 5))
  t.deepEqual(counts, { drained: 1, reset: 0 })
  t.is(r.ended(), 'end')
  // Closed at once, not at the 10 s deadline.
  t.true(Date.now() - started < 5000)
  t.log(`${r.ended() === 'end' ? 1 : 0} passed, ${r.ended() === 'end' ? 0 : 1} failed`)
  s.destroy()
})

/**
 * `N` connections made by another process while this thread is blocked, so (with the
 * same-thread driver) they wait in the listener's backlog when `stop` is called; each sent
 * a line. Returns how many got their echo and how many failed.
 */
async function backlog(how: 'drain' | 'naive'): Promise<{ ok: number; failed: number }> {
  const N = 100
  const engine = await serve('tcp://127.0.0.1:0', handler, { codec: codecs.line(), backlog: 1024 })
  const dir = mkdtempSync(join(tmpdir(), 'riptide-backlog-'))
  const fifo = join(dir, 'connected')
  execFileSync('mkfifo', [fifo])
  // The client: N connections, a line on each; once all are connected it says so through the
  // FIFO, then counts echoes and failures and prints them.
  const client = `
    const net = require('node:net'), fs = require('node:fs')
    let connected = 0, ok = 0, failed = 0, settled = 0
    const settle = (good) => { good ? ok++ : failed++; if (++settled === ${N}) { console.log(JSON.stringify({ ok, failed })); process.exit(0) } }
    for (let i = 0; i < ${N}; i++) {
      const s = net.connect(${engine.port}, '127.0.0.1')
      let done = false, rest = ''
      const finish = (good) => { if (!done) { done = true; settle(good); s.destroy() } }
      s.on('connect', () => { s.write('line ' + i + '\\n'); if (++connected === ${N}) fs.writeFileSync(${JSON.stringify(fifo)}, 'go\\n') })
      s.on('data', (d) => { rest += d; if (rest.split('\\n').includes('line ' + i)) finish(true) })
      s.on('error', () => finish(false))
      s.on('close', () => finish(false))
    }`
  const child = spawn(process.execPath, ['-e', client], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  // Block this thread (and so the same-thread reactor) until every connection is queued.
  const fd = openSync(fifo, 'r')
  readSync(fd, Buffer.alloc(16))
  closeSync(fd)
  const stopped = how === 'drain' ? engine.stop({ drainTimeout: 2000 }) : engine.stop()
  await exited
  await stopped
  return JSON.parse(out) as { ok: number; failed: number }
}

test.serial('a drain accepts the connections queued in the backlog: none is reset', async (t) => {
  const { ok, failed } = await backlog('drain')
  t.log(`drain: ${ok} passed, ${failed} failed`)
  t.is(failed, 0)
  t.is(ok, 100)
})

test.serial('a stop without drain resets the connections queued in the backlog (negative control)', async (t) => {
  const { ok, failed } = await backlog('naive')
  t.log(`naive stop: ${ok} passed, ${failed} failed`)
  t.true(failed > 0)
})

/** The line the agent port answers now. */
function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    let out = ''
    s.on('data', (d) => (out += d.toString()))
    s.on('end', () => resolve(out))
    s.on('error', reject)
  })
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => resolve(p))
    })
  })
}

test('the agent port answers "up ready", then "drain" once stop has begun', async (t) => {
  const port = await freePort()
  const engine = await serve('tcp://127.0.0.1:0', handler, { codec: codecs.line(), agent: { url: `tcp://127.0.0.1:${port}` } })
  t.is(await ask(port), 'up ready\n')
  const held = await new Promise<net.Socket>((resolve) => {
    const c = net.connect(engine.port, '127.0.0.1', () => resolve(c))
  })
  const r = record(held)
  const stopped = engine.stop({ drainTimeout: 2000 })
  t.is(await ask(port), 'drain\n')
  // The drain starts once a check has read "drain": the connection gets its GOAWAY.
  while (r.lines.length < 1) await new Promise((res) => setTimeout(res, 5))
  t.deepEqual(r.lines, ['GOAWAY'])
  held.end()
  t.deepEqual(await stopped, { drained: 1, reset: 0 })
  await t.throwsAsync(ask(port), { code: 'ECONNREFUSED' })
  t.log('4 passed, 0 failed')
})

test('the agent option is checked', async (t) => {
  for (const agent of [{ url: 'udp://127.0.0.1:1' }, { url: 'tcp://127.0.0.1:0' }, { url: 'tcp://127.0.0.1:70000' }, { url: 'tcp://127.0.0.1' }, { url: 'tcp://127.0.0.1:1', port: 1 }, null, 'tcp://127.0.0.1:1']) {
    await t.throwsAsync(serve('tcp://127.0.0.1:0', handler, { agent } as never), { code: 'ERR_INVALID_ARG_VALUE' }, JSON.stringify(agent))
  }
  const taken = net.createServer().listen(0, '127.0.0.1')
  await new Promise((r) => taken.once('listening', r))
  const port = (taken.address() as net.AddressInfo).port
  await t.throwsAsync(serve('tcp://127.0.0.1:0', handler, { agent: { url: `tcp://127.0.0.1:${port}` } }), { code: 'ERR_ADDRESS_IN_USE' })
  taken.close()
})

test('stop options are checked', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', handler)
  t.throws(() => engine.stop({ drainTimeout: -1 }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => engine.stop({ drainTimeout: 1, steer: true } as never), { code: 'ERR_INVALID_ARG_VALUE' })
  await engine.stop()
})

test('a WebSocket server without onDrain closes each WebSocket with 1001 on a drain', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', { onTraffic: (conn, data) => void conn.write(data) }, { codec: codecs.websocket() })
  const ws = await open(`ws://127.0.0.1:${engine.port}/`)
  const code = closed(ws)
  const counts = await engine.stop({ drainTimeout: 5000 })
  t.is((await code).code, 1001)
  t.deepEqual(counts, { drained: 1, reset: 0 })
  t.log('1 passed, 0 failed')
})
