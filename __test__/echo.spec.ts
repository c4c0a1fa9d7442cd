import test from 'ava'
import { serve } from 'riptide'
import { connect, randomBytes, readExactly, rng } from './helpers'

test('echo is byte-exact: 64 connections x 1 MiB in random chunks of 1 B to 64 KiB', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      conn.write(data)
    },
  })
  const SIZE = 1024 * 1024
  const one = async (i: number) => {
    const data = randomBytes(1000 + i, SIZE)
    const s = await connect(engine.port)
    const echoed = readExactly(s, SIZE)
    const next = rng(i)
    for (let off = 0; off < SIZE; ) {
      const n = Math.min(SIZE - off, 1 + Math.floor(next() ** 3 * 65536))
      if (!s.write(data.subarray(off, off + n))) await new Promise((r) => s.once('drain', r))
      off += n
    }
    const got = await echoed
    s.destroy()
    return got.equals(data)
  }
  const results = await Promise.all(Array.from({ length: 64 }, (_, i) => one(i)))
  t.deepEqual(results.filter((ok) => !ok).length, 0)
  await engine.stop()
})

test('write from outside a callback, string writes, and per-connection context', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      conn.context = { greeted: false }
      setTimeout(() => conn.write('hello\n'), 5)
    },
    onTraffic(conn, data) {
      const ctx = conn.context as { greeted: boolean }
      conn.write(`${ctx.greeted ? 'again' : 'first'}:${Buffer.from(data).toString()}`)
      ctx.greeted = true
    },
  })
  const s = await connect(engine.port)
  t.is((await readExactly(s, 6)).toString(), 'hello\n')
  s.write('a')
  t.is((await readExactly(s, 7)).toString(), 'first:a')
  s.write('b')
  t.is((await readExactly(s, 7)).toString(), 'again:b')
  s.destroy()
  await engine.stop()
})

test('onOpen sees the peer address; ids differ and stay stable per connection', async (t) => {
  const seen = new Map<number, string>()
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      seen.set(conn.id, `${conn.remoteAddress}:${conn.remotePort}`)
    },
    onTraffic(conn) {
      conn.write(String(conn.id))
    },
  })
  const a = await connect(engine.port)
  const b = await connect(engine.port)
  a.write('x')
  b.write('x')
  const [ida, idb] = await Promise.all([readExactly(a, 1), readExactly(b, 1)])
  t.not(ida.toString(), idb.toString())
  t.is(seen.get(Number(ida.toString())), `127.0.0.1:${a.localPort}`)
  t.is(seen.get(Number(idb.toString())), `127.0.0.1:${b.localPort}`)
  a.destroy()
  b.destroy()
  await engine.stop()
})

test('a handler without onOpen/onClose gets a Conn on first data, with the right peer', async (t) => {
  const seen: string[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      seen.push(`${conn.remoteAddress}:${conn.remotePort}`)
      conn.write(data)
    },
  })
  const quiet = await Promise.all(Array.from({ length: 20 }, () => connect(engine.port)))
  const talker = await connect(engine.port)
  talker.write('hi')
  t.is((await readExactly(talker, 2)).toString(), 'hi')
  t.deepEqual(seen, [`127.0.0.1:${talker.localPort}`])
  t.is(engine.countConnections(), 21)
  for (const s of [...quiet, talker]) s.destroy()
  await engine.stop()
})
