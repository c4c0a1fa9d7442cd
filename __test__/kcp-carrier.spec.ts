// KCP over an application carrier (DatagramCarrier): two engines joined in memory by JS,
// with FEC and secure mode on top, loss and a carrier that cannot keep up injected by the
// test, and what the carrier refuses. The engine's own tests are crates/riptide/tests/carrier.rs.
import anyTest from 'ava'
import {
  connect,
  DatagramCarrier,
  generateKeyPair,
  InvalidAddressError,
  InvalidOptionError,
  MessageTooLargeError,
  serve,
  type Conn,
  type EventHandler,
  type KcpOptions,
} from 'riptide'
import { randomBytes, rng, until } from './helpers'

// Serial: the transfers are heavy for a shared 2-core machine.
const test = anyTest.serial

const kcp: KcpOptions = { nodelay: true, interval: 10, resend: 2, nc: true, sndWnd: 128, rcvWnd: 128, stream: true }
const fec = { dataShards: 10, parityShards: 3 }

/** A carrier pair joined in memory: what one sends, the other receives (unless `drop` says). */
function joined(drop: () => boolean = () => false) {
  const sent = { up: 0, down: 0, peers: new Set<string>() }
  const server: DatagramCarrier = new DatagramCarrier({
    send(datagram, peer) {
      sent.peers.add(peer)
      sent.down++
      if (!drop()) client.receive(datagram, 'server')
    },
  })
  const client: DatagramCarrier = new DatagramCarrier({
    send(datagram, peer) {
      if (peer !== 'server') throw new Error(`the client sent to ${peer}`)
      sent.up++
      if (!drop()) server.receive(datagram, 'client-1')
    },
  })
  return { server, client, sent }
}

/** An echo server on `carrier`. */
function echo(carrier: DatagramCarrier, options: Parameters<typeof serve>[2] = {}) {
  const opened: Conn[] = []
  return {
    opened,
    engine: serve(
      { url: 'kcp://tunnel', carrier },
      {
        onOpen(conn) {
          opened.push(conn)
        },
        onTraffic(conn, data) {
          conn.write(data)
        },
      },
      { kcp, ...options },
    ),
  }
}

/** Writes `payload` as the send window allows and waits until `total()` reaches its length. */
async function pump(conn: Conn, handler: EventHandler, payload: Buffer, total: () => number) {
  let offset = 0
  const more = () => {
    while (offset < payload.length) {
      const ok = conn.write(payload.subarray(offset, offset + 4096))
      offset += 4096
      if (!ok) return
    }
  }
  handler.onWritability = (_conn, writable) => {
    if (writable) more()
  }
  more()
  await until(() => total() >= payload.length, 90_000)
}

function collector() {
  const got: Buffer[] = []
  const handler: EventHandler = {
    onTraffic(_conn, data) {
      got.push(Buffer.from(data))
    },
  }
  return { got, handler, total: () => got.reduce((n, b) => n + b.length, 0) }
}

test('1 MiB echoes byte-exact both ways over a JS carrier losing 10 %, with FEC and secure mode', async (t) => {
  const next = rng(19)
  const { server, client, sent } = joined(() => next() < 0.1)
  const keys = generateKeyPair()
  const s = echo(server, { fec, secure: { privateKey: keys.privateKey } })
  const engine = await s.engine
  const c = collector()
  const conn = await connect('kcp://server', c.handler, { kcp, fec, secure: { serverPublicKey: keys.publicKey }, carrier: client })
  const payload = randomBytes(7, 1 << 20)
  await pump(conn, c.handler, payload, c.total)
  t.true(Buffer.concat(c.got).equals(payload), 'the echo is byte-exact')
  const layers = conn.kcpStats().layers
  t.true(layers.secureOpened > 0)
  t.true(layers.fecRecovered > 0, 'FEC rebuilt lost datagrams')
  t.deepEqual([...sent.peers], ['client-1'])
  t.is(s.opened.length, 1)
  t.deepEqual(s.opened[0].remote, { family: 'IPv6', address: '100::2', port: 0 })
  const stats = server.stats()
  t.is(stats.peers, 1)
  t.true(stats.received > 0 && stats.sent > 0 && client.stats().received > 0)
  t.is(stats.sendDropped + client.stats().sendDropped, 0)
  // What crossed the carrier is in the engine's metrics, as over UDP.
  const m = engine.metrics()
  t.true(m.listeners[0].bytesIn >= payload.length && m.listeners[0].bytesOut >= payload.length)
  t.true(m.total.kcp.outPkts >= stats.sent, 'every datagram handed to the carrier is counted')
  t.is(m.total.bytesOut, m.total.kcp.outBytes)
  conn.close()
  await engine.stop()
})

test('a carrier that cannot keep up drops within maxQueued, and KCP recovers', async (t) => {
  // The server's datagrams reach the client in bursts of everything sent over 20 ms: a burst
  // over 64 KiB does not fit the client's queue.
  const burst: Uint8Array[] = []
  const server: DatagramCarrier = new DatagramCarrier({ send: (d) => void burst.push(d.slice()) })
  const client: DatagramCarrier = new DatagramCarrier({ send: (d) => server.receive(d, 'c'), maxQueued: 65536 })
  const timer = setInterval(() => {
    for (const d of burst.splice(0)) client.receive(d, 'server')
  }, 20)
  const s = echo(server)
  const engine = await s.engine
  const c = collector()
  const conn = await connect('kcp://server', c.handler, { kcp: { ...kcp, mtu: 1400 }, carrier: client })
  const payload = randomBytes(8, 512 * 1024)
  await pump(conn, c.handler, payload, c.total)
  clearInterval(timer)
  t.true(Buffer.concat(c.got).equals(payload), 'byte-exact despite the drops')
  t.true(client.stats().dropped > 0, 'bursts over maxQueued were dropped')
  conn.close()
  await engine.stop()
})

test('bad peer names, oversize datagrams and bad options are refused with codes', async (t) => {
  const carrier = new DatagramCarrier({ send() {} })
  for (const peer of ['', 'two words', 'tab\t', 'é', 'x'.repeat(129), 7 as unknown as string]) {
    t.throws(() => carrier.receive(new Uint8Array(1), peer), { instanceOf: InvalidOptionError, code: 'ERR_INVALID_ARG_VALUE' }, String(peer))
  }
  t.throws(() => carrier.receive('text' as unknown as Uint8Array, 'p'), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => carrier.receive(new Uint8Array(65537), 'p'), { instanceOf: MessageTooLargeError, code: 'ERR_MESSAGE_TOO_LARGE' })
  // Not serving a listener or dial: dropped and counted (after this tick's batch).
  carrier.receive(new Uint8Array(10), 'x'.repeat(128))
  await until(() => carrier.stats().dropped === 1)
  for (const bad of [{}, { send: 1 }, { send() {}, maxPeers: 0 }, { send() {}, maxQueued: 1000 }, { send() {}, other: 1 }]) {
    t.throws(() => new DatagramCarrier(bad as never), { code: 'ERR_INVALID_ARG_VALUE' }, JSON.stringify(bad))
  }
  await t.throwsAsync(serve({ url: 'udp://127.0.0.1:0', carrier }, {}), { code: 'ERR_INVALID_ARG_VALUE' })
  await t.throwsAsync(serve({ url: 'kcp://bad name', carrier }, {}), { instanceOf: InvalidAddressError })
  await t.throwsAsync(connect('kcp://a b', {}, { carrier }), { code: 'ERR_INVALID_ADDRESS' })
  await t.throwsAsync(connect('tcp://127.0.0.1:1', {}, { carrier }), { code: 'ERR_INVALID_ARG_VALUE' })
  await t.throwsAsync(serve({ url: 'kcp://x', carrier: {} as DatagramCarrier }, {}), { code: 'ERR_INVALID_ARG_VALUE' })
})

test('a carrier serves one listener or dial at a time, and the next dial once one closes', async (t) => {
  const { server, client } = joined()
  const engine = await echo(server).engine
  await t.throwsAsync(serve({ url: 'kcp://again', carrier: server }, {}), { code: 'ERR_INVALID_ARG_VALUE' })
  const c = collector()
  const closed = new Promise((resolve) => (c.handler.onClose = resolve))
  const first = await connect('kcp://server', c.handler, { kcp, carrier: client })
  await t.throwsAsync(connect('kcp://server', {}, { kcp, carrier: client }), { code: 'ERR_INVALID_ARG_VALUE' })
  first.write('one')
  await until(() => c.total() >= 3)
  first.destroy()
  await closed
  // The carrier is free again: a second dial (a new conversation) is echoed too.
  const second = await connect('kcp://server', c.handler, { kcp, carrier: client })
  second.write('two')
  await until(() => c.total() >= 6)
  t.is(Buffer.concat(c.got).toString(), 'onetwo')
  second.close()
  await engine.stop()
  // Stopped: the listener's carrier is free for another engine.
  const again = await serve({ url: 'kcp://again', carrier: server }, {}, { kcp })
  await again.stop()
})
