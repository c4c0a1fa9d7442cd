// Hostile input against a tls:// server: garbage or a cut-short ClientHello where a ClientHello belongs, on many
// connections, must close each of them and leave the server serving real clients.
import test from 'ava'
import net from 'node:net'
import tls from 'node:tls'
import { serve, type Conn } from 'riptide'
import { randomBytes, rng, until } from '../helpers'
import { makePki } from '../tls-certs'

/** Sends `bytes` on a fresh connection (then FIN when `end`) and waits until the server closes it; true if it did. */
function rejected(port: number, bytes: Buffer, end = false): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (end ? s.end(bytes) : s.write(bytes)))
    const timer = setTimeout(() => {
      s.destroy()
      resolve(false)
    }, 5000)
    s.on('error', () => undefined)
    s.resume()
    s.on('close', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** Garbage number `i`: random bytes, or a TLS record header over a broken hello. */
function garbage(i: number): Buffer {
  const next = rng(i)
  const body = randomBytes(i, 5 + Math.floor(next() * 600))
  if (i % 2 === 0) return body
  // A handshake record (0x16, TLS 1.0-1.2 version) announcing a ClientHello that is not one.
  body[0] = 0x16
  body[1] = 3
  body[2] = 1 + (i % 3)
  body.writeUInt16BE(body.length - 5, 3)
  body[5] = 1
  return body
}

/** The first bytes a node:tls client sends (its ClientHello record), captured by a plain TCP server. */
async function realClientHello(): Promise<Buffer> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const first = new Promise<Buffer>((resolve) => server.once('connection', (c) => c.once('data', (d: Buffer) => (resolve(d), c.destroy()))))
  const client = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', servername: 'localhost', ALPNProtocols: ['h2'] })
  client.on('error', () => undefined)
  const hello = await first
  client.destroy()
  server.close()
  return hello
}

test('1000 garbage and truncated ClientHellos are each closed, and the server still serves TLS', async (t) => {
  const pki = makePki()
  const hello = await realClientHello()
  t.is(hello[0], 0x16, 'a handshake record')
  // Every third connection sends a real ClientHello cut short (1 byte up to one byte less than
  // all of it), then FIN: the server must give up on it at the end of the stream.
  const truncated = (i: number) => hello.subarray(0, 1 + (Math.imul(i, 2654435761) >>> 0) % (hello.length - 1))
  const opened: Conn[] = []
  const engine = await serve(
    'tls://127.0.0.1:0',
    { onOpen: (c) => void opened.push(c), onTraffic: (c, d) => void c.write(d) },
    { tls: { cert: pki.cert, key: pki.key, handshakeTimeout: 2000 } },
  )
  let closed = 0
  for (let batch = 0; batch < 20; batch++) {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, k) => {
        const i = batch * 50 + k
        return i % 3 === 2 ? rejected(engine.port, truncated(i), true) : rejected(engine.port, garbage(i))
      }),
    )
    closed += results.filter(Boolean).length
  }
  t.is(closed, 1000, 'every garbage or truncated connection was closed by the server')
  t.is(opened.length, 0, 'none of them opened')

  const s = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca })
  await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
  s.write('still here')
  const echoed = await new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())))
  t.is(echoed, 'still here')
  t.is(opened.length, 1)
  s.destroy()
  await engine.stop()
})

/** A handshake record header (TLS 1.2 version) announcing `length` bytes. */
function handshakeRecord(body: Buffer): Buffer {
  const header = Buffer.from([0x16, 3, 3, 0, 0])
  header.writeUInt16BE(body.length, 3)
  return Buffer.concat([header, body])
}

test('what one handshaking peer can hold is bounded: a ClientHello over 64 KiB is refused, a trickled one ends at handshakeTimeout', async (t) => {
  const pki = makePki()
  const failures: string[] = []
  const engine = await serve(
    'tls://127.0.0.1:0',
    { onOpen: () => t.fail('nothing opens'), onHandshakeError: (err) => void failures.push(`${err.code} ${err.message}`) },
    { tls: { cert: pki.cert, key: pki.key, handshakeTimeout: 500 } },
  )
  // A ClientHello of 0xFFF0 bytes (rustls keeps at most 64 KiB of handshake records; it was
  // closed with ERR_IO before), sent whole in records of 2^14.
  const hello = Buffer.alloc(4 + 0xfff0)
  hello[0] = 1
  hello.writeUIntBE(0xfff0, 1, 3)
  hello[4] = 3
  hello[5] = 3
  const records = []
  for (let at = 0; at < hello.length; at += 16384) records.push(handshakeRecord(hello.subarray(at, at + 16384)))
  t.true(await rejected(engine.port, Buffer.concat(records)))
  await until(() => failures.length === 1, 5000)
  t.regex(failures[0] ?? '', /^ERR_TLS_HANDSHAKE .*message buffer full/)

  // A full-size record, a byte at a time: the server holds its partial record and no more
  // until the handshake deadline.
  const s = net.connect(engine.port, '127.0.0.1')
  s.on('error', () => undefined)
  const closed = new Promise<void>((resolve) => s.on('close', () => resolve()))
  s.resume()
  const header = Buffer.from([0x16, 3, 3, 0x40, 0x00, 1])
  let sent = 0
  const trickle = setInterval(() => {
    if (!s.destroyed) s.write(header.subarray(sent, sent + 1))
    sent = Math.min(sent + 1, header.length - 1)
  }, 20)
  await closed
  clearInterval(trickle)
  // Under the thread driver the callback comes from the reactor thread, and may follow the close.
  await until(() => failures.length === 2, 5000)
  t.regex(failures[1] ?? '', /^ERR_TLS_HANDSHAKE .*within 500 ms/)
  t.is(engine.stats().handshakeErrors, 2)
  await engine.stop()
})

test('a TLS peer that never reads: the queue stops at the water mark, and maxOutbound closes an app that ignores it', async (t) => {
  const pki = makePki()
  const chunk = Buffer.alloc(256 * 1024, 7)
  const closes: (string | undefined)[] = []
  let wellBehaved: Conn | undefined
  let unwritable = false
  const engine = await serve(
    'tls://127.0.0.1:0',
    {
      onOpen: (conn) => {
        if (wellBehaved === undefined) {
          // Writes while the queue is under the high water mark, then waits for 'drain'.
          wellBehaved = conn
          while (conn.write(chunk));
          return
        }
        // Ignores write()'s answer.
        for (let i = 0; i < 256 && conn.open; i++) conn.write(chunk)
      },
      onWritability: (conn, writable) => {
        if (!writable) unwritable = true
        else while (conn.write(chunk));
      },
      onClose: (_, err) => void closes.push(err?.code),
    },
    { tls: { cert: pki.cert, key: pki.key }, writeHighWaterMark: 64 * 1024, maxOutbound: 8 * 1024 * 1024 },
  )
  const mute = () => {
    const s = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca })
    s.on('error', () => undefined)
    s.once('secureConnect', () => s.pause())
    return s
  }
  const first = mute()
  await until(() => unwritable)
  t.true(wellBehaved!.outboundBuffered <= 64 * 1024 + chunk.length + 1024, `${wellBehaved!.outboundBuffered} bytes queued`)
  const second = mute()
  await until(() => closes.length === 1)
  t.is(closes[0], 'ERR_OUTBOUND_FULL')
  t.true(wellBehaved!.open, 'the well-behaved connection stays open')
  first.destroy()
  second.destroy()
  await engine.stop()
})
