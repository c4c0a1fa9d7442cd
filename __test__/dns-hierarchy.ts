/**
 * The local DNS hierarchy of examples/dns/hierarchy, each zone on an examples/dns server on
 * its 127.0.0.x address, all on one port: the root on 127.0.0.2, `test.` on 127.0.0.3,
 * `example.test.` on 127.0.0.4. The resolver tests resolve through it.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { AddressInUseError } from 'riptide'
import { serveDns, type DnsServer } from '../examples/dns/dns-server'

const zone = (file: string) => readFileSync(join(__dirname, '..', 'examples', 'dns', 'hierarchy', file), 'utf8')

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
    const root = await serveDns({ zone: zone('root.zone'), port: 0, host: '127.0.0.2' })
    const started: DnsServer[] = [root]
    try {
      started.push(await serveDns({ zone: zone('test.zone'), port: root.port, host: '127.0.0.3' }))
      started.push(await serveDns({ zone: zone('example.test.zone'), port: root.port, host: '127.0.0.4' }))
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
