/**
 * One reactor as seen from its JS thread: the native reactor, the batch dispatcher that calls
 * the user's handler, and the staging of writes made during a batch. The main thread and
 * every worker thread each run one.
 */
import { speaksTls } from './tls'
import type { WebRtcAuthorizeRequest } from './webrtc-options'
import {
  ascii,
  EV_ACCEPT_ERROR,
  EV_CARRIER,
  EV_CLOSE,
  EV_DATA,
  EV_DATAGRAM,
  EV_END,
  EV_DRAIN,
  EV_ERROR,
  EV_EXECUTE,
  EV_HANDSHAKE_ERROR,
  EV_IDLE,
  EV_OPEN,
  EV_SHUTDOWN,
  EV_TICK,
  EV_TIMER,
  EV_UNRELIABLE,
  EV_WRITABILITY,
  EV_WRITE_DONE,
  EV_WEBRTC_OFFER,
  OP_CLOSE,
  OP_DESTROY,
  OP_END,
  OP_EXPECT_DRAIN,
  OP_MARK,
  OP_RETAIN,
  OP_KEEP,
  OP_SEND_TO,
  OP_STRIDE,
  OP_WRITE,
  STAGE_MAX_WRITE,
  STAGED_BYTES,
  STAGED_OPS,
  STRIDE,
} from './boundary'
import { dialTarget, inetAddr, type PeerAddr } from './address'
import { Conn, type ConnSink, kBatchEnd, kConsumer, kEnded, kLink, kRebind, kTimer, kWritability, kWriteDone, kWriteRecord } from './conn'
import type { Codec, LtvCodec } from './codecs'
import { httpWebSocketHandler, type HttpWebSocketHandler } from './http-websocket'
import { ltvHandler, messageOf, type LtvHandler, type WriteOptions } from './ltv'
import { messageBytes } from './pubsub'
import { messageRecord, websocketHandler, type WebSocketAdapter, type WebSocketConn, type WebSocketHandler } from './websocket'
import { DatagramSocket } from './datagram'
import { type DatagramCarrier, kCarrierId, kCarrierSend } from './carrier'
import { AbortError, ConnClosedError, ConnectionError, type ConnectionErrorDetails, errorFromCode, fromNative, InvalidOptionError, type RiptideError } from './errors'
import type { EventHandler, IdleKind } from './handler'
import { log, type Logger } from './logger'
import { closeChannel, errorChannel, openChannel, type ConnectionCloseMessage, type ConnectionOpenMessage, type HandlerErrorMessage } from './diagnostics'
import { lookupDialUrl, namedTarget } from './lookup'
import { native, type NativeEngine, type NativeTlsDial, type NativeWsDial } from './native'
import type { KcpLayers, KcpOptions, ResolvedServeOptions } from './options'
import { ms } from './validate'
import { TaskPool, type TaskRunOptions } from './tasks'
import { markAsUntransferable } from 'node:worker_threads'

/** Event kinds that belong to one connection (its slot and generation are in the event). */
const CONN_EVENTS: ReadonlySet<number> = new Set([EV_DATA, EV_UNRELIABLE, EV_CLOSE, EV_END, EV_DRAIN, EV_ERROR, EV_WRITABILITY, EV_WRITE_DONE, EV_IDLE, EV_TIMER])

/** The events a pause holds back (see {@link Hold}). */
const READ_EVENTS: ReadonlySet<number> = new Set([EV_DATA, EV_END, EV_CLOSE])

/**
 * A connection whose events wait: until the batch that resolved its dial has been followed by
 * the code after the `await` (`'replay'`, delivered by a `setImmediate`), or until
 * `resume()` for bytes read before a `pause()` took effect (`'resume'`: only the bytes, the FIN
 * and the close wait). Either way the held events keep their order, and later ones for the
 * connection join them.
 */
interface Hold {
  generation: number
  until: 'replay' | 'resume'
  events: Deferred[]
}

/** An event held back (see {@link Hold}), its bytes copied. */
interface Deferred {
  kind: number
  slot: number
  generation: number
  extra: number
  bytes: Uint8Array
}

/** The native form of the options. */
export function nativeOptions(o: ResolvedServeOptions) {
  const hb = o.heartbeat
  return {
    eventBudget: o.eventBudget,
    readBufferCap: o.readBufferCap,
    readBudget: o.readBudget,
    writeBufferCap: o.writeBufferCap,
    noDelay: o.tcpNoDelay,
    backlog: o.backlog,
    reuseAddr: o.reuseAddr,
    reusePort: o.reusePort,
    keepAliveIdle: o.tcpKeepAlive?.idle ?? 0,
    keepAliveInterval: o.tcpKeepAlive?.interval ?? 0,
    keepAliveCount: o.tcpKeepAlive?.count ?? 0,
    socketRecvBuffer: o.socketRecvBuffer,
    socketSendBuffer: o.socketSendBuffer,
    bindToDevice: o.bindToDevice,
    reactors: o.reactors,
    driver: o.driver,
    loadBalancing: o.loadBalancing,
    udpSessionTimeout: o.udpSessionTimeout,
    maxUdpSessions: o.maxUdpSessions,
    multicastInterface: o.multicastInterface,
    multicastInterfaceIndex: 0,
    writeHighWaterMark: o.writeHighWaterMark,
    writeLowWaterMark: o.writeLowWaterMark,
    maxOutbound: o.maxOutbound,
    closeTimeout: o.closeTimeout,
    allowHalfOpen: o.allowHalfOpen,
    // A heartbeat is read/write idleness handled here; it takes those two timeouts.
    idleRead: hb?.timeout ?? o.idleTimeout.read,
    idleWrite: hb?.interval ?? o.idleTimeout.write,
    idleAll: o.idleTimeout.all,
    observeOutput: o.idleTimeout.observeOutput,
    maxConnections: o.maxConnections,
    maxConnectionsPerIp: o.maxConnectionsPerIp,
    frameTimeout: o.frameTimeout,
    backpressure: o.backpressure.policy,
    maxBackpressure: o.backpressure.maxBackpressure,
  }
}

/** The native form of a `kcp://` listener's or dial's KCP options with its packet layers and carrier. */
export function nativeKcp(kcp: Required<KcpOptions>, layers: KcpLayers, carrier?: DatagramCarrier) {
  const crypt = layers.crypt
  return {
    ...kcp,
    fec: layers.fec,
    crypt: crypt === undefined ? undefined : typeof crypt.key === 'string' ? { cipher: crypt.cipher, pass: crypt.key } : { cipher: crypt.cipher, key: crypt.key ?? new Uint8Array(0) },
    secure: layers.secure,
    carrier: carrier?.[kCarrierId],
  }
}

/** A listener: its URL and, optionally, its codec and PROXY protocol. */
export interface ListenSpec {
  url: string
  /** Framing of this listener's connections (overrides `options.codec`). */
  codec?: Codec
  /**
   * Expect a PROXY protocol header (from HAProxy, an AWS NLB...) before any data: `onOpen`
   * waits for it and `conn.remoteAddress` is the original client's; a bad or missing header
   * closes the connection (`ERR_PROXY_PROTOCOL`, `ETIMEDOUT`) without `onOpen`.
   */
  proxyProtocol?: 'v1' | 'v2' | 'any'
  /** Ms the PROXY header may take. Default `3000`. */
  proxyTimeout?: number
  /**
   * Speak TLS (with `serve`'s `options.tls`) on a `tcp://` or `unix://` listener, as a
   * `tls://` one does: TLS over Unix sockets. Default: `true` for `tls://`, else `false`.
   */
  tls?: boolean
  /**
   * `kcp://name` listeners only: carry the sessions' datagrams through this application
   * carrier instead of a UDP socket (`name` is the listener's own, 1 to 128 visible ASCII
   * characters; nothing is bound). Only reactor 0 serves it. See {@link DatagramCarrier}.
   */
  carrier?: DatagramCarrier
}

/** What a reactor asks of its owner for engine-level events. */
export interface ReactorHooks {
  /** The ticker fired; returns ms to the next tick, or nothing to stop. */
  onTick?(): number | void
}

/** How a reactor's stop went. */
export interface StopCounts {
  /** Connections that closed cleanly during a graceful stop, after their queued bytes were sent. */
  drained: number
  /** Connections reset: at the drain deadline, or all of them by a stop without a drain. */
  reset: number
}

const IDLE_KINDS: readonly IdleKind[] = ['read', 'write', 'all']

/** A dial waiting for its connection to open or fail. */
interface Dial {
  generation: number
  /** The connection to bind again (a reconnect), or none for a new one. */
  conn: Conn | undefined
  /** The dialed address, for the error of a failed connect. */
  target: ConnectionErrorDetails
  aborted: boolean
  resolve(conn: Conn): void
  reject(err: unknown): void
}

/** What the reactor needs for one dial (the public options are `DialOptions` in `client.ts`). */
export interface DialRequest {
  /** Framing of the connection; the reactor's default codec when absent. */
  codec?: Codec
  /** Ms the connect may take; 0 for no limit. */
  timeout: number
  /** KCP parameters of a `kcp://` dial; the reactor's when absent. */
  kcp?: Required<KcpOptions>
  /** Packet layers of a `kcp://` dial (FEC, crypt, secure), checked by the client. */
  layers?: KcpLayers
  /** TLS of a `tls://` dial, for its server name (the client's context, or the dial's own). */
  tls?: NativeTlsDial
  /** A `ws://` or `wss://` dial's request (the reactor's codec is then `websocket`). */
  ws?: NativeWsDial
  /** The application carrier of a `kcp://name` dial (the URL names its peer). */
  carrier?: DatagramCarrier
  /** Cancels the dial while it is connecting. */
  signal?: AbortSignal
  /** A connection to reuse (reconnects). */
  conn?: Conn
}

/** A reactor on this JS thread. */
export class Reactor implements ConnSink {
  readonly #handler: EventHandler
  /** A WebSocket server's or client's adapter (the handler then), else none. */
  readonly #websocket: WebSocketAdapter<unknown> | undefined
  /** The LTV codec of an LTV server's or client's reactor (its connections take records). */
  readonly ltv: LtvCodec | undefined
  readonly #logger: Logger
  readonly #hooks: ReactorHooks
  readonly #options: ResolvedServeOptions
  readonly #conns: (Conn | undefined)[] = []
  /**
   * Generation + 1 of connections opened while the handler has neither `onOpen` nor
   * `onClose`: their `Conn` is made when JS first needs it (their first data, a timer...), so
   * idle connections cost no JS object. 0 or absent: none.
   */
  readonly #latent: number[] = []
  readonly #ops = new Int32Array(1 + OP_STRIDE * STAGED_OPS)
  readonly #bytes = new Uint8Array(STAGED_BYTES)
  /** {@link Reactor.#bytes} as a Buffer, for encoding strings into it (`Buffer#write`). */
  readonly #text = Buffer.from(this.#bytes.buffer, 0, STAGED_BYTES)
  /**
   * Connections that staged writes in the current batch: the first `#stagedCount` entries
   * (the array is reused, not truncated: setting an array's length is a runtime call).
   */
  readonly #stagedConns: (Conn | undefined)[] = []
  #stagedCount = 0
  /** Bytes each connection (by slot) staged in the current batch; zeroed when it ends. */
  #stagedBytes = new Int32Array(1024)
  /** The last peer address an open event named: the next one from the same host shares its string. */
  #lastPeer = ''
  /** Bytes `onTraffic` did not consume in this batch, per connection (kept in order). */
  readonly #tails = new Map<Conn, Uint8Array>()
  /** Connections whose `write()` returned false, owed `onWritability(conn, false)`. */
  readonly #unwritable = new Set<Conn>()
  /** The UDP listener sockets `onDatagram` names, made on first use. */
  readonly #sockets: DatagramSocket[] = []
  /** How many UDP sockets the listeners bound (`udp://` and `kcp://`, in order). */
  #udpSockets = 0
  /** What `webrtc.authorize` returned, by held request id, until the peer opens. */
  readonly #rtcContexts = new Map<number, unknown>()
  #native!: NativeEngine
  /**
   * The batch views whose buffers were last marked untransferable. Compared by view, not by
   * `.buffer`: reading a typed array's buffer calls into V8's runtime, and the native side
   * makes a new view whenever it makes new memory (each array grows on its own).
   */
  #arena: Uint8Array | undefined
  #meta: Int32Array | undefined
  #inBatch = false
  #used = 0
  #nextToken = 1
  /** Connections whose traffic a consumer (a `ConnStream`) takes. */
  #consumers = 0
  /** Connections (by slot) whose events are held back, in order (see {@link Hold}). */
  readonly #held = new Map<number, Hold>()
  #replayScheduled = false
  #tasks: Array<() => void> = []
  readonly #dials = new Map<number, Dial>()
  /** The application carriers of this reactor's listeners and dials, by id. */
  readonly #carriers = new Map<number, DatagramCarrier>()
  /** Carried dials' carriers by slot, let go when the dial's connection closes. */
  readonly #dialCarriers = new Map<number, { generation: number; id: number }>()
  /** This reactor's task pool (`options.tasks`), made once the reactor runs. */
  #pool: TaskPool | undefined
  /** Resolves when the native reactor has delivered its shutdown. */
  readonly stopped: Promise<StopCounts>
  #markStopped!: (counts: StopCounts) => void

  constructor(handler: EventHandler, options: ResolvedServeOptions, hooks: ReactorHooks = {}) {
    // A WebSocket server's handler speaks in messages; the adapter turns records into them
    // (on an HTTP server that upgrades chosen routes, HTTP requests too).
    const codec = options.codec
    this.#websocket =
      codec?.kind === 'websocket'
        ? websocketHandler(handler as WebSocketHandler)
        : codec?.kind === 'http1' && codec.websocket !== undefined
          ? httpWebSocketHandler(handler as HttpWebSocketHandler)
          : undefined
    // An LTV handler's onTraffic takes messages with their id; the adapter reads the records.
    this.ltv = codec?.kind === 'ltv' ? codec : undefined
    this.#handler = this.#websocket ?? (this.ltv === undefined ? handler : ltvHandler(handler as LtvHandler, this.ltv))
    this.#logger = options.logger
    this.#options = options
    this.#hooks = hooks
    this.stopped = new Promise((resolve) => (this.#markStopped = resolve))
    // Rust reads the staging arrays between batches: they must never move to another thread.
    markAsUntransferable(this.#ops.buffer)
    markAsUntransferable(this.#bytes.buffer)
  }

  /** The engine's `webrtc://` listener options, checked. */
  get webrtcOptions(): ResolvedServeOptions['webrtc'] {
    return this.#options.webrtc
  }

  /** Gives a WebRTC peer's new Conn what `webrtc.authorize` returned for its offer. */
  #rtcContext(conn: Conn): void {
    const request = this.#native.webrtcRequest(conn.slot, conn.generation)
    if (request === null || request === undefined || !this.#rtcContexts.has(request)) return
    conn.context = this.#rtcContexts.get(request)
    this.#rtcContexts.delete(request)
  }

  /** Binds the listeners and starts reactor 0 of a new engine. Throws riptide errors. */
  listen(listeners: ListenSpec[]): void {
    this.#udpSockets = listeners.filter((l) => /^(udp|kcp|webrtc)[46]?:/i.test(l.url)).length
    const o = nativeOptions(this.#options)
    const specs = listeners.map((l) => ({
      url: l.url,
      codec: l.codec ?? this.#options.codec,
      proxyProtocol: l.proxyProtocol,
      proxyTimeout: l.proxyTimeout,
      kcp: nativeKcp(this.#options.kcp, this.#options, l.carrier),
      tls: speaksTls(l) ? this.#options.tls : undefined,
      webrtc: /^webrtc[46]?:/i.test(l.url) ? { ...this.#options.webrtc, authorize: this.#options.webrtc.authorize !== undefined } : undefined,
    }))
    this.#start(() => native.NativeEngine.listen(specs, o, this.#dispatch, this.#ops, this.#bytes))
    for (const l of listeners) if (l.carrier !== undefined) this.#carriers.set(l.carrier[kCarrierId], l.carrier)
  }

  /** Starts reactor `index` of engine `engineId` on this thread. */
  join(engineId: number, index: number): void {
    this.#start(() => native.NativeEngine.join(engineId, index, this.#options.driver, this.#dispatch, this.#ops, this.#bytes))
  }

  #start(make: () => NativeEngine): void {
    try {
      this.#native = make()
    } catch (err) {
      throw fromNative(err)
    }
    if (this.#options.tasks !== undefined) this.#pool = new TaskPool(this.#options.tasks, this.#logger)
  }

  /** The native reactor. */
  get nativeEngine(): NativeEngine {
    return this.#native
  }

  get engineId(): number {
    return this.#native.engineId
  }

  get reactorIndex(): number {
    return this.#native.index
  }

  /**
   * True for a WebSocket server's reactor (or an HTTP one that upgrades chosen routes): its
   * connections take records (`lib/websocket.ts`).
   */
  get websocket(): boolean {
    return this.#websocket !== undefined
  }

  /**
   * Where this reactor's publications also go beyond the engine: the cross-instance bus on
   * reactor 0, a message to reactor 0 on a worker reactor (`serve`'s `bus` option).
   */
  busOut: ((topic: string, publication: Uint8Array) => void) | undefined

  publish(topic: string, publication: Uint8Array): number {
    this.flush()
    const queued = this.call((n) => n.publish(topic, publication))
    this.busOut?.(topic, publication)
    return queued
  }

  /** `engine.publish(topic, data, { reliable: false })`: this reactor's subscribers' unreliable channels. */
  publishUnreliable(topic: string, data: Uint8Array): number {
    this.flush()
    return this.call((n) => n.publishUnreliable(topic, data))
  }

  publication(data: Uint8Array | string, options?: WriteOptions): Uint8Array {
    return this.#websocket === undefined ? messageOf(this.ltv, messageBytes(data), options) : messageRecord(data)
  }

  /** The WebSocket of a connection of a WebSocket reactor, once open (see {@link WebSocketAdapter.opened}). */
  websocketOpened(conn: Conn): Promise<WebSocketConn> {
    return this.#websocket!.opened(conn)
  }

  /** The WebSocket of a connection of a WebSocket reactor. */
  websocketOf(conn: Conn): WebSocketConn {
    return this.#websocket!.of(conn)
  }

  get highWaterMark(): number {
    return this.#options.writeHighWaterMark
  }

  token(): number {
    const t = this.#nextToken
    this.#nextToken = t >= 0x7fffffff ? 1 : t + 1
    return t
  }

  /**
   * Dials `url`; resolves with the connection when it opens (after `onOpen`), rejects with
   * the lookup or connect error (`ENOTFOUND`, `ECONNREFUSED`, `ETIMEDOUT`, `ABORT_ERR`...) or
   * `ERR_INVALID_ADDRESS` for a bad address. A host that is a name is looked up first off
   * this thread (`lookup.ts`); `o.timeout` covers the lookup and the connect together. The
   * abort listener on `o.signal` is removed once the dial settles.
   */
  dial(url: string, o: DialRequest): Promise<Conn> {
    if (o.signal?.aborted) return Promise.reject(new AbortError())
    // A carrier's URL names a peer, not a host.
    const named = o.carrier === undefined ? namedTarget(url) : undefined
    if (named === undefined) return this.#connect(url, o)
    const started = performance.now()
    return lookupDialUrl(named, o.signal, o.timeout).then((literal) => {
      // What the lookup used of the connect timeout is gone (at least 1 ms is left, since
      // 0 would mean no limit).
      const timeout = o.timeout === 0 ? 0 : Math.max(1, Math.ceil(o.timeout - (performance.now() - started)))
      return this.#connect(literal, { ...o, timeout })
    })
  }

  /** The native dial of `url` (an IP literal or a Unix path, names having been looked up). */
  #connect(url: string, o: DialRequest): Promise<Conn> {
    const signal = o.signal
    if (signal?.aborted) return Promise.reject(new AbortError())
    const spec = o.codec ?? this.#options.codec
    // A WebSocket dial's codec carries its upgrade request.
    const codec = spec !== undefined && o.ws !== undefined ? { ...spec, request: o.ws } : spec
    let id: ReturnType<NativeEngine['dial']>
    try {
      id = this.call((n) => n.dial(url, codec, o.timeout, nativeKcp(o.kcp ?? this.#options.kcp, o.layers ?? {}, o.carrier), o.tls))
    } catch (err) {
      return Promise.reject(err)
    }
    if (o.carrier !== undefined) {
      const carrierId = o.carrier[kCarrierId]
      this.#carriers.set(carrierId, o.carrier)
      this.#dialCarriers.set(id.slot, { generation: id.generation, id: carrierId })
    }
    const target: ConnectionErrorDetails = { syscall: 'connect' }
    try {
      const peer = this.#native.peer(id.slot, id.generation).addr
      target.address = peer.address
      if (peer.family !== 'unix') target.port = peer.port
    } catch {
      // Already failed and gone (the thread driver's reactor may have seen the refusal
      // before this line): the URL names the same target (an IP literal or a path by now).
      Object.assign(target, dialTarget(url))
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (this.#dials.get(id.slot) !== dial) return
        dial.aborted = true
        try {
          this.#native.destroy(id.slot, id.generation)
        } catch {
          // Already closing: its close event settles the dial.
        }
      }
      // A signal may outlive many dials (one AbortController for a whole client): the
      // listener goes when this dial settles, so listeners do not pile up on it.
      const dial: Dial = {
        generation: id.generation,
        conn: o.conn,
        target,
        aborted: false,
        resolve: (conn) => {
          signal?.removeEventListener('abort', onAbort)
          resolve(conn)
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort)
          reject(err)
        },
      }
      this.#dials.set(id.slot, dial)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Adopts a connected socket descriptor; resolves with its connection once open. */
  enroll(fd: number, codec?: Codec): Promise<Conn> {
    const id = this.call((n) => n.enroll(fd, codec ?? this.#options.codec))
    return new Promise((resolve, reject) => {
      this.#dials.set(id.slot, { generation: id.generation, conn: undefined, target: { syscall: 'connect' }, aborted: false, resolve, reject })
    })
  }

  /** Runs `fn` inside this reactor's next batch. */
  execute(fn: () => void): void {
    this.#tasks.push(fn)
    this.#native.requestExecute()
  }

  /**
   * Stops this reactor; {@link Reactor.stopped} resolves once its closes are delivered. With
   * `drainMs` > 0 connections first get that long to send what is queued.
   */
  stop(drainMs = 0): Promise<StopCounts> {
    // Connections are closing: what the pool has queued or running could not be written back.
    const pool = this.#pool?.close()
    this.#native.stop(drainMs)
    return pool === undefined ? this.stopped : Promise.all([this.stopped, pool]).then(([counts]) => counts)
  }

  /** Runs a task in this reactor's pool (see `TaskPool.run`); `ERR_INVALID_ARG_VALUE` without `options.tasks`. */
  task<R>(payload: unknown, options?: TaskRunOptions): Promise<R> {
    if (this.#pool === undefined) return Promise.reject(new InvalidOptionError('task() needs a task pool: serve(..., { tasks: { module, threads, maxQueue } })'))
    return this.#pool.run<R>(payload, options)
  }

  call<T>(fn: (n: NativeEngine) => T): T {
    try {
      return fn(this.#native)
    } catch (err) {
      throw fromNative(err)
    }
  }

  #stage(op: number, conn: Conn, offset: number, length: number): void {
    const ops = this.#ops
    const at = 1 + ops[0] * OP_STRIDE
    ops[at] = op
    ops[at + 1] = conn.slot
    ops[at + 2] = conn.generation
    ops[at + 3] = offset
    ops[at + 4] = length
    ops[0]++
  }

  write(conn: Conn, data: Uint8Array): boolean | undefined {
    const len = data.byteLength
    if (this.#inBatch && len <= STAGE_MAX_WRITE) {
      if (this.#ops[0] >= STAGED_OPS || this.#used + len > STAGED_BYTES) this.flush()
      this.#bytes.set(data, this.#used)
      this.#staged(conn, len)
      return undefined
    }
    this.flush()
    return this.call((n) => n.write(conn.slot, conn.generation, data))
  }

  writeString(conn: Conn, text: string): boolean | undefined {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit: within that bound the string is encoded
    // once, into the staging area, instead of into a Buffer that is then copied there.
    const most = text.length * 3
    if (this.#inBatch && most <= STAGE_MAX_WRITE && this.#ops[0] < STAGED_OPS && this.#used + most <= STAGED_BYTES) {
      this.#staged(conn, this.#text.write(text, this.#used))
      return undefined
    }
    return this.write(conn, Buffer.from(text))
  }

  /** Stages the write of the `len` bytes just put at the end of the staging area. */
  #staged(conn: Conn, len: number): void {
    this.#stage(OP_WRITE, conn, this.#used, len)
    this.#used += len
    const slot = conn.slot
    if (slot >= this.#stagedBytes.length) this.#growStaged(slot)
    this.#stagedBytes[slot] += len
    this.#stagedConns[this.#stagedCount++] = conn
  }

  stagedBytes(conn: Conn): number {
    const slot = conn.slot
    return slot >= 0 && slot < this.#stagedBytes.length ? this.#stagedBytes[slot] : 0
  }

  /** Makes room for `slot` in the per-slot staged counts (doubling). */
  #growStaged(slot: number): void {
    let size = this.#stagedBytes.length
    while (size <= slot) size *= 2
    const grown = new Int32Array(size)
    grown.set(this.#stagedBytes)
    this.#stagedBytes = grown
  }

  /**
   * A peer address from the batch arena: the string of the previous open event when the bytes
   * are the same (a busy server's clients come from few hosts), so idle connections from one
   * host share it.
   */
  #peerAddress(arena: Uint8Array, offset: number, length: number): string {
    const last = this.#lastPeer
    if (last.length === length) {
      let same = true
      for (let i = 0; i < length; i++) {
        if (arena[offset + i] !== last.charCodeAt(i)) {
          same = false
          break
        }
      }
      if (same) return last
    }
    return (this.#lastPeer = ascii(arena, offset, length))
  }

  expectDrain(conn: Conn): void {
    if (this.#ops[0] >= STAGED_OPS) this.flush()
    this.#stage(OP_EXPECT_DRAIN, conn, 0, 0)
  }

  consume(conn: Conn): void {
    this.#consumers++
    // A `false` owed to the handler is the stream's business now.
    this.#unwritable.delete(conn)
  }

  unwritable(conn: Conn): void {
    if (this.#handler.onWritability === undefined || conn[kConsumer] !== undefined) return
    this.#unwritable.add(conn)
    // Outside a batch: deliver from the next one.
    if (!this.#inBatch) this.#native.requestExecute()
  }

  /** Tells the handler about connections a `write()` found unwritable. */
  #tellUnwritable(): void {
    for (const conn of this.#unwritable) {
      this.#unwritable.delete(conn)
      this.#writability(conn, false)
    }
  }

  #writability(conn: Conn, writable: boolean): void {
    const consumer = conn[kConsumer]
    if (consumer !== undefined) {
      if (writable) consumer.writable()
      return
    }
    const h = this.#handler
    if (h.onWritability !== undefined && conn.open) this.#safely('onWritability', conn, () => h.onWritability!(conn, writable))
  }

  mark(conn: Conn, token: number): void {
    if (this.#inBatch) {
      if (this.#ops[0] >= STAGED_OPS) this.flush()
      this.#stage(OP_MARK, conn, token, 0)
      return
    }
    this.call((n) => n.mark(conn.slot, conn.generation, token))
  }

  sendTo(socket: number, address: string, port: number, data: Uint8Array): void {
    const len = data.byteLength
    if (this.#inBatch && len <= STAGE_MAX_WRITE && address.length < 64) {
      const ops = this.#ops
      if (ops[0] >= STAGED_OPS || this.#used + address.length + len > STAGED_BYTES) this.flush()
      const start = this.#used
      for (let i = 0; i < address.length; i++) this.#bytes[start + i] = address.charCodeAt(i)
      this.#bytes.set(data, start + address.length)
      const at = 1 + ops[0] * OP_STRIDE
      ops[at] = OP_SEND_TO
      ops[at + 1] = socket
      ops[at + 2] = (port << 8) | address.length
      ops[at + 3] = start
      ops[at + 4] = len
      ops[0]++
      this.#used += address.length + len
      return
    }
    this.flush()
    this.call((n) => n.sendTo(socket, address, port, data))
  }

  /**
   * UDP listener socket `index` of the listeners given to `listen` (the object `onDatagram`
   * passes for it); undefined past the last, and on a worker reactor (it listens through
   * the engine's).
   */
  datagramSocket(index: number): DatagramSocket | undefined {
    return index < this.#udpSockets ? this.#socket(index) : undefined
  }

  /** The one `DatagramSocket` of UDP socket `index`, made on first use. */
  #socket(index: number): DatagramSocket {
    return (this.#sockets[index] ??= new DatagramSocket(this, index))
  }

  writev(conn: Conn, data: Uint8Array[]): void {
    this.flush()
    this.call((n) => n.writev(conn.slot, conn.generation, data))
  }

  close(conn: Conn): void {
    if (this.#inBatch) {
      if (this.#ops[0] >= STAGED_OPS) this.flush()
      this.#stage(OP_CLOSE, conn, 0, 0)
      return
    }
    this.call((n) => n.close(conn.slot, conn.generation))
  }

  end(conn: Conn): void {
    if (this.#inBatch) {
      if (this.#ops[0] >= STAGED_OPS) this.flush()
      this.#stage(OP_END, conn, 0, 0)
      return
    }
    this.flush()
    this.call((n) => n.end(conn.slot, conn.generation))
  }

  destroy(conn: Conn): void {
    if (this.#inBatch) {
      if (this.#ops[0] >= STAGED_OPS) this.flush()
      this.#stage(OP_DESTROY, conn, 0, 0)
      return
    }
    this.flush()
    try {
      this.call((n) => n.destroy(conn.slot, conn.generation))
    } catch {
      // Already gone: onClose has been or will be delivered.
    }
  }

  /** Applies staged writes, closes, half-closes and resets now. */
  flush(): void {
    if (this.#ops[0] === 0) return
    this.#native.flush()
    this.#used = 0
  }

  /** Stages the bytes to redeliver in front of the connection's next data. */
  #retain(conn: Conn, tail: Uint8Array): void {
    if (!conn.open) return
    const arena = this.#arena
    if (arena !== undefined && tail.buffer === arena.buffer) {
      // Still where the reactor put them: Rust keeps them from there, by offset and count.
      if (this.#ops[0] >= STAGED_OPS) this.flush()
      this.#stage(OP_KEEP, conn, tail.byteOffset - arena.byteOffset, tail.length)
      return
    }
    if (tail.length > STAGE_MAX_WRITE) {
      // Too big to stage: handed over directly (after what was staged before it).
      this.flush()
      this.call((n) => n.retain(conn.slot, conn.generation, tail))
      return
    }
    if (this.#ops[0] >= STAGED_OPS || this.#used + tail.length > STAGED_BYTES) this.flush()
    this.#bytes.set(tail, this.#used)
    this.#stage(OP_RETAIN, conn, this.#used, tail.length)
    this.#used += tail.length
  }

  /** Calls a user callback, routing a throw to `onError`. */
  #safely(where: string, conn: Conn | undefined, fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.report(err, conn, where)
    }
  }

  /** `conn.resume()`: what was held for it while paused is delivered a macrotask later. */
  resumed(conn: Conn): void {
    const hold = this.#held.get(conn.slot)
    if (hold !== undefined && hold.generation === conn.generation && hold.until === 'resume') this.#release(hold)
  }

  /** Schedules the delivery of `hold`'s events (events arriving meanwhile join them). */
  #release(hold: Hold): void {
    hold.until = 'replay'
    if (this.#replayScheduled) return
    this.#replayScheduled = true
    setImmediate(this.#replay)
  }

  /**
   * Delivers the released holds' events as one batch. For a dial, the code after `await
   * dial()` has run by now (in the microtasks after the batch that opened it), so what came in
   * the same batch as the open (bytes, the peer's FIN, the close) reaches a stream or
   * handler attached right after the await, as it would have had it come a wake later.
   */
  readonly #replay = (): void => {
    this.#replayScheduled = false
    const events: Deferred[] = []
    for (const [slot, hold] of this.#held) {
      if (hold.until !== 'replay') continue
      events.push(...hold.events)
      this.#held.delete(slot)
    }
    const meta = new Int32Array(events.length * STRIDE)
    const arena = new Uint8Array(events.reduce((n, e) => n + e.bytes.length, 0))
    let used = 0
    events.forEach((e, i) => {
      meta.set([e.kind, e.slot, e.generation, used, e.bytes.length, e.extra], i * STRIDE)
      arena.set(e.bytes, used)
      used += e.bytes.length
    })
    this.#dispatch(events.length, meta, arena)
    // Not a native batch, so no driver applies what the handlers staged: apply it here.
    if (this.#native.running) this.flush()
  }

  /** Called by the native driver once per wake with the batch of events. */
  readonly #dispatch = (count: number, meta: Int32Array, arena: Uint8Array): void => {
    if (arena !== this.#arena || meta !== this.#meta) {
      // The batch arrays are shared with Rust: a transfer (postMessage, structuredClone)
      // would free memory Rust writes. New arrays come when a batch outgrows the old ones.
      markAsUntransferable(arena.buffer)
      markAsUntransferable(meta.buffer)
      this.#arena = arena
      this.#meta = meta
    }
    this.#inBatch = true
    this.#used = 0
    const h = this.#handler
    try {
      for (let i = 0; i < count; i++) {
        const at = i * STRIDE
        const kind = meta[at]
        const slot = meta[at + 1]
        const generation = meta[at + 2]
        const offset = meta[at + 3]
        const length = meta[at + 4]
        if (this.#held.size > 0 && CONN_EVENTS.has(kind)) {
          const hold = this.#held.get(slot)
          // A pause holds back only what reading delivers (bytes, then the FIN and the close,
          // in order); writability, write completions and timers still arrive, or a pipe
          // waiting to drain would never read again.
          if (hold !== undefined && hold.generation === generation && (hold.until === 'replay' || READ_EVENTS.has(kind))) {
            hold.events.push({ kind, slot, generation, extra: meta[at + 5], bytes: arena.slice(offset, offset + length) })
            // A close ends a pause's hold: what was held and the close arrive a macrotask later.
            if (kind === EV_CLOSE) this.#release(hold)
            continue
          }
        }
        if (kind === EV_DATA) {
          if (h.onTraffic === undefined && this.#consumers === 0) continue
          const conn = this.#conn(slot, generation)
          if (conn === undefined) continue
          let data = arena.subarray(offset, offset + length)
          const tail = this.#tails.size > 0 ? this.#tails.get(conn) : undefined
          if (tail !== undefined) {
            data = Buffer.concat([tail, data])
            this.#tails.delete(conn)
          }
          if (conn.paused) {
            // Read before the pause took effect (an earlier event of this batch paused it, or
            // the reactor thread read ahead): held, with what follows, until resume().
            const bytes = data.slice()
            this.#held.set(slot, { generation, until: 'resume', events: [{ kind, slot, generation, extra: 0, bytes }] })
            continue
          }
          const consumer = conn[kConsumer]
          if (consumer !== undefined) {
            this.#safely('stream', conn, () => consumer.traffic(data))
            continue
          }
          if (h.onTraffic === undefined) continue
          let consumed: number | void = undefined
          try {
            consumed = h.onTraffic(conn, data)
          } catch (err) {
            this.report(err, conn, 'onTraffic')
          }
          // Custom framing: keep what was not consumed for the next delivery.
          if (typeof consumed === 'number' && consumed < data.length && conn.open) {
            // A view: the batch's bytes stay valid until its staged ops are applied.
            this.#tails.set(conn, data.subarray(Math.max(0, Math.floor(consumed))))
          }
        } else if (kind === EV_UNRELIABLE) {
          if (h.onUnreliable === undefined) continue
          const conn = this.#conn(slot, generation)
          if (conn === undefined) continue
          const data = arena.subarray(offset, offset + length)
          this.#safely('onUnreliable', conn, () => h.onUnreliable!(conn, data))
        } else if (kind === EV_OPEN) {
          const extra = meta[at + 5]
          const udp = extra >>> 16
          const dial = this.#dials.get(slot)
          let conn: Conn
          if (dial !== undefined && dial.generation === generation) {
            this.#dials.delete(slot)
            conn = dial.conn ?? new Conn(this, slot, generation, this.#peerAddress(arena, offset, length), extra & 0xffff)
            if (dial.conn !== undefined) conn[kRebind](slot, generation)
            dial.resolve(conn)
            this.#held.set(slot, { generation, until: 'replay', events: [] })
          } else if (h.onOpen === undefined && h.onClose === undefined && !openChannel.hasSubscribers && !closeChannel.hasSubscribers) {
            this.#latent[slot] = generation + 1
            continue
          } else {
            conn = new Conn(this, slot, generation, this.#peerAddress(arena, offset, length), extra & 0xffff, udp === 0 ? undefined : udp - 1)
          }
          this.#conns[slot] = conn
          if (this.#rtcContexts.size > 0) this.#rtcContext(conn)
          if (openChannel.hasSubscribers) openChannel.publish({ conn } satisfies ConnectionOpenMessage)
          // Called directly, not through #safely: no closure per open.
          if (h.onOpen !== undefined) {
            try {
              h.onOpen(conn)
            } catch (err) {
              this.report(err, conn, 'onOpen')
            }
          }
        } else if (kind === EV_CLOSE) {
          this.#closed(slot, generation, length > 0 ? ascii(arena, offset, length) : '', meta[at + 5])
        } else if (kind === EV_CARRIER) {
          const carrier = this.#carriers.get(slot)
          if (carrier === undefined) continue
          const data = arena.subarray(offset + generation, offset + generation + length)
          const peer = ascii(arena, offset, generation)
          this.#safely('carrier send', undefined, () => carrier[kCarrierSend](data, peer))
        } else if (kind === EV_DATAGRAM) {
          const data = arena.subarray(offset + generation, offset + generation + length)
          if (h.onDatagram !== undefined) {
            const socket = this.#socket(slot)
            const peer = inetAddr(ascii(arena, offset, generation), meta[at + 5])
            this.#safely('onDatagram', undefined, () => h.onDatagram!(socket, peer, data))
            continue
          }
          if (h.onTraffic === undefined) continue
          const conn = new Conn(this, -1, -1, ascii(arena, offset, generation), meta[at + 5], slot)
          this.#safely('onTraffic', conn, () => h.onTraffic!(conn, data))
        } else {
          this.#other(kind, slot, generation, meta[at + 5], length > 0 ? ascii(arena, offset, length) : '')
        }
      }
      this.#tellUnwritable()
    } finally {
      if (this.#tails.size > 0) {
        for (const [conn, tail] of this.#tails) this.#retain(conn, tail)
        // Only when used: clear() allocates a new table, once per batch otherwise.
        this.#tails.clear()
      }
      this.#inBatch = false
      for (const [slot, hold] of this.#held) {
        // A dial's hold with nothing held ends with the batch: the code after its await runs
        // in the microtasks that follow, before any later batch.
        if (hold.until === 'replay' && hold.events.length === 0) this.#held.delete(slot)
        else if (hold.until === 'replay') this.#release(hold)
      }
      const staged = this.#stagedBytes
      const conns = this.#stagedConns
      for (let i = 0; i < this.#stagedCount; i++) {
        const conn = conns[i]!
        // Not kept past the batch: a closed connection must not stay reachable from here.
        conns[i] = undefined
        staged[conn.slot] = 0
        conn[kBatchEnd]()
      }
      this.#stagedCount = 0
    }
  }

  /**
   * The connection in `slot` closed: settle a dial that never opened, or fail the pending
   * write callbacks and call `onClose` (unless a client reconnects it).
   */
  #closed(slot: number, generation: number, text: string, errno: number): void {
    const carried = this.#dialCarriers.get(slot)
    if (carried !== undefined && carried.generation === generation) {
      // The engine let the carrier go with the connection (it may serve the next dial).
      this.#dialCarriers.delete(slot)
      this.#carriers.delete(carried.id)
    }
    // `code`, or `code\0why` when the code alone does not say (a failed TLS handshake).
    const nul = text.indexOf('\0')
    const code = nul < 0 ? text : text.slice(0, nul)
    const why = nul < 0 ? '' : `: ${text.slice(nul + 1)}`
    const dial = this.#dials.get(slot)
    if (dial !== undefined && dial.generation === generation) {
      this.#dials.delete(slot)
      const failed = code || 'ECONNRESET'
      const target = { ...dial.target, errno: errno === 0 ? undefined : -errno }
      dial.reject(dial.aborted ? new AbortError() : errorFromCode(failed, `connect ${failed} ${describe(target)}${why}`, target))
      return
    }
    if (this.#latent[slot] === generation + 1) {
      // Never seen by JS and no onClose to call (else it would have had a Conn from the start).
      this.#latent[slot] = 0
      return
    }
    const conn = this.#conn(slot, generation)
    if (conn === undefined) return
    this.#conns[slot] = undefined
    // What it staged earlier in this batch must not count against the slot's next connection.
    if (slot < this.#stagedBytes.length) this.#stagedBytes[slot] = 0
    this.#unwritable.delete(conn)
    for (const cb of conn[kEnded]()) this.#safely('write callback', conn, () => cb(new ConnClosedError()))
    const err = conn.destroyError ?? (code === '' ? undefined : this.#closeError(conn, code, errno, why))
    if (closeChannel.hasSubscribers) closeChannel.publish({ conn, error: err } satisfies ConnectionCloseMessage)
    const consumer = conn[kConsumer]
    if (consumer !== undefined) {
      conn[kConsumer] = undefined
      this.#consumers--
      this.#safely('stream', conn, () => consumer.close(err))
    }
    if (conn[kLink]?.lost(conn, err)) return
    this.closeCallback(conn, err)
  }

  /**
   * The `Conn` of `slot` at `generation`: the one JS has, or one made now for a connection
   * opened without `onOpen` (its peer read from the native table).
   */
  #conn(slot: number, generation: number): Conn | undefined {
    const conn = this.#conns[slot]
    if (conn !== undefined && conn.generation === generation) return conn
    if (this.#latent[slot] !== generation + 1) return undefined
    this.#latent[slot] = 0
    let peer: ReturnType<NativeEngine['peer']>
    try {
      peer = this.#native.peer(slot, generation)
    } catch {
      return undefined
    }
    // As in the open event: Unix peers have an empty address.
    const unix = peer.addr.family === 'unix'
    const made = new Conn(this, slot, generation, unix ? '' : peer.addr.address, unix ? 0 : peer.addr.port, peer.udpSocket ?? undefined)
    this.#conns[slot] = made
    return made
  }

  /**
   * The error a connection closed with: the class for `code`, and for an OS error where it
   * arose (`write` for `EPIPE`, else `read`; none for timeouts riptide decided) and the peer.
   */
  #closeError(conn: Conn, code: string, errno: number, why: string): RiptideError {
    const syscall = errno === 0 ? undefined : code === 'EPIPE' ? 'write' : 'read'
    const details: ConnectionErrorDetails = { errno: errno === 0 ? undefined : -errno, syscall }
    const remote = conn.remote
    if (remote.family === 'unix') {
      details.address = remote.path
    } else {
      details.address = remote.address
      details.port = remote.port
    }
    return errorFromCode(code, `connection ${conn.id} closed: ${code}${syscall === undefined ? '' : ` (${syscall})`}${why}`, details)
  }

  /** Calls `onClose` (also used by clients when they give up reconnecting). */
  closeCallback(conn: Conn, err: RiptideError | undefined): void {
    const onClose = this.#handler.onClose
    if (onClose !== undefined) this.#safely('onClose', conn, () => onClose.call(this.#handler, conn, err))
  }

  /**
   * A `webrtc://` listener holds an offer for `webrtc.authorize`: `false` (or a throw, or a
   * rejection) refuses it with 403; any other value answers it and becomes the peer's
   * `conn.context` when it opens (kept until `handshakeTimeout` has passed). In geckos mode a
   * refusal is a 401 and the value is also the client's `userData` (when JSON can carry it).
   */
  #authorize(request: number, text: string): void {
    const decide = (allow: boolean, value?: unknown) => {
      try {
        if (this.#options.webrtc.geckos) this.#native.webrtcDecideGeckos(request, allow, userData(value))
        else this.#native.webrtcDecide(request, allow)
      } catch {
        // The engine stopped meanwhile: nothing to answer.
      }
    }
    const authorize = this.#options.webrtc.authorize
    if (authorize === undefined) return decide(true)
    let result: unknown
    try {
      result = authorize(JSON.parse(text) as WebRtcAuthorizeRequest)
    } catch (err) {
      this.report(err, undefined, 'webrtc.authorize')
      return decide(false)
    }
    Promise.resolve(result).then(
      (value) => {
        if (value === false) return decide(false)
        if (value !== undefined) {
          this.#rtcContexts.set(request, value)
          setTimeout(() => this.#rtcContexts.delete(request), this.#options.webrtc.handshakeTimeout + 1000).unref()
        }
        decide(true, value)
      },
      (err: unknown) => {
        this.report(err, undefined, 'webrtc.authorize')
        decide(false)
      },
    )
  }

  /** Events other than the per-byte ones. */
  #other(kind: number, slot: number, generation: number, extra: number, text: string): void {
    const h = this.#handler
    const conn = this.#conns[slot]?.generation === generation || this.#latent[slot] === generation + 1 ? this.#conn(slot, generation) : undefined
    const live = conn
    switch (kind) {
      case EV_WRITABILITY: {
        if (live === undefined) return
        // A false a write() found is told first, so false and true alternate.
        if (this.#unwritable.delete(live)) this.#writability(live, false)
        const writable = extra === 1
        if (live[kWritability](writable)) this.#writability(live, writable)
        return
      }
      case EV_WRITE_DONE: {
        if (conn === undefined || conn.generation !== generation) return
        const cb = conn[kWriteDone](extra, text === '' ? undefined : errorFromCode(text, `write failed: ${text}`))
        if (cb !== undefined) this.#safely('write callback', conn, cb)
        return
      }
      case EV_END: {
        const consumer = live?.[kConsumer]
        if (consumer !== undefined) this.#safely('stream', live, () => consumer.end())
        else if (live !== undefined && h.onEnd !== undefined) this.#safely('onEnd', live, () => h.onEnd!(live))
        return
      }
      case EV_WEBRTC_OFFER:
        this.#authorize(generation * 0x1_0000_0000 + (slot >>> 0), text)
        return
      case EV_DRAIN: {
        if (live === undefined) return
        const onDrain = h.onDrain
        if (onDrain === undefined) live.close()
        else this.#safely('onDrain', live, () => onDrain.call(h, live))
        return
      }
      case EV_IDLE:
        if (live !== undefined) this.#idle(live, IDLE_KINDS[extra])
        return
      case EV_TIMER: {
        const cb = live?.[kTimer](extra)
        if (cb !== undefined) this.#safely('timer', live, cb)
        return
      }
      case EV_ERROR: {
        const nul = text.indexOf('\0')
        const code = nul < 0 ? text : text.slice(0, nul)
        this.report(errorFromCode(code, nul < 0 ? code : text.slice(nul + 1)), live, 'codec')
        return
      }
      case EV_ACCEPT_ERROR: {
        const message = `accepting paused after ${text} (${extra} so far); it resumes by itself`
        const err = new ConnectionError(text, message, { errno: generation === 0 ? undefined : -generation, syscall: 'accept' })
        const onAcceptError = h.onAcceptError
        if (onAcceptError === undefined) log(this.#logger, 'warn', message)
        else this.#safely('onAcceptError', undefined, () => onAcceptError.call(h, err, extra))
        return
      }
      case EV_HANDSHAKE_ERROR: {
        const onHandshakeError = h.onHandshakeError
        if (onHandshakeError === undefined) return
        // `ip` (generation bytes), then `code\0message`; the port in `extra`.
        const ip = text.slice(0, generation)
        const nul = text.indexOf('\0', generation)
        const code = text.slice(generation, nul)
        const peer: PeerAddr = ip === '' ? { family: 'unix', path: '' } : inetAddr(ip, extra)
        const err = errorFromCode(code, text.slice(nul + 1), peer.family === 'unix' ? undefined : { address: peer.address, port: peer.port })
        this.#safely('onHandshakeError', undefined, () => onHandshakeError.call(h, err, peer))
        return
      }
      case EV_EXECUTE: {
        const tasks = this.#tasks
        this.#tasks = []
        for (const task of tasks) this.#safely('execute', undefined, task)
        return
      }
      case EV_TICK:
        this.#tick()
        return
      case EV_SHUTDOWN:
        this.#markStopped({ drained: generation, reset: extra })
        return
    }
  }

  #idle(conn: Conn, kind: IdleKind): void {
    const hb = this.#options.heartbeat
    if (hb !== undefined && kind === 'read') {
      conn.destroy(new ConnectionError('ETIMEDOUT', `connection ${conn.id}: no data for ${hb.timeout} ms (heartbeat)`))
    } else if (hb !== undefined && kind === 'write' && conn.open) {
      // As it is: on an LTV connection, the ping is a record (its id, then its body).
      conn[kWriteRecord](hb.ping)
    }
    const onIdle = this.#handler.onIdle
    if (onIdle !== undefined) this.#safely('onIdle', conn, () => onIdle.call(this.#handler, conn, kind))
  }

  #tick(): void {
    let next: number | void = undefined
    try {
      next = this.#hooks.onTick?.()
    } catch (err) {
      this.report(err, undefined, 'onTick')
    }
    let delay = -1
    if (typeof next === 'number') {
      try {
        delay = ms('onTick return value', next)
      } catch (err) {
        // A bad delay stops the ticker, loudly.
        this.report(err, undefined, 'onTick')
      }
    }
    this.#native.scheduleTick(delay)
  }

  /** Routes an exception from a user callback to `onError`, or the logger. */
  report(err: unknown, conn: Conn | undefined, where: string): void {
    if (errorChannel.hasSubscribers) errorChannel.publish({ conn, error: err, where } satisfies HandlerErrorMessage)
    const onError = this.#handler.onError
    if (onError === undefined) {
      log(this.#logger, 'error', `uncaught exception in ${where}`, err)
      return
    }
    try {
      onError.call(this.#handler, conn, err)
    } catch (fatal) {
      // An error handler that throws must not take the process down with it (nor loop back
      // into itself): both errors go to the logger and the engine goes on.
      log(this.#logger, 'error', `onError threw while handling an exception from ${where}`, fatal)
      log(this.#logger, 'error', `the exception from ${where}`, err)
    }
  }
}

/** `address:port` (or the path) of a dial target, for messages. */
function describe(target: ConnectionErrorDetails): string {
  return target.port === undefined ? (target.address ?? '') : `${target.address}:${target.port}`
}

/** `webrtc.authorize`'s value as JSON text for geckos's `userData`; `undefined` when JSON cannot carry it. */
function userData(value: unknown): string | undefined {
  try {
    const text = JSON.stringify(value) as string | undefined
    return typeof text === 'string' ? text : undefined
  } catch {
    return undefined
  }
}
