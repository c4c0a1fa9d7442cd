// Kernel TLS (`tls: { ktls: true }`) against node:tls on both sides. Where the kernel lists
// the `tls` upper-layer protocol the connections must report `tlsKernel === true`; elsewhere
// (this development machine, most CI runners) the user-space fallback, `false`. The kernel
// path itself is proven in a VM by scripts/ktls-vm.sh (docs/tls.md, "Kernel TLS").
import test from 'ava'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import { Client, connect, serve, type Conn } from 'riptide'
import { randomBytes, readExactly, until, writeInRandomSplits } from './helpers'
import { makePki } from './tls-certs'
import { nodeTlsEchoServer } from './tls-servers'

const pki = makePki()

/** Whether this kernel offers kTLS (`tls` among the available ULPs). */
function kernelHasTls(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_available_ulp', 'utf8').split(/\s+/).includes('tls')
  } catch {
    return false
  }
}

const expected = kernelHasTls()

for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`ktls server, node:tls client (${maxVersion}): 4 MiB echo in random splits is byte-exact; tlsKernel says which path`, async (t) => {
    const conns: Conn[] = []
    const engine = await serve(
      'tls://127.0.0.1:0',
      { onOpen: (conn) => void conns.push(conn), onTraffic: (conn, data) => void conn.write(data) },
      { tls: { cert: pki.cert, key: pki.key, ktls: true } },
    )
    const s = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca, maxVersion })
    await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
    t.is(s.getProtocol(), maxVersion)
    await until(() => conns.length === 1)
    t.is(conns[0].tlsKernel, expected)

    const SIZE = 4 * 1024 * 1024
    const data = randomBytes(41, SIZE)
    const echoed = readExactly(s, SIZE)
    await writeInRandomSplits(s, data, 11)
    t.true((await echoed).equals(data), 'byte-exact')
    // The server's close_notify reaches node as a clean end.
    const ended = new Promise<void>((resolve) => s.once('end', resolve))
    conns[0].close()
    await ended
    s.destroy()
    await engine.stop()
  })
}

test('ktls client against a node:tls server: echo byte-exact, tlsKernel, close_notify then FIN', async (t) => {
  const { server, port, ended } = await nodeTlsEchoServer(pki)
  const received: Buffer[] = []
  const conn = await connect(
    `tls://localhost:${port}`,
    { onTraffic: (_c, data) => void received.push(Buffer.from(data)) },
    { tls: { ca: pki.ca, ktls: true } },
  )
  t.is(conn.tlsKernel, expected)
  const payload = randomBytes(5, 2_000_000)
  conn.write(payload)
  await until(() => received.reduce((n, b) => n + b.length, 0) >= payload.length)
  t.true(Buffer.concat(received).equals(payload), 'byte-exact')
  conn.close()
  await ended
  t.pass('node saw a clean end (close_notify)')
  server.close()
})

test('without ktls a TLS connection reports tlsKernel false; a plain one undefined', async (t) => {
  const conns: Conn[] = []
  const engine = await serve('tls://127.0.0.1:0', { onOpen: (conn) => void conns.push(conn) }, { tls: { cert: pki.cert, key: pki.key } })
  const plain = await serve('tcp://127.0.0.1:0', { onOpen: (conn) => void conns.push(conn) })
  const s = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca })
  await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
  const p = net.connect(plain.port, '127.0.0.1')
  await until(() => conns.length === 2)
  const [tlsConn, plainConn] = conns[0].tlsKernel === undefined ? [conns[1], conns[0]] : [conns[0], conns[1]]
  t.is(tlsConn.tlsKernel, false)
  t.is(plainConn.tlsKernel, undefined)
  s.destroy()
  p.destroy()
  await engine.stop()
  await plain.stop()
})

test('the ktls option is a boolean, on servers and clients', async (t) => {
  const bad = async (p: Promise<unknown>) => {
    const err = await t.throwsAsync(p)
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARG_VALUE', err!.message)
    t.regex(err!.message, /tls\.ktls/)
  }
  await bad(serve('tls://127.0.0.1:0', {}, { tls: { cert: pki.cert, key: pki.key, ktls: 'yes' } as never }))
  await bad(serve('tls://127.0.0.1:0', {}, { tls: { cert: pki.cert, key: pki.key, ktls: 1 } as never }))
  const client = new Client({})
  await bad(client.dial('tls://127.0.0.1:1', { tls: { ca: pki.ca, ktls: 'true' } as never }))
  await client.stop()
})
