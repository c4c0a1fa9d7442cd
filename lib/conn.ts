/** The connection object handed to callbacks, and the serialisable handle that names it. */
import { checkInetPeer, fromNativeAddress, inetAddr, type PeerAddr } from './address'
import { asyncWrite, type WriteCallback } from './async'
import { ConnClosedError, EngineStoppedError, InvalidOptionError, NotConnectedError, OutboundFullError, type RiptideError } from './errors'
import type { NativeEngine } from './native'
import type { LtvCodec } from './codecs'
import { messageOf, type WriteOptions } from './ltv'
import { checkTopic } from './pubsub'
import { ConnStream, type ConnStreamOptions } from './stream'
import type { TaskRunOptions } from './tasks'
import { X509Certificate } from 'node:crypto'
import { bool as checkBool, knownKeys, ms as checkMs } from './validate'

/**
 * Names one connection across threads: plain numbers, so it survives `postMessage`. Use it
 * with {@link asyncWrite} from any thread (a worker, a timer) while the connection lives;
 * after it closes, writes fail with `ERR_CONN_CLOSED` and never reach another connection.
 */
export interface ConnHandle {
  /** Engine id within this process. */
  readonly engine: number
  /** Index of the reactor that owns the connection. */
  readonly reactor: number
  /** @internal Connection-table slot. */
  readonly slot: number
  /** @internal Generation of the slot (changes on every reuse). */
  readonly generation: number
}

/** Internal entry points the reactor calls on a connection; symbols keep them off the public API. */
export const kEnded = Symbol('riptide.ended')
export const kWritability = Symbol('riptide.writability')
export const kWriteDone = Symbol('riptide.writeDone')
export const kTimer = Symbol('riptide.timer')
export const kBatchEnd = Symbol('riptide.batchEnd')
export const kRebind = Symbol('riptide.rebind')
export const kReconnecting = Symbol('riptide.reconnecting')
export const kLink = Symbol('riptide.link')
export const kClosedByUser = Symbol('riptide.closedByUser')
export const kClosing = Symbol('riptide.closing')
export const kConsumer = Symbol('riptide.consumer')
export const kWriteRecord = Symbol('riptide.writeRecord')
export const kControl = Symbol('riptide.control')

/**
 * What takes a connection's traffic instead of the handler: its {@link ConnStream} (from
 * `conn.toStream()`). The reactor calls it; `close` comes once, after which the consumer is
 * detached. Not for application code: use `toStream()`.
 */
export interface ConnConsumer {
  /** Bytes arrived (a view valid only during the call). */
  traffic(data: Uint8Array): void
  /** The connection is writable again (`onWritability(conn, true)`). */
  writable(): void
  /** The peer half-closed (`onEnd`). */
  end(): void
  /** The connection closed, with the error that ended it if any. */
  close(err: RiptideError | undefined): void
}

/** How a client connection survives losing its socket (set by `Client`). */
export interface ReconnectLink {
  /** The socket was lost with `err`; returns true when a reconnect is scheduled (no onClose yet). */
  lost(conn: Conn, err: RiptideError | undefined): boolean
  /** The user closed the connection while it was reconnecting. */
  closed(conn: Conn): void
  /** Most bytes held for sending while disconnected (0: writes throw ERR_NOT_CONNECTED). */
  readonly queueLimit: number
}

/** Called once when the bytes of a `write` reached the kernel, or with why they never will. */
export type WriteDoneCallback = (err?: RiptideError) => void

/** What a {@link Conn} asks of its reactor; not part of the public API. */
export interface ConnSink {
  readonly engineId: number
  readonly reactorIndex: number
  /** Writes; returns the native writability when known now (a write outside a batch). */
  write(conn: Conn, data: Uint8Array): boolean | undefined
  /** {@link ConnSink.write} of `text` as UTF-8 (encoded straight into the batch's staging area when it fits). */
  writeString(conn: Conn, text: string): boolean | undefined
  /** Bytes `conn` staged in the current batch (0 outside a batch). */
  stagedBytes(conn: Conn): number
  /** Stages a promise of a writable event (the batch's writes passed the high water mark). */
  expectDrain(conn: Conn): void
  /** A `write()` returned false: tell the handler `onWritability(conn, false)`. */
  unwritable(conn: Conn): void
  /** A consumer took over `conn`'s traffic (see {@link ConnConsumer}). */
  consume(conn: Conn): void
  /** `conn.resume()` was called: deliver what was held while it was paused. */
  resumed(conn: Conn): void
  /** Asks for a write-done event with `token` once everything written so far is sent. */
  mark(conn: Conn, token: number): void
  /** A token unique among this reactor's pending write callbacks and timers. */
  token(): number
  /** The high water mark. */
  readonly highWaterMark: number
  /** The reactor's LTV codec, when its connections speak LTV (their writes need a `msgId`). */
  readonly ltv: LtvCodec | undefined
  sendTo(socket: number, address: string, port: number, data: Uint8Array): void
  writev(conn: Conn, data: Uint8Array[]): void
  close(conn: Conn): void
  /** Half-closes after what was written (staged during a batch, like writes). */
  end(conn: Conn): void
  /** Resets now, dropping what is queued (staged during a batch); a gone connection is no error. */
  destroy(conn: Conn): void
  flush(): void
  /** Runs `fn` on the native reactor, turning its errors into riptide errors. */
  call<T>(fn: (native: NativeEngine) => T): T
  /** Runs a task in the reactor's task pool. */
  task<R>(payload: unknown, options?: TaskRunOptions): Promise<R>
  /**
   * What a publication of `data` carries from this reactor: on a WebSocket server (or an HTTP
   * one that upgrades chosen routes) a message record, a string as text and bytes as binary;
   * on an LTV server the record with `options.msgId`; elsewhere the bytes.
   */
  publication(data: Uint8Array | string, options?: WriteOptions): Uint8Array
  /**
   * Publishes a publication (from {@link ConnSink.publication}) to `topic` on every reactor,
   * after the writes staged so far, and on other instances through the bus when there is one;
   * returns how many subscribers of this engine it was queued for.
   */
  publish(topic: string, publication: Uint8Array): number
}

/** What a PROXY protocol header said (Rust `codec::ProxyHeader`). */
export interface ProxyHeader {
  /** The original client; `undefined` for `UNKNOWN`/`LOCAL` headers. */
  source?: PeerAddr
  /** The address the client connected to. */
  destination?: PeerAddr
  /** v2 type-length-value extensions, in order. */
  tlvs: Array<{ type: number; value: Uint8Array }>
}

/** A KCP session's statistics ({@link Conn.kcpStats}). Times in ms, windows in segments. */
export interface KcpStats {
  /** Smoothed round-trip time. */
  srtt: number
  /** Round-trip time variation. */
  rttvar: number
  /** Current retransmission timeout. */
  rto: number
  /** Segments resent after their timeout. */
  retransmits: number
  /** Segments resent early because later ones were acknowledged. */
  fastRetransmits: number
  /** Send window. */
  sndWnd: number
  /** Receive window. */
  rcvWnd: number
  /** The peer's last advertised receive window. */
  rmtWnd: number
  /** Congestion window. */
  cwnd: number
  /** Segments received. */
  inSegments: number
  /** Segments sent, retransmissions included. */
  outSegments: number
  /**
   * Named counters of the session's packet layers (Rust `Conns::kcp_counters`), empty
   * without any: with `fec`, `fecDataShards`, `fecParitySent`, `fecParityReceived`,
   * `fecShardSets`, `fecFullShardSets`, `fecRecovered` (datagrams rebuilt from parity),
   * `fecErrors`, `fecOob` (unreliable messages received); with `secure` (once the handshake
   * is done), `secureSealed`, `secureOpened`, `secureUnauthenticated` (failed the tag),
   * `secureReplayed`, `secureStaleKey`, `secureMalformed`.
   */
  layers: Record<string, number>
}

/** Options of {@link Conn.send}. */
export interface SendOptions {
  /**
   * `false`: the unreliable channel of a `kcp://` session with `fec` or `secure` (one
   * datagram, no retransmission, no order; the peer's `onUnreliable`). Default `true`: a
   * `write`.
   */
  reliable?: boolean
}

const toBytes = (data: Uint8Array | string): Uint8Array => (typeof data === 'string' ? Buffer.from(data) : data)

/** A TLS peer's certificate (`conn.peerCertificate`). */
export interface PeerCertificate {
  /** The leaf certificate, DER (`new crypto.X509Certificate(raw)` reads it). */
  raw: Uint8Array
  /** Every certificate the peer sent, DER, leaf first (`chain[0]` is `raw`). */
  chain: Uint8Array[]
  /** The leaf's subject as `node:crypto` prints it (`'CN=localhost'`, one `key=value` a line); `undefined` when Node cannot parse the certificate (possible with `rejectUnauthorized: false`). */
  subject?: string
}

/** The subject of a DER certificate, or `undefined` when Node cannot parse it. */
function subjectOf(der: Uint8Array): string | undefined {
  try {
    return new X509Certificate(der).subject
  } catch {
    return undefined
  }
}

/** Bits of a connection's flags: from `onOpen` until `close()`, `end()` or the end. */
const OPEN = 1
/** Between `pause()` and `resume()`. */
const PAUSED = 2
/** The native queue is above the high water mark (or a writable event was promised). */
const UNWRITABLE = 4
/** The handler was told `onWritability(conn, false)` (or it is on its way) and not `true` since. */
const TOLD_UNWRITABLE = 8
/** A writable event was promised for this batch's estimate. */
const DRAIN_EXPECTED = 16
/** `close()`, `end()` or `destroy()` was called: a client must not reconnect it. */
const CLOSED_BY_USER = 32
/** A client connection waits to reconnect. */
const RECONNECTING = 64

/** What few connections use, kept off the connection object until one does. */
interface RareState {
  /** The id a reconnected client connection keeps (its first slot and generation's). */
  id?: number
  udpSocket?: number
  link?: ReconnectLink
  consumer?: ConnConsumer
  stream?: ConnStream
  local?: PeerAddr
  writeCbs?: Map<number, WriteDoneCallback>
  timers?: Map<number, () => void>
  destroyError?: RiptideError
  /** Writes held while a client reconnects, their size, and their callbacks (by index). */
  queued?: { bytes: Uint8Array[]; size: number; cbs: Array<[number, WriteDoneCallback]> }
}

/**
 * One connection. The same object is passed to every callback for this connection, from
 * `onOpen` to `onClose`; after `onClose` it is stale and writes throw `ERR_CONN_CLOSED`.
 *
 * `Context` types {@link Conn.context} (`Conn<Session>`; `EventHandler<Session>`, `serve<Session>`
 * and `Client<Session>` pass it on). It defaults to `unknown`.
 *
 * @example
 * ```ts
 * onTraffic(conn, data) { conn.write(data) } // echo
 * ```
 */
export class Conn<Context = unknown> {
  /** The peer's IP address (empty for Unix sockets). */
  readonly remoteAddress: string
  /** The peer's port (0 for Unix sockets). */
  readonly remotePort: number
  /**
   * Your per-connection value (a session, a parser state...), typed by `Context`. Starts
   * `undefined` (whatever `Context` says) until you set it, usually in `onOpen` or with the
   * `context` dial option.
   */
  context: Context = undefined as Context
  // A connection object is a flyweight: an idle server holds one per connection, so it keeps
  // its place in the table, its sink, its peer and a word of flags (see OPEN...); the bytes
  // staged this batch are the reactor's (per slot), and what few connections use lives in
  // `#rare`, made on first use.
  #slot: number
  #generation: number
  #sink: ConnSink
  #flags = OPEN
  #rare: RareState | undefined

  /**
   * @internal Created by the reactor on accept, on a new UDP session (`udpSocket` set), or per
   * datagram without sessions (`slot` -1: a transient conn that only replies).
   */
  constructor(
    sink: ConnSink,
    slot: number,
    generation: number,
    remoteAddress: string,
    remotePort: number,
    udpSocket?: number,
  ) {
    this.#sink = sink
    this.#slot = slot
    this.#generation = generation
    this.remoteAddress = remoteAddress
    this.remotePort = remotePort
    if (udpSocket !== undefined) this.#more().udpSocket = udpSocket
  }

  /** The rarely used state, made now if it is not yet. */
  #more(): RareState {
    return (this.#rare ??= {})
  }

  /** Unique among this reactor's live connections; never reused while a reference could be stale. */
  get id(): number {
    return this.#rare?.id ?? this.#generation * 0x1000000 + this.#slot
  }

  /**
   * For UDP: the index of the listener socket the peer talks to (then `write` sends one
   * datagram to the peer and {@link Conn.sendTo} works); `undefined` for streams.
   */
  get udpSocket(): number | undefined {
    return this.#rare?.udpSocket
  }

  /** The error `destroy(err)` was given, reported by `onClose`. */
  get destroyError(): RiptideError | undefined {
    return this.#rare?.destroyError
  }

  set destroyError(err: RiptideError | undefined) {
    if (err !== undefined || this.#rare !== undefined) this.#more().destroyError = err
  }

  /** @internal Set by `Client` for connections that reconnect. */
  get [kLink](): ReconnectLink | undefined {
    return this.#rare?.link
  }

  /** @internal */
  set [kLink](link: ReconnectLink | undefined) {
    this.#more().link = link
  }

  /** @internal Takes the traffic instead of the handler (set by {@link Conn.toStream}). */
  get [kConsumer](): ConnConsumer | undefined {
    return this.#rare?.consumer
  }

  /** @internal */
  set [kConsumer](consumer: ConnConsumer | undefined) {
    if (consumer !== undefined || this.#rare !== undefined) this.#more().consumer = consumer
  }

  /** Sets or clears flag bits. */
  #mark(bits: number, on: boolean): void {
    this.#flags = on ? this.#flags | bits : this.#flags & ~bits
  }

  /** @internal Slot in the reactor's table (changes when a client reconnects). */
  get slot(): number {
    return this.#slot
  }

  /** @internal Generation of the slot. */
  get generation(): number {
    return this.#generation
  }

  /** True from `onOpen` until `close()` is called or the connection ends. */
  get open(): boolean {
    return (this.#flags & OPEN) !== 0
  }

  /** True between {@link Conn.pause} and {@link Conn.resume} (Node's `isPaused()`). */
  get paused(): boolean {
    return (this.#flags & PAUSED) !== 0
  }

  /** True while a client connection waits to reconnect. */
  get reconnecting(): boolean {
    return (this.#flags & RECONNECTING) !== 0
  }

  /** A serialisable handle for {@link asyncWrite} from other threads. */
  get handle(): ConnHandle {
    return { engine: this.#sink.engineId, reactor: this.#sink.reactorIndex, slot: this.slot, generation: this.generation }
  }

  /** The peer's address (Rust `Conns::peer_addr`); for Unix sockets `{ family: 'unix', path: '' }`. */
  get remote(): PeerAddr {
    return this.remoteAddress === '' ? { family: 'unix', path: '' } : inetAddr(this.remoteAddress, this.remotePort)
  }

  /** This end's address: the listener's for an accepted connection (Rust `Conns::local_addr`). */
  get local(): PeerAddr {
    const rare = this.#more()
    rare.local ??= fromNativeAddress(this.#sink.call((n) => n.localAddress(this.slot, this.generation)))
    return { ...rare.local }
  }

  /** The local IP address the connection was accepted on (the socket path for Unix sockets). */
  get localAddress(): string {
    const local = this.local
    return local.family === 'unix' ? local.path : local.address
  }

  /** The local port the connection was accepted on (0 for Unix sockets). */
  get localPort(): number {
    const local = this.local
    return local.family === 'unix' ? 0 : local.port
  }

  #check(): void {
    if ((this.#flags & OPEN) === 0) throw new ConnClosedError()
  }

  /**
   * Queues bytes for the peer; strings are sent as UTF-8. Bytes are copied, so `data` may be
   * reused at once (the `data` view of `onTraffic` included). Returns false once the queue is
   * above `writeHighWaterMark`: stop writing until `onWritability(conn, true)` (the handler
   * also gets `onWritability(conn, false)` at the end of the batch). `cb(err?)` runs once the
   * bytes reached the kernel, or with `ERR_CONN_CLOSED`. Throws `ERR_CONN_CLOSED` after
   * `close()` or `onClose`.
   *
   * With `codecs.ltv()` the message needs its id, `write(body, { msgId }, cb?)` (checked: an
   * integer the codec's `idBytes` hold, else `ERR_INVALID_ARG_VALUE`); else options come
   * before `cb` or are left out (`write(data, cb)`).
   */
  write(data: Uint8Array | string, options?: WriteOptions | WriteDoneCallback, cb?: WriteDoneCallback): boolean {
    if (typeof options === 'function') return this.write(data, undefined, options)
    return this[kWriteRecord](messageOf(this.#sink.ltv, data, options), cb)
  }

  /**
   * @internal Writes bytes (or a string, as UTF-8) as the codec takes them (an LTV record as
   * it is): writes, held writes, heartbeats.
   */
  [kWriteRecord](data: Uint8Array | string, cb?: WriteDoneCallback): boolean {
    if ((this.#flags & RECONNECTING) !== 0) return this.#hold(toBytes(data), cb)
    this.#check()
    if (this.slot < 0) {
      this.#sink.sendTo(this.udpSocket!, this.remoteAddress, this.remotePort, toBytes(data))
      cb?.()
      return true
    }
    const native = typeof data === 'string' ? this.#sink.writeString(this, data) : this.#sink.write(this, data)
    if (native !== undefined) this.#mark(UNWRITABLE, !native)
    // Told to wait on an estimate: make sure a writable event follows even if the kernel takes it all.
    else if ((this.#flags & (UNWRITABLE | DRAIN_EXPECTED)) === 0 && this.#sink.stagedBytes(this) > this.#sink.highWaterMark) {
      this.#flags |= DRAIN_EXPECTED
      this.#sink.expectDrain(this)
    }
    if (cb !== undefined) {
      const token = this.#sink.token()
      ;(this.#more().writeCbs ??= new Map()).set(token, cb)
      this.#sink.mark(this, token)
    }
    const writable = this.writable
    if (!writable && (this.#flags & TOLD_UNWRITABLE) === 0) {
      this.#flags |= TOLD_UNWRITABLE
      this.#sink.unwritable(this)
    }
    return writable
  }

  /**
   * Sends `data` on a channel: `reliable: true` (the default) is {@link Conn.write} and
   * returns its result; `reliable: false` sends one datagram on a KCP session's unreliable
   * channel (Rust `Conns::send_unreliable`): outside KCP and the codec, never retransmitted,
   * maybe lost or reordered, delivered to the peer's `onUnreliable`. It needs `fec` or
   * `secure` on the session (their packets mark it) and returns `true` (a datagram the kernel
   * cannot take now is dropped, as the network might). On a `webrtc://` peer it is one
   * message on the unordered, no-retransmit data channel, and returns `false` when it was
   * dropped because that channel holds `webrtc.unreliableHighWater` bytes (congested);
   * `ERR_MESSAGE_TOO_LARGE` above the peer's maximum message size. Throws `ERR_INVALID_ARG_VALUE` on
   * another transport or a session without such a layer, `ERR_MESSAGE_TOO_LARGE` above one
   * segment (`kcp.mtu − 24` bytes, less the layers' overhead), `ERR_CONN_CLOSED` when closed,
   * `ERR_NOT_CONNECTED` while a client reconnects.
   */
  send(data: Uint8Array | string, options?: SendOptions): boolean {
    let reliable = true
    if (options !== undefined) {
      if (options === null || typeof options !== 'object') throw new InvalidOptionError('send options must be an object')
      knownKeys('send options', options, ['reliable'])
      if (options.reliable !== undefined) reliable = checkBool('send options.reliable', options.reliable)
    }
    if (reliable) return this.write(data)
    if ((this.#flags & RECONNECTING) !== 0) throw new NotConnectedError()
    this.#check()
    if (this.slot < 0) throw new InvalidOptionError('the unreliable channel is a kcp:// session\'s or a webrtc:// peer\'s')
    const bytes = toBytes(data)
    return this.#sink.call((n) => n.sendUnreliable(this.slot, this.generation, bytes))
  }

  /**
   * geckos's `channel.emit(event, data, { reliable })` to the client of a peer of a
   * `webrtc: { geckos: true }` listener (its `channel.on(event)` fires): `data` goes as JSON;
   * `reliable: true` repeats it from Rust's timer (10 runs, 150 ms apart) and the client takes
   * it once. Returns `false` when dropped because the channel is congested. Throws
   * `ERR_INVALID_ARG_VALUE` on other connections or when `data` cannot be JSON,
   * `ERR_MESSAGE_TOO_LARGE` above the peer's maximum message size, `ERR_CONN_CLOSED` when closed.
   */
  emit(event: string, data: unknown, options?: { reliable?: boolean }): boolean {
    let reliable = false
    if (options !== undefined) {
      if (options === null || typeof options !== 'object') throw new InvalidOptionError('emit options must be an object')
      knownKeys('emit options', options, ['reliable'])
      if (options.reliable !== undefined) reliable = checkBool('emit options.reliable', options.reliable)
    }
    if (typeof event !== 'string' || event === '') throw new InvalidOptionError('emit event must be a non-empty string')
    let json: string | undefined
    try {
      json = JSON.stringify(data) as string | undefined
    } catch {
      json = undefined
    }
    if (json === undefined) throw new InvalidOptionError('emit data must be JSON-serialisable')
    this.#check()
    if (this.slot < 0) throw new InvalidOptionError('emit is for peers of a webrtc:// listener in geckos mode')
    const text = json
    return this.#sink.call((n) => n.geckosEmit(this.slot, this.generation, event, text, reliable))
  }

  /**
   * False while the queue is above `writeHighWaterMark` (then wait for
   * `onWritability(conn, true)`, like a Node stream's `'drain'`). Writes are still accepted.
   */
  get writable(): boolean {
    return (this.#flags & (OPEN | UNWRITABLE)) === OPEN && this.#sink.stagedBytes(this) <= this.#sink.highWaterMark
  }

  /** Bytes that can still be written before the connection turns unwritable. */
  get bytesBeforeUnwritable(): number {
    if (!this.writable) return 0
    return Math.max(0, this.#sink.highWaterMark - this.outboundBuffered)
  }

  /**
   * UDP only: sends one datagram to `peer` (any IP endpoint) from this connection's listener
   * socket (gnet's `SendTo`; Rust `Conns::send_to(socket, peer, data)`). Throws
   * `ERR_INVALID_ADDRESS` for a peer that is not an IP endpoint.
   *
   * @example
   * ```ts
   * conn.sendTo({ family: 'IPv4', address: '127.0.0.1', port: 9001 }, data)
   * ```
   */
  sendTo(peer: PeerAddr, data: Uint8Array | string): void {
    if (this.udpSocket === undefined) throw new InvalidOptionError('sendTo() needs a UDP connection')
    // Checked here, not natively: inside a batch the datagram is only staged.
    const to = checkInetPeer('sendTo peer', peer)
    this.#sink.sendTo(this.udpSocket, to.address, to.port, toBytes(data))
  }

  /** Queues several buffers in order, written as one (`writev`). */
  writev(data: ReadonlyArray<Uint8Array | string>): void {
    this.#check()
    if (this.slot < 0) this.write(Buffer.concat(data.map(toBytes)))
    else this.#sink.writev(this, data.map(toBytes))
  }

  /** Sends what this batch has queued now instead of when the batch ends. */
  flush(): void {
    this.#check()
    this.#sink.flush()
  }

  /**
   * Queues a write through the owning reactor's inbox (gnet's `AsyncWrite`); callable from any
   * thread via {@link asyncWrite} and `conn.handle`. `cb` runs once: with no error when the
   * bytes were written or queued, with `ERR_CONN_CLOSED` if the connection was gone.
   */
  asyncWrite(data: Uint8Array | string, cb?: WriteCallback): void {
    asyncWrite(this.handle, data, cb)
  }

  /** {@link Conn.asyncWrite} for several buffers, kept together and in order. */
  asyncWritev(data: ReadonlyArray<Uint8Array | string>, cb?: WriteCallback): void {
    asyncWrite(this.handle, Buffer.concat(data.map(toBytes)), cb)
  }

  /**
   * Runs a task in the pool of the reactor that owns this connection (`serve`'s `tasks`
   * option; docs/tasks.md) and resolves with its result while the connection is open, so
   * `conn.write(await conn.task(job))` is safe: if the connection closed (or the engine
   * stopped) before the task finished, the result or error is dropped and the promise never
   * settles (no `ERR_CONN_CLOSED`, no unhandled rejection; code after the `await`, `finally`
   * included, does not run). Otherwise rejects as `engine.task` does: `ERR_TASK_FAILED`
   * (`TaskError`), `ERR_TASK_QUEUE_FULL`, `ABORT_ERR`; `ERR_INVALID_ARG_VALUE` without a pool.
   */
  task<R = unknown>(payload: unknown, options?: TaskRunOptions): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#sink.task<R>(payload, options).then(
        (result) => {
          if ((this.#flags & OPEN) !== 0) resolve(result)
        },
        (err: unknown) => {
          if ((this.#flags & OPEN) !== 0 && !(err instanceof EngineStoppedError)) reject(err)
        },
      )
    })
  }

  /** Schedules an `onTraffic(conn, <empty>)` on the owning reactor (gnet's `Wake`). */
  wake(): void {
    this.#check()
    this.#sink.call((n) => n.wake(this.slot, this.generation))
  }

  /**
   * Subscribes to `topic` (a string of 1 to 256 UTF-8 bytes): every message published to it
   * from then on, on any reactor, is framed by this connection's codec and queued to it, until
   * `unsubscribe` or the close. Returns false when subscribed already. At most 1024 topics
   * per connection; past that, and for a bad topic, throws `ERR_INVALID_ARG_VALUE`.
   */
  subscribe(topic: string): boolean {
    return this.#topicCall((n) => n.subscribe(this.slot, this.generation, checkTopic(topic)))
  }

  /** Unsubscribes from `topic`; false when not subscribed. */
  unsubscribe(topic: string): boolean {
    return this.#topicCall((n) => n.unsubscribe(this.slot, this.generation, checkTopic(topic)))
  }

  /** True when subscribed to `topic`. */
  isSubscribed(topic: string): boolean {
    return this.#topicCall((n) => n.isSubscribed(this.slot, this.generation, checkTopic(topic)))
  }

  /** Published messages skipped for this connection by the `'drop'` backpressure policy. */
  get droppedMessages(): number {
    if ((this.#flags & OPEN) === 0 || this.slot < 0) return 0
    return this.#sink.call((n) => n.droppedMessages(this.slot, this.generation))
  }

  /**
   * Publishes `data` (strings as UTF-8; on a WebSocket server, strings as text messages and
   * bytes as binary ones) to every subscriber of `topic` on every reactor of this
   * connection's engine, this connection too if it subscribes; the same as
   * `engine.publish`, and callable on a worker reactor, which has no `Engine`. Returns how
   * many subscribers it was queued for. With `codecs.ltv()`, `publish(topic, body, { msgId })`.
   */
  publish(topic: string, data: Uint8Array | string, options?: WriteOptions): number {
    return this.#sink.publish(checkTopic(topic), this.#sink.publication(data, options))
  }

  /** A topic call on an open stream connection (datagram conns have no subscriptions). */
  #topicCall<T>(fn: (n: NativeEngine) => T): T {
    this.#check()
    if (this.slot < 0) throw new InvalidOptionError('a datagram connection cannot subscribe to topics')
    return this.#sink.call(fn)
  }

  /** Closes after everything already written has been sent; `onClose` follows. */
  close(): void {
    if ((this.#flags & RECONNECTING) !== 0) {
      this.#flags &= ~RECONNECTING
      if (this.#rare !== undefined) this.#rare.queued = undefined
      this[kLink]?.closed(this)
      return
    }
    if ((this.#flags & OPEN) === 0) return
    this.#mark(OPEN, false)
    this.#flags |= CLOSED_BY_USER
    // A transient datagram conn has nothing to close.
    if (this.slot >= 0) this.#sink.close(this)
  }

  /**
   * Half-closes: sends FIN after everything written, keeps reading (Node's `socket.end()`).
   * With `allowHalfOpen` the connection closes once the peer has ended too; otherwise the
   * peer's FIN closes it. Writes after `end()` throw `ERR_CONN_CLOSED`.
   */
  end(data?: Uint8Array | string): void {
    if (data !== undefined) this.write(data)
    this.#check()
    this.#flags = (this.#flags & ~OPEN) | CLOSED_BY_USER
    this.#sink.end(this)
  }

  /**
   * Resets the connection now: queued bytes are dropped, pending write callbacks get
   * `ERR_CONN_CLOSED`, and `onClose` reports `err` (if given).
   */
  destroy(err?: RiptideError): void {
    if (this.slot < 0 || this.destroyError !== undefined) return
    this.#flags = (this.#flags & ~OPEN) | CLOSED_BY_USER
    this.destroyError = err
    this.#sink.destroy(this)
  }

  /**
   * This connection as a `node:stream` `Duplex` ({@link ConnStream}): pipe it into zlib, wrap
   * it in a `tls.TLSSocket`, use `stream.pipeline`; backpressure works both ways. From then
   * on the stream receives the connection's bytes, writability and half-close: the handler's
   * `onTraffic`, `onWritability` and `onEnd` are no longer called for it (`onOpen`, `onIdle`,
   * `onError`, timers and `onClose` are). Bytes `onTraffic` left unconsumed (custom framing)
   * go to the stream first, so a handler may read a header and hand the rest over. Calling
   * it again returns the same stream. Call it in `onOpen`, or (for a dialed connection) right
   * after `await dial()`: bytes that came with the open are kept for it until the next batch
   * when the handler has no `onTraffic`. The stream covers this connection until it closes (a
   * reconnecting client connection goes back to the handler; call `toStream()` again).
   * Throws `ERR_CONN_CLOSED` on a closed connection, `ERR_INVALID_ARG_VALUE` on a transient
   * datagram conn.
   *
   * @example
   * ```ts
   * onOpen(conn) { pipeline(conn.toStream(), zlib.createGunzip(), fs.createWriteStream('out'), done) }
   * ```
   */
  toStream(options?: ConnStreamOptions): ConnStream {
    const rare = this.#rare
    if (rare?.stream !== undefined && rare.consumer !== undefined) return rare.stream
    if (this.slot < 0) throw new InvalidOptionError('toStream() needs a connection (not a transient datagram conn)')
    this.#check()
    const stream = new ConnStream(this, (consumer) => {
      this[kConsumer] = consumer
      this.#sink.consume(this)
    }, options)
    this.#more().stream = stream
    return stream
  }

  /** Stops reading: the kernel buffer fills and the peer's TCP window closes. */
  pause(): this {
    this.#sink.call((n) => n.pause(this.slot, this.generation))
    this.#flags |= PAUSED
    return this
  }

  /** Reads again after {@link Conn.pause}. */
  resume(): this {
    this.#sink.call((n) => n.resume(this.slot, this.generation))
    this.#mark(PAUSED, false)
    this.#sink.resumed(this)
    return this
  }

  /**
   * Calls `cb` after `ms` on the reactor's timing wheel (1 ms ticks, never early), unless
   * the connection closes first. Returns an id for {@link Conn.clearTimeout}.
   */
  setTimeout(ms: number, cb: () => void): number {
    this.#check()
    checkMs('setTimeout delay', ms)
    const token = this.#sink.token()
    ;(this.#more().timers ??= new Map()).set(token, cb)
    this.#sink.call((n) => n.setTimer(this.slot, this.generation, ms, token))
    return token
  }

  /** Cancels a timer from {@link Conn.setTimeout}. */
  clearTimeout(id: number): void {
    this.#rare?.timers?.delete(id)
  }

  /** Holds a write made while reconnecting, within the client's queue limit. */
  #hold(bytes: Uint8Array, cb?: WriteDoneCallback): boolean {
    const limit = this[kLink]?.queueLimit ?? 0
    if (limit === 0) throw new NotConnectedError()
    const queued = (this.#more().queued ??= { bytes: [], size: 0, cbs: [] })
    if (queued.size + bytes.byteLength > limit) throw new OutboundFullError('the queue for writes while disconnected is full')
    queued.bytes.push(bytes.slice())
    queued.size += bytes.byteLength
    if (cb !== undefined) queued.cbs.push([queued.bytes.length - 1, cb])
    return false
  }

  /** @internal */
  [kClosedByUser](): boolean {
    return (this.#flags & CLOSED_BY_USER) !== 0
  }

  /**
   * @internal The application began closing through a protocol above the transport (a
   * WebSocket's close handshake): when the transport then ends, a client does not reconnect.
   */
  [kClosing](): void {
    this.#flags |= CLOSED_BY_USER
  }

  /**
   * @internal Hands `message` to the connection's top stream layer outside the byte stream,
   * after everything written before it (Rust `Conns::control`): an HTTP listener's answer to
   * a WebSocket upgrade, which must follow the HTTP responses written before it and never be
   * taken for their bytes.
   */
  [kControl](message: Uint8Array): void {
    this.#check()
    this.#sink.flush()
    this.#sink.call((n) => n.control(this.slot, this.generation, message))
  }

  /** @internal A client connection lost its socket and will dial again. */
  [kReconnecting](): void {
    this.#flags = (this.#flags & ~OPEN) | RECONNECTING
  }

  /** @internal A client connection is connected again, at a new place in the table. */
  [kRebind](slot: number, generation: number): void {
    const rare = this.#more()
    // The id stays the one the connection was first given.
    rare.id = this.id
    this.#slot = slot
    this.#generation = generation
    // Writability stays as the handler last heard it.
    this.#flags = (this.#flags & (UNWRITABLE | TOLD_UNWRITABLE | DRAIN_EXPECTED)) | OPEN
    rare.local = undefined
    const queued = rare.queued
    rare.queued = undefined
    queued?.bytes.forEach((bytes, i) => this[kWriteRecord](bytes, queued.cbs.find(([at]) => at === i)?.[1]))
  }

  /**
   * @internal The native queue crossed a water mark. Returns whether the handler hears of it:
   * always when writable again, and when unwritable unless a false `write()` told it already.
   */
  [kWritability](writable: boolean): boolean {
    const tell = writable || (this.#flags & TOLD_UNWRITABLE) === 0
    this.#mark(UNWRITABLE | TOLD_UNWRITABLE, !writable)
    return tell
  }

  /** @internal */
  [kWriteDone](token: number, err?: RiptideError): WriteDoneCallback | undefined {
    const cbs = this.#rare?.writeCbs
    const cb = cbs?.get(token)
    cbs?.delete(token)
    return cb === undefined ? undefined : () => cb(err)
  }

  /** @internal */
  [kTimer](token: number): (() => void) | undefined {
    const timers = this.#rare?.timers
    const cb = timers?.get(token)
    timers?.delete(token)
    return cb
  }

  /** @internal The batch ended: staged bytes have been handed to the native side. */
  [kBatchEnd](): void {
    if ((this.#flags & DRAIN_EXPECTED) !== 0) this.#flags = (this.#flags & ~DRAIN_EXPECTED) | UNWRITABLE
  }

  /**
   * The PROXY protocol header this connection arrived with (listeners with `proxyProtocol`;
   * Rust `Conns::proxy_header`): the original client and server addresses and any v2 TLVs;
   * `undefined` without one.
   */
  get proxyHeader(): ProxyHeader | undefined {
    if (this.slot < 0 || (this.#flags & OPEN) === 0) return undefined
    const h = this.#sink.call((n) => n.proxyHeader(this.slot, this.generation))
    if (h == null) return undefined
    return {
      source: h.source == null ? undefined : fromNativeAddress(h.source),
      destination: h.destination == null ? undefined : fromNativeAddress(h.destination),
      tlvs: h.tlvs.map((t) => ({ type: t.type, value: t.value })),
    }
  }

  /**
   * The ALPN protocol the TLS handshake agreed on (`'h2'`, `'http/1.1'`...); `false` on a TLS
   * connection without one, as in `node:tls`; `undefined` without TLS or once closed.
   */
  get alpnProtocol(): string | false | undefined {
    if (this.slot < 0 || (this.#flags & OPEN) === 0) return undefined
    const t = this.#sink.call((n) => n.tlsInfo(this.slot, this.generation))
    if (t == null) return undefined
    return t.alpnProtocol ?? false
  }

  /**
   * Whether the TLS handshake resumed an earlier session (a ticket or session ID) instead of
   * a full handshake, as `isSessionReused()` in `node:tls`; `undefined` without TLS or once
   * closed.
   */
  get tlsResumed(): boolean | undefined {
    if (this.slot < 0 || (this.#flags & OPEN) === 0) return undefined
    return this.#sink.call((n) => n.tlsInfo(this.slot, this.generation))?.resumed
  }

  /**
   * Whether the kernel carries this connection's TLS records (`tls: { ktls: true }` on a
   * Linux kernel with the `tls` module) rather than rustls in user space; `undefined` without
   * TLS, before the handshake finished, or once closed.
   */
  get tlsKernel(): boolean | undefined {
    if (this.slot < 0 || (this.#flags & OPEN) === 0) return undefined
    return this.#sink.call((n) => n.tlsInfo(this.slot, this.generation))?.kernel
  }

  /**
   * The certificate the TLS peer presented: a server's always, a client's when the server
   * set `requestCert` (mutual TLS). `undefined` without TLS, without a peer certificate, or
   * once closed. Copied on each read.
   */
  get peerCertificate(): PeerCertificate | undefined {
    if (this.slot < 0 || (this.#flags & OPEN) === 0) return undefined
    const chain = this.#sink.call((n) => n.tlsPeerCertificates(this.slot, this.generation))
    if (chain == null || chain.length === 0) return undefined
    return { raw: chain[0], chain, subject: subjectOf(chain[0]) }
  }

  /** Bytes received and held for the next delivery: a partial frame of its codec, or what `onTraffic` did not consume. */
  get inboundBuffered(): number {
    if ((this.#flags & OPEN) === 0 || this.slot < 0) return 0
    return this.#sink.call((n) => n.inboundBuffered(this.slot, this.generation))
  }

  /** Bytes accepted for this connection and not yet handed to the kernel. */
  get outboundBuffered(): number {
    if ((this.#flags & OPEN) === 0) return 0
    this.#sink.flush()
    return this.#sink.call((n) => n.outboundBuffered(this.slot, this.generation))
  }

  /**
   * KCP statistics of a `kcp://` connection: RTT, RTO, retransmissions, windows, and the
   * packet layers' counters (`layers`). Throws `ERR_INVALID_ARG_VALUE` on other transports.
   */
  kcpStats(): KcpStats {
    this.#check()
    this.#sink.flush()
    const { layers, ...stats } = this.#sink.call((n) => n.kcpStats(this.slot, this.generation))
    return { ...stats, layers: Object.fromEntries(layers.map((c) => [c.name, c.value])) }
  }

  /** `TCP_NODELAY` (no effect on Unix sockets). */
  setNoDelay(noDelay = true): this {
    this.#check()
    this.#sink.call((n) => n.setNoDelay(this.slot, this.generation, noDelay))
    return this
  }

  /**
   * TCP keep-alive: `idle` ms before the first probe, then every `interval` ms, dropping the
   * connection after `count` unanswered probes. `enabled` false turns it off.
   */
  setKeepAlive(enabled: boolean, idle = 60_000, interval = Math.max(1000, idle / 5), count = 5): this {
    this.#check()
    const ms = enabled ? Math.max(1000, Math.floor(idle)) : 0
    this.#sink.call((n) => n.setKeepAlive(this.slot, this.generation, ms, Math.floor(interval), count))
    return this
  }

  /** `SO_LINGER` in seconds: 0 makes `close()` reset the connection; `undefined` turns lingering off. */
  setLinger(seconds?: number): this {
    this.#check()
    const linger = seconds === undefined ? -1 : Math.floor(seconds)
    this.#sink.call((n) => n.setLinger(this.slot, this.generation, linger))
    return this
  }

  /** `SO_RCVBUF` in bytes. */
  setRecvBufferSize(bytes: number): this {
    this.#check()
    this.#sink.call((n) => n.setBufferSize(this.slot, this.generation, 'recv', bytes))
    return this
  }

  /** `SO_SNDBUF` in bytes. */
  setSendBufferSize(bytes: number): this {
    this.#check()
    this.#sink.call((n) => n.setBufferSize(this.slot, this.generation, 'send', bytes))
    return this
  }

  /**
   * @internal The connection ended. Returns the write callbacks still pending, to be told
   * `ERR_CONN_CLOSED` (each exactly once); timers are dropped.
   */
  [kEnded](): WriteDoneCallback[] {
    this.#mark(OPEN, false)
    const rare = this.#rare
    if (rare === undefined) return []
    rare.timers = undefined
    const pending = rare.writeCbs === undefined ? [] : [...rare.writeCbs.values()]
    rare.writeCbs = undefined
    return pending
  }
}
