import test from 'ava'
import { existsSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { asyncWrite, serve, type Conn, type ConnHandle } from 'riptide'
import { connect, portOf, readExactly, readToEnd, until } from './helpers'

const fixture = (name: string) => join(__dirname, 'fixtures', name)

async function ask(port: number, q: string, answerLen: number): Promise<string> {
  const s = await connect(port)
  s.write(q)
  const a = (await readExactly(s, answerLen)).toString()
  s.destroy()
  return a
}

test('two worker reactors plus the main one echo; round-robin spreads connections evenly', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', (await import(fixture('echo-handler.ts'))).handler, {
    reactors: 3,
    workerModule: fixture('echo-handler.ts'),
  })
  t.is(engine.reactors, 3)
  const sockets = await Promise.all(Array.from({ length: 300 }, () => connect(engine.port)))
  const answers = await Promise.all(
    sockets.map(async (s) => {
      s.write('who')
      return (await readExactly(s, 2)).toString().trim()
    }),
  )
  const counts = [0, 0, 0]
  for (const a of answers) counts[Number(a)]++
  t.deepEqual(counts, [100, 100, 100])
  await until(() => engine.countConnections() === 300)
  // Echo through every reactor.
  const payload = Buffer.alloc(100_000, 9)
  await Promise.all(
    sockets.slice(0, 6).map(async (s) => {
      s.write(payload)
      t.true((await readExactly(s, payload.length)).equals(payload))
    }),
  )
  const ends = sockets.map(readToEnd)
  await engine.stop()
  await Promise.all(ends)
  t.false(engine.running)
})

test('source-addr-hash keeps one client host on one reactor', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', { onTraffic() {} }, {
    reactors: 2,
    workerModule: fixture('echo-handler.ts'),
    loadBalancing: 'source-addr-hash',
  })
  const seen = new Set<string>()
  for (let i = 0; i < 20; i++) seen.add(await ask(engine.port, 'who', 2).catch(() => 'main'))
  t.is(seen.size, 1)
  await engine.stop()
})

test('worker reactors start and stop cleanly 20 times in a row', async (t) => {
  for (let i = 0; i < 20; i++) {
    const engine = await serve('tcp://127.0.0.1:0', { onTraffic(c, d) { c.write(d) } }, {
      reactors: 2,
      workerModule: fixture('echo-handler.ts'),
      reusePort: i % 2 === 1,
    })
    const answers = await Promise.all([ask(engine.port, 'abc', 3), ask(engine.port, 'xyz', 3)])
    t.deepEqual(answers, ['abc', 'xyz'])
    await engine.stop()
  }
})

test('a worker module without a handler fails serve() with a clear error and leaves nothing running', async (t) => {
  const err = await t.throwsAsync(
    serve('tcp://127.0.0.1:0', { onTraffic() {} }, { reactors: 2, workerModule: fixture('async-writer.ts'), workerExport: 'nope' }),
  )
  t.truthy(err)
  const again = await serve('tcp://127.0.0.1:0', { onTraffic() {} })
  await again.stop()
})

test('asyncWrite from two worker threads keeps per-sender order over 100,000 writes; callbacks run once', async (t) => {
  let opened: Conn | undefined
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      opened = conn
    },
  })
  const client = await connect(engine.port)
  await until(() => opened !== undefined)
  const handle = opened!.handle
  const N = 50_000
  const received = readExactly(client, 2 * N * 5)
  const results = await Promise.all(
    [1, 2].map(
      (tag) =>
        new Promise<{ ok: number; failed: number }>((resolve, reject) => {
          const w = new Worker(fixture('ts-worker.mjs'), { workerData: { entry: fixture('async-writer.ts'), handle, count: N, tag } })
          w.once('message', resolve)
          w.once('error', reject)
        }),
    ),
  )
  t.deepEqual(results.map((r) => r.ok), [N, N])
  const bytes = await received
  const next = [0, 0, 0]
  let inOrder = true
  for (let i = 0; i < bytes.length; i += 5) {
    const tag = bytes[i]
    if (bytes.readUInt32LE(i + 1) !== next[tag]++) inOrder = false
  }
  t.true(inOrder)
  t.deepEqual(next.slice(1), [N, N])
  client.destroy()
  await engine.stop()
})

test('stale handles fail with ERR_CONN_CLOSED and never reach the connection that reuses the slot', async (t) => {
  const conns: Conn[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      conns.push(conn)
    },
  })
  const first = await connect(engine.port)
  await until(() => conns.length === 1)
  const stale: ConnHandle = conns[0].handle
  first.destroy()
  await until(() => engine.countConnections() === 0)
  const second = await connect(engine.port)
  await until(() => conns.length === 2)
  t.is(conns[1].handle.slot, stale.slot, 'the slot is reused')
  let got = Buffer.alloc(0)
  second.on('data', (d: Buffer) => (got = Buffer.concat([got, d])))
  const code = await new Promise<string | undefined>((resolve) => asyncWrite(stale, 'wrong', (err) => resolve(err?.code)))
  t.is(code, 'ERR_CONN_CLOSED')
  t.throws(() => conns[0].write('x'), { code: 'ERR_CONN_CLOSED' })
  conns[1].asyncWrite('right')
  await until(() => got.length >= 5)
  t.is(got.toString(), 'right')
  second.destroy()
  await engine.stop()
  const afterStop = await new Promise<string | undefined>((resolve) => asyncWrite(conns[1].handle, 'x', (err) => resolve(err?.code)))
  t.is(afterStop, 'ERR_ENGINE_STOPPED')
})

test('unix:// listener echoes, sits beside a TCP listener, and removes its socket file on stop', async (t) => {
  const path = join(tmpdir(), `riptide-${process.pid}-${Date.now()}.sock`)
  const engine = await serve([`unix://${path}`, 'tcp://127.0.0.1:0'], {
    onTraffic(conn, data) {
      conn.write(data)
    },
  })
  t.deepEqual(engine.addresses.map((a) => a.family), ['unix', 'IPv4'])
  t.deepEqual(engine.addresses[0], { family: 'unix', path })
  t.true(existsSync(path))
  const s = net.connect(path)
  await new Promise((r) => s.once('connect', r))
  s.write('unix hello')
  t.is((await readExactly(s, 10)).toString(), 'unix hello')
  t.is(await ask(portOf(engine.addresses[1]), 'tcp', 3), 'tcp')
  s.destroy()
  await engine.stop()
  t.false(existsSync(path))
})

test('ticker runs onTick on the reactor with the returned delays until it returns nothing', async (t) => {
  const at: number[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTick() {
      at.push(Date.now())
      return at.length < 5 ? 20 : undefined
    },
  }, { ticker: true })
  await until(() => at.length === 5)
  await new Promise((r) => setTimeout(r, 80))
  t.is(at.length, 5, 'no tick after returning nothing')
  for (let i = 1; i < at.length; i++) t.true(at[i] - at[i - 1] >= 18, `gap ${at[i] - at[i - 1]} ms`)
  await engine.stop()
})

test('conn.wake, writev, localAddress, socket setters; setLinger(0) + close resets the peer', async (t) => {
  const seen: string[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      if (data.length === 0) {
        seen.push('woken')
        conn.writev(['a', Buffer.from('b'), 'c'])
        return
      }
      const cmd = Buffer.from(data).toString()
      if (cmd === 'wake') conn.wake()
      if (cmd === 'addr') conn.write(`${conn.localAddress}:${conn.localPort}`)
      if (cmd === 'opts') {
        conn.setNoDelay(false).setKeepAlive(true, 30_000, 5_000, 3).setRecvBufferSize(65536).setSendBufferSize(65536)
        conn.write(String(conn.outboundBuffered))
      }
      if (cmd === 'rst') {
        conn.setLinger(0)
        conn.close()
      }
    },
  })
  const s = await connect(engine.port)
  s.write('wake')
  t.is((await readExactly(s, 3)).toString(), 'abc')
  t.deepEqual(seen, ['woken'])
  s.write('addr')
  t.is((await readExactly(s, `127.0.0.1:${engine.port}`.length)).toString(), `127.0.0.1:${engine.port}`)
  s.write('opts')
  t.is((await readExactly(s, 1)).toString(), '0')
  const reset = new Promise<string>((resolve) => s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')))
  s.write('rst')
  t.is(await reset, 'ECONNRESET')
  await engine.stop()
})

test('engine.execute runs functions inside the next batch, in order', async (t) => {
  const order: string[] = []
  const conns: Conn[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      conns.push(conn)
    },
  })
  const s = await connect(engine.port)
  await until(() => conns.length === 1)
  engine.execute(() => {
    order.push('first')
    conns[0].write('from execute')
  })
  engine.execute(() => order.push('second'))
  order.push('queued')
  t.is((await readExactly(s, 12)).toString(), 'from execute')
  t.deepEqual(order, ['queued', 'first', 'second'])
  s.destroy()
  await engine.stop()
  t.throws(() => engine.execute(() => {}), { code: 'ERR_ENGINE_STOPPED' })
})
