import test from 'ava'
import { spawn } from 'node:child_process'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, codecs, connect, serve, type Conn } from 'riptide'
import { until } from './helpers'
import { openFds } from './reliability/helpers'

const echo = { onTraffic(conn: Conn, data: Uint8Array) { conn.write(data) } }

/** Collects what a client connection receives. */
function collector() {
  const chunks: Buffer[] = []
  return {
    handler: { onTraffic(_c: Conn, d: Uint8Array) { chunks.push(Buffer.from(d)) } },
    bytes: () => Buffer.concat(chunks),
    frames: chunks,
  }
}

for (const [name, url] of [
  ['tcp', 'tcp://127.0.0.1:0'],
  ['unix', `unix://${join(tmpdir(), `riptide-client-${process.pid}.sock`)}`],
] as const) {
  test(`${name}: a client echoes byte-exact through a server under random splits`, async (t) => {
    const engine = await serve(url, echo)
    const target = name === 'tcp' ? `tcp://127.0.0.1:${engine.port}` : url
    const c = collector()
    const conn = await connect(target, c.handler)
    const data = Buffer.alloc(300_000)
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff
    for (let off = 0; off < data.length; ) {
      const n = Math.min(data.length - off, 1 + Math.floor(Math.random() * 9000))
      conn.write(data.subarray(off, off + n))
      off += n
    }
    await until(() => c.bytes().length >= data.length)
    t.true(c.bytes().equals(data))
    conn.close()
    await engine.stop()
  })
}

test('udp: a connected UDP client gets each reply as one datagram', async (t) => {
  const engine = await serve('udp://127.0.0.1:0', echo)
  const c = collector()
  const conn = await connect(`udp://127.0.0.1:${engine.port}`, c.handler)
  for (const m of ['one', 'two', 'three']) conn.write(m)
  await until(() => c.frames.length === 3)
  t.deepEqual(c.frames.map((f) => f.toString()).sort(), ['one', 'three', 'two'])
  conn.close()
  await engine.stop()
})

test('clients frame with codecs like servers', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', echo, { codec: codecs.line() })
  const c = collector()
  const conn = await connect(`tcp://127.0.0.1:${engine.port}`, c.handler, { codec: codecs.line() })
  conn.write('first')
  conn.write('second')
  await until(() => c.frames.length === 2)
  t.deepEqual(c.frames.map(String), ['first', 'second'])
  conn.close()
  await engine.stop()
})

test('refused, bad address, timeout and abort reject with codes', async (t) => {
  const free = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => resolve(p))
    })
  })
  await t.throwsAsync(connect(`tcp://127.0.0.1:${free}`, {}), { code: 'ECONNREFUSED' })
  await t.throwsAsync(connect('tcp://nowhere', {}), { code: 'ERR_INVALID_ADDRESS' })
  // A listener that never accepts, its backlog full: the SYN goes unanswered.
  const jam = spawn('python3', [join(__dirname, 'fixtures', 'jam.py')], { stdio: ['pipe', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve) => jam.stdout.once('data', (d) => resolve(Number(String(d).trim()))))
  await new Promise((r) => setTimeout(r, 100))
  const started = Date.now()
  await t.throwsAsync(connect(`tcp://127.0.0.1:${port}`, {}, { connectTimeout: 300 }), { code: 'ETIMEDOUT' })
  t.true(Date.now() - started >= 290)
  const ac = new AbortController()
  const pending = connect(`tcp://127.0.0.1:${port}`, {}, { connectTimeout: 0, signal: ac.signal })
  setTimeout(() => ac.abort(), 50)
  await t.throwsAsync(pending, { code: 'ABORT_ERR' })
  jam.stdin.end()
})

test.serial('T17: a server restarted 20 times; the client reconnects each time within backoff + 500 ms', async (t) => {
  let engine = await serve('tcp://127.0.0.1:0', echo)
  const port = engine.port
  let opens = 0
  const reconnecting: number[] = []
  const received: string[] = []
  const client = new Client(
    {
      onOpen() {
        opens++
      },
      onReconnecting(_c, attempt, delay) {
        reconnecting.push(delay)
        void attempt
      },
      onTraffic(_c, d) {
        received.push(Buffer.from(d).toString())
      },
    },
    { reconnect: { initialDelay: 20, maxDelay: 200 } },
  )
  const conn = await client.dial(`tcp://127.0.0.1:${port}`)
  // Descriptors after a warm-up (module loading opens files of its own), compared at the end:
  // a leak would grow by one or more per restart.
  let baseline = 0
  for (let i = 0; i < 20; i++) {
    if (i === 5) baseline = openFds()
    await engine.stop()
    await until(() => conn.reconnecting)
    t.throws(() => conn.write('lost'), { code: 'ERR_NOT_CONNECTED' })
    const back = Date.now()
    engine = await serve(`tcp://127.0.0.1:${port}`, echo)
    await until(() => conn.open, 5000)
    t.true(Date.now() - back <= 200 + 500, `reconnected after ${Date.now() - back} ms`)
    conn.write(`ping ${i}`)
    await until(() => received.includes(`ping ${i}`))
  }
  t.is(opens, 21, 'onOpen once per successful connect')
  t.true(reconnecting.every((d) => d <= 200), 'delays within the cap')
  t.true(openFds() - baseline <= 3, `fd count stable (${openFds() - baseline} over 15 restarts)`)
  await client.stop()
  await engine.stop()
})

test('writes while reconnecting can be held in a bounded queue and go out on reconnect', async (t) => {
  let engine = await serve('tcp://127.0.0.1:0', echo)
  const port = engine.port
  const got: string[] = []
  const client = new Client(
    { onTraffic(_c, d) { got.push(Buffer.from(d).toString()) } },
    { reconnect: { initialDelay: 10, maxDelay: 50 }, maxQueuedWhileReconnecting: 16 },
  )
  const conn = await client.dial(`tcp://127.0.0.1:${port}`)
  await engine.stop()
  await until(() => conn.reconnecting)
  t.false(conn.write('held!'))
  t.throws(() => conn.write('x'.repeat(20)), { code: 'ERR_OUTBOUND_FULL' })
  engine = await serve(`tcp://127.0.0.1:${port}`, echo)
  await until(() => got.join('') === 'held!')
  t.pass()
  await client.stop()
  await engine.stop()
})

test('close() on a reconnecting client connection ends it: no reconnect, onClose once', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', echo)
  const events: string[] = []
  const conn = await connect(`tcp://127.0.0.1:${engine.port}`, {
    onTraffic(c) {
      c.close()
    },
    onReconnecting() {
      events.push('reconnecting')
    },
    onClose(_c, err) {
      events.push(`close ${err?.code ?? 'none'}`)
    },
  }, { reconnect: { initialDelay: 10 } })
  conn.write('x')
  await until(() => events.length > 0)
  await new Promise((r) => setTimeout(r, 100))
  t.deepEqual(events, ['close none'])
  await engine.stop()
})

test('enroll refuses descriptors that are not connected sockets', async (t) => {
  const { openSync, fstatSync } = await import('node:fs')
  const client = new Client({})
  t.teardown(() => client.stop())
  const fd = openSync('/dev/null', 'r')
  const devNull = fstatSync(fd)
  await t.throwsAsync(client.enroll(fd), { code: 'ERR_INVALID_ARG_VALUE' })
  // The descriptor was handed over and closed by the refusal; it is no longer ours. Other
  // tests in this process may already have reused the number, so the check is that it no
  // longer names /dev/null, not that it names nothing.
  let after: { ino: number; rdev: number } | undefined
  try {
    after = fstatSync(fd)
  } catch {
    after = undefined
  }
  t.false(after !== undefined && after.ino === devNull.ino && after.rdev === devNull.rdev)
  await t.throwsAsync(client.enroll(-1), { code: 'ERR_INVALID_ARG_VALUE' })
})
