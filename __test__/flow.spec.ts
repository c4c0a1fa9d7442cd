import test from 'ava'
import net from 'node:net'
import { serve, type Conn, type RiptideError } from 'riptide'
import { connect, pausedClient, readExactly, readToEnd, until } from './helpers'

const chunk = Buffer.alloc(16 * 1024, 0x5a)

test('write() returns false above the high water mark: onWritability false at the end of the batch, true at the low mark, no byte lost', async (t) => {
  const events: string[] = []
  let writes = 0
  let sent = 0
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn) {
      // Write until told to stop, like a well-behaved Node stream producer.
      while (conn.write(chunk)) {
        writes++
        sent += chunk.length
        if (writes > 10_000) break
      }
      sent += chunk.length
      events.push(`unwritable ${conn.writable}`)
    },
    onWritability(conn, writable) {
      events.push(`writability ${writable} ${conn.writable}`)
      if (writable) conn.close()
    },
  }, { socketSendBuffer: 8192, writeHighWaterMark: 256 * 1024, writeLowWaterMark: 64 * 1024 })
  const s = await pausedClient(engine.port)
  s.write('go')
  await until(() => events.length === 2)
  t.deepEqual(events, ['unwritable false', 'writability false false'])
  t.true(writes < 10_000, 'the producer stopped')
  s.resume()
  const all = await readToEnd(s)
  t.is(all.length, sent)
  t.deepEqual(events, ['unwritable false', 'writability false false', 'writability true true'])
  await engine.stop()
})

test('write callbacks fire once the bytes reach the kernel, or with ERR_CONN_CLOSED', async (t) => {
  const outcomes: (string | undefined)[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      if (data[0] === 0x31) conn.write('small', (err) => outcomes.push(err?.code ?? 'sent'))
      else {
        conn.write(Buffer.alloc(8 << 20), (err) => outcomes.push(err?.code ?? 'sent'))
        conn.destroy()
      }
    },
  }, { socketSendBuffer: 8192 })
  const a = await connect(engine.port)
  a.write('1')
  await until(() => outcomes.length === 1)
  t.deepEqual(outcomes, ['sent'])
  const b = await pausedClient(engine.port)
  b.write('2')
  await until(() => outcomes.length === 2)
  t.deepEqual(outcomes, ['sent', 'ERR_CONN_CLOSED'])
  await new Promise((r) => setTimeout(r, 50))
  t.is(outcomes.length, 2, 'exactly once')
  a.destroy()
  b.destroy()
  await engine.stop()
})

test('maxOutbound closes the connection with ERR_OUTBOUND_FULL', async (t) => {
  let code: string | undefined
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn) {
      for (let i = 0; i < 64; i++) conn.write(chunk)
    },
    onClose(_conn, err) {
      code = err?.code
    },
  }, { socketSendBuffer: 8192, maxOutbound: 128 * 1024 })
  const s = await pausedClient(engine.port)
  s.write('go')
  await until(() => code !== undefined)
  t.is(code, 'ERR_OUTBOUND_FULL')
  s.destroy()
  await engine.stop()
})

test('pause() stops reading until resume()', async (t) => {
  const got: string[] = []
  let conn: Conn | undefined
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(c) {
      conn = c.pause()
    },
    onTraffic(_c, data) {
      got.push(Buffer.from(data).toString())
    },
  })
  const s = await connect(engine.port)
  s.write('held')
  await new Promise((r) => setTimeout(r, 100))
  t.deepEqual(got, [])
  conn!.resume()
  await until(() => got.length === 1)
  t.deepEqual(got, ['held'])
  s.destroy()
  await engine.stop()
})

test('allowHalfOpen: onEnd after the peer FIN, the reply arrives in full, then FIN (T9)', async (t) => {
  let closes = 0
  const engine = await serve('tcp://127.0.0.1:0', {
    onEnd(conn) {
      conn.end(Buffer.alloc(1 << 20, 1))
    },
    onClose() {
      closes++
    },
  }, { allowHalfOpen: true })
  const s = await connect(engine.port)
  const reply = readToEnd(s)
  s.end(Buffer.alloc(1 << 20, 2))
  t.is((await reply).length, 1 << 20)
  await until(() => closes === 1)
  await new Promise((r) => setTimeout(r, 50))
  t.is(closes, 1)
  await engine.stop()
})

test('destroy(err) resets now and onClose reports that error', async (t) => {
  let reported: RiptideError | undefined
  const mine = new (class extends Error {
    code = 'ERR_APP_BANNED'
  })('banned') as unknown as RiptideError
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn) {
      conn.destroy(mine)
    },
    onClose(_conn, err) {
      reported = err
    },
  })
  const s = await connect(engine.port)
  const reset = new Promise<string>((resolve) => s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')))
  s.write('x')
  t.is(await reset, 'ECONNRESET')
  await until(() => reported !== undefined)
  t.is(reported, mine)
  await engine.stop()
})

test('end() and destroy() in a batch are staged: end after its writes (bytes, then FIN), destroy resets; one onClose each', async (t) => {
  const closes = new Map<number, number>()
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      const text = Buffer.from(data).toString()
      if (text !== 'destroy') conn.write(`reply:${text};`)
      if (text === 'end') {
        conn.end('bye')
        t.false(conn.open)
        t.is(conn.outboundBuffered, 0)
        t.throws(() => conn.write('late'), { code: 'ERR_CONN_CLOSED' })
      } else if (text === 'destroy') {
        conn.destroy()
        conn.destroy()
        t.throws(() => conn.end(), { code: 'ERR_CONN_CLOSED' })
      }
    },
    onClose(conn) {
      closes.set(conn.id, (closes.get(conn.id) ?? 0) + 1)
    },
  })
  // Many connections at once, so that several share a batch.
  const enders = await Promise.all(Array.from({ length: 20 }, () => connect(engine.port)))
  const destroyers = await Promise.all(Array.from({ length: 20 }, () => connect(engine.port)))
  const replies = enders.map((s) => readToEnd(s))
  const resets = destroyers.map((s) => new Promise<string>((resolve) => s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? ''))))
  for (const s of enders) s.write('end')
  for (const s of destroyers) s.write('destroy')
  for (const reply of await Promise.all(replies)) t.is(reply.toString(), 'reply:end;bye')
  for (const code of await Promise.all(resets)) t.true(code === 'ECONNRESET' || code === 'EPIPE', code)
  for (const s of enders) s.end()
  await until(() => closes.size === 40)
  await new Promise((r) => setTimeout(r, 50))
  t.deepEqual([...closes.values()], Array(40).fill(1))
  await engine.stop()
})

test('idleTimeout fires onIdle per period; heartbeat pings on write-idle and drops on read-idle', async (t) => {
  const idle: string[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onIdle(_conn, kind) {
      idle.push(kind)
    },
  }, { idleTimeout: { all: 60 } })
  const s = await connect(engine.port)
  await until(() => idle.length >= 2)
  t.deepEqual(idle.slice(0, 2), ['all', 'all'])
  s.destroy()
  await engine.stop()

  let closedWith: string | undefined
  // The read-idle drop well past the second ping: a turn delayed by load (over 12 here) could
  // otherwise see the ping and the drop due together, and drop before pinging again.
  const hb = await serve('tcp://127.0.0.1:0', {
    onClose(_c, err) {
      closedWith = err?.code
    },
  }, { heartbeat: { interval: 40, timeout: 1000, ping: 'PING\n' } })
  const c = await connect(hb.port)
  const pings = await readExactly(c, 10)
  t.is(pings.toString(), 'PING\nPING\n')
  await until(() => closedWith !== undefined)
  t.is(closedWith, 'ETIMEDOUT')
  c.destroy()
  await hb.stop()
})

test('conn.setTimeout fires no earlier than asked, clearTimeout cancels, nothing fires after close', async (t) => {
  const fired: string[] = []
  let conn: Conn | undefined
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(c) {
      conn = c
    },
  })
  const s = await connect(engine.port)
  await until(() => conn !== undefined)
  const start = Date.now()
  let at = 0
  conn!.setTimeout(50, () => {
    fired.push('a')
    at = Date.now() - start
  })
  const cancelled = conn!.setTimeout(20, () => fired.push('cancelled'))
  conn!.clearTimeout(cancelled)
  // Far enough past the first that close() runs before it even when a loaded machine delays
  // timers by a few hundred ms (at 300 ms both once fired in one turn).
  conn!.setTimeout(1500, () => fired.push('after close'))
  try {
    await until(() => fired.length >= 1)
    t.deepEqual(fired, ['a'])
    t.true(at >= 49, `fired at ${at} ms`)
    conn!.close()
    await new Promise((r) => setTimeout(r, 1700))
    t.deepEqual(fired, ['a'])
  } finally {
    s.destroy()
    await engine.stop()
  }
})

test('stop({ drainTimeout }) lets readers finish, resets the rest at the deadline, reports counts (T16)', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn) {
      conn.write(Buffer.alloc(2 << 20, 3))
    },
  }, { socketSendBuffer: 8192 })
  const readers = await Promise.all([connect(engine.port), connect(engine.port)])
  const sleeper = await pausedClient(engine.port)
  for (const s of [...readers, sleeper]) s.write('go')
  await new Promise((r) => setTimeout(r, 100))
  let sleeperGot = 0
  const sleeperClosed = new Promise<void>((resolve) => {
    sleeper.on('data', (d: Buffer) => (sleeperGot += d.length))
    sleeper.on('error', () => {})
    sleeper.once('close', () => resolve())
  })
  const started = Date.now()
  // Long enough for two readers to take 2 MiB each on a loaded 2-core CI machine (800 ms was
  // missed once while the TLS suites ran beside this file).
  const done = engine.stop({ drainTimeout: 2500 })
  const bodies = await Promise.all(readers.map(readToEnd))
  t.deepEqual(bodies.map((b) => b.length), [2 << 20, 2 << 20])
  await new Promise<void>((resolve, reject) => {
    const probe = net.connect(engine.port, '127.0.0.1')
    probe.once('error', () => resolve())
    probe.once('connect', () => reject(new Error('still accepting')))
  })
  t.deepEqual(await done, { drained: 2, reset: 1 })
  t.true(Date.now() - started >= 2450)
  sleeper.resume()
  await sleeperClosed
  t.true(sleeperGot < 2 << 20, 'the non-reader was cut off at the deadline')
})

test('maxConnections refuses beyond the cap and counts it', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', { onTraffic(c, d) { c.write(d) } }, { maxConnections: 2 })
  const a = await connect(engine.port)
  const b = await connect(engine.port)
  const c = await connect(engine.port)
  const cEnded = readToEnd(c).then(() => 'closed', () => 'closed')
  t.is(await cEnded, 'closed')
  a.write('ok')
  t.is((await readExactly(a, 2)).toString(), 'ok')
  t.is(engine.stats().rejected, 1)
  a.destroy()
  b.destroy()
  await engine.stop()
})

test('flow options are validated', async (t) => {
  for (const options of [
    { writeHighWaterMark: 0 },
    { writeHighWaterMark: 100, writeLowWaterMark: 200 },
    { idleTimeout: { read: -5 } },
    { heartbeat: { interval: 10, timeout: 100 } },
    { maxOutbound: 1.5 },
  ]) {
    await t.throwsAsync(serve('tcp://127.0.0.1:0', {}, options as never), { code: 'ERR_INVALID_ARG_VALUE' })
  }
})

test("one batch's writes to a connection, interleaved with other connections' and with a write callback, then end(): each peer gets exactly its bytes, in order", async (t) => {
  const conns: Conn[] = []
  let marks = 0
  const piece = (who: number, i: number) => Buffer.alloc(1000 + ((i * 37) % 900), 97 + ((who + i) % 26))
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      conns.push(conn)
    },
    onTraffic() {
      // One event: 300 writes per connection, interleaved across the three (so no two writes
      // to one connection are adjacent in the batch), ~400 KB each: more than the socket takes.
      for (let i = 0; i < 300; i++) {
        conns.forEach((c, who) => {
          if (i === 150) c.write(piece(who, i), () => marks++)
          else c.write(piece(who, i))
        })
      }
      for (const c of conns) c.end()
    },
  }, { socketSendBuffer: 16 * 1024 })
  const sockets = await Promise.all([0, 1, 2].map(() => connect(engine.port)))
  await until(() => conns.length === 3)
  const ends = sockets.map(readToEnd)
  sockets[0].write('go')
  const got = await Promise.all(ends)
  got.forEach((bytes, who) => {
    const want = Buffer.concat(Array.from({ length: 300 }, (_, i) => piece(who, i)))
    t.is(bytes.length, want.length)
    t.true(bytes.equals(want))
  })
  t.is(marks, 3)
  await engine.stop()
})
