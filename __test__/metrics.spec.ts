// engine.metrics(), the prom-client collector and the diagnostics_channel events: the counts
// move by exactly what the test sent, per reactor and per listener, on either driver
// (RIPTIDE_DRIVER), and the events carry the connection.
import test from 'ava'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import tls from 'node:tls'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import {
  codecs,
  connect as dial,
  CONNECTION_CLOSE,
  CONNECTION_OPEN,
  HANDLER_ERROR,
  serve,
  type Conn,
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  type HandlerErrorMessage,
  type KcpOptions,
} from 'riptide'
import { METRIC_NAMES, registerMetrics } from 'riptide/prometheus'
import { connect, randomBytes, readExactly, until } from './helpers'
import { issue, makePki } from './tls-certs'

const fixture = (name: string) => join(__dirname, 'fixtures', name)

/** Sends `data` and reads the echo back, then closes the socket. */
async function echoOnce(port: number, data: Buffer): Promise<Buffer> {
  const s = await connect(port)
  s.write(data)
  const got = await readExactly(s, data.length)
  s.destroy()
  return got
}

test('bytes, connections and codec messages are counted per listener and in total', async (t) => {
  const engine = await serve(['tcp://127.0.0.1:0', { url: 'tcp://127.0.0.1:0', codec: codecs.line() }], {
    onTraffic(conn, data) {
      conn.write(data)
    },
  })
  const [raw, lines] = engine.addresses.map((a) => (a.family === 'unix' ? 0 : a.port))
  const before = engine.metrics()
  t.is(before.total.bytesIn, 0)
  t.deepEqual(
    before.listeners.map((l) => [l.url, l.protocol]),
    [[`tcp://127.0.0.1:${raw}`, 'tcp'], [`tcp://127.0.0.1:${lines}`, 'tcp']],
  )
  const data = randomBytes(1, 64 * 1024)
  for (let i = 0; i < 3; i++) t.true((await echoOnce(raw, data)).equals(data))
  t.is((await echoOnce(lines, Buffer.from('a\nbb\nccc\n'))).toString(), 'a\nbb\nccc\n')
  // Counters are separate relaxed cells written by the reactor's thread: with the thread
  // driver a read can see the close counted before the open gauge went down, so wait for both.
  await until(() => {
    const now = engine.metrics().total
    return now.closed === 4 && now.open === 0
  })
  const m = engine.metrics()
  t.is(m.total.accepted, 4)
  t.is(m.total.open, 0)
  t.is(m.total.bytesIn, 3 * data.length + 9)
  t.is(m.total.bytesOut, 3 * data.length + 9)
  t.is(m.total.queuedBytes, 0)
  t.is(m.total.messagesIn, 3)
  t.is(m.total.messagesOut, 3)
  t.true(m.total.jsCalls > 0 && m.total.events >= m.total.jsCalls)
  t.true(m.total.handlerSeconds > 0)
  const [a, b] = m.listeners
  t.like(a, { accepted: 3, opened: 3, closed: 3, open: 0, bytesIn: 3 * data.length, messagesIn: 0 })
  t.like(b, { accepted: 1, closed: 1, bytesIn: 9, bytesOut: 9, messagesIn: 3, messagesOut: 3 })
  t.is(m.reactors.length, 1)
  t.deepEqual(m.reactors[0].listeners.map((l) => l.accepted), [3, 1])
  await engine.stop()
  t.throws(() => engine.metrics(), { code: 'ERR_ENGINE_STOPPED' })
})

test('an open connection shows in connections and the queued-bytes gauge drains to zero', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      conn.write(data)
    },
  })
  const s = await connect(engine.port)
  s.write('x')
  await readExactly(s, 1)
  t.is(engine.metrics().total.open, 1)
  t.is(engine.metrics().listeners[0].open, 1)
  s.destroy()
  await until(() => engine.metrics().total.open === 0 && engine.metrics().total.queuedBytes === 0)
  await engine.stop()
})

test('worker reactors report their own counts; the totals add them up', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', (await import(fixture('echo-handler.ts'))).handler, {
    reactors: 2,
    workerModule: fixture('echo-handler.ts'),
  })
  const data = Buffer.from('hello')
  for (let i = 0; i < 10; i++) t.true((await echoOnce(engine.port, data)).equals(data))
  await until(() => engine.metrics().total.closed === 10)
  const m = engine.metrics()
  t.deepEqual(m.reactors.map((r) => r.index), [0, 1])
  // Round-robin: both reactors served some.
  t.true(m.reactors.every((r) => r.accepted > 0))
  t.is(m.reactors[0].accepted + m.reactors[1].accepted, 10)
  t.is(m.total.bytesIn, 50)
  t.is(m.listeners[0].accepted, 10)
  t.is(m.reactors[0].listeners[0].accepted + m.reactors[1].listeners[0].accepted, 10)
  t.true(m.reactors[1].jsCalls > 0, 'the worker driver counts its JS calls')
  await engine.stop()
})

test('tls:// listeners count completed and failed handshakes', async (t) => {
  const pki = makePki()
  const cert = issue(pki, 'm.test')
  const engine = await serve('tls://127.0.0.1:0', { onTraffic(conn, data) { conn.write(data) } }, { tls: cert })
  const s = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'm.test', ca: pki.ca })
  await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
  s.write('hi')
  await readExactly(s as unknown as import('node:net').Socket, 2)
  s.destroy()
  const plain = await connect(engine.port)
  plain.write('this is no TLS client hello\r\n\r\n')
  await until(() => engine.metrics().total.handshakeErrors === 1 && engine.metrics().total.closed === 2)
  const l = engine.metrics().listeners[0]
  t.is(l.protocol, 'tls')
  t.like(l, { accepted: 2, opened: 1, handshakeErrors: 1, closed: 2 })
  plain.destroy()
  const registry = new Registry()
  registerMetrics(engine, registry)
  const text = await registry.metrics()
  t.regex(text, new RegExp(`riptide_tls_handshakes_total\\{listener="tls://127.0.0.1:${engine.port}"\\} 1\\n`))
  t.regex(text, /riptide_tls_handshake_errors_total\{listener="[^"]+"\} 1\n/)
  await engine.stop()
})

test('KCP sessions move the SNMP-style counters on both ends', async (t) => {
  const kcp: KcpOptions = { nodelay: true, interval: 10, resend: 2, nc: true }
  const engine = await serve('kcp://127.0.0.1:0', { onTraffic(conn, data) { conn.write(data) } }, { kcp })
  const got: Buffer[] = []
  const conn = await dial(`kcp://127.0.0.1:${engine.port}`, { onTraffic(_c, d) { got.push(Buffer.from(d)) } }, { kcp })
  for (let i = 0; i < 20; i++) conn.write(randomBytes(i, 500))
  await until(() => got.length === 20, 10000)
  const k = engine.metrics().total.kcp
  t.is(k.passiveOpens, 1)
  t.is(k.currEstab, 1)
  t.true(k.inPkts > 0 && k.inBytes > 0 && k.outPkts > 0 && k.outBytes > 0)
  t.true(k.inSegs >= 20, `inSegs ${k.inSegs}`)
  t.true(k.outSegs >= 20, `outSegs ${k.outSegs}`)
  t.is(engine.metrics().listeners[0].protocol, 'kcp')
  t.true(engine.metrics().listeners[0].bytesIn >= k.inBytes)
  conn.close()
  await engine.stop()
})

test('diagnostics_channel: open, close and handler errors are published with the connection', async (t) => {
  const opened: ConnectionOpenMessage[] = []
  const closed: ConnectionCloseMessage[] = []
  const errors: HandlerErrorMessage[] = []
  // Other tests of this file run meanwhile: keep the events of this test's engine only.
  let port = -1
  const ours = (conn: Conn | undefined) => conn !== undefined && conn.local.family !== 'unix' && conn.local.port === port
  const onOpen = (m: unknown) => ours((m as ConnectionOpenMessage).conn) && opened.push(m as ConnectionOpenMessage)
  const onClose = (m: unknown) => ours((m as ConnectionCloseMessage).conn) && closed.push(m as ConnectionCloseMessage)
  const onError = (m: unknown) => ours((m as HandlerErrorMessage).conn) && errors.push(m as HandlerErrorMessage)
  subscribe(CONNECTION_OPEN, onOpen)
  subscribe(CONNECTION_CLOSE, onClose)
  subscribe(HANDLER_ERROR, onError)
  t.teardown(() => {
    unsubscribe(CONNECTION_OPEN, onOpen)
    unsubscribe(CONNECTION_CLOSE, onClose)
    unsubscribe(HANDLER_ERROR, onError)
  })
  // No onOpen or onClose: the events alone make riptide give the connection a Conn.
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      if (Buffer.from(data).toString() === 'boom') throw new Error('boom')
      conn.write(data)
    },
    onError() {},
  })
  port = engine.port
  const s = await connect(engine.port)
  const clientPort = s.localPort ?? -1
  s.write('boom')
  await until(() => errors.length === 1)
  s.destroy()
  await until(() => closed.length === 1)
  t.is(opened.length, 1)
  const conn = opened[0].conn
  t.is(conn.remote.family === 'unix' ? 0 : conn.remote.port, clientPort)
  t.is(closed[0].conn, conn)
  t.is(errors[0].conn, conn)
  t.is(errors[0].where, 'onTraffic')
  t.is((errors[0].error as Error).message, 'boom')
  await engine.stop()
})

test('registerMetrics: the exposition has riptide_connections_open, and stop unregisters', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', { onTraffic(conn, data) { conn.write(data) } })
  const registry = new Registry()
  registerMetrics(engine, registry)
  t.throws(() => registerMetrics(engine, registry), { message: /already been registered/ })
  const s = await connect(engine.port)
  s.write('x')
  await readExactly(s, 1)
  const text = await registry.metrics()
  t.regex(text, /# TYPE riptide_connections_open gauge\nriptide_connections_open\{reactor="0"\} 1\n/)
  t.regex(text, /riptide_received_bytes_total\{reactor="0"\} 1\n/)
  t.regex(text, new RegExp(`riptide_listener_connections_open\\{reactor="0",listener="tcp://127.0.0.1:${engine.port}",protocol="tcp"\\} 1\\n`))
  for (const name of METRIC_NAMES) t.not(registry.getSingleMetric(name), undefined, name)
  s.destroy()
  await engine.stop()
  t.is(registry.getSingleMetric('riptide_connections_open'), undefined)
  t.is(await registry.metrics(), '\n')
})
