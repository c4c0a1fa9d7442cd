// TLS over plain stream listeners and dials: `{ url: 'unix://…', tls: true }` and a dial's own
// `tls` on `unix://` / `tcp://`, against node:tls (OpenSSL inside Node) on the other end.
import test from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { Client, connect, serve, type Conn } from 'riptide'
import { randomBytes, until } from './helpers'
import { makePki } from './tls-certs'

const pki = makePki()
const dir = mkdtempSync(join(tmpdir(), 'riptide-tls-unix-'))
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

const echo = { onTraffic: (conn: Conn, data: Uint8Array) => void conn.write(data) }
const serverTls = { tls: { cert: pki.cert, key: pki.key, alpn: ['x-unix'] } }

/** Sends `payload` on a node:tls socket and resolves with everything echoed back. */
async function nodeEcho(s: tls.TLSSocket, payload: Buffer): Promise<Buffer> {
  await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
  const chunks: Buffer[] = []
  let got = 0
  const done = new Promise<void>((resolve) =>
    s.on('data', (c: Buffer) => {
      chunks.push(c)
      got += c.length
      if (got >= payload.length) resolve()
    }),
  )
  s.write(payload)
  await done
  s.end()
  return Buffer.concat(chunks)
}

test('a unix:// listener with tls: true serves node:tls over the socket, byte-exact', async (t) => {
  const path = join(dir, 'a.sock')
  const conns: Conn[] = []
  const engine = await serve([{ url: `unix://${path}`, tls: true }], { ...echo, onOpen: (c) => void conns.push(c) }, serverTls)
  const s = tls.connect({ path, servername: 'localhost', ca: pki.ca, ALPNProtocols: ['x-unix'] })
  const payload = randomBytes(5, 1 << 20)
  t.true((await nodeEcho(s, payload)).equals(payload))
  t.true(s.authorized)
  t.is(s.alpnProtocol, 'x-unix')
  await until(() => conns.length === 1)
  t.is(conns[0].alpnProtocol, 'x-unix')
  t.false(conns[0].tlsKernel, 'records in user space: kTLS is TCP only')
  await engine.stop()
})

test('a riptide dial over unix:// with its own tls reaches a riptide TLS listener; servername is required', async (t) => {
  const path = join(dir, 'b.sock')
  const engine = await serve([{ url: `unix://${path}`, tls: true }], echo, serverTls)
  const received: Buffer[] = []
  const conn = await connect(
    `unix://${path}`,
    { onTraffic: (_c, data) => void received.push(Buffer.from(data)) },
    { tls: { ca: Buffer.from(pki.ca), servername: 'localhost', alpn: ['x-unix'] } },
  )
  t.is(conn.alpnProtocol, 'x-unix', 'ALPN agreed, so the bytes run through TLS')
  const payload = randomBytes(6, 300_000)
  conn.write(payload)
  await until(() => received.reduce((n, b) => n + b.length, 0) >= payload.length)
  t.true(Buffer.concat(received).equals(payload))
  conn.close()

  const client = new Client({})
  const err = await t.throwsAsync(client.dial(`unix://${path}`, { tls: { ca: pki.ca } }))
  t.is((err as { code?: string }).code, 'ERR_INVALID_ARG_VALUE')
  t.regex(err!.message, /needs tls.servername/)
  await client.stop()
  await engine.stop()
})

test('tls: true on a tcp:// listener is the same as tls://; a plain listener beside it stays plain', async (t) => {
  const engine = await serve([{ url: 'tcp://127.0.0.1:0', tls: true }, 'tcp://127.0.0.1:0'], echo, serverTls)
  const [tlsPort, plainPort] = engine.addresses.map((a) => (a.family === 'unix' ? 0 : a.port))
  const s = tls.connect({ port: tlsPort, host: '127.0.0.1', servername: 'localhost', ca: pki.ca })
  const payload = randomBytes(7, 65_536)
  t.true((await nodeEcho(s, payload)).equals(payload))
  const received: Buffer[] = []
  const plain = await connect(`tcp://127.0.0.1:${plainPort}`, { onTraffic: (_c, d) => void received.push(Buffer.from(d)) })
  plain.write('plain')
  await until(() => Buffer.concat(received).toString() === 'plain')
  t.is(plain.alpnProtocol, undefined)
  plain.close()
  await engine.stop()
})

test('tls listener flags are checked', async (t) => {
  const bad = async (p: Promise<unknown>, re: RegExp) => {
    const err = await t.throwsAsync(p)
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARG_VALUE', err!.message)
    t.regex(err!.message, re)
  }
  await bad(serve([{ url: 'udp://127.0.0.1:0', tls: true }], echo, serverTls), /tls: true needs a stream listener/)
  await bad(serve([{ url: 'tls://127.0.0.1:0', tls: false }], echo, serverTls), /tls: false contradicts/)
  await bad(serve([{ url: 'tcp://127.0.0.1:0', tls: 'yes' as never }], echo, serverTls), /tls must be a boolean/)
  await bad(serve([{ url: 'unix:///nonexistent-dir/x.sock', tls: true }], echo), /needs options.tls/)
})
