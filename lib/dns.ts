/**
 * Authoritative DNS answered in Rust (`riptide_dns::Zone`, on hickory-proto): load a zone
 * from RFC 1035 master-file text, then turn each query message into its reply with
 * {@link DnsZone.answer}. It frames nothing itself: mount it on a `udp://` listener
 * (`onDatagram`) and on a `tcp://` one with `codecs.lengthField({ lengthFieldLength: 2 })`,
 * as `examples/dns/server.ts` does. See `docs/dns.md`.
 *
 * @example
 * ```ts
 * const zone = new DnsZone(readFileSync('example.zone', 'utf8'))
 * await serve([`udp://127.0.0.1:5353`, { url: `tcp://127.0.0.1:5353`, codec: codecs.lengthField({ lengthFieldLength: 2, maxFrameLength: 65537 }) }], {
 *   onDatagram(socket, peer, query) { const r = zone.answer(query, 'udp'); if (r) socket.sendTo(peer, r) },
 *   onTraffic(conn, query) { const r = zone.answer(query, 'tcp'); if (r) conn.write(r) },
 * })
 * ```
 */
import { InvalidOptionError, RiptideError } from './errors'
import { native } from './native'
import { int, knownKeys } from './validate'
import type * as Binding from '../binding'

/** A zone file that cannot be served (`ERR_DNS_ZONE`): it does not parse, has no SOA at its origin, or holds a record outside it. */
export class DnsZoneError extends RiptideError {
  constructor(message: string) {
    super('ERR_DNS_ZONE', message)
    this.name = 'DnsZoneError'
  }
}

/** How a {@link DnsZone} reads its file and sizes its UDP answers. */
export interface DnsZoneOptions {
  /** The origin when the file has no `$ORIGIN` before its first relative name (`example.com`). */
  origin?: string
  /**
   * The largest UDP answer to a client that sent EDNS(0), which is also the size this server
   * advertises; clients without EDNS get at most 512 bytes, and larger answers come back with
   * TC set so they retry over TCP. Default `1232` (DNS flag day 2020).
   */
  maxUdpSize?: number
}

/** The transport a query came over: `udp` answers are bounded by 512 bytes or EDNS, `tcp` by 65,535. */
export type DnsTransport = 'udp' | 'tcp'

/**
 * An authoritative zone: SOA, NS, A, AAAA, CNAME, MX, TXT (and the other types hickory's
 * master-file parser reads), with wildcards and delegations. Answers carry AA; names outside
 * the zone get REFUSED, missing ones NXDOMAIN with the SOA, messages that do not decode a
 * FORMERR header. `$INCLUDE` is refused.
 */
export class DnsZone {
  readonly #native: Binding.NativeDnsZone
  /** Where Rust writes each reply (the largest DNS message fits); copied out by {@link answer}. */
  readonly #scratch = new Uint8Array(65535)

  /**
   * Parses master-file `text`.
   * @throws {DnsZoneError} `ERR_DNS_ZONE` for a zone that cannot be served.
   * @throws {InvalidOptionError} `ERR_INVALID_ARG_VALUE` for text that is not a string or a bad option.
   */
  constructor(text: string, options: DnsZoneOptions = {}) {
    knownKeys('DnsZone options', options, ['origin', 'maxUdpSize'])
    if (typeof text !== 'string') throw new InvalidOptionError('a zone is master-file text (a string)')
    if (options.origin !== undefined && typeof options.origin !== 'string') throw new InvalidOptionError('DnsZone origin must be a string')
    const maxUdpSize = int('DnsZone maxUdpSize', options.maxUdpSize ?? 1232, 512, 65535)
    try {
      this.#native = new native.NativeDnsZone(text, options.origin, maxUdpSize)
    } catch (e) {
      throw new DnsZoneError(e instanceof Error ? e.message : String(e))
    }
  }

  /** The zone's origin, fully qualified (`example.com.`). */
  get origin(): string {
    return this.#native.origin
  }

  /** How many records the zone holds. */
  get recordCount(): number {
    return this.#native.recordCount
  }

  /**
   * The reply to one query message (a UDP datagram, or a TCP frame without its 2-byte length
   * prefix), or `null` when it must be dropped: shorter than a DNS header, or itself a
   * response. Never throws for what a peer sends.
   * @throws {InvalidOptionError} `ERR_INVALID_ARG_VALUE` for a query that is not bytes, or a transport other than `udp` or `tcp`.
   */
  answer(query: Uint8Array, transport: DnsTransport): Uint8Array | null {
    const n = this.#native.answerInto(dnsMessage(query), isTcp(transport), this.#scratch)
    return n === 0 ? null : this.#scratch.slice(0, n)
  }
}

/** `message` if it is bytes; else throws `ERR_INVALID_ARG_VALUE`. Not exported from the package. */
export function dnsMessage(message: Uint8Array): Uint8Array {
  if (!(message instanceof Uint8Array)) throw new InvalidOptionError('a DNS message must be a Uint8Array')
  return message
}

/** Whether `transport` is `tcp`; throws `ERR_INVALID_ARG_VALUE` unless it is `udp` or `tcp`. Not exported from the package. */
export function isTcp(transport: DnsTransport): boolean {
  if (transport !== 'udp' && transport !== 'tcp') throw new InvalidOptionError(`transport must be 'udp' or 'tcp', got ${String(transport)}`)
  return transport === 'tcp'
}
