// What a TLS server sees of failures: handshakes that fail before a connection opens reach
// `onHandshakeError` and `stats().handshakeErrors`; a record corrupted after the handshake
// closes the connection with `TlsError` (`ERR_TLS`) and the peer (node:tls) gets the alert;
// `maxHandshakes` refuses connections beyond the bound at accept, as failed handshakes.
import test from 'ava'
import net from 'node:net'
import tls from 'node:tls'
import { TlsError, TlsHandshakeError, type Conn, type PeerAddr, type RiptideError } from 'riptide'
import { until } from './helpers'
import { makePki } from './tls-certs'
import { reactorsServing, tlsEchoServer, twoReactorTlsServer } from './tls-servers'

const pki = makePki()

/** The local port of a client socket, once connected. */
function localPort(s: net.Socket): Promise<number> {
  return new Promise((resolve) => s.once('connect', () => resolve(s.localPort!)))
}

test('failed handshakes reach onHandshakeError with the code and the client; stats count them', async (t) => {
  const clients = makePki()
  const stranger = makePki()
  const failures: { err: RiptideError; peer: PeerAddr }[] = []
  const opened: Conn[] = []
  const engine = await tlsEchoServer(pki, { requestCert: true, ca: clients.ca, handshakeTimeout: 300 }, opened, {
    onHandshakeError: (err, peer) => void failures.push({ err, peer }),
  })
  const port = engine.port

  // An untrusted client certificate.
  const untrusted = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca, cert: stranger.cert, key: stranger.key })
  const untrustedPort = await new Promise<number>((resolve) => untrusted.once('connect', () => resolve(untrusted.localPort!)))
  untrusted.on('error', () => undefined)
  await until(() => failures.length === 1)
  t.true(failures[0].err instanceof TlsHandshakeError)
  t.is(failures[0].err.code, 'ERR_TLS_HANDSHAKE')
  t.regex(failures[0].err.message, /invalid peer certificate/)
  t.deepEqual(failures[0].peer, { family: 'IPv4', address: '127.0.0.1', port: untrustedPort })
  untrusted.destroy()

  // Garbage instead of a hello.
  const garbage = net.connect(port, '127.0.0.1')
  garbage.on('error', () => undefined)
  const garbagePort = await localPort(garbage)
  garbage.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await until(() => failures.length === 2)
  t.is(failures[1].err.code, 'ERR_TLS_HANDSHAKE')
  t.is(failures[1].peer.family !== 'unix' && failures[1].peer.port, garbagePort)
  garbage.destroy()

  // A client that connects and says nothing: handshakeTimeout.
  const mute = net.connect(port, '127.0.0.1')
  mute.on('error', () => undefined)
  const mutePort = await localPort(mute)
  await until(() => failures.length === 3)
  t.is(failures[2].err.code, 'ERR_TLS_HANDSHAKE')
  t.regex(failures[2].err.message, /within 300 ms/)
  t.is(failures[2].peer.family !== 'unix' && failures[2].peer.port, mutePort)
  mute.destroy()

  // A client that gives up in the middle of its hello.
  const quitter = net.connect(port, '127.0.0.1')
  quitter.on('error', () => undefined)
  await localPort(quitter)
  quitter.end(Buffer.from([22, 3, 1, 0, 200, 1]))
  await until(() => failures.length === 4)
  t.is(failures[3].err.code, 'ECONNRESET')

  t.is(engine.stats().handshakeErrors, 4)
  t.is(opened.length, 0, 'none of them opened')
  await engine.stop()
})

test('stats() sums every reactor: handshake errors and boundary events on reactor 0 and a worker', async (t) => {
  // Accepted on reactor 0 and handed round-robin to reactors 0 and 1.
  const engine = await twoReactorTlsServer(pki, false)
  const seen = await reactorsServing(engine.port, pki.ca)
  t.deepEqual([...seen].sort(), ['0', '1'], 'both reactors served clients')
  // Each of the 12 clients made at least an open and a traffic event, on whichever reactor
  // served it; reactor 0 alone delivered about half of them.
  t.true(engine.stats().events >= 24, `events ${engine.stats().events}`)
  // Garbage instead of a hello: each fails its handshake on the reactor it was handed to.
  const GARBAGE = 6
  const sockets: net.Socket[] = []
  for (let i = 0; i < GARBAGE; i++) {
    const g = net.connect(engine.port, '127.0.0.1')
    g.on('error', () => undefined)
    sockets.push(g)
    await localPort(g)
    g.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  }
  await until(() => engine.stats().handshakeErrors === GARBAGE)
  t.is(engine.stats().handshakeErrors, GARBAGE)
  t.is(engine.stats().rejected, 0)
  for (const g of sockets) g.destroy()
  await engine.stop()
})

test('a record corrupted after the handshake closes with TlsError (ERR_TLS); the peer gets the alert', async (t) => {
  const closed: (RiptideError | undefined)[] = []
  const opened: Conn[] = []
  const engine = await tlsEchoServer(pki, {}, opened, { onClose: (_, err) => void closed.push(err) })
  // A TCP proxy that flips the last bit of the client's bytes once told to.
  let flip = false
  const proxy = net.createServer((inbound) => {
    const outbound = net.connect(engine.port, '127.0.0.1')
    for (const s of [inbound, outbound]) s.on('error', () => undefined)
    inbound.on('data', (d: Buffer) => {
      if (flip) d[d.length - 1] ^= 1
      outbound.write(d)
    })
    outbound.pipe(inbound)
    outbound.on('close', () => inbound.destroy())
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const port = (proxy.address() as net.AddressInfo).port
  const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca })
  await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
  s.write('ping')
  t.is(await new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString()))), 'ping')
  flip = true
  const failed = new Promise<Error>((resolve) => s.once('error', resolve))
  s.write('pong')
  await until(() => closed.length === 1)
  t.true(closed[0] instanceof TlsError, String(closed[0]))
  t.is(closed[0]?.code, 'ERR_TLS')
  t.regex(closed[0]!.message, /decrypt/)
  t.regex((await failed).message, /bad record mac/i)
  t.is(engine.stats().handshakeErrors, 0, 'it had opened')
  proxy.close()
  await engine.stop()
})

test('maxHandshakes: a connection beyond the bound closes at accept, reported and counted; a freed place admits the next', async (t) => {
  const failures: { err: RiptideError; peer: PeerAddr }[] = []
  const opened: Conn[] = []
  const engine = await tlsEchoServer(pki, { maxHandshakes: 2 }, opened, {
    onHandshakeError: (err, peer) => void failures.push({ err, peer }),
  })
  const port = engine.port
  // Two mute clients hold both places (one reactor accepts in the order they connected).
  const mute = [net.connect(port, '127.0.0.1'), net.connect(port, '127.0.0.1')]
  const mutePorts: number[] = []
  for (const m of mute) {
    m.on('error', () => undefined)
    mutePorts.push(await localPort(m))
  }
  // The refusal may reset the connection before node:tls sees it connected.
  const over = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca })
  const overFailed = new Promise<Error>((resolve) => over.once('error', resolve))
  await until(() => failures.length === 1)
  t.true(failures[0].err instanceof TlsHandshakeError)
  t.is(failures[0].err.code, 'ERR_TLS_HANDSHAKE')
  t.regex(failures[0].err.message, /2 handshakes already in progress on this listener \(maxHandshakes\)/)
  const refusedPort = failures[0].peer.family !== 'unix' && failures[0].peer.port
  t.false(mutePorts.includes(refusedPort as number), 'the third client was refused, not a mute one')
  t.truthy(await overFailed, 'the refused node:tls client saw the connection go')
  t.is(engine.stats().handshakeErrors, 1)

  // A mute client leaving gives its place back (its own failure is counted too).
  mute[0].destroy()
  await until(() => failures.length === 2)
  t.is(failures[1].err.code, 'ECONNRESET')
  const next = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca })
  await new Promise<void>((resolve, reject) => next.once('secureConnect', resolve).once('error', reject))
  next.write('admitted')
  t.is(await new Promise<string>((resolve) => next.once('data', (d: Buffer) => resolve(d.toString()))), 'admitted')
  t.is(engine.stats().handshakeErrors, 2)
  t.is(opened.length, 1)
  next.destroy()
  mute[1].destroy()
  await engine.stop()

  for (const bad of [0, 1.5, -1, '2']) {
    const err = await t.throwsAsync(tlsEchoServer(pki, { maxHandshakes: bad }))
    t.is((err as RiptideError).code, 'ERR_INVALID_ARG_VALUE', String(bad))
  }
})
