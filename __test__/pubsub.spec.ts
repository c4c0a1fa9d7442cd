import test from 'ava'
import net from 'node:net'
import { join } from 'node:path'
import { codecs, serve, type Conn, type Engine, type RiptideError, type ServeOptions } from 'riptide'
import { handler as pubsubHandler } from './fixtures/pubsub-handler'
import { connect, pausedClient, readExactly, until } from './helpers'

const fixture = (name: string) => join(__dirname, 'fixtures', name)
const codec = codecs.lengthField()

/** `body` in the 4-byte big-endian length-field framing the servers here use. */
function frame(body: Buffer | string): Buffer {
  const b = Buffer.from(body)
  const head = Buffer.alloc(4)
  head.writeUInt32BE(b.length)
  return Buffer.concat([head, b])
}

/** Published message `i`: its sequence number, then `i % 13` bytes derived from it. */
function message(i: number, pad = i % 13): Buffer {
  const m = Buffer.alloc(4 + pad)
  m.writeUInt32BE(i)
  for (let k = 0; k < pad; k++) m[4 + k] = (i * 7 + k) & 255
  return m
}

/** Connects and subscribes through the fixture handler; resolves with the reactor index. */
async function subscriber(port: number, topic: string): Promise<{ socket: net.Socket; reactor: string }> {
  const socket = await connect(port)
  socket.write(frame(`S${topic}`))
  const ack = (await readExactly(socket, 7)).subarray(4).toString()
  if (!ack.startsWith('ok')) throw new Error(`subscribe refused: ${ack}`)
  return { socket, reactor: ack.slice(2) }
}

/** Splits a length-field stream into the sequence numbers of its messages. */
function sequences(stream: Buffer): number[] {
  const out: number[] = []
  for (let at = 0; at + 4 <= stream.length; ) {
    const len = stream.readUInt32BE(at)
    out.push(stream.readUInt32BE(at + 4))
    at += 4 + len
  }
  return out
}

test.serial('1,000 subscribers over 2 reactors each receive all 10,000 published messages in order, byte-exact', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', pubsubHandler, { reactors: 2, workerModule: fixture('pubsub-handler.ts'), codec })
  t.teardown(() => engine.stop())
  const SUBSCRIBERS = 1000
  const MESSAGES = 10_000
  const subs: Array<{ socket: net.Socket; reactor: string }> = []
  for (let i = 0; i < SUBSCRIBERS; i += 100) {
    subs.push(...(await Promise.all(Array.from({ length: 100 }, () => subscriber(engine.port, 'room')))))
  }
  t.deepEqual(new Set(subs.map((s) => s.reactor)), new Set(['0', '1']), 'both reactors hold subscribers')
  t.is(engine.subscriberCount('room'), SUBSCRIBERS)

  const expected = Buffer.concat(Array.from({ length: MESSAGES }, (_, i) => frame(message(i))))
  const progress = subs.map(({ socket }) => {
    const p = { at: 0, exact: true }
    socket.on('data', (d: Buffer) => {
      if (p.exact && !d.equals(expected.subarray(p.at, p.at + d.length))) p.exact = false
      p.at += d.length
    })
    return p
  })
  for (let i = 0; i < MESSAGES; i++) {
    const queued = engine.publish('room', message(i))
    if (i === 0) t.is(queued, SUBSCRIBERS)
    // Let the clients (on this thread) read now and then.
    if (i % 100 === 99) await new Promise((r) => setImmediate(r))
  }
  await until(() => progress.every((p) => p.at >= expected.length || !p.exact), 90_000)
  t.true(progress.every((p) => p.exact && p.at === expected.length))
  for (const { socket } of subs) socket.destroy()
  await until(() => engine.subscriberCount('room') === 0)
})

test('unsubscribe and close remove subscriptions on every reactor; counts follow', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', pubsubHandler, { reactors: 2, workerModule: fixture('pubsub-handler.ts'), codec })
  t.teardown(() => engine.stop())
  const subs = await Promise.all(Array.from({ length: 10 }, () => subscriber(engine.port, 'a')))
  for (const { socket } of subs.slice(0, 5)) {
    socket.write(frame('Sb'))
    await readExactly(socket, 7)
  }
  t.is(engine.subscriberCount('a'), 10)
  t.is(engine.subscriberCount('b'), 5)
  for (const { socket } of subs.slice(7)) {
    socket.write(frame('Ua'))
    await readExactly(socket, 7)
  }
  t.is(engine.subscriberCount('a'), 7)
  for (const { socket } of subs.slice(0, 2)) socket.destroy()
  await until(() => engine.subscriberCount('a') === 5 && engine.subscriberCount('b') === 3)
  // A publish reaches just the remaining subscribers of 'a'.
  const got = subs.slice(2, 7).map(({ socket }) => readExactly(socket, 4 + 5))
  t.is(engine.publish('a', 'hello'), 5)
  for (const bytes of await Promise.all(got)) t.deepEqual(bytes, frame('hello'))
  for (const { socket } of subs) socket.destroy()
  await until(() => engine.subscriberCount('a') === 0 && engine.subscriberCount('b') === 0)
})

test('subscribe, isSubscribed and unsubscribe report what changed; a publish from a connection reaches the others', async (t) => {
  const conns: Conn[] = []
  const engine = await serve('tcp://127.0.0.1:0', { onOpen: (c) => void conns.push(c), onTraffic: pubsubHandler.onTraffic }, { codec })
  t.teardown(() => engine.stop())
  const [a, b] = await Promise.all([connect(engine.port), connect(engine.port)])
  await until(() => conns.length === 2)
  t.true(conns[0].subscribe('news'))
  t.false(conns[0].subscribe('news'))
  t.true(conns[0].isSubscribed('news'))
  t.false(conns[1].isSubscribed('news'))
  t.true(conns[1].subscribe('news'))
  t.true(conns[1].unsubscribe('news'))
  t.false(conns[1].unsubscribe('news'))
  const got = readExactly(a, 4 + 3)
  b.write(frame('Pnews\nhi!'))
  t.deepEqual(await got, frame('hi!'))
  a.destroy()
  b.destroy()
})

/** A server with one subscriber that stops reading and one that reads, under `options`. */
async function slowSubscriber(options: ServeOptions) {
  const conns: Conn[] = []
  const closed: Array<{ conn: Conn; err?: RiptideError }> = []
  const unwritable: Conn[] = []
  const engine: Engine = await serve(
    'tcp://127.0.0.1:0',
    {
      onOpen(conn) {
        conn.subscribe('feed')
        conns.push(conn)
      },
      onClose: (conn, err) => void closed.push({ conn, err }),
      onWritability: (conn, writable) => void (writable || unwritable.push(conn)),
    },
    { codec, socketSendBuffer: 64 * 1024, ...options },
  )
  const slow = await pausedClient(engine.port)
  await until(() => conns.length === 1)
  const fast = await connect(engine.port)
  await until(() => conns.length === 2)
  let fastGot = 0
  fast.on('data', (d: Buffer) => void (fastGot += d.length))
  return { engine, conns, closed, unwritable, slow, fast, fastGot: () => fastGot }
}

/**
 * Publishes 1 KiB messages `from` to `to`. Every 50 messages (51 KiB, under the 64 KiB bounds
 * here) it waits until the reading client has all of them, so only the paused one falls
 * behind: on the thread driver a loaded machine can starve the reactor thread's flushes
 * while this thread publishes, and a reader merely given a turn fell past the bound too.
 */
async function flood(engine: Engine, fastGot: () => number, to: number, from = 0): Promise<void> {
  for (let i = from; i < to; i++) {
    engine.publish('feed', message(i, 1020))
    if (i % 50 === 49 || i === to - 1) await until(() => fastGot() >= (i + 1) * FRAME, 30_000)
  }
}

const MESSAGES = 10_000
const FRAME = 4 + 1024

test.serial("'drop': the slow subscriber's queue stays under the bound, its dropped counter rises, and it gets an in-order subset", async (t) => {
  const max = 64 * 1024
  const { engine, conns, slow, fast, fastGot } = await slowSubscriber({ backpressure: { policy: 'drop', maxBackpressure: max } })
  t.teardown(() => engine.stop())
  const fastAll = readExactly(fast, MESSAGES * FRAME)
  let highest = 0
  for (let i = 0; i < MESSAGES; i += 500) {
    await flood(engine, fastGot, i + 500, i)
    highest = Math.max(highest, conns[0].outboundBuffered)
  }
  t.is((await fastAll).length, MESSAGES * FRAME)
  t.is(conns[1].droppedMessages, 0)
  const dropped = conns[0].droppedMessages
  t.true(dropped > 0, 'messages were dropped for the subscriber that does not read')
  t.true(highest <= max + FRAME, `queued ${highest} bytes, bound ${max + FRAME}`)
  // What was not dropped arrives, in order.
  const rest = readExactly(slow, (MESSAGES - dropped) * FRAME)
  slow.resume()
  const seqs = sequences(await rest)
  t.is(seqs.length, MESSAGES - dropped)
  t.true(seqs.every((s, i) => i === 0 || s > seqs[i - 1]))
  slow.destroy()
  fast.destroy()
})

test.serial("'close': the slow subscriber is closed with ERR_OUTBOUND_FULL; the others keep every message", async (t) => {
  const { engine, conns, closed, slow, fast, fastGot } = await slowSubscriber({ backpressure: { policy: 'close', maxBackpressure: 64 * 1024 } })
  t.teardown(() => engine.stop())
  const fastAll = readExactly(fast, MESSAGES * FRAME)
  await flood(engine, fastGot, MESSAGES)
  t.is((await fastAll).length, MESSAGES * FRAME)
  await until(() => closed.length === 1)
  t.is(closed[0].conn, conns[0])
  t.is(closed[0].err?.code, 'ERR_OUTBOUND_FULL')
  t.is(engine.subscriberCount('feed'), 1)
  slow.destroy()
  fast.destroy()
})

test.serial("'buffer': the slow subscriber turns unwritable past the high water mark and later gets every message in order", async (t) => {
  const { engine, conns, unwritable, slow, fast, fastGot } = await slowSubscriber({ backpressure: { policy: 'buffer' } })
  t.teardown(() => engine.stop())
  const fastAll = readExactly(fast, MESSAGES * FRAME)
  await flood(engine, fastGot, MESSAGES)
  t.is((await fastAll).length, MESSAGES * FRAME)
  await until(() => unwritable.includes(conns[0]))
  t.true(conns[0].outboundBuffered > 64 * 1024)
  t.is(conns[0].droppedMessages, 0)
  const all = readExactly(slow, MESSAGES * FRAME)
  slow.resume()
  t.deepEqual(sequences(await all), Array.from({ length: MESSAGES }, (_, i) => i))
  slow.destroy()
  fast.destroy()
})

test('topics are bounded: names of 1 to 256 bytes, 1,024 per connection; bad values throw ERR_INVALID_ARG_VALUE', async (t) => {
  const conns: Conn[] = []
  const engine = await serve('tcp://127.0.0.1:0', { onOpen: (c) => void conns.push(c) }, { codec })
  t.teardown(() => engine.stop())
  const client = await connect(engine.port)
  await until(() => conns.length === 1)
  const conn = conns[0]
  const invalid = { code: 'ERR_INVALID_ARG_VALUE' }
  t.throws(() => conn.subscribe(''), invalid)
  t.throws(() => conn.subscribe('x'.repeat(257)), invalid)
  t.throws(() => conn.subscribe('é'.repeat(129)), invalid, 'the bound is in UTF-8 bytes')
  t.throws(() => conn.subscribe(42 as unknown as string), invalid)
  t.throws(() => engine.publish('x'.repeat(257), 'm'), invalid)
  t.throws(() => engine.subscriberCount(null as unknown as string), invalid)
  t.throws(() => engine.publish('t', 42 as unknown as string), invalid)
  t.true(conn.subscribe('x'.repeat(256)))
  for (let i = 1; i < 1024; i++) conn.subscribe(`t${i}`)
  t.throws(() => conn.subscribe('one too many'), invalid)
  t.is(engine.subscriberCount('t1023'), 1)
  for (const backpressure of [{ policy: 'later' }, { maxBackpressure: -1 }, { maxBackpressure: 1.5 }, { limit: 1 }, null]) {
    await t.throwsAsync(serve('tcp://127.0.0.1:0', {}, { backpressure } as unknown as ServeOptions), invalid)
  }
  client.destroy()
  await until(() => engine.subscriberCount('t1023') === 0)
})
