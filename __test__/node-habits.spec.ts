/**
 * Node habits (issue 15): the `Duplex` adapter (`conn.toStream()`), typed `Conn<Context>`,
 * `Symbol.asyncDispose`, `Client#ref/unref`, AbortSignal listeners that go when a dial
 * settles, names looked up with `dns.lookup` off the JS thread.
 */
import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import dns, { type LookupAddress } from 'node:dns'
import { getEventListeners } from 'node:events'
import net from 'node:net'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip } from 'node:zlib'
import { Client, connect, type Conn, ConnectionError, ConnStream, type EventHandler, RiptideError, serve, toStream } from 'riptide'
import { randomBytes, until } from './helpers'

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** A writable that hashes what it gets. */
function hasher(): { sink: Writable; digest: () => string; bytes: () => number } {
  const h = createHash('sha256')
  let n = 0
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      h.update(chunk)
      n += chunk.length
      cb()
    },
  })
  return { sink, digest: () => h.digest('hex'), bytes: () => n }
}

/** `data` as a readable in `size`-byte chunks. */
function chunks(data: Buffer, size = 65536): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size)
    })(),
  )
}

test('toStream: 1 MiB through gzip → connection → server gunzip, SHA-256 equal', async (t) => {
  const payload = randomBytes(15, 1 << 20)
  let received: Promise<string> | undefined
  let handlerTraffic = 0
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      const h = hasher()
      // A buffer that never pauses the connection: a FIN that arrives while a connection is
      // paused is not seen after resume() (native: Conns::read returns before recording
      // `hup` when paused), so the stream would never end. The backpressure test pauses.
      received = pipeline(conn.toStream({ readableHighWaterMark: 4 << 20 }), createGunzip(), h.sink).then(() => h.digest())
    },
    onTraffic() {
      handlerTraffic++
    },
  })
  t.teardown(() => engine.stop())
  let closed = false
  const conn = await connect(`tcp://127.0.0.1:${engine.port}`, {
    onTraffic() {
      handlerTraffic++
    },
    onClose() {
      closed = true
    },
  })
  const stream = toStream(conn)
  t.true(stream instanceof ConnStream)
  t.is(conn.toStream(), stream, 'toStream() again returns the same stream')
  await pipeline(chunks(payload), createGzip(), stream)
  await until(() => received !== undefined)
  t.is(await received, sha256(payload))
  t.is(handlerTraffic, 0, 'the handlers got no traffic of streamed connections')
  // The server closed after our FIN: the readable side ends and onClose still reaches the handler.
  await until(() => closed)
  stream.resume()
  await until(() => stream.readableEnded)
})

test('toStream right after await dial(): bytes that came with the open are not lost', async (t) => {
  for (let i = 0; i < 5; i++) {
    const engine = await serve('tcp://127.0.0.1:0', {
      onOpen(conn) {
        conn.end('hello from the server')
      },
    })
    const conn = await connect(`tcp://127.0.0.1:${engine.port}`, {})
    const got: Buffer[] = []
    await pipeline(conn.toStream(), new Writable({ write: (c: Buffer, _e, cb) => (got.push(c), cb()) }))
    t.is(Buffer.concat(got).toString(), 'hello from the server')
    await engine.stop()
  }
})

test('toStream: an echo through stream.pipeline both ways (duplex round trip)', async (t) => {
  const payload = randomBytes(16, 3 << 19)
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      const s = conn.toStream()
      s.pipe(s) // echo; the server's FIN follows the peer's
    },
  }, { allowHalfOpen: true })
  t.teardown(() => engine.stop())
  const conn = await connect(`tcp://127.0.0.1:${engine.port}`, {}, { allowHalfOpen: true })
  const stream = conn.toStream()
  const h = hasher()
  await Promise.all([pipeline(chunks(payload, 10_000), stream), pipeline(stream, h.sink)])
  t.is(h.bytes(), payload.length)
  t.is(h.digest(), sha256(payload))
})

/** A self-signed key and certificate for `localhost` (openssl), or undefined without openssl. */
function selfSigned(): { key: Buffer; cert: Buffer } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'riptide-tls-'))
  try {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
    if (r.status !== 0) return undefined
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('toStream: TLS terminated over a riptide connection (tls.TLSSocket on the stream)', async (t) => {
  const pair = selfSigned()
  if (pair === undefined) {
    t.log('no openssl: skipped')
    t.pass()
    return
  }
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      const secure = new tls.TLSSocket(conn.toStream(), { isServer: true, key: pair.key, cert: pair.cert })
      secure.on('data', (d: Buffer) => secure.write(Buffer.from(d.toString().toUpperCase())))
      secure.on('error', () => {})
    },
  })
  t.teardown(() => engine.stop())
  const client = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'localhost', ca: pair.cert })
  t.teardown(() => client.destroy())
  await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject))
  t.true(client.authorized)
  const payload = randomBytes(18, 200_000).toString('hex').toLowerCase()
  client.write(payload)
  const chunksIn: Buffer[] = []
  let got = 0
  await new Promise<void>((resolve) => client.on('data', (d: Buffer) => {
    chunksIn.push(d)
    got += d.length
    if (got >= payload.length) resolve()
  }))
  t.is(Buffer.concat(chunksIn).toString(), payload.toUpperCase())
})

test('toStream: a failing source destroys the connection; the peer sees the reset', async (t) => {
  let serverError: Promise<unknown> | undefined
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      serverError = pipeline(conn.toStream(), new Writable({ write: (_c, _e, cb) => cb() })).then(
        () => undefined,
        (err: unknown) => err,
      )
    },
  })
  t.teardown(() => engine.stop())
  let closeErr: unknown = 'not closed'
  const conn = await connect(`tcp://127.0.0.1:${engine.port}`, {
    onClose(_c, err) {
      closeErr = err
    },
  })
  const boom = new Error('source failed')
  const source = new Readable({
    read() {
      this.push(Buffer.alloc(1000, 1))
      setTimeout(() => this.destroy(boom), 20)
    },
  })
  const err = await t.throwsAsync(pipeline(source, conn.toStream()))
  t.is(err, boom)
  await until(() => closeErr !== 'not closed')
  t.is(closeErr, undefined, 'destroy() without a riptide error closes with none')
  await until(() => serverError !== undefined)
  const seen = await serverError
  t.true(seen instanceof RiptideError, `server pipeline: ${String(seen)}`)
  t.is((seen as RiptideError).code, 'ECONNRESET')
})

test('toStream: a connection destroyed by the peer fails the pipeline with its error', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn) {
      conn.destroy()
    },
  })
  t.teardown(() => engine.stop())
  const conn = await connect(`tcp://127.0.0.1:${engine.port}`, {})
  const stream = conn.toStream()
  stream.write('go')
  const err = await t.throwsAsync(pipeline(stream, new Writable({ write: (_c, _e, cb) => cb() })))
  t.true(err instanceof RiptideError)
  t.is((err as RiptideError).code, 'ECONNRESET')
  t.true(stream.destroyed)
})

test('toStream: backpressure both ways with a slow reader; every byte arrives', async (t) => {
  const payload = randomBytes(17, 4 << 20)
  let falses = 0
  let written = 0
  let writesWhileUnwritable = 0
  let serverConn: Conn | undefined
  let done: Promise<void> | undefined
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      serverConn = conn
      const write = conn.write.bind(conn)
      let unwritable = false
      conn.write = (data, cb) => {
        if (unwritable) writesWhileUnwritable++
        const ok = write(data, cb)
        written += data.length
        if (!ok) {
          falses++
          unwritable = true
        }
        return ok
      }
      const s = conn.toStream()
      // A _write completes when the connection took the chunk and is writable (again).
      const orig = (s as unknown as { _write: ConnStream['_write'] })._write.bind(s)
      s._write = (chunk, enc, cb) => orig(chunk, enc, (err) => {
        unwritable = false
        cb(err)
      })
      done = pipeline(chunks(payload), s)
    },
  }, { writeHighWaterMark: 65536, writeLowWaterMark: 16384, socketSendBuffer: 16384 })
  t.teardown(() => engine.stop())
  let pauses = 0
  let resumes = 0
  const conn = await connect(`tcp://127.0.0.1:${engine.port}`, {}, { socketRecvBuffer: 16384 })
  const pause = conn.pause.bind(conn)
  const resume = conn.resume.bind(conn)
  conn.pause = () => (pauses++, pause())
  conn.resume = () => (resumes++, resume())
  const stream = conn.toStream({ readableHighWaterMark: 16384 })
  // The slow reader: nothing read for a while.
  await new Promise((r) => setTimeout(r, 400))
  t.true(pauses >= 1, 'the client paused its connection when the readable buffer was full')
  t.true(falses >= 1, 'the server saw write() return false')
  t.true(written < payload.length / 2, `the server stopped writing (${written} bytes so far)`)
  t.log(`after 400 ms: ${written} bytes written, ${falses} false writes, ${pauses} pauses`)
  t.is(writesWhileUnwritable, 0, 'no write() while waiting for writability')
  t.true(serverConn !== undefined)
  const h = hasher()
  await pipeline(stream, h.sink)
  await done
  t.true(resumes >= 1)
  t.is(written, payload.length)
  t.is(h.bytes(), payload.length)
  t.is(h.digest(), sha256(payload))
})

test('toStream: options are checked; a closed connection throws', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {})
  t.teardown(() => engine.stop())
  const conn = await connect(`tcp://127.0.0.1:${engine.port}`, {})
  t.throws(() => conn.toStream({ highWaterMark: 1 } as never), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => conn.toStream({ readableHighWaterMark: -1 }), { code: 'ERR_INVALID_ARG_VALUE' })
  conn.close()
  t.throws(() => conn.toStream(), { code: 'ERR_CONN_CLOSED' })
})

interface Session {
  bytes: number
}

test('Conn<Context>: the handler, serve and Client type conn.context', async (t) => {
  const handler: EventHandler<Session> = {
    onOpen(conn) {
      conn.context = { bytes: 0 }
    },
    onTraffic(conn, data) {
      conn.context.bytes += data.length
      // @ts-expect-error: a Session has no `name`
      void conn.context.name
      conn.write(String(conn.context.bytes))
    },
  }
  const engine = await serve<Session>('tcp://127.0.0.1:0', handler)
  t.teardown(() => engine.stop())
  const got: string[] = []
  const client = new Client<{ tag: string }>({
    onTraffic(conn, data) {
      got.push(`${conn.context.tag}:${Buffer.from(data).toString()}`)
    },
  })
  t.teardown(() => client.stop())
  const conn: Conn<{ tag: string }> = await client.dial(`tcp://127.0.0.1:${engine.port}`, { context: { tag: 'a' } })
  // @ts-expect-error: the context is a { tag }
  void client.dial('tcp://127.0.0.1:1', { context: 42 }).catch(() => {})
  conn.write('abc')
  await until(() => got.length > 0)
  t.is(got[0], 'a:3')
  // Untyped code keeps compiling: Conn is Conn<unknown>.
  const plain: Conn = conn
  t.is(plain.context, conn.context)
})

test('Symbol.asyncDispose stops an Engine and a Client', async (t) => {
  t.is(typeof Symbol.asyncDispose, 'symbol')
  const engine = await serve('tcp://127.0.0.1:0', {})
  const client = new Client({})
  await client.dial(`tcp://127.0.0.1:${engine.port}`)
  await client[Symbol.asyncDispose]()
  await t.throwsAsync(client.dial(`tcp://127.0.0.1:${engine.port}`), { code: 'ERR_INVALID_ARG_VALUE' })
  t.true(engine.running)
  await engine[Symbol.asyncDispose]()
  t.false(engine.running)
})

test('await using: the engine stops when the scope ends', async (t) => {
  let shutdown = false
  let port = 0
  {
    await using engine = await serve('tcp://127.0.0.1:0', {
      onShutdown() {
        shutdown = true
      },
    })
    await using client = new Client({})
    port = engine.port
    await client.dial(`tcp://127.0.0.1:${port}`)
    t.false(shutdown)
  }
  t.true(shutdown)
  t.true(port > 0)
})

const fixture = (name: string) => join(__dirname, 'fixtures', name)

/** Runs the client-ref fixture; resolves with its exit code, or 'alive' if it still runs after `ms`. */
function runFixture(mode: string, ms: number): Promise<{ code: number | null | 'alive'; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture('client-ref.ts'), mode], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let connectedAt = 0
    let timer: NodeJS.Timeout | undefined
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (connectedAt === 0 && out.includes('connected')) {
        connectedAt = Date.now()
        timer = setTimeout(() => {
          child.kill()
          resolve({ code: 'alive', out })
        }, ms)
      }
    })
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
}

test("Client#unref(): an open client connection does not keep the process alive; ref() does", async (t) => {
  const [unref, ref] = await Promise.all([runFixture('unref', 10_000), runFixture('ref', 1500)])
  t.is(unref.code, 0, unref.out)
  t.regex(unref.out, /connected/)
  t.is(ref.code, 'alive', ref.out)
})

/** A port nothing listens on (bound, read, released). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => resolve(p))
    })
  })
}

const abortListeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length

test('one AbortSignal for many dials: each dial removes its abort listener when it settles', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {})
  t.teardown(() => engine.stop())
  const client = new Client({})
  t.teardown(() => client.stop())
  const refused = await freePort()
  const ac = new AbortController()
  const signal = ac.signal
  const open: Conn[] = []
  // Opened, refused and looked-up dials, 3 × 20 of them: listeners must not grow with the count.
  for (let i = 0; i < 20; i++) {
    for (const url of [`tcp://127.0.0.1:${engine.port}`, `tcp://127.0.0.1:${refused}`, `tcp://localhost:${engine.port}`]) {
      const pending = client.dial(url, { signal })
      t.is(abortListeners(signal), 1, `${url}: one listener while it is pending`)
      try {
        open.push(await pending)
      } catch (err) {
        t.is((err as RiptideError).code, 'ECONNREFUSED')
      }
      t.is(abortListeners(signal), 0, `${url}: none once it settled`)
    }
  }
  t.is(open.length, 40)
  // Aborting after the dials settled touches none of their connections.
  ac.abort()
  await new Promise((r) => setTimeout(r, 50))
  t.true(open.every((c) => c.open))
  t.is(engine.countConnections(), 40)
})

test('a dial to a name connects to the address dns.lookup gives (tcp://localhost, tcp4://localhost)', async (t) => {
  const { address } = await dns.promises.lookup('localhost')
  const engine = await serve(`tcp://${address.includes(':') ? `[${address}]` : address}:0`, { onTraffic: (c, d) => void c.write(d) })
  t.teardown(() => engine.stop())
  const got: string[] = []
  const client = new Client({ onTraffic: (_c, d) => void got.push(Buffer.from(d).toString()) })
  t.teardown(() => client.stop())
  const conn = await client.dial(`tcp://localhost:${engine.port}`)
  t.deepEqual(conn.remote, { family: address.includes(':') ? 'IPv6' : 'IPv4', address, port: engine.port })
  conn.write('ping')
  await until(() => got.join('') === 'ping')
  if (!address.includes(':')) {
    const four = await connect(`tcp4://localhost:${engine.port}`, {})
    t.is(four.remote.family === 'unix' ? '' : four.remote.address, address)
    four.close()
  }
})

test('a name that does not resolve rejects with ConnectionError ENOTFOUND (getaddrinfo, hostname)', async (t) => {
  // `.invalid` (RFC 2606) never resolves: the resolver answers without any traffic.
  const client = new Client({})
  t.teardown(() => client.stop())
  for (const dial of [() => client.dial('tcp://nosuchhost.invalid:80'), () => connect('udp://nosuchhost.invalid:53', {})]) {
    const err = await t.throwsAsync(dial(), { instanceOf: ConnectionError, code: 'ENOTFOUND' })
    t.is(err?.syscall, 'getaddrinfo')
    t.is(err?.hostname, 'nosuchhost.invalid')
    t.is(err?.message, 'getaddrinfo ENOTFOUND nosuchhost.invalid')
  }
  // Malformed hosts are still the address parser's business.
  await t.throwsAsync(client.dial('tcp://no such host:80'), { code: 'ERR_INVALID_ADDRESS' })
})

/** Replaces `dns.promises.lookup` for one test with `fake`, recording its calls. */
function fakeLookup(t: { teardown(fn: () => void): void }, fake: (hostname: string, family: number) => Promise<LookupAddress>) {
  const real = dns.promises.lookup
  const calls: { hostname: string; family: number }[] = []
  const stub = (hostname: string, options: { family?: number }) => {
    calls.push({ hostname, family: options.family ?? 0 })
    return fake(hostname, options.family ?? 0)
  }
  dns.promises.lookup = stub as typeof dns.promises.lookup
  t.teardown(() => {
    dns.promises.lookup = real
  })
  return calls
}

const later = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms))

test.serial('dials look names up with dns.promises.lookup in the scheme\'s family; a slow lookup leaves the loop free', async (t) => {
  const calls = fakeLookup(t, (_h, family) => later(150, family === 6 ? { address: '::1', family: 6 } : { address: '127.0.0.1', family: 4 }))
  const engine = await serve('tcp://127.0.0.1:0', {})
  t.teardown(() => engine.stop())
  const client = new Client({})
  t.teardown(() => client.stop())
  let ticks = 0
  const ticker = setInterval(() => ticks++, 10)
  const conn = await client.dial(`tcp4://stub.invalid:${engine.port}`)
  clearInterval(ticker)
  t.true(ticks >= 5, `the loop ran during the lookup (${ticks} ticks)`)
  t.deepEqual(calls, [{ hostname: 'stub.invalid', family: 4 }])
  t.deepEqual(conn.remote, { family: 'IPv4', address: '127.0.0.1', port: engine.port })
  let six: Awaited<ReturnType<typeof serve>> | undefined
  try {
    six = await serve('tcp6://[::1]:0', {})
  } catch {
    t.log('no IPv6 loopback here: the tcp6 connect is skipped')
  }
  if (six !== undefined) {
    t.teardown(() => six.stop())
    const conn6 = await client.dial(`tcp6://stub.invalid:${six.port}`)
    t.deepEqual(conn6.remote, { family: 'IPv6', address: '::1', port: six.port })
    t.deepEqual(calls[1], { hostname: 'stub.invalid', family: 6 })
  }
})

test.serial('abort and connectTimeout during a lookup reject at once; its late answer dials nothing', async (t) => {
  let opened = 0
  const engine = await serve('tcp://127.0.0.1:0', { onOpen: () => void opened++ })
  t.teardown(() => engine.stop())
  fakeLookup(t, () => later(300, { address: '127.0.0.1', family: 4 }))
  const client = new Client({})
  t.teardown(() => client.stop())
  const ac = new AbortController()
  const started = Date.now()
  const pending = client.dial(`tcp://stub.invalid:${engine.port}`, { signal: ac.signal })
  t.is(abortListeners(ac.signal), 1)
  setTimeout(() => ac.abort(), 30)
  await t.throwsAsync(pending, { code: 'ABORT_ERR' })
  t.true(Date.now() - started < 250, 'rejected before the lookup answered')
  t.is(abortListeners(ac.signal), 0)
  const timedOut = await t.throwsAsync(client.dial(`tcp://stub.invalid:${engine.port}`, { connectTimeout: 50 }), { instanceOf: ConnectionError, code: 'ETIMEDOUT' })
  t.is(timedOut?.syscall, 'getaddrinfo')
  // Both lookups answer by now: neither dialed.
  await new Promise((r) => setTimeout(r, 400))
  t.is(opened, 0)
  t.is(engine.countConnections(), 0)
})

test.serial('a reconnecting client looks its name up again on each attempt', async (t) => {
  const calls = fakeLookup(t, () => Promise.resolve({ address: '127.0.0.1', family: 4 }))
  let engine = await serve('tcp://127.0.0.1:0', {})
  const port = engine.port
  t.teardown(() => engine.stop())
  let opens = 0
  const client = new Client({ onOpen: () => void opens++ }, { reconnect: { initialDelay: 20, maxDelay: 50 } })
  t.teardown(() => client.stop())
  const conn = await client.dial(`tcp://stub.invalid:${port}`)
  t.is(calls.length, 1)
  await engine.stop()
  await until(() => conn.reconnecting)
  engine = await serve(`tcp://127.0.0.1:${port}`, {})
  await until(() => opens === 2)
  t.false(conn.reconnecting)
  t.true(calls.length >= 2, `${calls.length} lookups`)
  t.true(calls.every((c) => c.hostname === 'stub.invalid'))
})
