import test from 'ava'
import dgram from 'node:dgram'
import { serveDns, type DnsServer } from '../../examples/dns/dns-server'
import { dig } from '../dig'

// examples/dns --resolve whose only root hint is a malicious server: a raw UDP socket in this
// test on 127.0.0.5, answering with referral loops, glue outside its bailiwick, wrong ids,
// endless CNAMEs and huge TTLs. The resolver must stay bounded, answer SERVFAIL, and go on
// serving. A second socket on 127.0.0.6 is where the out-of-bailiwick glue points: it must
// never be asked.

/** A record: owner, type, TTL and rdata (names in rdata uncompressed). */
interface Rr {
  name: string
  type: number
  ttl: number
  data: Buffer
}
const A = 1
const NS = 2
const CNAME = 5
const SOA = 6

function encodeName(n: string): Buffer {
  const labels = n.split('.').filter((l) => l !== '')
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])])
}

function ipv4(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number))
}

function soa(zone: string): Rr {
  const fixed = Buffer.alloc(20)
  fixed.writeUInt32BE(1, 0) // serial
  fixed.writeUInt32BE(60, 16) // minimum
  return { name: zone, type: SOA, ttl: 60, data: Buffer.concat([encodeName(`ns.${zone}`), encodeName(`hostmaster.${zone}`), fixed]) }
}

function encodeRr(r: Rr): Buffer {
  const fixed = Buffer.alloc(10)
  fixed.writeUInt16BE(r.type, 0)
  fixed.writeUInt16BE(1, 2) // IN
  fixed.writeUInt32BE(r.ttl >>> 0, 4)
  fixed.writeUInt16BE(r.data.length, 8)
  return Buffer.concat([encodeName(r.name), fixed, r.data])
}

/** The name asked in a query (uncompressed, as the resolver sends it) and where its question ends. */
function question(q: Buffer): { name: string; end: number } {
  const labels: string[] = []
  let at = 12
  while (q[at] !== 0) {
    labels.push(q.subarray(at + 1, at + 1 + q[at]).toString('latin1'))
    at += 1 + q[at]
  }
  return { name: labels.join('.').toLowerCase() + '.', end: at + 5 }
}

interface Reply {
  id?: number
  aa?: boolean
  rcode?: number
  answers?: Rr[]
  authority?: Rr[]
  additional?: Rr[]
}

function response(q: Buffer, r: Reply): Buffer {
  const h = Buffer.alloc(12)
  h.writeUInt16BE(r.id ?? q.readUInt16BE(0), 0)
  h.writeUInt16BE(0x8000 | (r.aa ? 0x0400 : 0) | (r.rcode ?? 0), 2)
  h.writeUInt16BE(1, 4)
  h.writeUInt16BE(r.answers?.length ?? 0, 6)
  h.writeUInt16BE(r.authority?.length ?? 0, 8)
  h.writeUInt16BE(r.additional?.length ?? 0, 10)
  const { end } = question(q)
  return Buffer.concat([h, q.subarray(12, end), ...[...(r.answers ?? []), ...(r.authority ?? []), ...(r.additional ?? [])].map(encodeRr)])
}

/** What the malicious server answers, by the zone of the name asked. */
function evil(q: Buffer, send: (m: Buffer) => void): void {
  const { name } = question(q)
  const ns = (owner: string, target: string): Rr => ({ name: owner, type: NS, ttl: 3600, data: encodeName(target) })
  const a = (owner: string, ip: string, ttl = 3600): Rr => ({ name: owner, type: A, ttl, data: ipv4(ip) })
  if (name.endsWith('loop.')) {
    // Always the same referral, to loop. on itself: the second time it does not lead down.
    return send(response(q, { authority: [ns('loop.', 'ns.loop.')], additional: [a('ns.loop.', '127.0.0.5')] }))
  }
  if (name.endsWith('oob.')) {
    // The root's referral to oob. is fine; oob.'s own referral names ns.elsewhere. with
    // "glue" outside oob., pointing at 127.0.0.6.
    if (name === 'x.oob.' && oobAsked++ % 2 === 1) {
      return send(response(q, { authority: [ns('x.oob.', 'ns.elsewhere.')], additional: [a('ns.elsewhere.', '127.0.0.6')] }))
    }
    return send(response(q, { authority: [ns('oob.', 'ns.oob.')], additional: [a('ns.oob.', '127.0.0.5')] }))
  }
  if (name.endsWith('elsewhere.')) return send(response(q, { aa: true, rcode: 3, authority: [soa('elsewhere.')] }))
  if (name.endsWith('cname.')) {
    // Every name is an alias of one a label longer.
    return send(response(q, { aa: true, answers: [{ name, type: CNAME, ttl: 3600, data: encodeName(`x.${name}`) }] }))
  }
  if (name.endsWith('spoof.')) {
    // Wrong id, wrong question, from the wrong port; then the real answer.
    send(response(q, { id: q.readUInt16BE(0) ^ 0x5555, aa: true, answers: [a(name, '6.6.6.6')] }))
    const other = Buffer.from(q)
    other[13] ^= 0x01 // another letter in the question's first label ('w' to 'v')
    send(response(other, { aa: true, answers: [a(name, '6.6.6.6')] }))
    stranger.send(response(q, { aa: true, answers: [a(name, '6.6.6.6')] }), resolver.port, '127.0.0.1')
    return send(response(q, { aa: true, answers: [a(name, '192.0.2.44')] }))
  }
  if (name === 'huge.ttl.') return send(response(q, { aa: true, answers: [a(name, '192.0.2.1', 2 ** 32 - 1)] }))
  if (name === 'max.ttl.') return send(response(q, { aa: true, answers: [a(name, '192.0.2.2', 2 ** 31 - 1)] }))
  if (name === 'ok.') return send(response(q, { aa: true, answers: [a(name, '192.0.2.3', 60)] }))
  if (name.endsWith('deep.')) {
    // A referral one label further down the name asked each time, with glue to itself.
    const labels = name.split('.').filter((l) => l !== '')
    const child = labels.slice(Math.max(0, labels.length - 1 - deepAsked++)).join('.') + '.'
    return send(response(q, { authority: [ns(child, 'ns.deep.')], additional: [a('ns.deep.', '127.0.0.5')] }))
  }
  send(response(q, { rcode: 5 })) // REFUSED
}

let oobAsked = 0
let deepAsked = 0
let server: dgram.Socket
let stranger: dgram.Socket
let elsewhere: dgram.Socket
let elsewhereAsked = 0
let resolver: DnsServer

function bind(address: string, port = 0): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4')
    s.once('error', reject)
    s.bind(port, address, () => resolve(s))
  })
}

test.before(async () => {
  server = await bind('127.0.0.5')
  const port = server.address().port
  elsewhere = await bind('127.0.0.6', port)
  elsewhere.on('message', () => elsewhereAsked++)
  stranger = await bind('127.0.0.5')
  server.on('message', (q, from) => evil(q, (m) => server.send(m, from.port, from.address)))
  resolver = await serveDns({ resolve: { roots: [`127.0.0.5:${port}`], port, timeout: 200, attempts: 2, maxCacheBytes: 64 * 1024 }, port: 0 })
})
test.after.always(async () => {
  await resolver?.stop()
  for (const s of [server, stranger, elsewhere]) s?.close()
})

const stats = () => resolver.resolver!.stats()

test.serial('a referral loop: lame, then SERVFAIL', async (t) => {
  const before = stats()
  t.is((await dig(resolver.port, 'www.loop', 'A')).status, 'SERVFAIL')
  t.true(stats().lameResponses > before.lameResponses)
})

test.serial('referrals one label deeper each time stop at maxReferrals', async (t) => {
  const before = stats()
  const name = Array.from({ length: 24 }, (_, i) => `l${i}`).join('.') + '.deep'
  t.is((await dig(resolver.port, name, 'A')).status, 'SERVFAIL')
  t.is(stats().queriesSent - before.queriesSent, 17, 'maxReferrals (16) + 1 queries')
})

test.serial('glue outside the bailiwick is never used', async (t) => {
  t.is((await dig(resolver.port, 'x.oob', 'A')).status, 'SERVFAIL')
  t.is(elsewhereAsked, 0)
})

test.serial('endless CNAMEs stop at maxCnameDepth', async (t) => {
  const before = stats()
  t.is((await dig(resolver.port, 'a.cname', 'A')).status, 'SERVFAIL')
  t.is(stats().queriesSent - before.queriesSent, 9, 'one per link, 8 links, then the limit')
})

test.serial('wrong ids, questions and sources are ignored; the real answer counts', async (t) => {
  const before = stats()
  const r = await dig(resolver.port, 'www.spoof', 'A')
  t.deepEqual(r.answers, ['www.spoof. 3600 IN A 192.0.2.44'])
  t.is(stats().ignoredResponses - before.ignoredResponses, 3)
})

test.serial('TTLs: 2^32-1 counts as 0 (not cached), 2^31-1 is capped at maxTtl', async (t) => {
  t.deepEqual((await dig(resolver.port, 'huge.ttl', 'A')).answers, ['huge.ttl. 0 IN A 192.0.2.1'])
  t.deepEqual((await dig(resolver.port, 'max.ttl', 'A')).answers, ['max.ttl. 86400 IN A 192.0.2.2'])
  const hits = stats().cacheHits
  await dig(resolver.port, 'huge.ttl', 'A')
  t.is(stats().cacheHits, hits)
  await dig(resolver.port, 'max.ttl', 'A')
  t.is(stats().cacheHits, hits + 1)
})

test.serial('after all that: nothing in flight, the cache within its bytes, and still serving', async (t) => {
  t.deepEqual((await dig(resolver.port, 'ok', 'A')).answers, ['ok. 60 IN A 192.0.2.3'])
  const s = stats()
  t.is(s.lookups, 0)
  t.true(s.cacheBytes <= 64 * 1024)
})
