import test from 'ava'
import { DnsResolver, InvalidAddressError, InvalidOptionError } from 'riptide'
import { serveDns, type DnsServer } from '../examples/dns/dns-server'
import { dig } from './dig'
import { startHierarchy, upstreamAnswered, type Hierarchy } from './dns-hierarchy'

// examples/dns --resolve on 127.0.0.1, iterating through a local hierarchy of examples/dns
// servers (root 127.0.0.2, test. 127.0.0.3, example.test. 127.0.0.4), asked by dig.
let h: Hierarchy
let resolver: DnsServer

test.before(async () => {
  h = await startHierarchy()
  // Short timeouts so the dead-server case ends well within dig's 3 s.
  resolver = await serveDns({ resolve: { roots: [`127.0.0.2:${h.port}`], port: h.port, timeout: 300, attempts: 2 }, port: 0 })
})
test.after.always(async () => {
  await resolver?.stop()
  await h?.stop()
})

const stats = () => resolver.resolver!.stats()

test.serial('A through root, TLD and authoritative server, then from the cache', async (t) => {
  const before = stats()
  const a = await dig(resolver.port, 'www.example.test', 'A')
  t.is(a.status, 'NOERROR')
  t.true(a.flags.includes('ra') && a.flags.includes('rd') && !a.flags.includes('aa'), a.flags.join(' '))
  t.deepEqual(a.answers, ['www.example.test. 300 IN A 192.0.2.80'])
  const after = stats()
  t.is(after.cacheMisses - before.cacheMisses, 1)
  t.is(after.queriesSent - before.queriesSent, 3, 'root, test., example.test.')
  t.is(h.root.stats.answered + h.tld.stats.answered + h.auth.stats.answered, 3)

  // Again: the cache answers; no server of the hierarchy is asked.
  const upstream = upstreamAnswered(h)
  const again = await dig(resolver.port, 'www.example.test', 'A')
  t.is(again.answers.length, 1)
  t.regex(again.answers[0], /^www\.example\.test\. (300|299|298) IN A 192\.0\.2\.80$/)
  t.is(stats().cacheHits - after.cacheHits, 1)
  t.is(stats().queriesSent, after.queriesSent)
  t.is(upstreamAnswered(h), upstream)
})

test.serial('AAAA, a CNAME inside the zone, a CNAME to another zone; over UDP and TCP', async (t) => {
  for (const via of [[], ['+tcp']]) {
    const aaaa = await dig(resolver.port, ...via, 'www.example.test', 'AAAA')
    t.is(aaaa.answers.length, 1)
    t.regex(aaaa.answers[0], /^www\.example\.test\. \d+ IN AAAA 2001:db8::80$/)
    const ftp = await dig(resolver.port, ...via, 'ftp.example.test', 'A')
    t.deepEqual(
      ftp.answers.map((l) => l.replace(/ \d+ IN /, ' IN ')),
      ['ftp.example.test. IN CNAME www.example.test.', 'www.example.test. IN A 192.0.2.80'],
    )
    const away = await dig(resolver.port, ...via, 'away.example.test', 'A')
    t.deepEqual(
      away.answers.map((l) => l.replace(/ \d+ IN /, ' IN ')),
      ['away.example.test. IN CNAME host.test.', 'host.test. IN A 192.0.2.7'],
    )
  }
})

test.serial('NXDOMAIN with the SOA, cached for its MINIMUM', async (t) => {
  const nx = await dig(resolver.port, 'nope.example.test', 'A')
  t.is(nx.status, 'NXDOMAIN')
  t.regex(nx.out, /AUTHORITY SECTION:\nexample\.test\.\s+30\s+IN\s+SOA\s+ns1\.example\.test\./)
  const upstream = upstreamAnswered(h)
  const hits = stats().cacheHits
  t.is((await dig(resolver.port, 'nope.example.test', 'AAAA')).status, 'NXDOMAIN')
  t.is(stats().cacheHits, hits + 1)
  t.is(upstreamAnswered(h), upstream)
})

test.serial('an answer over 1,232 bytes: TC upstream, the resolver asks again over TCP', async (t) => {
  const tcpBefore = stats().tcpQueries
  const big = await dig(resolver.port, '+tcp', 'big.example.test', 'TXT')
  t.is(big.status, 'NOERROR')
  t.is(big.answers.length, 30)
  t.is(stats().tcpQueries - tcpBefore, 1)
  // A UDP client without EDNS gets TC from the resolver (from its cache) and retries over TCP.
  const udp = await dig(resolver.port, '+noedns', 'big.example.test', 'TXT')
  t.regex(udp.out, /Truncated, retrying in TCP mode/)
  t.is(udp.answers.length, 30)
  t.is(stats().tcpQueries - tcpBefore, 1, 'both from the cache')
})

test.serial('a dead server is retried, then the lookup ends in SERVFAIL', async (t) => {
  const before = stats()
  const dead = await dig(resolver.port, 'host.dead.test', 'A')
  t.is(dead.status, 'SERVFAIL')
  const after = stats()
  t.is(after.timeouts - before.timeouts, 2, 'attempts: 2')
  t.is(after.servfails - before.servfails, 1)
  t.is(after.lookups, 0)
  // And it goes on answering.
  t.is((await dig(resolver.port, 'www.example.test', 'A')).status, 'NOERROR')
})

test.serial('queries it does not resolve: no RD, ANY, AXFR', async (t) => {
  t.is((await dig(resolver.port, '+norecurse', 'www.example.test', 'A')).status, 'REFUSED')
  t.is((await dig(resolver.port, 'example.test', 'ANY')).status, 'REFUSED')
  t.is((await dig(resolver.port, '+tcp', 'example.test', 'AXFR')).out.includes('Transfer failed'), true)
})

test('DnsResolver checks its options and arguments', (t) => {
  t.throws(() => new DnsResolver({ roots: [] }), { instanceOf: InvalidOptionError, message: /roots must name 1 to 64 servers/ })
  t.throws(() => new DnsResolver({ roots: ['example.com:53'] }), { instanceOf: InvalidOptionError, message: /not an ip:port/ })
  t.throws(() => new DnsResolver({ roots: ['127.0.0.1:53'], attempts: 0 }), { instanceOf: InvalidOptionError, message: /attempts must be in \[1, 10\]/ })
  t.throws(() => new DnsResolver({ roots: ['127.0.0.1:53'], attempts: 300 }), { instanceOf: InvalidOptionError, message: /attempts is out of range/ })
  t.throws(() => new DnsResolver({ roots: ['127.0.0.1:53'], timeout: Infinity }), { instanceOf: InvalidOptionError })
  t.throws(() => new DnsResolver({ roots: ['127.0.0.1:53'], maxQueries: 1.5 }), { instanceOf: InvalidOptionError })
  t.throws(() => new DnsResolver({ roots: ['127.0.0.1:53'], maxQueris: 3 } as never), { instanceOf: InvalidOptionError, message: /did you mean 'maxQueries'/ })
  const r = new DnsResolver({ roots: ['127.0.0.1:53'] })
  t.is(r.query(new Uint8Array(11), 'udp'), null)
  t.is(r.pollTimeout(), null)
  t.throws(() => r.query(new Uint8Array(12), 'quic' as never), { instanceOf: InvalidOptionError })
  t.throws(() => r.handleResponse({ family: 'unix', path: '/x' }, 'udp', new Uint8Array(12)), { instanceOf: InvalidAddressError })
  // A query it resolves: the first query goes to the root hint.
  const q = Buffer.from('\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x00\x00\x01\x00\x01', 'latin1')
  const id = r.query(q, 'udp')
  t.is(typeof id, 'number')
  const sent = r.pollTransmit()
  t.deepEqual(sent?.to, { family: 'IPv4', address: '127.0.0.1', port: 53 })
  t.is(sent?.transport, 'udp')
  t.true(typeof r.pollTimeout() === 'number')
  t.is(r.stats().lookups, 1)
})
