// TLS beyond one certificate: SNI, session resumption, reload, peer certificates. Peers are ones riptide did not write
// (`openssl s_client`, node:tls); certificates are made at test time.
import test from 'ava'
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import tls from 'node:tls'
import { Client, connect, serve, type Conn } from 'riptide'
import { until } from './helpers'
import { issue, makePki } from './tls-certs'
import { reactorsServing, tlsEchoServer, twoReactorTlsServer } from './tls-servers'

const pki = makePki()
const a = issue(pki, 'a.test')
const b = issue(pki, 'b.test')

/** A riptide TLS echo server; `conns` collects its opened connections. */
async function echoServer(options: Record<string, unknown>, conns: Conn[] = []) {
  return tlsEchoServer(pki, options, conns)
}

/** A node:tls connection to `port` (resuming `session` if given), once it echoed a line. */
async function nodeEcho(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca, ...options })
  await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
  s.write('ping')
  await new Promise((resolve) => s.once('data', resolve))
  return s
}

/** `openssl s_client` against `port` asking for `servername` (none: no SNI); its output. */
function sClient(port: number, servername: string | undefined): Promise<string> {
  const sni = servername === undefined ? ['-noservername'] : ['-servername', servername]
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...sni, '-CAfile', pki.files.ca], { timeout: 10_000 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    )
    child.stdin?.end()
  })
}

/** The CN of the certificate `s_client` was served. */
function servedCn(out: string): string | undefined {
  return /^subject=\s*CN\s*=\s*(.+)$/m.exec(out)?.[1].trim()
}

test('SNI: openssl s_client gets the certificate of the name it asks for, and the default otherwise', async (t) => {
  const engine = await echoServer({ sni: { 'a.test': a, 'B.TEST': b } })
  const outA = await sClient(engine.port, 'a.test')
  t.is(servedCn(outA), 'a.test')
  t.regex(outA, /Verify return code: 0 \(ok\)/)
  t.is(servedCn(await sClient(engine.port, 'b.test')), 'b.test', 'names match case-insensitively')
  t.is(servedCn(await sClient(engine.port, 'c.test')), 'localhost', 'an unknown name gets the default')
  t.is(servedCn(await sClient(engine.port, undefined)), 'localhost', 'no SNI gets the default')
  await engine.stop()
})

test('SNI: a *.wildcard name covers one label', async (t) => {
  const w = issue(pki, 'w.test')
  const engine = await echoServer({ sni: { '*.w.test': w } })
  t.is(servedCn(await sClient(engine.port, 'x.w.test')), 'w.test')
  t.is(servedCn(await sClient(engine.port, 'x.y.w.test')), 'localhost')
  await engine.stop()
})

test('SNI options are checked before anything is bound', async (t) => {
  const bad = async (sni: unknown, message: RegExp) => {
    const err = await t.throwsAsync(echoServer({ sni }))
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARG_VALUE')
    t.regex(err!.message, message)
  }
  await bad(['a.test'], /sni must be an object/)
  await bad({ 'a.test': { cert: a.cert } }, /sni\["a\.test"\]\.key/)
  await bad({ 'a.test': { ...a, alpn: [] } }, /has no option 'alpn'/)
  await bad({ 'not a name': a }, /DNS name/)
  await bad({ 'a.test': { cert: a.cert, key: b.key } }, /cert\/key/)
  await bad({ 'a.test': a, 'A.test': a }, /twice/)
})

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`resumption: a node:tls client reusing its session resumes (${version}); tlsResumed on the server`, async (t) => {
    const conns: Conn[] = []
    const engine = await echoServer({}, conns)
    const sessions: Buffer[] = []
    const first = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca, maxVersion: version })
    first.on('session', (s: Buffer) => void sessions.push(s))
    await new Promise<void>((resolve, reject) => first.once('secureConnect', resolve).once('error', reject))
    t.false(first.isSessionReused())
    await until(() => sessions.length > 0 && conns.length === 1)
    t.false(conns[0].tlsResumed)
    first.destroy()

    const second = await nodeEcho(engine.port, { session: sessions[0], maxVersion: version })
    t.is(second.getProtocol(), version)
    t.true(second.isSessionReused())
    await until(() => conns.length === 2)
    t.true(conns[1].tlsResumed)
    second.destroy()
    // Without the session: a full handshake again.
    const third = await nodeEcho(engine.port, { maxVersion: version })
    t.false(third.isSessionReused())
    third.destroy()
    await engine.stop()
  })
}

test('resumption: a riptide Client resumes on its second dial; a dial with its own tls does not share sessions', async (t) => {
  const conns: Conn[] = []
  const engine = await echoServer({}, conns)
  const url = `tls://localhost:${engine.port}`
  let echoes = 0
  const client = new Client({ onTraffic: () => void echoes++ }, { tls: { ca: pki.ca } })
  const dial = async (options = {}) => {
    const conn = await client.dial(url, options)
    const before = echoes
    conn.write('ping')
    // The echo comes after the server's session tickets.
    await until(() => echoes > before)
    return conn
  }
  const first = await dial()
  t.false(first.tlsResumed)
  const second = await dial()
  t.true(second.tlsResumed)
  await until(() => conns.length === 2)
  t.deepEqual(
    conns.map((c) => c.tlsResumed),
    [false, true],
  )
  const own = await dial({ tls: { ca: pki.ca } })
  t.false(own.tlsResumed, 'a dial with its own tls options starts from no session')
  await client.stop()
  await engine.stop()
})

test('setTlsContext: new connections get the new certificate, an open one keeps echoing; bad options change nothing', async (t) => {
  const engine = await echoServer({})
  const before = await nodeEcho(engine.port)
  const next = issue(pki, 'localhost')
  const nextFingerprint = new X509Certificate(next.cert).fingerprint256
  t.not(before.getPeerCertificate().fingerprint256, nextFingerprint)

  engine.setTlsContext({ cert: next.cert, key: next.key })
  before.write('still here')
  t.is(String(await new Promise((resolve) => before.once('data', resolve))), 'still here')
  const after = await nodeEcho(engine.port)
  t.is(after.getPeerCertificate().fingerprint256, nextFingerprint)

  const err = t.throws(() => engine.setTlsContext({ cert: pki.cert, key: next.key }))
  t.is((err as { code?: string }).code, 'ERR_INVALID_ARG_VALUE')
  t.regex(err!.message, /cert\/key/)
  t.throws(() => engine.setTlsContext({ cert: pki.cert, key: pki.key, sni: 1 } as never), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => engine.setTlsContext({ cert: pki.cert, key: pki.key, bogus: 1 } as never), { code: 'ERR_INVALID_ARG_VALUE' })
  const later = await nodeEcho(engine.port)
  t.is(later.getPeerCertificate().fingerprint256, nextFingerprint, 'refused options changed nothing')
  for (const s of [before, after, later]) s.destroy()
  await engine.stop()

  const plain = await serve('tcp://127.0.0.1:0', {})
  t.throws(() => plain.setTlsContext({ cert: pki.cert, key: pki.key }), { code: 'ERR_INVALID_ARG_VALUE', message: /no tls:\/\/ listener/ })
  await plain.stop()
})

test('peerCertificate: a server chain on a riptide client (also when resumed), a client certificate under requestCert, none otherwise', async (t) => {
  const leaf = issue(pki, 'localhost')
  const conns: Conn[] = []
  const engine = await echoServer({ cert: leaf.cert + pki.ca, key: leaf.key }, conns)
  let echoed = 0
  const client = new Client({ onTraffic: () => void echoed++ }, { tls: { ca: pki.ca } })
  const first = await client.dial(`tls://localhost:${engine.port}`)
  const peer = first.peerCertificate
  t.truthy(peer)
  t.true(Buffer.from(peer!.raw).equals(new X509Certificate(leaf.cert).raw))
  t.is(peer!.chain.length, 2)
  t.true(Buffer.from(peer!.chain[0]).equals(Buffer.from(peer!.raw)))
  t.true(Buffer.from(peer!.chain[1]).equals(new X509Certificate(pki.ca).raw))
  t.is(peer!.subject, 'CN=localhost')
  first.write('ping')
  await until(() => echoed === 1) // after the session tickets
  t.is(conns[0].peerCertificate, undefined, 'no client certificate was asked for')
  const second = await client.dial(`tls://localhost:${engine.port}`)
  t.true(second.tlsResumed)
  t.true(Buffer.from(second.peerCertificate!.raw).equals(Buffer.from(peer!.raw)), 'kept in the session')
  await client.stop()
  await engine.stop()

  const clients = makePki()
  const mutual: Conn[] = []
  const strict = await echoServer({ requestCert: true, ca: clients.ca }, mutual)
  const s = await nodeEcho(strict.port, { cert: clients.cert, key: clients.key })
  await until(() => mutual.length === 1)
  const theirs = mutual[0].peerCertificate
  t.true(Buffer.from(theirs!.raw).equals(new X509Certificate(clients.cert).raw))
  t.is(theirs!.subject, 'CN=localhost')
  s.destroy()
  await strict.stop()

  const plain = await serve('tcp://127.0.0.1:0', { onTraffic: (c, d) => void c.write(d) })
  const tcp = await connect(`tcp://127.0.0.1:${plain.port}`, {})
  t.is(tcp.peerCertificate, undefined)
  tcp.close()
  await plain.stop()
})

test('setTlsContext reaches worker reactors (handed over and reusePort)', async (t) => {
  for (const reusePort of [false, true]) {
    const engine = await twoReactorTlsServer(pki, reusePort)
    const next = issue(pki, 'localhost')
    const fingerprint = new X509Certificate(next.cert).fingerprint256
    engine.setTlsContext({ cert: next.cert, key: next.key })
    const seen = await reactorsServing(engine.port, pki.ca, (s) => t.is(s.getPeerCertificate().fingerprint256, fingerprint))
    t.true(seen.has('1'), `reusePort ${reusePort}: a worker served a client (${[...seen].join(',')})`)
    await engine.stop()
  }
})
