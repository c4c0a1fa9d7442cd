/**
 * Application carriers for KCP: a `kcp://` listener or dial given a {@link DatagramCarrier}
 * sends its datagrams through the application's `send` instead of a UDP socket, and takes
 * what the application hands to {@link DatagramCarrier.receive}. KCP, FEC, kcp-go's crypt and
 * secure mode run unchanged on top. Rust: `riptide::DatagramCarrier`. See `docs/kcp.md`.
 */
import { InvalidOptionError, MessageTooLargeError } from './errors'
import { native } from './native'
import { int, knownKeys } from './validate'
import type * as Binding from '../binding'

/** Longest peer name, in characters. */
export const MAX_PEER_LENGTH = 128

/** Largest datagram {@link DatagramCarrier.receive} takes, in bytes. */
export const MAX_CARRIED_DATAGRAM = 64 * 1024

/** What a {@link DatagramCarrier} does with the datagrams its sessions send, and its limits. */
export interface DatagramCarrierOptions {
  /**
   * Carries one datagram a KCP session sent to the peer named `peer` (over DNS, a WebSocket,
   * memory...). Called on the engine's thread in its event batch; `datagram` is valid during
   * the call only (copy what you keep). Dropping a datagram is allowed: KCP resends. A throw
   * goes to the engine handler's `onError`.
   */
  send(datagram: Uint8Array, peer: string): void
  /**
   * Peers a listener's carrier tells apart at once (1…1048576); past it the one heard from
   * least recently is forgotten. Default `1024`.
   */
  maxPeers?: number
  /**
   * Bytes of datagrams waiting each way (65536…1073741824): received and not yet taken by the
   * engine, and sent by the sessions in one engine turn. Past it datagrams are dropped and KCP
   * resends. Default `1048576`.
   */
  maxQueued?: number
}

/** A carrier's counters since it was made. */
export interface CarrierStats {
  /** Datagrams `receive` handed to the sessions. */
  received: number
  /** Received datagrams dropped: the queue full, no listener or dial served, or a dial's carrier heard from another peer. */
  dropped: number
  /** Datagrams the sessions sent through `send`. */
  sent: number
  /** Datagrams the sessions sent that were dropped (over `maxQueued` in one turn, or to a forgotten peer). */
  sendDropped: number
  /** Peers the carrier tells apart now. */
  peers: number
}

/** @internal The native carrier's id, for listen and dial options. */
export const kCarrierId = Symbol('riptide.carrierId')
/** @internal Delivers one datagram a session sent (the reactor calls it from its batch). */
export const kCarrierSend = Symbol('riptide.carrierSend')

/** Bytes of received datagrams JS packs before handing them over in one call. */
const PACK_BYTES = 256 * 1024
/** Bytes each packed datagram costs besides its peer and bytes: its two lengths. */
const PACK_HEADER = 5

/**
 * A datagram carrier the application drives. Give it to one `kcp://` listener
 * (`serve({ url: 'kcp://name', carrier }, ...)`) or one dial
 * (`connect('kcp://peer', handler, { carrier })`, the URL naming the peer) at a time; feed it
 * what arrives with {@link receive}. Peers are names you choose: 1 to 128 visible ASCII
 * characters (a client id), seen by the session layer as addresses in `100::/64`
 * (`conn.remoteAddress`).
 *
 * @example
 * ```ts
 * // Two engines joined in memory.
 * const a: DatagramCarrier = new DatagramCarrier({ send: (d) => b.receive(d, 'client') })
 * const b: DatagramCarrier = new DatagramCarrier({ send: (d) => a.receive(d, 'server') })
 * await serve({ url: 'kcp://server', carrier: b }, { onTraffic: (c, m) => c.write(m) })
 * const conn = await connect('kcp://server', { onTraffic: (c, m) => console.log(m) }, { carrier: a })
 * ```
 */
export class DatagramCarrier {
  readonly #native: Binding.NativeCarrier
  readonly #send: (datagram: Uint8Array, peer: string) => void
  /** Received datagrams packed for the next native call (see `NativeCarrier.receive`). */
  readonly #pack = new Uint8Array(PACK_BYTES)
  #packed = 0
  #count = 0
  #scheduled = false

  /**
   * @throws {InvalidOptionError} `ERR_INVALID_ARG_VALUE` for a missing `send`, an unknown key or a limit out of range.
   */
  constructor(options: DatagramCarrierOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('DatagramCarrier options must be an object')
    knownKeys('DatagramCarrier options', options, ['send', 'maxPeers', 'maxQueued'])
    if (typeof options.send !== 'function') throw new InvalidOptionError('DatagramCarrier options.send must be a function')
    const maxPeers = int('DatagramCarrier maxPeers', options.maxPeers ?? 1024, 1, 2 ** 20)
    const maxQueued = int('DatagramCarrier maxQueued', options.maxQueued ?? 2 ** 20, 2 ** 16, 2 ** 30)
    this.#send = options.send
    this.#native = new native.NativeCarrier(maxPeers, maxQueued)
  }

  /**
   * Hands the carrier's sessions a datagram that arrived from `peer`. The datagram is copied;
   * datagrams received in one tick reach the engine in one call. One the engine cannot take
   * (its queue full, or the carrier serving no listener or dial) is dropped and counted in
   * {@link stats}, as the network may drop it.
   * @throws {InvalidOptionError} `ERR_INVALID_ARG_VALUE` for a peer that is not 1 to 128 visible ASCII characters, or a datagram that is not a Uint8Array.
   * @throws {MessageTooLargeError} `ERR_MESSAGE_TOO_LARGE` for a datagram over 65,536 bytes.
   */
  receive(datagram: Uint8Array, peer: string): void {
    checkPeer(peer)
    if (!(datagram instanceof Uint8Array)) throw new InvalidOptionError('a carried datagram must be a Uint8Array')
    const len = datagram.byteLength
    if (len > MAX_CARRIED_DATAGRAM) throw new MessageTooLargeError(`a carried datagram of ${len} bytes exceeds the maximum of ${MAX_CARRIED_DATAGRAM}`)
    const need = PACK_HEADER + peer.length + len
    if (this.#packed + need > PACK_BYTES) this.#flush()
    const pack = this.#pack
    let at = this.#packed
    pack[at] = peer.length
    pack[at + 1] = len & 0xff
    pack[at + 2] = (len >>> 8) & 0xff
    pack[at + 3] = (len >>> 16) & 0xff
    pack[at + 4] = 0
    at += PACK_HEADER
    for (let i = 0; i < peer.length; i++) pack[at + i] = peer.charCodeAt(i)
    pack.set(datagram, at + peer.length)
    this.#packed += need
    this.#count++
    if (!this.#scheduled) {
      this.#scheduled = true
      queueMicrotask(() => this.#flush())
    }
  }

  /** The counters now (datagrams still packed in this tick are not yet counted). */
  stats(): CarrierStats {
    return this.#native.stats()
  }

  /** Hands what was packed to the engine, in one call. */
  #flush(): void {
    this.#scheduled = false
    if (this.#count === 0) return
    const count = this.#count
    const packed = this.#pack.subarray(0, this.#packed)
    this.#count = 0
    this.#packed = 0
    this.#native.receive(count, packed)
  }

  /** @internal */
  get [kCarrierId](): number {
    return this.#native.id
  }

  /** @internal */
  [kCarrierSend](datagram: Uint8Array, peer: string): void {
    this.#send(datagram, peer)
  }
}

/** Checks a peer name: 1 to 128 visible ASCII characters (`!` to `~`). */
function checkPeer(peer: unknown): asserts peer is string {
  if (typeof peer !== 'string' || peer.length === 0 || peer.length > MAX_PEER_LENGTH) {
    throw new InvalidOptionError(`a carrier peer name is 1 to ${MAX_PEER_LENGTH} characters, got ${typeof peer === 'string' ? peer.length : typeof peer}`)
  }
  for (let i = 0; i < peer.length; i++) {
    const c = peer.charCodeAt(i)
    if (c < 0x21 || c > 0x7e) throw new InvalidOptionError(`a carrier peer name is visible ASCII (! to ~), got ${JSON.stringify(peer)}`)
  }
}

/** Checks a listener's or dial's `carrier`: a {@link DatagramCarrier} on a `kcp://` address. */
export function checkCarrier(carrier: unknown, url: string, what: string): DatagramCarrier | undefined {
  if (carrier === undefined) return undefined
  if (!(carrier instanceof DatagramCarrier)) throw new InvalidOptionError(`${what} carrier must be a DatagramCarrier`)
  if (!/^kcp:\/\//i.test(url)) throw new InvalidOptionError(`a carrier carries kcp:// only, and ${what} ${JSON.stringify(url)} is not one`)
  return carrier
}
