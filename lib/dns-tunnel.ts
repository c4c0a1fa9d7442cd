/**
 * Datagrams carried inside DNS (`riptide_dns::tunnel`, in Rust): upstream in the names of TXT
 * queries under a tunnel zone (base32 labels, names of at most 253 characters, a client id
 * and a nonce label), downstream in the TXT records of the answers. A {@link DatagramCarrier}
 * on each side turns that into a KCP session: `examples/dns-tunnel/`. See `docs/dns.md`.
 */
import { InvalidOptionError, fromNative } from './errors'
import type { DnsTransport } from './dns'
import { native } from './native'
import { int, knownKeys } from './validate'
import type * as Binding from '../binding'

/** How a {@link DnsTunnel} sizes its UDP answers. */
export interface DnsTunnelOptions {
  /** The largest UDP answer to a query with EDNS(0) (512…65535); without EDNS answers fit 512 bytes. Default `1232`. */
  maxUdpSize?: number
}

/** The datagrams of an answer a tunnel client read. */
export interface DnsTunnelAnswer {
  /** The message id (its query's). */
  id: number
  /** The datagrams, in the answer's order. */
  datagrams: Uint8Array[]
}

/** An answer to a tunnel query, and how many of the offered datagrams it carries. */
export interface DnsTunnelReply {
  /** The answer message. */
  reply: Uint8Array
  /** How many datagrams, from the first, it carries (the rest stay for the next query). */
  taken: number
}

/** A query that is not for the tunnel zone: answer it from the ordinary zones. */
export interface DnsTunnelOther {
  /** `other`. */
  kind: 'other'
}

/** A query under the tunnel zone that is not a tunnel query: send `reply`. */
export interface DnsTunnelRefused {
  /** `refused`. */
  kind: 'refused'
  /** NXDOMAIN for a name that does not decode, REFUSED for a type other than TXT. */
  reply: Uint8Array
}

/** A tunnel query a server read: hand its datagram to the carrier, then {@link answer} it. */
export interface DnsTunnelQuery {
  /** `query`. */
  kind: 'query'
  /** The client id, in lower case (the carrier's peer name). */
  client: string
  /** The query's nonce. */
  nonce: number
  /** The datagram it carried (empty for a poll). */
  datagram: Uint8Array
  /**
   * The answer carrying the first of `datagrams` that fit the query's transport (in order,
   * stopping at the first that does not), and how many it took.
   */
  answer(datagrams: readonly Uint8Array[]): DnsTunnelReply
}

/** What a query message is to a tunnel server (by `kind`). */
export type DnsTunnelRead = DnsTunnelOther | DnsTunnelRefused | DnsTunnelQuery

/**
 * A tunnel zone, for both ends: clients build queries ({@link query}) and read answers
 * ({@link readAnswer}); servers read queries ({@link read}) and answer them. Sans-IO: it
 * sends nothing itself.
 */
export class DnsTunnel {
  readonly #native: Binding.NativeDnsTunnel

  /**
   * The tunnel under `zone` (`t.example.com`).
   * @throws {InvalidOptionError} `ERR_INVALID_ARG_VALUE` for a zone that is not a name or leaves no room for a datagram, or a bad option.
   */
  constructor(zone: string, options: DnsTunnelOptions = {}) {
    knownKeys('DnsTunnel options', options, ['maxUdpSize'])
    if (typeof zone !== 'string') throw new InvalidOptionError('a tunnel zone is a domain name (a string)')
    const maxUdpSize = int('DnsTunnel maxUdpSize', options.maxUdpSize ?? 1232, 512, 65535)
    try {
      this.#native = new native.NativeDnsTunnel(zone, maxUdpSize)
    } catch (err) {
      throw fromNative(err)
    }
  }

  /** The zone, fully qualified, in lower case (`t.example.com.`). */
  get zone(): string {
    return this.#native.zone
  }

  /** The largest datagram one query carries for a client id of `clientLength` characters (1…16). */
  capacity(clientLength: number): number {
    return this.#native.capacity(int('clientLength', clientLength, 1, 16))
  }

  /**
   * A TXT query (RD set) with message id `id` carrying `datagram` from `client` (1 to 16
   * letters and digits) under a fresh `nonce`; no datagram makes a poll. With `ednsSize`
   * (512…65535) it advertises EDNS(0) so answers may be that large; without, 512.
   * @throws {InvalidOptionError} `ERR_INVALID_ARG_VALUE` for a bad client id or number.
   * @throws {MessageTooLargeError} `ERR_MESSAGE_TOO_LARGE` for a datagram over {@link capacity}.
   */
  query(id: number, client: string, nonce: number, datagram?: Uint8Array, ednsSize?: number): Uint8Array {
    if (typeof client !== 'string') throw new InvalidOptionError('a tunnel client id is a string')
    if (datagram !== undefined && !(datagram instanceof Uint8Array)) throw new InvalidOptionError('a tunnel datagram must be a Uint8Array')
    const size = ednsSize === undefined ? 0 : int('ednsSize', ednsSize, 512, 65535)
    try {
      return this.#native.query(int('id', id, 0, 65535), client, int('nonce', nonce, 0, 2 ** 32 - 1), datagram ?? new Uint8Array(0), size)
    } catch (err) {
      throw fromNative(err)
    }
  }

  /** The datagrams of an answer, or `null` when the message is not a tunnel answer (it does not decode, is not a response, or carries an error code). Never throws for what a peer sends. */
  readAnswer(message: Uint8Array): DnsTunnelAnswer | null {
    if (!(message instanceof Uint8Array)) throw new InvalidOptionError('a DNS message must be a Uint8Array')
    return this.#native.readAnswer(message) ?? null
  }

  /** What a query message that came over `transport` is to the tunnel. Never throws for what a peer sends. */
  read(message: Uint8Array, transport: DnsTransport): DnsTunnelRead {
    if (!(message instanceof Uint8Array)) throw new InvalidOptionError('a DNS message must be a Uint8Array')
    if (transport !== 'udp' && transport !== 'tcp') throw new InvalidOptionError(`transport must be 'udp' or 'tcp', got ${String(transport)}`)
    const read = this.#native.readQuery(message, transport === 'tcp')
    if (read.kind === 'refused') return { kind: 'refused', reply: read.reply! }
    if (read.kind !== 'query') return { kind: 'other' }
    return {
      kind: 'query',
      client: read.client!,
      nonce: read.nonce!,
      datagram: read.datagram!,
      answer: (datagrams) => {
        if (!Array.isArray(datagrams) || !datagrams.every((d) => d instanceof Uint8Array)) throw new InvalidOptionError('datagrams must be an array of Uint8Array')
        return read.answer(datagrams as Uint8Array[])!
      },
    }
  }
}
