/**
 * `riptide/rpc`: message dispatch and request/response over any riptide connection (Cellnet's
 * processor and RPC). A {@link Dispatcher} maps LTV message ids to handlers; an
 * {@link RpcPeer} sends calls and answers them on one connection (TCP, Unix, TLS, KCP,
 * WebSocket; with `codecs.ltv()`, a length field, or a message-mode transport), with
 * correlation ids, timeouts on one shared timer heap, `AbortSignal`s, a bound on calls in
 * flight, and pluggable serialization. The frame format is in `docs/rpc.md`.
 *
 * @example
 * ```ts
 * import { rpcHandler } from 'riptide/rpc'
 * const rpc = rpcHandler({ msgId: 1, onPeer: (peer) => peer.handle('add', ([a, b]: number[]) => a + b) })
 * await serve('tcp://127.0.0.1:9000', rpc, { codec: codecs.ltv() })
 * // a client: const conn = await connect(url, client, { codec: codecs.ltv() })
 * //           await client.peerOf(conn).call('add', [1, 2]) // 3
 * ```
 * @packageDocumentation
 */
import type { Conn } from './conn'
import { AbortError, ConnClosedError, InvalidOptionError, RiptideError } from './errors'
import type { LtvInfo } from './ltv'
import { int, knownKeys, ms } from './validate'
import type { WebSocketConn } from './websocket'

/** A call's answer did not come within its timeout (`ERR_RPC_TIMEOUT`). */
export class RpcTimeoutError extends RiptideError {
  /** The method called. */
  readonly method: string

  constructor(method: string, timeout: number) {
    super('ERR_RPC_TIMEOUT', `${method}: no answer within ${timeout} ms`)
    this.method = method
  }
}

/**
 * The peer's handler failed: `code` is the code it threw (an error's string `code`, when it
 * looks like one), `ERR_RPC_REMOTE` for any other throw, `ERR_RPC_UNKNOWN_METHOD` when the
 * peer handles no such method; `message` is the peer's.
 */
export class RpcRemoteError extends RiptideError {
  /** The method called. */
  readonly method: string

  constructor(method: string, code: string, message: string) {
    super(code, message)
    this.method = method
  }
}

/** A call was refused because `maxPending` calls are in flight already (`ERR_RPC_PENDING_FULL`). */
export class RpcPendingFullError extends RiptideError {
  constructor(max: number) {
    super('ERR_RPC_PENDING_FULL', `${max} calls are waiting for answers already (maxPending)`)
  }
}

/** The peer sent a malformed RPC frame, or one whose payload does not decode (`ERR_RPC_PROTOCOL`). */
export class RpcProtocolError extends RiptideError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RPC_PROTOCOL', message, options)
  }
}

/** An LTV message id no {@link Dispatcher} handler is registered for (`ERR_UNKNOWN_MESSAGE`). */
export class UnknownMessageError extends RiptideError {
  /** The message id. */
  readonly msgId: number

  constructor(msgId: number) {
    super('ERR_UNKNOWN_MESSAGE', `no handler for message id ${msgId}`)
    this.msgId = msgId
  }
}

/** Where a payload goes: a call's request or its response, for `method`. */
export interface SerializeContext {
  method: string
  direction: 'request' | 'response'
}

/** Turns payloads into bytes and back. The default is {@link json}. */
export interface Serializer {
  encode(value: unknown, context: SerializeContext): Uint8Array
  decode(bytes: Uint8Array, context: SerializeContext): unknown
}

/** JSON as UTF-8 (`undefined` travels as no bytes). */
export const json: Serializer = {
  encode: (value) => (value === undefined ? new Uint8Array(0) : Buffer.from(JSON.stringify(value))),
  decode: (bytes) => (bytes.length === 0 ? undefined : JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))),
}

/** What {@link msgpack} needs of `msgpackr`: a `Packr` (or the module itself). */
export interface MsgpackCodec {
  pack(value: unknown): Uint8Array
  unpack(bytes: Uint8Array): unknown
}

/**
 * MessagePack through `msgpackr`: `msgpack(new Packr())` (riptide does not depend on it;
 * pass your own, with the options you want: `structuredClone`, records...).
 */
export function msgpack(packr: MsgpackCodec): Serializer {
  return { encode: (value) => packr.pack(value), decode: (bytes) => packr.unpack(bytes) }
}

/** What {@link protobuf} needs of `@bufbuild/protobuf`: its `toBinary` and `fromBinary`. */
export interface ProtobufRuntime<Schema> {
  toBinary(schema: Schema, message: unknown): Uint8Array
  fromBinary(schema: Schema, bytes: Uint8Array): unknown
}

/**
 * Protocol Buffers through `@bufbuild/protobuf`: each method's request and response message
 * schemas (generated `...Schema` values, or well-known types). A method without schemas is
 * refused (`ERR_RPC_PROTOCOL` when decoding, `ERR_INVALID_ARG_VALUE` when encoding).
 *
 * @example
 * ```ts
 * import { toBinary, fromBinary } from '@bufbuild/protobuf'
 * const serializer = protobuf({ toBinary, fromBinary }, { move: { request: MoveSchema, response: StateSchema } })
 * ```
 */
export function protobuf<Schema>(runtime: ProtobufRuntime<Schema>, methods: Record<string, { request: Schema; response: Schema }>): Serializer {
  const schema = (c: SerializeContext, Err: new (m: string) => RiptideError): Schema => {
    const m = Object.hasOwn(methods, c.method) ? methods[c.method] : undefined
    if (m === undefined) throw new Err(`no protobuf schemas for method ${c.method}`)
    return m[c.direction]
  }
  return {
    encode: (value, c) => runtime.toBinary(schema(c, InvalidOptionError), value),
    decode: (bytes, c) => runtime.fromBinary(schema(c, RpcProtocolError), bytes),
  }
}

/** A connection an {@link RpcPeer} talks over. */
export type RpcConn = Conn<unknown> | WebSocketConn<unknown>

/** Options of an {@link RpcPeer} (and of {@link rpcHandler}). */
export interface RpcOptions {
  /** Payload encoding. Default {@link json}. */
  serializer?: Serializer
  /** Ms a call waits for its answer (then `ERR_RPC_TIMEOUT`); `0` for no limit. Default `30000`. */
  timeout?: number
  /** Most calls waiting for answers (then `ERR_RPC_PENDING_FULL`). Default `65536`. */
  maxPending?: number
  /** On a `codecs.ltv()` connection: the message id RPC frames travel under (required there). */
  msgId?: number
}

/** Options of one {@link RpcPeer.call}. */
export interface CallOptions {
  /** Ms to wait for the answer (then `ERR_RPC_TIMEOUT`); `0` for no limit. Default: the peer's. */
  timeout?: number
  /** Cancels the call: it rejects with an `AbortError` (`ABORT_ERR`); a late answer is dropped. */
  signal?: AbortSignal
}

/** A method's handler: the decoded payload in, the result (or a promise of it) out; a throw answers with an error. */
export type MethodHandler = (payload: unknown, peer: RpcPeer) => unknown

/** Frame kinds (the first byte; see `docs/rpc.md`). */
const REQUEST = 0x51 // 'Q'
const RESPONSE = 0x52 // 'R'
const ERROR = 0x45 // 'E'
const NOTIFY = 0x4e // 'N'
/** Kind byte, then the correlation id (u32 LE). */
const HEADER = 5
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/

/** A deadline on the shared heap. */
interface Deadline {
  at: number
  /** Set once the call settled: the heap drops it when it surfaces. */
  done: boolean
  fire(): void
}

/**
 * Every call's deadline, on one binary min-heap with one timer armed for the earliest: a call
 * costs a heap push, not a `setTimeout`. Settled calls are dropped lazily (and the heap is
 * compacted when they outnumber the live ones).
 */
class Deadlines {
  readonly #heap: Deadline[] = []
  #live = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  #armedAt = Infinity

  add(at: number, fire: () => void): Deadline {
    const d: Deadline = { at, done: false, fire }
    this.#push(d)
    this.#live++
    this.#arm()
    return d
  }

  settle(d: Deadline): void {
    if (d.done) return
    d.done = true
    this.#live--
    if (this.#heap.length > 1024 && this.#heap.length > 2 * this.#live) {
      const keep = this.#heap.filter((x) => !x.done)
      this.#heap.length = 0
      for (const x of keep) this.#push(x)
    }
  }

  #push(d: Deadline): void {
    const h = this.#heap
    let i = h.push(d) - 1
    while (i > 0) {
      const up = (i - 1) >> 1
      if (h[up].at <= d.at) break
      h[i] = h[up]
      i = up
    }
    h[i] = d
  }

  #pop(): void {
    const h = this.#heap
    const last = h.pop()!
    if (h.length === 0) return
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= h.length) break
      const c = l + 1 < h.length && h[l + 1].at < h[l].at ? l + 1 : l
      if (h[c].at >= last.at) break
      h[i] = h[c]
      i = c
    }
    h[i] = last
  }

  #arm(): void {
    while (this.#heap.length > 0 && this.#heap[0].done) this.#pop()
    const next = this.#heap[0]?.at ?? Infinity
    if (next >= this.#armedAt && this.#timer !== undefined) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#armedAt = next
    if (next === Infinity) return
    this.#timer = setTimeout(this.#expire, Math.max(0, next - performance.now()))
    // Pending calls do not keep a process alive: their connection does.
    this.#timer.unref()
  }

  readonly #expire = (): void => {
    this.#timer = undefined
    this.#armedAt = Infinity
    const now = performance.now()
    while (this.#heap.length > 0 && (this.#heap[0].done || this.#heap[0].at <= now)) {
      const d = this.#heap[0]
      this.#pop()
      if (d.done) continue
      d.done = true
      this.#live--
      d.fire()
    }
    this.#arm()
  }
}

const deadlines = new Deadlines()

/** A call waiting for its answer. */
interface Pending {
  method: string
  resolve(value: unknown): void
  reject(err: unknown): void
  deadline: Deadline | undefined
  /** Removes the abort listener. */
  unlisten: (() => void) | undefined
}

/** The method name's UTF-8 bytes: 1 to 255 of them. */
function methodBytes(method: unknown): Buffer {
  if (typeof method !== 'string') throw new InvalidOptionError('an RPC method is a string')
  const bytes = Buffer.from(method)
  if (bytes.length === 0 || bytes.length > 255) throw new InvalidOptionError('an RPC method is 1 to 255 bytes of UTF-8')
  return bytes
}

/**
 * The frame of a notification (`N`): a call that has no answer. {@link RpcPeer.notify} sends
 * one; build it yourself to publish it to many connections (`engine.publish(topic, frame, {
 * msgId })`) with one encoding.
 */
export function notifyFrame(method: string, payload: unknown, serializer: Serializer = json): Uint8Array {
  return requestFrame(NOTIFY, 0, methodBytes(method), serializer.encode(payload, { method, direction: 'request' }))
}

function requestFrame(kind: number, id: number, method: Buffer, body: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(HEADER + 1 + method.length + body.length)
  out[0] = kind
  out.writeUInt32LE(id, 1)
  out[HEADER] = method.length
  out.set(method, HEADER + 1)
  out.set(body, HEADER + 1 + method.length)
  return out
}

function answerFrame(kind: number, id: number, body: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(HEADER + body.length)
  out[0] = kind
  out.writeUInt32LE(id, 1)
  out.set(body, HEADER)
  return out
}

/** An error frame's body: the code's length and ASCII, then the message in UTF-8. */
function errorBody(code: string, message: string): Uint8Array {
  const c = Buffer.from(code, 'latin1')
  return Buffer.concat([Buffer.from([c.length]), c, Buffer.from(message)])
}

/** Resolves options against the defaults, checking them. */
function resolveOptions(o: RpcOptions): Required<Omit<RpcOptions, 'msgId'>> & { msgId: number | undefined } {
  if (o === null || typeof o !== 'object') throw new InvalidOptionError('RPC options must be an object')
  knownKeys('RPC options', o, ['serializer', 'timeout', 'maxPending', 'msgId'])
  const serializer = o.serializer ?? json
  if (serializer === null || typeof serializer !== 'object' || typeof serializer.encode !== 'function' || typeof serializer.decode !== 'function') {
    throw new InvalidOptionError('serializer must have encode and decode methods')
  }
  return {
    serializer,
    timeout: ms('timeout', o.timeout ?? 30_000),
    maxPending: int('maxPending', o.maxPending ?? 65536, 1, 2 ** 31 - 1),
    msgId: o.msgId === undefined ? undefined : int('msgId', o.msgId, 0, 0xffffffff),
  }
}

/**
 * Calls and answers on one connection. Feed it the connection's RPC frames
 * ({@link RpcPeer.receive}) and tell it when the connection closed ({@link RpcPeer.close});
 * {@link rpcHandler} does both for you.
 */
export class RpcPeer<C extends RpcConn = RpcConn> {
  /** The connection. */
  readonly conn: C
  readonly #o: ReturnType<typeof resolveOptions>
  readonly #methods = new Map<string, MethodHandler>()
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #closed: RiptideError | undefined

  constructor(conn: C, options: RpcOptions = {}) {
    this.conn = conn
    this.#o = resolveOptions(options)
  }

  /** Calls waiting for answers. */
  get pending(): number {
    return this.#pending.size
  }

  /** True once {@link RpcPeer.close} ran. */
  get closed(): boolean {
    return this.#closed !== undefined
  }

  /** Answers `method` with `fn` (replacing a handler it had). Returns the peer. */
  handle(method: string, fn: MethodHandler): this {
    methodBytes(method)
    if (typeof fn !== 'function') throw new InvalidOptionError('an RPC handler is a function')
    this.#methods.set(method, fn)
    return this
  }

  /**
   * Calls `method` with `payload`: resolves with the peer's result; rejects with
   * `RpcRemoteError` (its handler failed), `ERR_RPC_TIMEOUT`, `ABORT_ERR` (the signal),
   * `ERR_CONN_CLOSED` (the connection closed first: every pending call, once),
   * `ERR_RPC_PENDING_FULL`, or the write's error.
   */
  call<T = unknown>(method: string, payload?: unknown, options: CallOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (options === null || typeof options !== 'object') throw new InvalidOptionError('call options must be an object')
      knownKeys('call options', options, ['timeout', 'signal'])
      const name = methodBytes(method)
      const timeout = options.timeout === undefined ? this.#o.timeout : ms('timeout', options.timeout)
      const signal = options.signal
      if (this.#closed !== undefined) throw new ConnClosedError('the RPC peer is closed')
      if (signal?.aborted) throw new AbortError()
      if (this.#pending.size >= this.#o.maxPending) throw new RpcPendingFullError(this.#o.maxPending)
      const body = this.#o.serializer.encode(payload, { method, direction: 'request' })
      const id = this.#id()
      const p: Pending = { method, resolve: resolve as (v: unknown) => void, reject, deadline: undefined, unlisten: undefined }
      this.#pending.set(id, p)
      if (timeout > 0) p.deadline = deadlines.add(performance.now() + timeout, () => this.#fail(id, new RpcTimeoutError(method, timeout)))
      if (signal !== undefined) {
        const onAbort = () => this.#fail(id, new AbortError())
        signal.addEventListener('abort', onAbort, { once: true })
        p.unlisten = () => signal.removeEventListener('abort', onAbort)
      }
      try {
        this.#send(requestFrame(REQUEST, id, name, body))
      } catch (err) {
        this.#fail(id, err)
      }
    })
  }

  /** Sends `method` with `payload` and expects no answer (the peer's handler runs; its result is dropped). */
  notify(method: string, payload?: unknown): void {
    if (this.#closed !== undefined) throw new ConnClosedError('the RPC peer is closed')
    this.#send(notifyFrame(method, payload, this.#o.serializer))
  }

  /**
   * Takes one RPC frame from the connection (on LTV, the body of a message with the peer's
   * `msgId`). Throws `ERR_RPC_PROTOCOL` for a malformed frame (from a handler, that goes to
   * `onError`); answers to calls no longer pending (timed out, aborted) are dropped.
   */
  receive(frame: Uint8Array): void {
    if (frame.length < HEADER) throw new RpcProtocolError(`an RPC frame of ${frame.length} bytes`)
    const view = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength)
    const kind = view[0]
    const id = view.readUInt32LE(1)
    if (kind === REQUEST || kind === NOTIFY) {
      const n = view[HEADER]
      if (frame.length < HEADER + 1 + n || n === 0) throw new RpcProtocolError('an RPC request without a whole method name')
      const method = view.toString('utf8', HEADER + 1, HEADER + 1 + n)
      this.#serve(kind === REQUEST ? id : undefined, method, frame.subarray(HEADER + 1 + n))
      return
    }
    if (kind !== RESPONSE && kind !== ERROR) throw new RpcProtocolError(`unknown RPC frame kind ${kind}`)
    const p = this.#pending.get(id)
    if (p === undefined) return
    if (kind === ERROR) {
      const n = view.length > HEADER ? view[HEADER] : -1
      const code = n < 0 || view.length < HEADER + 1 + n ? '' : view.toString('latin1', HEADER + 1, HEADER + 1 + n)
      if (!CODE.test(code)) {
        this.#fail(id, new RpcProtocolError(`${p.method}: an error answer without a valid code`))
        return
      }
      this.#fail(id, new RpcRemoteError(p.method, code, view.toString('utf8', HEADER + 1 + n)))
      return
    }
    let value: unknown
    try {
      value = this.#o.serializer.decode(frame.subarray(HEADER), { method: p.method, direction: 'response' })
    } catch (err) {
      this.#fail(id, new RpcProtocolError(`${p.method}: the answer does not decode`, { cause: err }))
      return
    }
    this.#settle(id)
    p.resolve(value)
  }

  /**
   * The connection closed (or you give up on it): every pending call rejects with
   * `ERR_CONN_CLOSED` (with `err` as its cause), once; later calls reject at once. Calling it
   * again does nothing.
   */
  close(err?: unknown): void {
    if (this.#closed !== undefined) return
    this.#closed = new ConnClosedError(err instanceof Error ? `the connection closed: ${err.message}` : 'the connection closed')
    const pending = [...this.#pending.keys()]
    for (const id of pending) this.#fail(id, new ConnClosedError(this.#closed.message), err)
  }

  /** A correlation id not in use (u32, skipping 0 and ids still pending after a wrap). */
  #id(): number {
    let id = this.#nextId
    while (id === 0 || this.#pending.has(id)) id = (id + 1) >>> 0
    this.#nextId = (id + 1) >>> 0
    return id
  }

  #send(frame: Uint8Array): void {
    const msgId = this.#o.msgId
    if (msgId === undefined) this.conn.write(frame)
    else (this.conn as Conn<unknown>).write(frame, { msgId })
  }

  /** Removes call `id` from the pending set and its deadline and abort listener; false if not pending. */
  #settle(id: number): Pending | undefined {
    const p = this.#pending.get(id)
    if (p === undefined) return undefined
    this.#pending.delete(id)
    if (p.deadline !== undefined) deadlines.settle(p.deadline)
    p.unlisten?.()
    return p
  }

  #fail(id: number, err: unknown, cause?: unknown): void {
    const p = this.#settle(id)
    if (p === undefined) return
    if (cause !== undefined && err instanceof Error && err.cause === undefined) Object.defineProperty(err, 'cause', { value: cause })
    p.reject(err)
  }

  /** Runs the handler of a request (`id` set) or a notification, and answers a request. */
  #serve(id: number | undefined, method: string, body: Uint8Array): void {
    const answer = (kind: number, bytes: Uint8Array) => {
      if (id === undefined || this.#closed !== undefined) return
      try {
        this.#send(answerFrame(kind, id, bytes))
      } catch (err) {
        // Closed meanwhile: the caller hears of it from its own side.
        if (!(err instanceof ConnClosedError)) throw err
      }
    }
    const fail = (err: unknown) => {
      const code = (err as { code?: unknown } | null)?.code
      const message = err instanceof Error ? err.message : String(err)
      answer(ERROR, errorBody(typeof code === 'string' && CODE.test(code) ? code : 'ERR_RPC_REMOTE', message))
    }
    const fn = this.#methods.get(method)
    if (fn === undefined) {
      answer(ERROR, errorBody('ERR_RPC_UNKNOWN_METHOD', `no handler for ${method}`))
      return
    }
    const ok = (value: unknown) => {
      let bytes: Uint8Array
      try {
        bytes = this.#o.serializer.encode(value, { method, direction: 'response' })
      } catch (err) {
        fail(err)
        return
      }
      answer(RESPONSE, bytes)
    }
    let result: unknown
    try {
      result = fn(this.#o.serializer.decode(body, { method, direction: 'request' }), this as RpcPeer)
    } catch (err) {
      fail(err)
      return
    }
    if (result instanceof Promise) result.then(ok, fail)
    else ok(result)
  }
}

/**
 * Maps LTV message ids to handlers (Cellnet's processor): `on(id, fn)`, then give
 * {@link Dispatcher.onTraffic} as the handler's `onTraffic`. An id without a handler throws
 * {@link UnknownMessageError} (`ERR_UNKNOWN_MESSAGE`, to `onError`) unless `onUnknown` is set.
 */
export class Dispatcher<C = Conn<unknown>> {
  readonly #handlers = new Map<number, (conn: C, body: Uint8Array) => void>()
  readonly #onUnknown: ((conn: C, body: Uint8Array, info: LtvInfo) => void) | undefined

  constructor(options: { onUnknown?: (conn: C, body: Uint8Array, info: LtvInfo) => void } = {}) {
    knownKeys('Dispatcher options', options, ['onUnknown'])
    this.#onUnknown = options.onUnknown
  }

  /** Handles message `msgId` with `fn` (`body` is valid during the call). An id handled already throws. */
  on(msgId: number, fn: (conn: C, body: Uint8Array) => void): this {
    int('msgId', msgId, 0, 0xffffffff)
    if (typeof fn !== 'function') throw new InvalidOptionError('a message handler is a function')
    if (this.#handlers.has(msgId)) throw new InvalidOptionError(`message id ${msgId} has a handler already`)
    this.#handlers.set(msgId, fn)
    return this
  }

  /** Stops handling `msgId`; false if it had no handler. */
  off(msgId: number): boolean {
    return this.#handlers.delete(msgId)
  }

  /** Calls the handler of `info.msgId` (an LTV handler's `onTraffic`, bound). */
  readonly onTraffic = (conn: C, body: Uint8Array, info: LtvInfo): void => {
    const fn = this.#handlers.get(info.msgId)
    if (fn !== undefined) fn(conn, body)
    else if (this.#onUnknown !== undefined) this.#onUnknown(conn, body, info)
    else throw new UnknownMessageError(info.msgId)
  }
}

/** Options of {@link rpcHandler}. */
export interface RpcHandlerOptions<C extends RpcConn> extends RpcOptions {
  /** A connection opened: its peer is ready (register its methods here). */
  onPeer?(peer: RpcPeer<C>): void
  /** A connection closed: its pending calls have been rejected. */
  onPeerClose?(peer: RpcPeer<C>, err?: RiptideError): void
  /** On LTV: a message under another id than `msgId` (a {@link Dispatcher}'s `onTraffic`, say). */
  onMessage?(conn: C, body: Uint8Array, info: LtvInfo): void
}

/** The callbacks {@link rpcHandler} returns: spread them into a handler, or pass them as one. */
export interface RpcHandler<C extends RpcConn> {
  onOpen(conn: C): void
  onTraffic(conn: C, data: Uint8Array, info?: LtvInfo | { binary: boolean }): void
  onClose(conn: C, err?: RiptideError): void
  /** The peer of an open connection (a dialed one too). */
  peerOf(conn: C): RpcPeer<C>
}

/**
 * A handler (server or client, any transport; a WebSocket one too) that gives each connection
 * an {@link RpcPeer}: made on open, fed its frames, closed with the connection. Over
 * `codecs.ltv()` set `msgId`: messages under other ids go to `onMessage`.
 */
export function rpcHandler<C extends RpcConn = Conn<unknown>>(options: RpcHandlerOptions<C> = {}): RpcHandler<C> {
  const { onPeer, onPeerClose, onMessage, ...rest } = options
  resolveOptions(rest)
  const peers = new WeakMap<C, RpcPeer<C>>()
  const peerOf = (conn: C): RpcPeer<C> => {
    let peer = peers.get(conn)
    if (peer === undefined) peers.set(conn, (peer = new RpcPeer(conn, rest)))
    return peer
  }
  return {
    peerOf,
    onOpen(conn) {
      // A reconnected client connection gets a fresh peer; the old one's calls are rejected.
      peers.get(conn)?.close()
      peers.delete(conn)
      onPeer?.(peerOf(conn))
    },
    onTraffic(conn, data, info) {
      if (info !== undefined && 'msgId' in info && info.msgId !== rest.msgId) {
        if (onMessage === undefined) throw new UnknownMessageError(info.msgId)
        onMessage(conn, data, info)
        return
      }
      peerOf(conn).receive(data)
    },
    onClose(conn, err) {
      const peer = peers.get(conn)
      if (peer === undefined) return
      peer.close(err)
      onPeerClose?.(peer, err)
    },
  }
}
