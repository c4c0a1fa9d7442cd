// Mutual TLS from riptide's client (`tls: { cert, key }`): against node:tls and Debian's
// `openssl s_server` requiring a client certificate (TLS 1.2 and 1.3), against a riptide server
// with `requestCert`, over tls://, tcp:// and unix:// dials, and the option checks.
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { Client, connect, serve, type Conn, type RiptideError } from 'riptide'
import { randomBytes, until } from './helpers'
import { issue, makePki } from './tls-certs'
import { nodeTlsEchoServer, tlsEchoServer } from './tls-servers'

const pki = makePki()
/** The CA of client certificates, and a client certificate it issued (`CN=client.test`). */
const clients = makePki()
const identity = issue(clients, 'client.test')
/** A client certificate from a CA no server here trusts. */
const stranger = makePki()
const dir = mkdtempSync(join(tmpdir(), 'riptide-tls-client-cert-'))
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

/** A riptide connection to `url` that collects what it receives and how it closed. */
async function dialer(url: string, tlsOptions: Record<string, unknown>) {
  const received: Buffer[] = []
  let closed: (err: RiptideError | undefined) => void = () => undefined
  const close = new Promise<RiptideError | undefined>((resolve) => (closed = resolve))
  const conn = await connect(url, { onTraffic: (_c, data) => void received.push(Buffer.from(data)), onClose: (_c, err) => closed(err) }, { tls: tlsOptions })
  return { conn, received, close, bytes: () => Buffer.concat(received) }
}

/**
 * How a server refuses a riptide client: the dial's rejection (the refusal came during the
 * handshake), or the error the connection closed with (TLS 1.3: the server checks the client's
 * certificate after the client's handshake is done); `echoed` says whether a line written once
 * open came back (a refused client's must not).
 */
async function refusal(url: string, tlsOptions: Record<string, unknown>): Promise<{ opened: boolean; code?: string; message?: string; echoed: boolean }> {
  let d: Awaited<ReturnType<typeof dialer>>
  try {
    d = await dialer(url, tlsOptions)
  } catch (err) {
    return { opened: false, code: (err as RiptideError).code, message: (err as RiptideError).message, echoed: false }
  }
  try {
    d.conn.write('let me in\n')
  } catch (err) {
    // Already closed by the server's alert (the thread driver may deliver both at once).
    if ((err as RiptideError).code !== 'ERR_CONN_CLOSED') throw err
  }
  const err = await d.close
  return { opened: true, code: err?.code, message: err?.message, echoed: d.received.length > 0 }
}

for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`node:tls server with requestCert (${maxVersion}): riptide's certificate is seen and its bytes echo; none or a stranger's is refused`, async (t) => {
    const node = await nodeTlsEchoServer(pki, { requestCert: true, rejectUnauthorized: true, ca: clients.ca, maxVersion })
    const subjects: unknown[] = []
    node.server.on('secureConnection', (s: tls.TLSSocket) => void subjects.push(s.getPeerCertificate().subject?.CN))
    const url = `tls://localhost:${node.port}`

    const d = await dialer(url, { ca: pki.ca, cert: identity.cert, key: identity.key })
    const payload = randomBytes(31, 1 << 20)
    d.conn.write(payload)
    await until(() => d.bytes().length >= payload.length, 20_000)
    t.true(d.bytes().equals(payload), 'byte-exact echo')
    t.deepEqual(subjects, ['client.test'])
    t.is(d.conn.peerCertificate?.subject, 'CN=localhost')
    d.conn.close()
    t.is(await d.close, undefined)

    // node:tls asks OpenSSL to fail a handshake without a certificate (an alert: TLS 1.3 reads
    // the client's certificate after the client's handshake is done, so the connection opens
    // and then closes with it; TLS 1.2 fails the handshake itself).
    const none = await refusal(url, { ca: pki.ca })
    const expected = maxVersion === 'TLSv1.3' ? { opened: true, code: 'ERR_TLS', echoed: false } : { opened: false, code: 'ERR_TLS_HANDSHAKE', echoed: false }
    t.like(none, expected, none.message)
    t.regex(none.message ?? '', maxVersion === 'TLSv1.3' ? /received fatal alert: CertificateRequired/ : /received fatal alert: HandshakeFailure/)
    // A certificate from another CA: node checks the chain once OpenSSL's handshake is done and
    // drops the socket without an alert, so riptide sees the TCP connection go (TLS 1.3: after
    // opening, a clean end; TLS 1.2: a reset before its handshake is done).
    const strange = await refusal(url, { ca: pki.ca, cert: stranger.cert, key: stranger.key })
    t.false(strange.echoed, 'nothing echoed to a stranger')
    if (maxVersion === 'TLSv1.2') t.like(strange, { opened: false, code: 'ECONNRESET' }, strange.message)
    t.deepEqual(subjects, ['client.test'], 'the refused clients never got a secure connection')
    await new Promise((resolve) => node.server.close(resolve))
  })
}

/** `openssl s_server` requiring a client certificate from `clients`' CA, with `args`; resolves once it listens. */
async function sServer(args: string[]) {
  const child = spawn('openssl', ['s_server', '-accept', '127.0.0.1:0', '-cert', pki.files.cert, '-key', pki.files.key, '-Verify', '1', '-verify_return_error', '-CAfile', clients.files.ca, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  child.stdin.on('error', () => undefined)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await until(() => /ACCEPT 127\.0\.0\.1:\d+/.test(out) || child.exitCode !== null)
  const port = Number(/ACCEPT 127\.0\.0\.1:(\d+)/.exec(out)?.[1])
  return { child, port, output: () => out, exited }
}

for (const [flag, cipher] of [
  ['-tls1_3', /CIPHER is TLS_/],
  ['-tls1_2', /CIPHER is ECDHE-ECDSA-/],
] as const) {
  const tls13 = flag === '-tls1_3'
  test(`openssl s_server -Verify 1 ${flag}: a riptide client presenting a certificate completes the handshake and data flows both ways; none or a stranger's gets the alert`, async (t) => {
    const server = await sServer([flag])
    const d = await dialer(`tls://localhost:${server.port}`, { ca: pki.ca, cert: identity.cert, key: identity.key })
    d.conn.write('from riptide\n')
    await until(() => server.output().includes('from riptide\n'))
    t.regex(server.output(), /subject=CN = client\.test/)
    t.regex(server.output(), /depth=0 CN = client\.test\s+verify return:1/)
    t.regex(server.output(), cipher)
    server.child.stdin.write('from openssl\n')
    await until(() => d.bytes().toString() === 'from openssl\n')
    d.conn.close()
    await d.close

    // s_server serves one client at a time, and answers a missing or untrusted certificate with
    // an alert: TLS 1.3 after the client's handshake is done (the connection opens, then
    // closes with ERR_TLS), TLS 1.2 during it (ERR_TLS_HANDSHAKE).
    const url = `tls://localhost:${server.port}`
    const expected = tls13 ? { opened: true, code: 'ERR_TLS', echoed: false } : { opened: false, code: 'ERR_TLS_HANDSHAKE', echoed: false }
    const none = await refusal(url, { ca: pki.ca })
    t.like(none, expected, none.message)
    t.regex(none.message ?? '', tls13 ? /received fatal alert: CertificateRequired/ : /received fatal alert: HandshakeFailure/)
    const strange = await refusal(url, { ca: pki.ca, cert: stranger.cert, key: stranger.key })
    t.like(strange, expected, strange.message)
    t.regex(strange.message ?? '', /received fatal alert: UnknownCA/)
    t.false(server.output().includes('let me in'), 'nothing from a refused client reached the server')
    server.child.kill()
    await server.exited
  })
}

test('riptide to riptide with requestCert: the server sees the client subject; a Client resumes with its identity; tcp:// and kTLS dials too', async (t) => {
  const conns: Conn[] = []
  const engine = await tlsEchoServer(pki, { requestCert: true, ca: clients.ca, ktls: true }, conns)
  const client = new Client(
    { onTraffic: (conn, data) => void (conn.context as Buffer[]).push(Buffer.from(data)) },
    { tls: { ca: pki.ca, cert: identity.cert, key: Buffer.from(identity.key), ktls: true } },
  )
  const echoOf = async (conn: Conn, text: string) => {
    const got: Buffer[] = []
    conn.context = got
    conn.write(text)
    await until(() => Buffer.concat(got).toString() === text)
  }
  const first = await client.dial(`tls://localhost:${engine.port}`)
  await echoOf(first, 'first')
  await until(() => conns.length === 1)
  t.is(conns[0].peerCertificate?.subject, 'CN=client.test')
  t.false(first.tlsResumed)
  t.is(typeof first.tlsKernel, 'boolean')
  const second = await client.dial(`tls://localhost:${engine.port}`)
  await echoOf(second, 'second')
  t.true(second.tlsResumed, "the client's context resumes its own session")
  await until(() => conns.length === 2)
  t.true(conns[1].tlsResumed)
  t.is(conns[1].peerCertificate?.subject, 'CN=client.test', 'the resumed session keeps the client certificate')

  // A dial with its own tls (another identity, another context): no resumption of the
  // client's sessions, and the server sees that identity.
  const other = issue(clients, 'other.test')
  const third = await client.dial(`tcp://127.0.0.1:${engine.port}`, { tls: { ca: pki.ca, servername: 'localhost', cert: other.cert, key: other.key } })
  await echoOf(third, 'third')
  t.false(third.tlsResumed)
  await until(() => conns.length === 3)
  t.is(conns[2].peerCertificate?.subject, 'CN=other.test')

  const none = await refusal(`tls://localhost:${engine.port}`, { ca: pki.ca })
  t.like(none, { opened: true, code: 'ERR_TLS', echoed: false }, none.message)
  t.regex(none.message ?? '', /CertificateRequired/)
  await client.stop()
  await engine.stop()
})

test('a unix:// dial with tls presents its certificate to a requestCert listener', async (t) => {
  const path = join(dir, 'mutual.sock')
  const conns: Conn[] = []
  const engine = await serve(
    [{ url: `unix://${path}`, tls: true }],
    { onOpen: (c) => void conns.push(c), onTraffic: (c, data) => void c.write(data) },
    { tls: { cert: pki.cert, key: pki.key, requestCert: true, ca: clients.ca } },
  )
  const d = await dialer(`unix://${path}`, { ca: pki.ca, servername: 'localhost', cert: identity.cert, key: identity.key })
  const payload = randomBytes(32, 256 * 1024)
  d.conn.write(payload)
  await until(() => d.bytes().length >= payload.length)
  t.true(d.bytes().equals(payload))
  t.is(conns[0].peerCertificate?.subject, 'CN=client.test')
  d.conn.close()
  await engine.stop()
})

test('client certificate options: cert and key come together, as PEM, and must match', async (t) => {
  const base = { ca: pki.ca }
  const refused = (tlsOptions: Record<string, unknown>, message: RegExp) => {
    const err = t.throws(() => new Client({}, { tls: { ...base, ...tlsOptions } }))
    t.is((err as RiptideError).code, 'ERR_INVALID_ARG_VALUE')
    t.regex(err!.message, message)
  }
  refused({ cert: identity.cert }, /options\.tls\.cert needs options\.tls\.key/)
  refused({ key: identity.key }, /options\.tls\.key needs options\.tls\.cert/)
  refused({ cert: 'not a pem', key: identity.key }, /tls cert: no PEM certificate found/)
  refused({ cert: identity.cert, key: 'not a pem' }, /tls key/)
  refused({ cert: identity.cert, key: stranger.key }, /tls cert\/key/)
  refused({ cert: '', key: identity.key }, /options\.tls\.cert must be a non-empty PEM/)
  refused({ cert: identity.cert, key: 42 }, /options\.tls\.key must be a non-empty PEM/)
  // A dial's own options and connect() are checked the same way, before anything is dialed.
  const client = new Client({}, {})
  const dial = await t.throwsAsync(client.dial('tls://localhost:1', { tls: { ...base, key: identity.key } }))
  t.is((dial as RiptideError).code, 'ERR_INVALID_ARG_VALUE')
  t.regex(dial!.message, /dial options\.tls\.key needs dial options\.tls\.cert/)
  const viaConnect = await t.throwsAsync(connect('tls://localhost:1', {}, { tls: { ...base, cert: identity.cert, key: stranger.key } }))
  t.is((viaConnect as RiptideError).code, 'ERR_INVALID_ARG_VALUE')
  await client.stop()
})
