// TLS (`tls://`) against peers riptide did not write: node:tls (OpenSSL inside Node) as client
// and as server, and Debian's `openssl s_client`. Certificates are made at test time.
import test from 'ava'
import { spawn } from 'node:child_process'
import net from 'node:net'
import tls from 'node:tls'
import { Client, connect, serve, TlsHandshakeError, type Conn } from 'riptide'
import { randomBytes, rng, until } from './helpers'
import { makePki } from './tls-certs'
import { nodeTlsEchoServer, reactorsServing, tlsEchoServer, twoReactorTlsServer } from './tls-servers'

const pki = makePki()

/** A riptide TLS echo server offering ALPN `h2` and `http/1.1`; `conns` collects its opened connections. */
async function echoServer(options: Record<string, unknown> = {}, conns: Conn[] = []) {
  return tlsEchoServer(pki, { alpn: ['h2', 'http/1.1'], ...options }, conns)
}

test('node:tls client: 16 MiB echo in random splits is byte-exact; ALPN agreed on both sides', async (t) => {
  const conns: Conn[] = []
  const engine = await echoServer({}, conns)
  const s = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca, ALPNProtocols: ['http/1.1'] })
  await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
  t.is(s.alpnProtocol, 'http/1.1')
  t.is(s.getProtocol(), 'TLSv1.3')
  t.true(s.authorized)
  await until(() => conns.length === 1)
  t.is(conns[0].alpnProtocol, 'http/1.1')

  const SIZE = 16 * 1024 * 1024
  const data = randomBytes(16, SIZE)
  const chunks: Buffer[] = []
  let got = 0
  const echoed = new Promise<void>((resolve) =>
    s.on('data', (c: Buffer) => {
      chunks.push(c)
      got += c.length
      if (got >= SIZE) resolve()
    }),
  )
  const next = rng(7)
  for (let off = 0; off < SIZE; ) {
    const n = Math.min(SIZE - off, 1 + Math.floor(next() ** 3 * 100_000))
    if (!s.write(data.subarray(off, off + n))) await new Promise((r) => s.once('drain', r))
    off += n
  }
  await echoed
  t.is(got, SIZE)
  t.true(Buffer.concat(chunks).equals(data), 'byte-exact')
  s.destroy()
  await engine.stop()
})

test('node:tls client without a shared ALPN protocol is refused; without ALPN alpnProtocol is false', async (t) => {
  const conns: Conn[] = []
  const engine = await echoServer({}, conns)
  const bad = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca, ALPNProtocols: ['spdy/3'] })
  const err = await new Promise<Error>((resolve) => bad.on("error", resolve))
  t.regex(err.message, /no application protocol|alert/i)
  const plain = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca })
  await new Promise<void>((resolve, reject) => plain.once('secureConnect', resolve).once('error', reject))
  await until(() => conns.length === 1)
  t.is(conns[0].alpnProtocol, false)
  plain.destroy()
  await engine.stop()
})

test('riptide client against a node:tls server: echo, SNI, ALPN, close_notify then FIN', async (t) => {
  let sni: string | undefined
  const { server, port, ended } = await nodeTlsEchoServer(pki, {
    ALPNProtocols: ['x-riptide', 'http/1.1'],
    SNICallback: (name, cb) => {
      sni = name
      cb(null, undefined)
    },
  })
  const received: Buffer[] = []
  const conn = await connect(
    `tls://localhost:${port}`,
    { onTraffic: (_c, data) => void received.push(Buffer.from(data)) },
    { tls: { ca: Buffer.from(pki.ca), alpn: ['x-riptide'] } },
  )
  t.is(conn.alpnProtocol, 'x-riptide')
  t.is(sni, 'localhost')
  const payload = randomBytes(3, 300_000)
  conn.write(payload)
  await until(() => received.reduce((n, b) => n + b.length, 0) >= payload.length)
  t.true(Buffer.concat(received).equals(payload))
  conn.close()
  await ended
  t.pass('node saw a clean end (close_notify)')
  server.close()
})

test('a riptide client rejects a server whose CA it does not trust with ERR_TLS_HANDSHAKE', async (t) => {
  const { server, port } = await nodeTlsEchoServer(pki)
  const stranger = makePki()
  const client = new Client({}, { tls: { ca: stranger.ca } })
  const err = await t.throwsAsync(client.dial(`tls://127.0.0.1:${port}`, { tls: { ca: stranger.ca, servername: 'localhost' } }))
  t.true(err instanceof TlsHandshakeError)
  t.is((err as TlsHandshakeError).code, 'ERR_TLS_HANDSHAKE')
  t.regex(err!.message, /: invalid peer certificate: /)
  // The wrong name fails too, and rejectUnauthorized: false lets a test through.
  const misnamed = await t.throwsAsync(client.dial(`tls://127.0.0.1:${port}`, { tls: { ca: pki.ca, servername: 'example.org' } }))
  t.regex(misnamed!.message, /not valid for name/)
  const conn = await client.dial(`tls://127.0.0.1:${port}`, { tls: { rejectUnauthorized: false } })
  t.is(conn.alpnProtocol, false)
  await client.stop()
  server.close()
})

test('openssl s_client against the server: verified chain, ALPN, echo', async (t) => {
  const engine = await echoServer()
  const child = spawn(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${engine.port}`, '-servername', 'localhost', '-CAfile', pki.files.ca, '-verify_return_error', '-alpn', 'h2,http/1.1'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', () => undefined)
  await until(() => out.includes('Verify return code'), 10_000)
  child.stdin.write('hello from s_client\n')
  await until(() => out.split('hello from s_client').length > 1, 10_000)
  child.stdin.end()
  await new Promise((resolve) => child.once('exit', resolve))
  t.regex(out, /ALPN protocol: h2/)
  t.regex(out, /Verify return code: 0 \(ok\)/)
  t.regex(out, /TLSv1\.3/)
  await engine.stop()
})

test('a handshake that never completes is closed at handshakeTimeout, both ways', async (t) => {
  // A client that connects and says nothing.
  const engine = await echoServer({ handshakeTimeout: 300 })
  const s = net.connect(engine.port, '127.0.0.1')
  const started = Date.now()
  await new Promise<void>((resolve) => {
    s.on('close', () => resolve())
    s.on('error', () => undefined)
    s.resume()
  })
  const took = Date.now() - started
  t.true(took >= 250 && took < 3000, `${took} ms`)
  await engine.stop()

  // A server that accepts and says nothing.
  const mute = net.createServer((s) => void s.on('error', () => undefined))
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve))
  const port = (mute.address() as net.AddressInfo).port
  const client = new Client({})
  const err = await t.throwsAsync(client.dial(`tls://127.0.0.1:${port}`, { tls: { ca: pki.ca, handshakeTimeout: 300 } }))
  t.is((err as TlsHandshakeError).code, 'ERR_TLS_HANDSHAKE')
  t.regex(err!.message, /within 300 ms/)
  await client.stop()
  mute.close()
})

test('TLS options are checked at the boundary', async (t) => {
  const h = {}
  const bad = async (p: Promise<unknown>, re: RegExp) => {
    const err = await t.throwsAsync(p)
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARG_VALUE', err!.message)
    t.regex(err!.message, re)
  }
  await bad(serve('tls://127.0.0.1:0', h), /TLS listener \(tls:\/\/ or tls: true\) needs options.tls/)
  await bad(serve('tcp://127.0.0.1:0', h, { tls: { cert: pki.cert, key: pki.key } }), /only applies to TLS listeners/)
  await bad(serve('tls://127.0.0.1:0', h, { tls: { cert: pki.cert, key: pki.key, ciphers: 'x' } as never }), /ciphers/)
  await bad(serve('tls://127.0.0.1:0', h, { tls: { cert: 42, key: pki.key } as never }), /cert must be a non-empty PEM/)
  await bad(serve('tls://127.0.0.1:0', h, { tls: { cert: 'not pem', key: pki.key } }), /tls cert/)
  await bad(serve('tls://127.0.0.1:0', h, { tls: { cert: pki.cert, key: pki.key, alpn: [''] } }), /alpn/)
  const client = new Client({})
  await bad(client.dial('tls://127.0.0.1:1'), /needs options.tls/)
  await bad(client.dial('tls://127.0.0.1:1', { tls: {} }), /tls.ca is required/)
  await bad(client.dial('udp://127.0.0.1:1', { tls: { ca: pki.ca } }), /needs a tls:\/\/, tcp:\/\/ or unix:\/\/ address/)
  await client.stop()
})

test('TLS 1.2 peers are served too (node:tls capped at TLSv1.2)', async (t) => {
  const engine = await echoServer()
  const s = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca, maxVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] })
  await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
  t.is(s.getProtocol(), 'TLSv1.2')
  t.is(s.alpnProtocol, 'http/1.1')
  s.write('twelve')
  t.is(await new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString()))), 'twelve')
  s.destroy()
  await engine.stop()
})

test('requestCert: a client certificate from the given CA is required', async (t) => {
  const clients = makePki()
  const engine = await echoServer({ requestCert: true, ca: clients.ca })
  const ok = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca, cert: clients.cert, key: clients.key })
  await new Promise<void>((resolve, reject) => ok.once('secureConnect', resolve).once('error', reject))
  ok.write('with a cert')
  t.is(await new Promise<string>((resolve) => ok.once('data', (d: Buffer) => resolve(d.toString()))), 'with a cert')
  ok.destroy()
  // Without a certificate (TLS 1.3: the server's refusal arrives after the client's Finished).
  const anon = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca })
  anon.on('data', () => t.fail('no data without a client certificate'))
  const err = await new Promise<Error>((resolve) => anon.on('error', resolve))
  t.regex(err.message, /certificate required|alert/i)
  await engine.stop()
})

test('worker reactors serve TLS too (accepted on reactor 0 and handed over, or bound with reusePort)', async (t) => {
  for (const reusePort of [false, true]) {
    const engine = await twoReactorTlsServer(pki, reusePort)
    const seen = await reactorsServing(engine.port, pki.ca)
    t.true(seen.has('1'), `reusePort ${reusePort}: a worker served a TLS client (${[...seen].join(',')})`)
    await engine.stop()
  }
})
