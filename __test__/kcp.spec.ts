import test from 'ava'
import dgram from 'node:dgram'
import { codecs, connect, serve, type Conn, type EventHandler, type KcpOptions, type RiptideError } from 'riptide'
import { randomBytes, rng, startRelay, until } from './helpers'

const turbo: KcpOptions = { nodelay: true, interval: 10, resend: 2, nc: true, sndWnd: 128, rcvWnd: 128 }

/** A kcp:// echo server. */
function echoServer(kcp: KcpOptions = turbo, extra: EventHandler = {}) {
  return serve(
    'kcp://127.0.0.1:0',
    {
      onTraffic(conn, data) {
        conn.write(data)
      },
      ...extra,
    },
    { kcp },
  )
}

/** Collects every onTraffic payload of a client connection. */
function collector() {
  const got: Buffer[] = []
  const handler: EventHandler = {
    onTraffic(_conn, data) {
      got.push(Buffer.from(data))
    },
  }
  return { got, handler }
}

test('kcp: message mode echoes every message whole and in order, multi-fragment ones too', async (t) => {
  const engine = await echoServer()
  const { got, handler } = collector()
  const conn = await connect(`kcp://127.0.0.1:${engine.port}`, handler, { kcp: turbo })
  const next = rng(11)
  const sent: Buffer[] = []
  for (let i = 0; i < 300; i++) {
    // Up to ~6 fragments of the default 1376-byte MSS.
    const msg = randomBytes(i, 1 + Math.floor(next() * 8000))
    sent.push(msg)
    conn.write(msg)
  }
  await until(() => got.length >= sent.length, 10000)
  t.is(got.length, sent.length)
  for (let i = 0; i < sent.length; i++) t.true(got[i].equals(sent[i]), `message ${i}`)
  conn.close()
  await engine.stop()
})

test('kcp: stream mode carries bytes that a codec frames again', async (t) => {
  const kcp = { ...turbo, stream: true }
  const codec = codecs.lengthField({ lengthFieldLength: 4 })
  const engine = await serve(
    'kcp://127.0.0.1:0',
    {
      onTraffic(conn, frame) {
        conn.write(frame)
      },
    },
    { kcp, codec },
  )
  const { got, handler } = collector()
  const conn = await connect(`kcp://127.0.0.1:${engine.port}`, handler, { kcp, codec })
  const frames = Array.from({ length: 200 }, (_, i) => randomBytes(1000 + i, (i * 97) % 3000))
  for (const f of frames) conn.write(f)
  await until(() => got.length >= frames.length, 10000)
  t.deepEqual(
    got.map((b) => b.toString('hex')),
    frames.map((b) => b.toString('hex')),
  )
  conn.close()
  await engine.stop()
})

test('kcp: 1 MiB echoes byte-exact through a relay that loses 10 % of datagrams each way', async (t) => {
  const engine = await echoServer()
  const relay = await startRelay(engine.port, ['--loss', '0.1', '--seed', '7'])
  const { got, handler } = collector()
  const conn = await connect(`kcp://127.0.0.1:${relay.port}`, handler, { kcp: turbo })
  const payload = randomBytes(99, 1 << 20)
  const chunk = 4096
  let offset = 0
  // Write as the window allows (write() → false, then onWritability true), like a Node stream.
  const pump = () => {
    while (offset < payload.length) {
      const ok = conn.write(payload.subarray(offset, offset + chunk))
      offset += chunk
      if (!ok) return
    }
  }
  handler.onWritability = (_conn, writable) => {
    if (writable) pump()
  }
  pump()
  const total = () => got.reduce((n, b) => n + b.length, 0)
  await until(() => total() >= payload.length, 60000)
  t.true(Buffer.concat(got).equals(payload))
  const kcpStats = conn.kcpStats()
  t.true(kcpStats.retransmits + kcpStats.fastRetransmits > 0, 'the loss was repaired by resending')
  const stats = await relay.stop()
  t.regex(stats, /lost/)
  conn.close()
  await engine.stop()
})

test('kcp: write() returns false past the send window; onWritability false, then true once acked', async (t) => {
  const kcp: KcpOptions = { ...turbo, sndWnd: 4 }
  const engine = await echoServer(kcp)
  const { got, handler } = collector()
  const transitions: boolean[] = []
  handler.onWritability = (_conn, writable) => void transitions.push(writable)
  const conn = await connect(`kcp://127.0.0.1:${engine.port}`, handler, { kcp })
  // Outside a callback batch each write() answers from the native queue at once.
  await new Promise<void>((resolve) => setImmediate(resolve))
  // Write until write() says the window is full. On the thread driver the reactor turns
  // between these writes and acks can free the window meanwhile, so the count is not fixed.
  const results: boolean[] = []
  for (let i = 0; i < 256 && results.at(-1) !== false; i++) results.push(conn.write(Buffer.alloc(1376, i)))
  const n = results.length
  t.true(results[0])
  t.false(results[n - 1], 'the window of 4 segments fills')
  await until(() => transitions.includes(true) && got.length === n, 10000)
  t.true(conn.writable)
  // A write outside a batch that returned false is told from the next batch, before the true.
  t.deepEqual(transitions.slice(0, 2), [false, true])
  t.deepEqual(
    got.map((b) => b[0]),
    Array.from({ length: n }, (_, i) => i % 256),
  )
  conn.close()
  await engine.stop()
})

test('kcp: a peer that never answers ends in onClose with ERR_KCP_DEAD_LINK', async (t) => {
  const sink = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve))
  let received = 0
  sink.on('message', () => received++)
  const closed = new Promise<RiptideError | undefined>((resolve) => {
    void connect(
      `kcp://127.0.0.1:${sink.address().port}`,
      { onClose: (_c, err) => resolve(err) },
      { kcp: { nodelay: true, interval: 10, deadLink: 5 } },
    ).then((conn) => conn.write('anyone there?'))
  })
  const err = await closed
  t.is(err?.code, 'ERR_KCP_DEAD_LINK')
  // The last transmission and the close leave in the same flush: let the datagram land.
  await new Promise((r) => setTimeout(r, 100))
  t.true(received >= 5, `the segment was sent ${received} times`)
  sink.close()
})

test('kcp: a silent peer expires after idleTimeout with ETIMEDOUT', async (t) => {
  let serverConn: Conn | undefined
  let onServerClose: (err: RiptideError | undefined) => void = () => {}
  const closed = new Promise<RiptideError | undefined>((resolve) => (onServerClose = resolve))
  const engine = await echoServer(
    { ...turbo, idleTimeout: 300 },
    {
      onOpen(c) {
        serverConn = c
      },
      onClose: (_c, err) => onServerClose(err),
    },
  )
  const client = await connect(`kcp://127.0.0.1:${engine.port}`, {}, { kcp: turbo })
  client.write('hello')
  await until(() => serverConn !== undefined)
  // Vanish without a word: KCP has no close handshake.
  client.destroy()
  const err = await closed
  t.is(err?.code, 'ETIMEDOUT')
  await engine.stop()
})

test('kcp: hostile datagrams are dropped without opening sessions; real clients still work', async (t) => {
  let opened = 0
  const engine = await echoServer(turbo, {
    onOpen() {
      opened++
    },
  })
  const attacker = dgram.createSocket('udp4')
  const next = rng(5)
  for (let i = 0; i < 500; i++) {
    const junk = randomBytes(i, Math.floor(next() * 200))
    // Every fourth one looks like a KCP ACK (cmd 82): only a PUSH may open a session.
    if (junk.length >= 24 && i % 4 === 0) junk[4] = 82
    attacker.send(junk, engine.port, '127.0.0.1')
  }
  await new Promise((r) => setTimeout(r, 200))
  const before = opened
  const { got, handler } = collector()
  const conn = await connect(`kcp://127.0.0.1:${engine.port}`, handler, { kcp: turbo })
  conn.write('still here')
  await until(() => got.length === 1)
  t.is(got[0].toString(), 'still here')
  t.is(opened, before + 1)
  attacker.close()
  conn.close()
  await engine.stop()
})

test('kcp: bad options and oversized messages fail with codes', async (t) => {
  await t.throwsAsync(serve('kcp://127.0.0.1:0', {}, { kcp: { mtu: 10 } }), { code: 'ERR_INVALID_ARG_VALUE' })
  await t.throwsAsync(serve('kcp://127.0.0.1:0', {}, { kcp: { interval: 5 } }), { code: 'ERR_INVALID_ARG_VALUE' })
  await t.throwsAsync(serve('kcp://127.0.0.1:0', {}, { kcp: { nodelay: 1 as unknown as boolean } }), {
    code: 'ERR_INVALID_ARG_VALUE',
  })
  // The listener's admission limits: finite integers in range.
  for (const kcp of [
    { maxSessionsPerIp: -1 },
    { maxSessionsPerIp: 1.5 },
    { maxSessionsPerIp: 2 ** 24 + 1 },
    { handshakeTimeout: Number.NaN },
    { handshakeTimeout: -1 },
    { maxBuffered: 1000 },
    { maxBuffered: Number.POSITIVE_INFINITY },
    { maxBuffered: '1e9' as unknown as number },
  ]) {
    await t.throwsAsync(serve('kcp://127.0.0.1:0', {}, { kcp }), { code: 'ERR_INVALID_ARG_VALUE' }, JSON.stringify(kcp))
  }
  const limits = await serve('kcp://127.0.0.1:0', {}, { kcp: { maxSessionsPerIp: 0, handshakeTimeout: 0, maxBuffered: 2 ** 30 } })
  await limits.stop()
  const engine = await echoServer()
  const conn = await connect(`kcp://127.0.0.1:${engine.port}`, {}, { kcp: turbo })
  await new Promise<void>((resolve) => setImmediate(resolve))
  // 127 fragments of 1376 bytes is the most one message can have (ikcp's rule).
  t.throws(() => conn.write(Buffer.alloc(127 * 1376 + 1)), { code: 'ERR_MESSAGE_TOO_LARGE' })
  t.notThrows(() => conn.write(Buffer.alloc(127 * 1376)))
  conn.close()
  await engine.stop()
})
