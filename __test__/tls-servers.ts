// The TLS servers the TLS specs share: a riptide echo server on one reactor, one on two
// reactors (reactor 0 echoes, the worker answers with its index), a node:tls echo server, and a
// loop of node:tls clients that finds out which reactors served them.
import type net from 'node:net'
import { join } from 'node:path'
import tls from 'node:tls'
import { serve, type Conn, type EventHandler } from 'riptide'
import type { TestPki } from './tls-certs'

/**
 * A riptide TLS echo server for `pki`'s leaf, with `options` over its `tls`; `conns` collects
 * its opened connections and `handler` adds callbacks.
 */
export async function tlsEchoServer(pki: TestPki, options: Record<string, unknown> = {}, conns: Conn[] = [], handler: EventHandler = {}) {
  return serve(
    'tls://127.0.0.1:0',
    { ...handler, onOpen: (conn) => void conns.push(conn), onTraffic: (conn, data) => void conn.write(data) },
    { tls: { cert: pki.cert, key: pki.key, ...options } },
  )
}

/** A running node:tls echo server: its `port`, and `ended`, which resolves once a client's end was seen. */
export interface NodeTlsEchoServer {
  server: tls.Server
  port: number
  ended: Promise<void>
}

/**
 * A node:tls (OpenSSL) echo server for `pki`'s leaf, with `options` over its TLS options: it
 * echoes every chunk and answers a client's end (close_notify then FIN) with its own end.
 */
export async function nodeTlsEchoServer(pki: TestPki, options: tls.TlsOptions = {}): Promise<NodeTlsEchoServer> {
  let sawEnd: () => void = () => undefined
  const ended = new Promise<void>((resolve) => (sawEnd = resolve))
  const server = tls.createServer({ cert: pki.cert, key: pki.key, ...options }, (s) => {
    s.on('error', () => undefined)
    s.on('data', (d: Buffer) => s.write(d))
    s.on('end', () => {
      sawEnd()
      s.end()
    })
  })
  server.on('tlsClientError', () => undefined)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as net.AddressInfo).port, ended }
}

/** A TLS echo server on two reactors: accepted on reactor 0 and handed over, or `reusePort`. */
export async function twoReactorTlsServer(pki: TestPki, reusePort: boolean) {
  return serve('tls://127.0.0.1:0', { onTraffic: (c, d) => void c.write(d) }, {
    reactors: 2,
    reusePort,
    workerModule: join(__dirname, 'fixtures', 'echo-handler.ts'),
    tls: { cert: pki.cert, key: pki.key },
  })
}

/**
 * Which reactors (`'0'`, `'1'`) served 12 node:tls clients of `port` trusting `ca`; `check`
 * sees each connection once it is secure.
 */
export async function reactorsServing(port: number, ca: string, check: (s: tls.TLSSocket) => void = () => undefined): Promise<Set<string>> {
  const seen = new Set<string>()
  for (let i = 0; i < 12; i++) {
    const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca })
    await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
    check(s)
    s.write('who')
    const answer = await new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())))
    // Reactor 0 runs the test's handler (an echo); workers answer with their index.
    seen.add(answer === 'who' ? '0' : answer.trim())
    s.destroy()
  }
  return seen
}
