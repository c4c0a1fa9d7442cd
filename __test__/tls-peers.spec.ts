// TLS against the peers the TLS issue names, for what tls.spec.ts does not cover: `openssl
// s_client` on TLS 1.2 with client certificates (accepted and refused), a riptide client
// against a node:tls server with 16 MiB each way, a wrong hostname; and the connection
// semantics (half-close, destroy, idle timeouts, heartbeats, stop's drain) kept through TLS.
import test from 'ava'
import { spawn } from 'node:child_process'
import net from 'node:net'
import tls from 'node:tls'
import { connect, serve, type RiptideError } from 'riptide'
import { randomBytes, rng, until } from './helpers'
import { makePki } from './tls-certs'
import { tlsEchoServer } from './tls-servers'

const pki = makePki()
const serverTls = { cert: pki.cert, key: pki.key }

/**
 * Runs `openssl s_client` against `port` with `args`, writes `line` once the handshake is done,
 * and resolves with everything it printed once the line came back or the server closed.
 */
function sClient(port: number, args: string[], line: string): Promise<string> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', pki.files.ca, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let sent = false
  const onOut = (d: Buffer) => {
    out += d
    if (!sent && out.includes('Verify return code')) {
      sent = true
      child.stdin.write(`${line}\n`)
    }
    if (out.split(line).length > 1 && sent) child.stdin.end()
  }
  child.stdout.on('data', onOut)
  child.stderr.on('data', onOut)
  child.stdin.on('error', () => undefined)
  return new Promise((resolve) => child.once('exit', () => resolve(out)))
}

test('openssl s_client: TLS 1.2 (-tls1_2); a client certificate from the trusted CA accepted, a stranger one refused', async (t) => {
  const clients = makePki()
  const stranger = makePki()
  const refused: string[] = []
  const subjects: (string | undefined)[] = []
  const engine = await serve(
    'tls://127.0.0.1:0',
    {
      onOpen: (conn) => void subjects.push(conn.peerCertificate?.subject),
      onTraffic: (conn, data) => void conn.write(data),
      onHandshakeError: (err) => void refused.push(err.code),
    },
    { tls: { ...serverTls, requestCert: true, ca: clients.ca } },
  )
  const own = ['-cert', clients.files.cert, '-key', clients.files.key]
  const v12 = await sClient(engine.port, ['-tls1_2', ...own], 'twelve')
  t.regex(v12, /Protocol\s*:\s*TLSv1\.2/)
  t.regex(v12, /Verify return code: 0 \(ok\)/)
  t.is(v12.split('twelve').length, 2, 'echoed once (s_client does not print what it sends)')
  const v13 = await sClient(engine.port, ['-tls1_3', ...own], 'thirteen')
  t.regex(v13, /TLSv1\.3/)
  t.is(v13.split('thirteen').length, 2)
  t.deepEqual(subjects, ['CN=localhost', 'CN=localhost'])

  const bad = await sClient(engine.port, ['-cert', stranger.files.cert, '-key', stranger.files.key], 'stranger')
  t.is(bad.split('stranger').length, 1, 'nothing echoed to a stranger')
  await until(() => refused.length === 1)
  t.deepEqual(refused, ['ERR_TLS_HANDSHAKE'])
  t.is(subjects.length, 2, 'the refused connection never opened')
  await engine.stop()
})

test('riptide client against a node:tls server: 16 MiB each way in random splits, byte-exact', async (t) => {
  const SIZE = 16 * 1024 * 1024
  const up = randomBytes(21, SIZE)
  const down = randomBytes(22, SIZE)
  let serverGot = 0
  const serverChunks: Buffer[] = []
  const sockets: tls.TLSSocket[] = []
  const server = tls.createServer({ ...serverTls }, (s) => {
    sockets.push(s)
    s.on('error', () => undefined)
    s.on('data', (c: Buffer) => {
      serverChunks.push(c)
      serverGot += c.length
    })
    const next = rng(23)
    const send = (off: number): void => {
      while (off < SIZE) {
        const end = Math.min(SIZE, off + 1 + Math.floor(next() * 200_000))
        const more = s.write(down.subarray(off, end))
        off = end
        if (!more) return void s.once('drain', () => send(off))
      }
    }
    send(0)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const got: Buffer[] = []
  let gotLen = 0
  let writable: (() => void) | undefined
  const conn = await connect(
    `tls://localhost:${port}`,
    {
      onTraffic: (_c, data) => {
        got.push(Buffer.from(data))
        gotLen += data.length
      },
      onWritability: (_c, ok) => void (ok && writable?.()),
    },
    { tls: { ca: pki.ca } },
  )
  const next = rng(24)
  for (let off = 0; off < SIZE; ) {
    const end = Math.min(SIZE, off + 1 + Math.floor(next() * 300_000))
    const more = conn.write(up.subarray(off, end))
    off = end
    if (!more) await new Promise<void>((resolve) => (writable = resolve))
  }
  await until(() => gotLen >= SIZE && serverGot >= SIZE, 60_000)
  t.true(Buffer.concat(got).equals(down), 'server -> riptide byte-exact')
  t.true(Buffer.concat(serverChunks).equals(up), 'riptide -> server byte-exact')
  conn.close()
  sockets.forEach((s) => s.destroy())
  await new Promise((resolve) => server.close(resolve))
})

test('a riptide client refuses a server whose certificate is for another name (ERR_TLS_HANDSHAKE)', async (t) => {
  const engine = await tlsEchoServer(pki)
  const err = await t.throwsAsync(connect(`tls://127.0.0.1:${engine.port}`, {}, { tls: { ca: pki.ca, servername: 'not-localhost.test' } }))
  t.is((err as RiptideError).code, 'ERR_TLS_HANDSHAKE')
  t.regex(err!.message, /NotValidForName|not valid for/i)
  await engine.stop()
})

/** A node:tls client of `port` trusting the test CA, once secure. */
async function tlsClient(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca, ...options })
  await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
  return s
}

test('through TLS: allowHalfOpen replies after the peer close_notify + FIN, then ends; destroy resets', async (t) => {
  const closes: (string | undefined)[] = []
  const engine = await serve(
    'tls://127.0.0.1:0',
    {
      onEnd: (conn) => void conn.end(Buffer.alloc(1 << 20, 1)),
      onTraffic: (conn, data) => {
        if (Buffer.from(data).toString() === 'kill') conn.destroy()
      },
      onClose: (_c, err) => void closes.push(err?.code),
    },
    { allowHalfOpen: true, tls: serverTls },
  )
  const s = await tlsClient(engine.port)
  const chunks: Buffer[] = []
  s.on('data', (c: Buffer) => chunks.push(c))
  const ended = new Promise<void>((resolve) => s.once('end', resolve))
  s.end(Buffer.alloc(1 << 20, 2))
  await ended
  t.is(Buffer.concat(chunks).length, 1 << 20, 'the whole reply came after our half-close')
  t.true(chunks.every((c) => c.every((b) => b === 1)))
  await until(() => closes.length === 1)
  t.deepEqual(closes, [undefined], 'a clean close')

  const k = await tlsClient(engine.port)
  const gone = new Promise<string>((resolve) => {
    k.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
    k.once('close', () => resolve('close'))
  })
  k.write('kill')
  t.regex(await gone, /ECONNRESET|close/)
  await until(() => closes.length === 2)
  await engine.stop()
})

test('through TLS: idleTimeout and heartbeat keep their meaning (the ping is encrypted, the drop is ETIMEDOUT)', async (t) => {
  // Two servers: heartbeat pings are writes, so a connection that gets them every 40 ms is not
  // all-idle (an 'all' event then comes only when a ping is late, which made a combined test
  // depend on the machine's load).
  const idle: string[] = []
  const idler = await serve('tls://127.0.0.1:0', { onIdle: (_c, kind) => void idle.push(kind) }, { idleTimeout: { all: 60 }, tls: serverTls })
  const quiet = await tlsClient(idler.port)
  await until(() => idle.length >= 2)
  t.deepEqual(idle.slice(0, 2), ['all', 'all'])
  quiet.destroy()
  await idler.stop()

  const closed: (string | undefined)[] = []
  // The drop (1 s) well past the second ping (80 ms), as in flow.spec, so a late turn cannot
  // see both due at once.
  const engine = await serve(
    'tls://127.0.0.1:0',
    { onClose: (_c, err) => void closed.push(err?.code) },
    { heartbeat: { interval: 40, timeout: 1000, ping: 'PING\n' }, tls: serverTls },
  )
  const s = await tlsClient(engine.port)
  let text = ''
  s.on('data', (d: Buffer) => (text += d.toString()))
  s.on('error', () => undefined)
  await until(() => text.startsWith('PING\nPING\n'))
  await until(() => closed.length === 1, 5000)
  t.deepEqual(closed, ['ETIMEDOUT'], 'dropped on read-idle like a plain connection')
  s.destroy()
  await engine.stop()
})

test('through TLS: stop({ drainTimeout }) lets a reader finish and resets one that does not read', async (t) => {
  let asked = 0
  const engine = await serve(
    'tls://127.0.0.1:0',
    {
      onTraffic: (conn) => {
        asked++
        void conn.write(Buffer.alloc(2 << 20, 3))
      },
    },
    { socketSendBuffer: 8192, tls: serverTls },
  )
  const reader = await tlsClient(engine.port)
  const sleeper = await tlsClient(engine.port)
  sleeper.pause()
  sleeper.on('error', () => undefined)
  let got = 0
  reader.on('data', (d: Buffer) => (got += d.length))
  const readerEnd = new Promise<void>((resolve) => reader.once('end', resolve))
  reader.write('go')
  sleeper.write('go')
  // Both requests handled and the reader receiving (a fixed sleep was too short under load).
  await until(() => asked === 2 && got > 0, 10_000)
  const counts = await engine.stop({ drainTimeout: 2500 })
  await readerEnd
  t.is(got, 2 << 20, 'the reader got all of it, then close_notify + FIN')
  t.deepEqual(counts, { drained: 1, reset: 1 })
  sleeper.destroy()
})
