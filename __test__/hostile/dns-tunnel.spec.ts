import test from 'ava'
import dgram from 'node:dgram'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { DnsTunnel, serve, type Engine } from 'riptide'
import { serveDns, type DnsServer } from '../../examples/dns/dns-server'
import { serveTunnel, type TunnelServer } from '../../examples/dns-tunnel/tunnel-server'
import { startTunnelClient } from '../../examples/dns-tunnel/tunnel-client'
import { dig } from '../dig'
import { randomBytes, readExactly, rng, until } from '../helpers'

// examples/dns with its tunnel zone under hostile queries from a raw socket: garbage tunnel
// names, oversize names and messages, unknown client ids with junk datagrams, and a flood of
// new client ids. The server answers each without a crash, its state stays bounded, and
// dig and a real tunnel client are served afterwards.
const zone = readFileSync(join(__dirname, '..', '..', 'examples', 'dns', 'example.zone'), 'utf8')
const MAX_CLIENTS = 64
let echo: Engine
let tunnel: TunnelServer
let dns: DnsServer

test.before(async () => {
  echo = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      conn.write(data)
    },
  })
  tunnel = await serveTunnel({ zone: 't.example.', target: `127.0.0.1:${echo.port}`, maxClients: MAX_CLIENTS, maxQueue: 32 })
  dns = await serveDns({ zone, port: 0, tunnel })
})
test.after.always(async () => {
  await dns?.engine.stop()
  await tunnel?.stop()
  await echo?.stop()
})

/** A UDP socket that sends queries to the server and keeps the replies. */
async function raw() {
  const sock = dgram.createSocket('udp4')
  const replies: Buffer[] = []
  sock.on('message', (m) => replies.push(m))
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve))
  return {
    replies,
    send: (q: Uint8Array) => sock.send(q, dns.port, '127.0.0.1'),
    close: () => sock.close(),
  }
}

/**
 * Sends `queries` with at most 64 unanswered at a time (a query still unanswered after 200 ms
 * counts as lost: loopback UDP may drop under load), then waits for the last answers.
 */
async function sendPaced(sock: Awaited<ReturnType<typeof raw>>, queries: Uint8Array[]): Promise<void> {
  let lost = 0
  for (const [i, q] of queries.entries()) {
    const waitUntil = Date.now() + 200
    while (i - sock.replies.length - lost > 64) {
      if (Date.now() > waitUntil) {
        lost++
        break
      }
      await new Promise((r) => setTimeout(r, 1))
    }
    sock.send(q)
  }
  const end = Date.now() + 2000
  while (sock.replies.length + lost < queries.length && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
}

/** A TXT query with id `id` for `labels` (each already at most 63 bytes) under `t.example`. */
function query(id: number, labels: Buffer[], qtype = 16): Buffer {
  const h = Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
  const name = [...labels, Buffer.from('t'), Buffer.from('example')].flatMap((l) => [Buffer.from([l.length]), l])
  return Buffer.concat([h, ...name, Buffer.from([0, 0, qtype, 0, 1])])
}

/** The response code of a reply. */
const rcode = (reply: Buffer) => reply[3] & 0x0f
const [GARBAGE, OVERSIZE, TRAILING] = [0x5151, 0x0bad, 0x7a11]

test.serial('garbage tunnel names get NXDOMAIN, oversize names and messages FORMERR, never a crash', async (t) => {
  const next = rng(0x7e1)
  const sock = await raw()
  const letters = 'abcdefghijklmnopqrstuvwxyz234567-_!@1890ABCDEF\x00\xff'
  const label = (max: number) => Buffer.from(Array.from({ length: 1 + Math.floor(next() * max) }, () => letters.charCodeAt(Math.floor(next() * letters.length))))
  // Random labels, the last (the client id's place) never a valid id.
  const garbage = Array.from({ length: 3000 }, () =>
    query(GARBAGE, [...Array.from({ length: Math.floor(next() * 4) }, () => label(63)), Buffer.concat([label(15), Buffer.from('_')])]),
  )
  // Names over 255 bytes on the wire (five labels of 63) and a label over 63: not decodable.
  const oversize = [
    query(OVERSIZE, Array.from({ length: 5 }, () => Buffer.alloc(63, 0x61))),
    Buffer.concat([query(OVERSIZE, []).subarray(0, 12), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 16, 0, 1])]),
  ]
  // A valid poll followed by 4000 bytes of junk: answered or refused, within 512 bytes.
  const trailing = Buffer.concat([query(TRAILING, [Buffer.from('aaaaaai'), Buffer.from('abc')]), randomBytes(3, 4000)])
  await sendPaced(sock, garbage)
  // One at a time: each gets its answer.
  for (const q of [...oversize, trailing]) {
    const n = sock.replies.length
    sock.send(q)
    await until(() => sock.replies.length > n)
  }
  sock.close()
  const of = (id: number) => sock.replies.filter((r) => r.readUInt16BE(0) === id)
  // Loopback UDP may drop some of a burst; what is answered is NXDOMAIN.
  t.true(of(GARBAGE).length > garbage.length * 0.9, `${of(GARBAGE).length} answers`)
  t.true(
    of(GARBAGE).every((r) => rcode(r) === 3),
    'the garbage names are NXDOMAIN',
  )
  t.deepEqual(of(OVERSIZE).map(rcode), [1, 1], 'oversize names are FORMERR')
  t.true(of(TRAILING).every((r) => r.length <= 512))
  t.true(tunnel.stats().refused >= of(GARBAGE).length)
  t.is(tunnel.stats().sessions, 0)
  t.is((await dig(dns.port, 'www.example.test', 'A')).status, 'NOERROR')
})

test.serial('unknown client ids with junk datagrams, and a flood of new ids, stay within the bounds', async (t) => {
  const codec = new DnsTunnel('t.example.')
  const sock = await raw()
  const next = rng(0x5eed)
  const before = process.memoryUsage().rss
  // 20,000 queries from 5,000 client ids, each carrying junk (not KCP) or nothing.
  const total = 20_000
  const queries = Array.from({ length: total }, (_, i) => {
    const id = `f${(i % 5000).toString(36)}`
    const junk = next() < 0.5 ? undefined : randomBytes(i, 1 + Math.floor(next() * codec.capacity(id.length)))
    return codec.query(i & 0xffff, id, i, junk, 1232)
  })
  await sendPaced(sock, queries)
  sock.close()
  t.true(sock.replies.length > total * 0.9, `${sock.replies.length} answers`)
  t.true(sock.replies.every((r) => rcode(r) === 0), 'every tunnel query is answered NOERROR')
  const stats = tunnel.stats()
  t.true(stats.clients <= MAX_CLIENTS, `${stats.clients} clients`)
  t.true(stats.peers <= MAX_CLIENTS, `${stats.peers} carrier peers`)
  t.is(stats.sessions, 0, 'junk opens no KCP session')
  t.true(process.memoryUsage().rss - before < 64 * 1024 * 1024, 'memory stays bounded')
  // A real client is still served through the tunnel.
  const client = await startTunnelClient({ zone: 't.example.', dns: `127.0.0.1:${dns.port}`, listen: '127.0.0.1:0' })
  const socket = await new Promise<net.Socket>((resolve) => {
    const s = net.connect(client.port, '127.0.0.1', () => resolve(s))
  })
  const payload = randomBytes(9, 16 * 1024)
  const echoed = readExactly(socket, payload.length)
  socket.write(payload)
  t.true((await echoed).equals(payload))
  socket.destroy()
  await client.stop()
})
