import test from 'ava'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { serve, type Conn, type RiptideError } from 'riptide'
import { connect, readExactly, readToEnd, until } from './helpers'

test('close() sends everything written before it, then FIN', async (t) => {
  const big = Buffer.alloc(4 * 1024 * 1024, 7)
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn) {
      conn.write(big)
      conn.close()
      t.false(conn.open)
    },
  })
  const s = await connect(engine.port)
  const all = readToEnd(s)
  s.write('go')
  t.true((await all).equals(big))
  await engine.stop()
})

test('peer FIN closes the connection with no error; peer reset reports ECONNRESET', async (t) => {
  const closes: (string | undefined)[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      conn.write(data)
    },
    onClose(_conn: Conn, err?: RiptideError) {
      closes.push(err?.code)
    },
  })
  const polite = await connect(engine.port)
  polite.end()
  await until(() => closes.length === 1)
  t.deepEqual(closes, [undefined])

  const rude = await connect(engine.port)
  rude.write('x')
  await readExactly(rude, 1)
  rude.resetAndDestroy()
  await until(() => closes.length === 2)
  t.is(closes[1], 'ECONNRESET')
  await engine.stop()
})

test('stop() closes every connection, then onShutdown; the engine is no longer running', async (t) => {
  const events: string[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onBoot(e) {
      events.push(`boot ${e.port > 0}`)
    },
    onOpen() {
      events.push('open')
    },
    onTraffic(conn, data) {
      conn.write(data)
    },
    onClose() {
      events.push('close')
    },
    onShutdown() {
      events.push('shutdown')
    },
  })
  const clients = await Promise.all([connect(engine.port), connect(engine.port), connect(engine.port)])
  for (const c of clients) c.write('x')
  await Promise.all(clients.map((c) => readExactly(c, 1)))
  t.is(engine.countConnections(), 3)
  const ends = clients.map((c) => readToEnd(c))
  await engine.stop()
  await Promise.all(ends)
  t.deepEqual(events, ['boot true', 'open', 'open', 'open', 'close', 'close', 'close', 'shutdown'])
  t.false(engine.running)
  t.is(engine.countConnections(), 0)
  await engine.stop() // idempotent
})

test('stop() from inside a callback finishes the batch, then shuts down', async (t) => {
  let shutdown = false
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      conn.write(data)
      void engine.stop()
    },
    onShutdown() {
      shutdown = true
    },
  })
  const s = await connect(engine.port)
  const all = readToEnd(s)
  s.write('last words')
  t.is((await all).toString(), 'last words')
  await engine.stop()
  t.true(shutdown)
})

const fixture = (name: string) => join(__dirname, 'fixtures', name)

for (const mode of ['stop', 'unref']) {
  test(`the process exits by itself after ${mode}()`, (t) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', fixture('exit.ts'), mode], {
      timeout: 15000,
      encoding: 'utf8',
    })
    t.is(r.signal, null, `killed: ${r.stderr}`)
    t.is(r.status, 0, r.stderr)
    t.regex(r.stdout, /served 3 bytes/)
  })
}
