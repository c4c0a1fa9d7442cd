// Publishing to WebSocket subscribers: each message is framed (and compressed) once per kind
// of session and the same bytes go to every subscriber of that kind (docs/websocket.md,
// "Publishing"). Raw readers compare their whole byte stream with the frames expected; `ws`
// clients decode what they get.
import test from 'ava'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { join } from 'node:path'
import WebSocket from 'ws'
import { codecs, serve } from 'riptide'
import { handler as pubsubHandler } from './fixtures/ws-pubsub-handler'
import { connect, until } from './helpers'

/** Published message `i`: text for even `i`, binary for odd, 4 + `i % 13` bytes long. */
function message(i: number): string | Buffer {
  if (i % 2 === 0) return `${String(i).padStart(4, '0')}${'é'.repeat((i % 13) >> 1)}${'x'.repeat((i % 13) & 1)}`
  const m = Buffer.alloc(4 + (i % 13))
  m.writeUInt32BE(i)
  for (let k = 4; k < m.length; k++) m[k] = (i * 7 + k) & 255
  return m
}

/** A server's frame of `data` (final, unmasked, under 126 bytes). */
function frame(data: string | Buffer): Buffer {
  const body = Buffer.from(data)
  return Buffer.concat([Buffer.from([typeof data === 'string' ? 0x81 : 0x82, body.length]), body])
}

/** A raw socket past its upgrade, with the bytes that came after the 101. */
async function rawSubscriber(port: number): Promise<{ socket: net.Socket; rest: Buffer }> {
  const socket = await connect(port)
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  )
  let head = Buffer.alloc(0)
  for (;;) {
    const chunk: Buffer = await new Promise((resolve) => socket.once('data', resolve))
    head = Buffer.concat([head, chunk])
    const end = head.indexOf('\r\n\r\n')
    if (end >= 0) {
      if (!head.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) throw new Error(head.toString())
      return { socket, rest: head.subarray(end + 4) }
    }
  }
}

test.serial('1,000 WebSocket subscribers over 2 reactors each receive all 10,000 published messages in order, byte-exact', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', pubsubHandler, {
    codec: codecs.websocket(),
    reactors: 2,
    workerModule: join(__dirname, 'fixtures', 'ws-pubsub-handler.ts'),
  })
  t.teardown(() => engine.stop())
  const RAW = 990
  const CLIENTS = 10
  const MESSAGES = 10_000
  const expected = Buffer.concat(Array.from({ length: MESSAGES }, (_, i) => frame(message(i))))
  const reactors = new Set<string>()
  const raw: Array<{ socket: net.Socket; at: number; exact: boolean }> = []
  for (let i = 0; i < RAW; i += 110) {
    const opened = await Promise.all(Array.from({ length: 110 }, () => rawSubscriber(engine.port)))
    for (const { socket, rest } of opened) {
      const p = { socket, at: 0, exact: true, hello: rest }
      // The first frame is the reactor's index (a 1-byte text message), then publications.
      const take = (d: Buffer): void => {
        if (p.hello) {
          d = Buffer.concat([p.hello, d])
          if (d.length < 3) return void (p.hello = d)
          reactors.add(d.subarray(2, 3).toString())
          p.hello = undefined as unknown as Buffer
          d = d.subarray(3)
        }
        if (p.exact && !d.equals(expected.subarray(p.at, p.at + d.length))) p.exact = false
        p.at += d.length
      }
      socket.on('data', take)
      take(Buffer.alloc(0))
      raw.push(p)
    }
  }
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${engine.port}/`)
      const c = { ws, got: 0, exact: true }
      ws.on('message', (data: Buffer, binary: boolean) => {
        const i = c.got - 1
        c.got++
        if (i < 0) return
        const m = message(i)
        if (binary !== (typeof m !== 'string') || !data.equals(Buffer.from(m))) c.exact = false
      })
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve())
        ws.once('error', reject)
      })
      return c
    }),
  )
  await until(() => engine.subscriberCount('room') === RAW + CLIENTS && clients.every((c) => c.got === 1), 20_000)
  t.deepEqual([...reactors].sort(), ['0', '1'], 'both reactors hold subscribers')
  for (let i = 0; i < MESSAGES; i++) {
    const queued = engine.publish('room', message(i))
    if (i === 0) t.is(queued, RAW + CLIENTS)
    // Let the clients (on this thread) read now and then.
    if (i % 100 === 99) await new Promise((r) => setImmediate(r))
  }
  const done = (): boolean => raw.every((p) => p.at >= expected.length || !p.exact) && clients.every((c) => c.got > MESSAGES || !c.exact)
  await until(done, 90_000)
  t.true(raw.every((p) => p.exact && p.at === expected.length), 'raw readers got exactly the frames')
  t.true(clients.every((c) => c.exact && c.got === MESSAGES + 1), 'ws clients decoded every message')
  for (const { socket } of raw) socket.destroy()
  for (const { ws } of clients) ws.terminate()
  await until(() => engine.subscriberCount('room') === 0, 20_000)
})

test('compressed publications: one frame for sessions without context takeover, their own for the others; ws decodes all', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', { onOpen: (conn) => void conn.subscribe('room') }, { codec: codecs.websocket({ compression: true }) })
  t.teardown(() => engine.stop())
  const offers = [false, { serverNoContextTakeover: true }, { serverNoContextTakeover: true, serverMaxWindowBits: 10 }, true]
  const clients = await Promise.all(
    offers.map(async (perMessageDeflate) => {
      const ws = new WebSocket(`ws://127.0.0.1:${engine.port}/`, [], { perMessageDeflate })
      const got: Array<{ data: Buffer; binary: boolean }> = []
      let agreed = ''
      ws.on('message', (data: Buffer, binary: boolean) => void got.push({ data, binary }))
      ws.once('upgrade', (res) => void (agreed = String(res.headers['sec-websocket-extensions'] ?? '')))
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve())
        ws.once('error', reject)
      })
      return { ws, got, agreed }
    }),
  )
  t.is(clients[0].agreed, '')
  t.regex(clients[1].agreed, /server_no_context_takeover/)
  t.regex(clients[2].agreed, /server_no_context_takeover.*server_max_window_bits=10/)
  t.regex(clients[3].agreed, /^permessage-deflate/)
  t.notRegex(clients[3].agreed, /server_no_context_takeover/)
  await until(() => engine.subscriberCount('room') === offers.length)
  const sent = [...Array.from({ length: 50 }, (_, i) => message(i)), 'a'.repeat(70_000), randomBytes(100_000), '']
  for (const m of sent) t.is(engine.publish('room', m), offers.length)
  await until(() => clients.every((c) => c.got.length === sent.length), 20_000)
  for (const { got } of clients) {
    t.deepEqual(
      got.map((m) => [m.binary, m.data.toString('hex')]),
      sent.map((m) => [typeof m !== 'string', Buffer.from(m).toString('hex')]),
    )
  }
  for (const { ws } of clients) ws.terminate()
})
