import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DnsZone, DnsZoneError, InvalidOptionError } from 'riptide'
import { serveDns, type DnsServer } from '../examples/dns/dns-server'
import { dig } from './dig'

// examples/dns on its sample zone, queried by dig over UDP and TCP.
const zone = readFileSync(join(__dirname, '..', 'examples', 'dns', 'example.zone'), 'utf8')
let server: DnsServer

test.before(async () => {
  server = await serveDns({ zone, port: 0 })
})
test.after.always(async () => {
  await server?.engine.stop()
})

for (const transport of ['udp', 'tcp'] as const) {
  const via = transport === 'tcp' ? ['+tcp'] : []

  test.serial(`${transport}: A, AAAA, MX and TXT come back authoritative`, async (t) => {
    const a = await dig(server.port, ...via, 'www.example.test', 'A')
    t.is(a.status, 'NOERROR')
    t.true(a.flags.includes('aa'))
    t.deepEqual(a.answers, ['www.example.test. 3600 IN A 192.0.2.80'])
    const aaaa = await dig(server.port, ...via, 'www.example.test', 'AAAA')
    t.deepEqual(aaaa.answers, ['www.example.test. 3600 IN AAAA 2001:db8::80'])
    const mx = await dig(server.port, ...via, 'example.test', 'MX')
    t.deepEqual(mx.answers.sort(), ['example.test. 3600 IN MX 10 mail.example.test.', 'example.test. 3600 IN MX 20 mail2.example.test.'])
    t.regex(mx.out, /mail\.example\.test\.\s+3600\s+IN\s+A\s+192\.0\.2\.25/, 'the exchanges ride in the additional section')
    const txt = await dig(server.port, ...via, 'example.test', 'TXT')
    t.deepEqual(txt.answers, ['example.test. 3600 IN TXT "v=spf1 mx -all"'])
  })

  test.serial(`${transport}: a missing name is NXDOMAIN with the SOA, a foreign one REFUSED`, async (t) => {
    const nx = await dig(server.port, ...via, 'nope.example.test', 'A')
    t.is(nx.status, 'NXDOMAIN')
    t.true(nx.flags.includes('aa'))
    t.regex(nx.out, /AUTHORITY SECTION:\nexample\.test\.\s+300\s+IN\s+SOA\s+ns1\.example\.test\./)
    const refused = await dig(server.port, ...via, 'example.org', 'A')
    t.is(refused.status, 'REFUSED')
  })
}

test.serial('CNAME, wildcard and delegation answers', async (t) => {
  const cname = await dig(server.port, 'ftp.example.test', 'A')
  t.deepEqual(cname.answers, ['ftp.example.test. 3600 IN CNAME www.example.test.', 'www.example.test. 3600 IN A 192.0.2.80'])
  const wild = await dig(server.port, 'anything.apps.example.test', 'A')
  t.deepEqual(wild.answers, ['anything.apps.example.test. 3600 IN A 192.0.2.99'])
  const referral = await dig(server.port, 'host.lab.example.test', 'A')
  t.is(referral.status, 'NOERROR')
  t.false(referral.flags.includes('aa'))
  t.regex(referral.out, /AUTHORITY SECTION:\nlab\.example\.test\.\s+3600\s+IN\s+NS\s+ns\.lab\.example\.test\./)
})

test.serial('over 512 bytes without EDNS sets TC; dig +ignore keeps it, plain dig retries over TCP', async (t) => {
  const truncated = await dig(server.port, '+noedns', '+ignore', 'big.example.test', 'TXT')
  t.true(truncated.flags.includes('tc'))
  t.deepEqual(truncated.answers, [])
  const retried = await dig(server.port, '+noedns', 'big.example.test', 'TXT')
  t.regex(retried.out, /Truncated, retrying in TCP mode/)
  t.false(retried.flags.includes('tc'))
  t.is(retried.answers.length, 12)
  const tcp = await dig(server.port, '+noedns', '+tcp', 'big.example.test', 'TXT')
  t.is(tcp.answers.length, 12)
})

test.serial('EDNS with +bufsize=4096 gets the whole answer in one datagram', async (t) => {
  const r = await dig(server.port, '+bufsize=4096', '+ignore', 'big.example.test', 'TXT')
  t.false(r.flags.includes('tc'))
  t.is(r.answers.length, 12)
  t.regex(r.out, /EDNS: version: 0, flags:; udp: 1232/, 'the server advertises its own size')
  const size = Number(/MSG SIZE\s+rcvd: (\d+)/.exec(r.out)?.[1])
  t.true(size > 512 && size <= 1232, `a ${size}-byte datagram`)
  t.is(server.stats.dropped, 0)
})

test('DnsZone refuses zones it cannot serve and options it does not know', (t) => {
  t.throws(() => new DnsZone('www 60 IN A 192.0.2.1\n', { origin: 'x.test' }), { instanceOf: DnsZoneError, message: /no SOA/ })
  t.throws(() => new DnsZone('$ORIGIN x.test.\n@ IN SOA broken\n'), { instanceOf: DnsZoneError, code: 'ERR_DNS_ZONE' })
  t.throws(() => new DnsZone(zone, { maxUdpSize: 511 }), { instanceOf: InvalidOptionError })
  t.throws(() => new DnsZone(zone, { maxUdpsize: 4096 } as never), { instanceOf: InvalidOptionError, message: /did you mean 'maxUdpSize'/ })
  const z = new DnsZone(zone)
  t.is(z.origin, 'example.test.')
  t.is(z.answer(new Uint8Array(11), 'udp'), null)
  t.throws(() => z.answer(new Uint8Array(12), 'quic' as never), { instanceOf: InvalidOptionError })
  t.throws(() => z.answer('www' as never, 'udp'), { instanceOf: InvalidOptionError })
})
