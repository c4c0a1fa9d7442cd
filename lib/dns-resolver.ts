/**
 * An iterative DNS resolver in Rust (`riptide_dns::Resolver`, on hickory-proto), sans-IO:
 * it takes clients' query messages, upstream responses and timeouts, and says what to send
 * where and when; the caller owns the sockets and the timer. `examples/dns/` runs it as a
 * recursive server on one engine's UDP socket. See `docs/dns.md`.
 *
 * @example
 * ```ts
 * const resolver = new DnsResolver({ roots: ['198.41.0.4:53'] })
 * const id = resolver.query(queryBytes, 'udp') // then pump: pollTransmit, pollResolved, pollTimeout
 * ```
 */
import { checkInetPeer, inetAddr, type InetAddr, type PeerAddr } from './address'
import { dnsMessage, isTcp, type DnsTransport } from './dns'
import { fromNative, InvalidOptionError } from './errors'
import { native } from './native'
import { int, knownKeys, ms } from './validate'
import type * as Binding from '../binding'

/**
 * A {@link DnsResolver}'s root hints and bounds. Every bound has a default; ranges are
 * checked when the resolver is made (`ERR_INVALID_ARG_VALUE` naming the option).
 */
export interface DnsResolverOptions {
  /** Root hints, `ip:port` (`[::1]:53` for IPv6): 1 to 64 servers every lookup can start from. */
  roots: string[]
  /** Port of servers learned from referrals (53; a local hierarchy on a test port uses its own). Default `53`. */
  port?: number
  /** Ms one query waits for its answer before it is sent again or the next server is asked. Default `1000`; 1 to 60,000. */
  timeout?: number
  /** Queries sent to one server for one question before the next is asked (1: no retry). Default `2`; 1 to 10. */
  attempts?: number
  /** Ms a lookup may take in all; then SERVFAIL. Default `10000`; `timeout` to 600,000. */
  lookupTimeout?: number
  /** Queries one lookup may send (retries and NS-name lookups included); then SERVFAIL. Default `32`; 1 to 1,000. */
  maxQueries?: number
  /** Referrals one lookup may follow; then SERVFAIL. Default `16`; 1 to 64. */
  maxReferrals?: number
  /** CNAME links one lookup may follow; then SERVFAIL. Default `8`; 0 to 32. */
  maxCnameDepth?: number
  /** How deep lookups of glueless servers' names may nest. Default `2`; 0 to 8. */
  maxNsDepth?: number
  /** Lookups in flight at once; queries beyond get SERVFAIL at once. Default `1024`; 1 to 1,000,000. */
  maxLookups?: number
  /** Bytes the cache may hold (records in wire format plus overheads; least recently used go first); `0` turns it off. Default 4 MiB. */
  maxCacheBytes?: number
  /** Longest a record is cached, in seconds (TTLs handed to clients are capped too). Default `86400`. */
  maxTtl?: number
  /** Longest a negative answer is cached, in seconds. Default `3600`. */
  maxNegativeTtl?: number
  /** EDNS size advertised upstream, and the largest UDP reply to an EDNS client. Default `1232`; 512 to 65,535. */
  maxUdpSize?: number
}

/** A query to send upstream: over UDP, or over TCP (2-byte length prefix) after a truncated UDP answer. */
export interface DnsTransmit {
  /** The server. */
  to: InetAddr
  /** `udp`, or `tcp` (frame the message with its 2-byte length). */
  transport: DnsTransport
  /** The query message. */
  message: Uint8Array
}

/** A finished lookup: the id {@link DnsResolver.query} returned, the DNS RCODE, and the reply for the client. */
export interface DnsResolved {
  /** The id {@link DnsResolver.query} returned. */
  lookup: number
  /** 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, 1 FORMERR, 4 NOTIMP, 16 BADVERS. */
  responseCode: number
  /** The client's reply, sized for its transport (TC set when it does not fit); null only when it could not be encoded. */
  reply: Uint8Array | null
}

/** A {@link DnsResolver}'s counters since it was made, and what it holds now. */
export interface DnsResolverStats {
  /** Lookups answered from the cache alone, without a query. */
  cacheHits: number
  /** Lookups that sent at least one query. */
  cacheMisses: number
  /** Queries sent upstream (retries and TCP included). */
  queriesSent: number
  /** Of those, over TCP. */
  tcpQueries: number
  /** Queries that got no answer in time. */
  timeouts: number
  /** Responses ignored: wrong id or source, another transport, undecodable, or not for the question asked. */
  ignoredResponses: number
  /** Responses with nothing usable (error code, a referral that does not lead down...): the next server was asked. */
  lameResponses: number
  /** Lookups that ended in SERVFAIL. */
  servfails: number
  /** Lookups in flight now. */
  lookups: number
  /** Cache entries now. */
  cacheEntries: number
  /** Bytes the cache entries cost now (at most `maxCacheBytes`). */
  cacheBytes: number
}

const OPTION_KEYS = [
  'roots',
  'port',
  'timeout',
  'attempts',
  'lookupTimeout',
  'maxQueries',
  'maxReferrals',
  'maxCnameDepth',
  'maxNsDepth',
  'maxLookups',
  'maxCacheBytes',
  'maxTtl',
  'maxNegativeTtl',
  'maxUdpSize',
] as const satisfies readonly (keyof DnsResolverOptions)[]

/** The integer options, checked here as integers the binding can carry; Rust checks their ranges. */
const INT_KEYS = ['port', 'attempts', 'maxQueries', 'maxReferrals', 'maxCnameDepth', 'maxNsDepth', 'maxLookups', 'maxTtl', 'maxNegativeTtl', 'maxUdpSize'] as const

/**
 * An iterative resolver: from the root hints it follows referrals (NS records, glue inside
 * the referring server's bailiwick, glueless servers looked up by name) and CNAME chains, and
 * caches answers by TTL and negative answers by the SOA, within its bounds. It does no I/O:
 * after each call, send what {@link DnsResolver.pollTransmit} gives, deliver what {@link DnsResolver.pollResolved}
 * gives, and arm a timer for {@link DnsResolver.pollTimeout} that calls {@link DnsResolver.handleTimeout}. Time comes
 * from the process's monotonic clock.
 */
export class DnsResolver {
  readonly #native: Binding.NativeDnsResolver

  /**
   * @throws {InvalidOptionError} `ERR_INVALID_ARG_VALUE` for an unknown key, a root that is not `ip:port`, or a bound out of range.
   */
  constructor(options: DnsResolverOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('DnsResolver options must be an object')
    knownKeys('DnsResolver options', options, OPTION_KEYS)
    const { roots } = options
    if (!Array.isArray(roots) || roots.some((r) => typeof r !== 'string')) throw new InvalidOptionError('DnsResolver roots must be an array of ip:port strings')
    const config: Binding.NativeResolverConfig = { roots }
    for (const key of INT_KEYS) {
      const v = options[key]
      if (v !== undefined) config[key] = int(`DnsResolver ${key}`, v, 0, 2 ** 32 - 1)
    }
    if (options.timeout !== undefined) config.timeout = ms('DnsResolver timeout', options.timeout)
    if (options.lookupTimeout !== undefined) config.lookupTimeout = ms('DnsResolver lookupTimeout', options.lookupTimeout)
    if (options.maxCacheBytes !== undefined) config.maxCacheBytes = int('DnsResolver maxCacheBytes', options.maxCacheBytes, 0, Number.MAX_SAFE_INTEGER)
    try {
      this.#native = new native.NativeDnsResolver(config)
    } catch (e) {
      throw fromNative(e)
    }
  }

  /**
   * Takes a client's query message (a UDP datagram, or a TCP frame without its length
   * prefix): its lookup id, whose {@link DnsResolved} carries the reply, or `null` to drop it
   * (shorter than a header, or a response). Cache hits, FORMERR, and REFUSED (no RD, a class
   * other than IN, ANY, AXFR, IXFR) are resolved at once: poll right after.
   * @throws {InvalidOptionError} for a message that is not bytes or a transport other than `udp` or `tcp`.
   */
  query(message: Uint8Array, transport: DnsTransport): number | null {
    return this.#native.query(dnsMessage(message), isTcp(transport))
  }

  /**
   * Takes a response from the server `from` (a UDP datagram, or a TCP frame without its
   * prefix). One that answers no query waiting on `from` over `transport` is ignored.
   * @throws {InvalidAddressError} for a `from` that is not an IP endpoint.
   */
  handleResponse(from: PeerAddr, transport: DnsTransport, message: Uint8Array): void {
    const peer = checkInetPeer('handleResponse from', from)
    this.#native.handleResponse(peer.address, peer.port, isTcp(transport), dnsMessage(message))
  }

  /** Runs what is due: queries not answered in time go again or to the next server; lookups past `lookupTimeout` end in SERVFAIL. */
  handleTimeout(): void {
    this.#native.handleTimeout()
  }

  /** The next query to send, or `null`. */
  pollTransmit(): DnsTransmit | null {
    const t = this.#native.pollTransmit()
    return t === null || t === undefined ? null : { to: inetAddr(t.address, t.port), transport: t.tcp ? 'tcp' : 'udp', message: t.message }
  }

  /** The next finished lookup, or `null`. */
  pollResolved(): DnsResolved | null {
    const r = this.#native.pollResolved()
    return r === null || r === undefined ? null : { lookup: r.lookup, responseCode: r.responseCode, reply: r.reply ?? null }
  }

  /** Ms until {@link DnsResolver.handleTimeout} must run (0 when due), or `null` while no lookup waits. */
  pollTimeout(): number | null {
    return this.#native.pollTimeout() ?? null
  }

  /** Counters, lookups in flight and the cache's size. */
  stats(): DnsResolverStats {
    return this.#native.stats()
  }
}
