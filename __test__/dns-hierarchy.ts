/**
 * A local DNS hierarchy of examples/dns servers on 127.0.0.x, all on one port: the root on
 * 127.0.0.2, `test.` on 127.0.0.3, `example.test.` on 127.0.0.4. The resolver tests resolve
 * through it.
 */
import { AddressInUseError } from 'riptide'
import { serveDns, type DnsServer } from '../examples/dns/dns-server'

export const ROOT_ZONE = `$ORIGIN .
$TTL 3600
@ IN SOA a.root. hostmaster.root. 1 3600 600 86400 60
test. IN NS ns.test.
ns.test. IN A 127.0.0.3
`

export const TEST_ZONE = `$ORIGIN test.
$TTL 3600
@ IN SOA ns hostmaster 1 3600 600 86400 60
@ IN NS ns
ns IN A 127.0.0.3
host IN A 192.0.2.7
example IN NS ns1.example
ns1.example IN A 127.0.0.4
; a delegation to a server that never answers
dead IN NS ns.dead
ns.dead IN A 127.0.0.9
`

/** `example.test.`: A, AAAA, CNAMEs inside and out of the zone, and 30 TXT records (over 1,232 bytes). */
export function exampleZone(): string {
  let z = `$ORIGIN example.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 30
@ IN NS ns1
ns1 IN A 127.0.0.4
www IN A 192.0.2.80
www IN AAAA 2001:db8::80
ftp IN CNAME www
away IN CNAME host.test.
`
  for (let i = 0; i < 30; i++) z += `big IN TXT "${String(i).padStart(2, '0')} the quick brown fox jumps over the lazy dog, again and again"\n`
  return z
}

/** The three servers and their shared port. */
export interface Hierarchy {
  port: number
  root: DnsServer
  tld: DnsServer
  auth: DnsServer
  stop(): Promise<void>
}

/** Starts the hierarchy on a port free on all three addresses. */
export async function startHierarchy(): Promise<Hierarchy> {
  for (let attempt = 1; ; attempt++) {
    const root = await serveDns({ zone: ROOT_ZONE, port: 0, host: '127.0.0.2' })
    const started: DnsServer[] = [root]
    try {
      started.push(await serveDns({ zone: TEST_ZONE, port: root.port, host: '127.0.0.3' }))
      started.push(await serveDns({ zone: exampleZone(), port: root.port, host: '127.0.0.4' }))
      return { port: root.port, root, tld: started[1], auth: started[2], stop: async () => void (await Promise.all(started.map((s) => s.stop()))) }
    } catch (e) {
      await Promise.all(started.map((s) => s.stop()))
      if (!(e instanceof AddressInUseError) || attempt === 10) throw e
    }
  }
}

/** Queries the hierarchy's servers answered so far. */
export function upstreamAnswered(h: Hierarchy): number {
  return h.root.stats.answered + h.tld.stats.answered + h.auth.stats.answered
}
