/**
 * WebSocket servers: `serve(url, handler, { codec: codecs.websocket() })` with a
 * {@link WebSocketHandler}; clients: `connect('ws://…' | 'wss://…', handler, options)` or a
 * `Client` with `codec: codecs.websocket()`, with the same handler. The protocol runs in
 * Rust (a stream layer holding a `riptide_ws::Connection`, see `docs/websocket.md`); it talks
 * to this file in *records*, each a kind byte and a body, framed by the codec: the upgrade
 * request (a server's) or the 101's answer (a client's) comes up as one, messages, pings and
 * pongs as others; writes, pings, the close and the answer to the upgrade go down as records
 * too.
 *
 * @example
 * ```ts
 * await serve('tcp://127.0.0.1:8080', {
 *   onUpgrade(conn, request) { return request.path === '/chat' ? {} : { status: 404 } },
 *   onTraffic(conn, message, { binary }) { conn.write(binary ? message : Buffer.from(message).toString()) },
 *   onClose(conn, err) { if (err instanceof WebSocketCloseError) console.log(err.closeCode, err.reason) },
 * }, { codec: codecs.websocket({ compression: true }) })
 * ```
 */

import type { PeerAddr } from './address'
import { type Conn, kClosing } from './conn'
import type { Engine } from './engine'
import { ConnClosedError, InvalidOptionError, type RiptideError } from './errors'
import type { EventHandler } from './handler'
import { knownKeys } from './validate'

/** Record kinds, as crates/riptide/src/ws_record.rs names them. */
const UPGRADE = 0x55 // 'U'
const TEXT = 0x54 // 'T'
const BINARY = 0x42 // 'B'
const PING = 0x50 // 'P'
const CLOSE = 0x43 // 'C'
const ACCEPT = 0x41 // 'A'
const REFUSE = 0x52 // 'R'
const PONG = 0x51 // 'Q'
const OPEN = 0x4f // 'O'
const NONE = 0xffffffff

/** A client's upgrade request, as `onUpgrade` sees it. */
export interface UpgradeRequest {
  /** Always `GET` (anything else was refused with 400 before `onUpgrade`). */
  method: 'GET'
  /** The request target (path and query). */
  path: string
  /** Every header, names as sent, in order. */
  headers: Array<[string, string]>
  /** The subprotocols the client offered, in its order. */
  protocols: string[]
  /** The subprotocol the server would choose by default (the codec's `subprotocols`), if any. */
  protocol: string | undefined
  /** The first value of a header, case-insensitively. */
  header(name: string): string | undefined
}

/** Headers for an answer to the upgrade: an object or `[name, value]` pairs. */
export type UpgradeHeaders = Record<string, string> | ReadonlyArray<readonly [string, string]>

/** `onUpgrade`'s answer: accept (optionally choosing a subprotocol the client offered, adding headers) or refuse with a 4xx/5xx status. */
export type UpgradeAnswer = { protocol?: string; headers?: UpgradeHeaders } | { status: number; headers?: UpgradeHeaders }

/** What `onTraffic` learns besides the bytes. */
export interface MessageInfo {
  /** A binary message (opcode 2); `false` for text (opcode 1, valid UTF-8). */
  binary: boolean
}

/**
 * The callbacks of a WebSocket server. `onOpen`, `onTraffic` and `onClose` are called only
 * for connections whose upgrade was accepted.
 */
export interface WebSocketHandler<Context = unknown> {
  /** The engine is listening (as {@link EventHandler.onBoot}). */
  onBoot?(engine: Engine): void
  /**
   * A client asks to upgrade. Return (or resolve) an {@link UpgradeAnswer}; nothing accepts
   * with the default subprotocol. A throw or a rejection refuses with 500 and goes to `onError`.
   */
  onUpgrade?(conn: WebSocketConn<Context>, request: UpgradeRequest): UpgradeAnswer | void | Promise<UpgradeAnswer | void>
  /**
   * The connection is open: on a server, the upgrade was accepted and the 101 sent; on a
   * client, the server's 101 came (`conn.protocol` and `conn.headers` say what it answered).
   */
  onOpen?(conn: WebSocketConn<Context>): void
  /**
   * A whole message: reassembled from its fragments and inflated. `message` is a view valid
   * during the call (copy it to keep it); text is its UTF-8 bytes (decode with
   * `Buffer.from(message).toString()` when you need a string), as `ws` and uWebSockets.js
   * hand text over, since many servers only forward it.
   */
  onTraffic?(conn: WebSocketConn<Context>, message: Uint8Array, info: MessageInfo): void
  /**
   * The peer's ping, with its payload (a view valid during the call). The pong is sent for
   * you; this only tells (uWebSockets.js's `ping` handler).
   */
  onPing?(conn: WebSocketConn<Context>, data: Uint8Array): void
  /** The peer's pong (an answer to `conn.ping()` or the idle ping, or unsolicited), with its payload. */
  onPong?(conn: WebSocketConn<Context>, data: Uint8Array): void
  /** As {@link EventHandler.onWritability}. */
  onWritability?(conn: WebSocketConn<Context>, writable: boolean): void
  /**
   * The connection closed. `err` is a {@link WebSocketCloseError} when a close frame came
   * (the peer's, or its answer to `conn.close()`), with the peer's code and reason; a
   * {@link WebSocketError} when the peer broke the protocol (it was sent the close code the
   * error's `code` implies), a timeout passed or the upgrade was refused; a transport error
   * otherwise; `undefined` when the transport closed cleanly without a close frame.
   */
  onClose?(conn: WebSocketConn<Context>, err?: RiptideError): void
  /**
   * `engine.stop({ drainTimeout })` began (as {@link EventHandler.onDrain}). Without
   * `onDrain` the connection is closed with code 1001 (going away).
   */
  onDrain?(conn: WebSocketConn<Context>): void
  /** A callback threw (as {@link EventHandler.onError}). */
  onError?(conn: WebSocketConn<Context> | undefined, err: unknown): void
  /** As {@link EventHandler.onTick}. */
  onTick?(engine: Engine): number | void
  /** As {@link EventHandler.onShutdown}. */
  onShutdown?(engine: Engine): void
}

/** Where a connection is in its life. */
type Phase = 'upgrading' | 'open' | 'closing'

/** One WebSocket connection: the transport connection underneath, and what a WebSocket adds. */
export class WebSocketConn<Context = unknown> {
  /** The transport connection (addresses, TLS facts, `pause`/`resume`, timers). */
  readonly conn: Conn<Context>
  /** The subprotocol agreed in the handshake, if any. */
  protocol: string | undefined
  /**
   * The handshake's headers from the peer, names as sent, in order: on a server the upgrade
   * request's, on a client the server's 101 response's (cookies, custom headers).
   */
  headers: Array<[string, string]> = []
  #phase: Phase = 'upgrading'

  /** @internal Made by the handler adapter on accept. */
  constructor(conn: Conn<Context>) {
    this.conn = conn
  }

  /** The first value of one of {@link WebSocketConn.headers}, case-insensitively. */
  header(name: string): string | undefined {
    return findHeader(this.headers, name)
  }

  /** Your per-connection value (the transport connection's `context`). */
  get context(): Context {
    return this.conn.context
  }

  set context(value: Context) {
    this.conn.context = value
  }

  /** The connection's id (the transport connection's). */
  get id(): number {
    return this.conn.id
  }

  /** The peer's address. */
  get remote(): PeerAddr {
    return this.conn.remote
  }

  /** True while messages can be sent (after the upgrade, before a close). */
  get open(): boolean {
    return this.#phase === 'open' && this.conn.open
  }

  /** @internal */
  set phase(phase: Phase) {
    this.#phase = phase
  }

  /** @internal */
  get phase(): Phase {
    return this.#phase
  }

  #send(kind: number, data: Uint8Array | string): boolean {
    if (!this.open) throw new ConnClosedError(this.#phase === 'upgrading' ? 'the WebSocket upgrade is not accepted yet' : 'the WebSocket is closing')
    return this.conn.write(record(kind, data))
  }

  /**
   * Sends a message: a string as text, bytes as binary. Returns `false` past the high water
   * mark (as `Conn.write`).
   * @throws {ConnClosedError} before the upgrade is accepted or after a close.
   */
  write(data: string | Uint8Array): boolean {
    return this.#send(typeof data === 'string' ? TEXT : BINARY, data)
  }

  /**
   * Subscribes to `topic` (as `Conn.subscribe`): every message published to it (with
   * `engine.publish` or `conn.publish`) is sent to this connection, a string as text and
   * bytes as binary.
   */
  subscribe(topic: string): boolean {
    return this.conn.subscribe(topic)
  }

  /** Unsubscribes from `topic`; false when not subscribed. */
  unsubscribe(topic: string): boolean {
    return this.conn.unsubscribe(topic)
  }

  /** True when subscribed to `topic`. */
  isSubscribed(topic: string): boolean {
    return this.conn.isSubscribed(topic)
  }

  /**
   * Publishes a message to every subscriber of `topic` on every reactor (as
   * `engine.publish`, and callable on worker reactors): a string as text, bytes as binary.
   * It is framed (and compressed) once for every subscriber of a kind: without compression,
   * or without context takeover; a subscriber with context takeover compresses it itself
   * (docs/websocket.md, "Publishing"). Returns how many subscribers it was queued for.
   */
  publish(topic: string, data: string | Uint8Array): number {
    return this.conn.publish(topic, data)
  }

  /**
   * Sends a ping (at most 125 bytes of payload); the peer's pong goes to `onPong`. The
   * codec's `idleTimeout` pings silent peers by itself.
   */
  ping(data: string | Uint8Array = new Uint8Array(0)): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    if (bytes.length > 125) throw new InvalidOptionError('a ping carries at most 125 bytes')
    this.#send(PING, bytes)
  }

  /**
   * Starts the close handshake: sends a close frame with `code` (1000, 1001, 1003, 1007-1014
   * or 3000-4999) and `reason` (at most 123 bytes of UTF-8); the connection closes when the
   * peer answers (`onClose` gets its answer) or after the codec's `closeTimeout`.
   * Closing again does nothing. A client does not reconnect after it; one that is
   * reconnecting stops (`onClose` without an error).
   */
  close(code = 1000, reason = ''): void {
    if (!Number.isInteger(code) || !(code === 1000 || code === 1001 || code === 1003 || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999))) {
      throw new InvalidOptionError(`${code} is not a close code an endpoint may send`)
    }
    const text = Buffer.from(reason)
    if (text.length > 123) throw new InvalidOptionError('a close reason is at most 123 bytes')
    if (this.conn.reconnecting) return this.conn.close()
    if (!this.open) return
    const body = new Uint8Array(2 + text.length)
    body[0] = code >> 8
    body[1] = code & 0xff
    body.set(text, 2)
    this.conn[kClosing]()
    this.conn.write(record(CLOSE, body))
    this.#phase = 'closing'
  }

  /** Ends the connection at once, without a close handshake (the transport is reset). */
  terminate(): void {
    this.#phase = 'closing'
    this.conn.destroy()
  }
}

/** The record of a message: text for a string, binary for bytes (what `write` and `publish` send). */
export function messageRecord(data: unknown): Uint8Array {
  if (typeof data === 'string') return record(TEXT, data)
  if (data instanceof Uint8Array) return record(BINARY, data)
  throw new InvalidOptionError('a WebSocket message must be a string or a Uint8Array')
}

/** A record: the kind byte, then the body. */
function record(kind: number, data: Uint8Array | string): Uint8Array {
  const body = typeof data === 'string' ? Buffer.from(data) : data
  const out = Buffer.allocUnsafe(1 + body.length)
  out[0] = kind
  out.set(body, 1)
  return out
}

/** Reads the fields of an upgrade or open record. */
class Fields {
  #at = 1
  constructor(readonly bytes: Uint8Array) {}

  u32(): number {
    const b = this.bytes
    const at = this.#at
    this.#at += 4
    return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0
  }

  string(n = this.u32()): string {
    const s = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.#at, n).toString('utf8')
    this.#at += n
    return s
  }

  /** A string whose length may be `u32::MAX` for none. */
  optional(): string | undefined {
    const n = this.u32()
    return n === NONE ? undefined : this.string(n)
  }

  headers(): Array<[string, string]> {
    return Array.from({ length: this.u32() }, (): [string, string] => [this.string(), this.string()])
  }
}

function findHeader(headers: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  const lower = name.toLowerCase()
  return headers.find(([n]) => n.toLowerCase() === lower)?.[1]
}

function upgradeRequest(frame: Uint8Array): UpgradeRequest {
  const f = new Fields(frame)
  const path = f.string()
  const protocols = Array.from({ length: f.u32() }, () => f.string())
  const protocol = f.optional()
  const headers = f.headers()
  return {
    method: 'GET',
    path,
    headers,
    protocols,
    protocol,
    header: (name: string) => findHeader(headers, name),
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// eslint-disable-next-line no-control-regex
const BAD_VALUE = /[\0\r\n]/

/** Headers as `[name, value]` pairs, each name a token and no value with CR, LF or NUL. */
export function checkHeaders(headers: UpgradeHeaders | undefined): Array<[string, string]> {
  if (headers !== undefined && (headers === null || typeof headers !== 'object')) throw new InvalidOptionError('headers must be an object or [name, value] pairs')
  const list: ReadonlyArray<unknown> = headers === undefined ? [] : Array.isArray(headers) ? headers : Object.entries(headers)
  return list.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2) throw new InvalidOptionError('a header is a [name, value] pair')
    const [name, value] = pair as unknown[]
    if (typeof name !== 'string' || !TOKEN.test(name)) throw new InvalidOptionError(`header name ${String(name)} is not a token`)
    if (typeof value !== 'string' || BAD_VALUE.test(value)) throw new InvalidOptionError(`header ${name} has an invalid value`)
    return [name, value]
  })
}

/** Appends headers as the layer reads them: a count, then each name and value with lengths. */
function headerFields(headers: UpgradeHeaders | undefined): Buffer[] {
  const list = checkHeaders(headers)
  return [u32(list.length), ...list.flatMap(([name, value]) => [str(name), str(value)])]
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4)
  b.writeUInt32LE(n)
  return b
}

function str(s: string): Buffer {
  const bytes = Buffer.from(s)
  return Buffer.concat([u32(bytes.length), bytes])
}

/** The record refusing an upgrade with `status` (400-599, checked) and `headers`. */
export function refuseRecord(status: number, headers?: UpgradeHeaders): Uint8Array {
  return Buffer.concat([Buffer.from([REFUSE, status >> 8, status & 0xff]), ...headerFields(headers)])
}

/** The record answering the upgrade; checks the answer first. */
function answerRecord(answer: UpgradeAnswer | void, request: UpgradeRequest): { record: Uint8Array; protocol?: string } {
  const a = answer ?? {}
  if (a === null || typeof a !== 'object') throw new InvalidOptionError('onUpgrade must return an object or nothing')
  if ('status' in a) {
    knownKeys('onUpgrade refusal', a, ['status', 'headers'])
    if (!Number.isInteger(a.status) || a.status < 400 || a.status > 599) throw new InvalidOptionError('a refusal status is 400-599')
    return { record: refuseRecord(a.status, a.headers) }
  }
  knownKeys('onUpgrade answer', a, ['protocol', 'headers'])
  const protocol = 'protocol' in a ? a.protocol : request.protocol
  if (protocol !== undefined && !request.protocols.includes(protocol)) {
    throw new InvalidOptionError(`subprotocol ${String(protocol)} was not offered`)
  }
  const chosen = protocol === undefined ? u32(NONE) : str(protocol)
  return { record: Buffer.concat([Buffer.from([ACCEPT]), chosen, ...headerFields(a.headers)]), protocol }
}

/** The engine-level handler of a WebSocket server or client, and what a client's dial needs of it. */
export interface WebSocketAdapter<Context> extends EventHandler<Context> {
  /** The WebSocket of a transport connection. */
  of(conn: Conn<Context>): WebSocketConn<Context>
  /**
   * Resolves with the WebSocket of a dialed connection once the server's 101 is in (after
   * `onOpen`); rejects if the connection closes first.
   */
  opened(conn: Conn<Context>): Promise<WebSocketConn<Context>>
}

/**
 * The engine-level handler that runs a {@link WebSocketHandler}: it reads the records, asks
 * `onUpgrade` (a server) or reads the 101 (a client), and calls the rest with a
 * {@link WebSocketConn}.
 */
export function websocketHandler<Context>(h: WebSocketHandler<Context>): WebSocketAdapter<Context> {
  return websocketAdapter(h, (conn, record) => conn.write(record))
}

/**
 * {@link websocketHandler}, with the answer to the upgrade (an accept or refuse record) sent
 * by `answer`: a write on a WebSocket listener, a control message on an HTTP one
 * (`lib/http-websocket.ts`), where a write would be taken for HTTP bytes.
 */
export function websocketAdapter<Context>(h: WebSocketHandler<Context>, answer: (conn: Conn<Context>, record: Uint8Array) => void): WebSocketAdapter<Context> {
  const conns = new WeakMap<Conn<Context>, WebSocketConn<Context>>()
  /** Dials waiting for their open record. */
  const waiting = new Map<WebSocketConn<Context>, { resolve(ws: WebSocketConn<Context>): void; reject(err: unknown): void }>()
  const of = (conn: Conn<Context>): WebSocketConn<Context> => {
    let ws = conns.get(conn)
    if (ws === undefined) conns.set(conn, (ws = new WebSocketConn(conn)))
    return ws
  }
  /** A client's handshake is done: the open record names the subprotocol and the 101's headers. */
  const open = (ws: WebSocketConn<Context>, frame: Uint8Array): void => {
    const f = new Fields(frame)
    ws.protocol = f.optional()
    ws.headers = f.headers()
    ws.phase = 'open'
    try {
      h.onOpen?.(ws)
    } finally {
      waiting.get(ws)?.resolve(ws)
      waiting.delete(ws)
    }
  }
  const reply = (ws: WebSocketConn<Context>, request: UpgradeRequest, a: UpgradeAnswer | void): void => {
    if (!ws.conn.open || ws.phase !== 'upgrading') return
    let out: { record: Uint8Array; protocol?: string }
    try {
      out = answerRecord(a, request)
    } catch (err) {
      h.onError?.(ws, err)
      out = answerRecord({ status: 500 }, request)
    }
    answer(ws.conn, out.record)
    if (out.record[0] !== ACCEPT) return
    ws.protocol = out.protocol
    ws.phase = 'open'
    h.onOpen?.(ws)
  }
  const upgrade = (ws: WebSocketConn<Context>, request: UpgradeRequest): void => {
    ws.headers = request.headers
    let a: ReturnType<NonNullable<WebSocketHandler<Context>['onUpgrade']>>
    try {
      a = h.onUpgrade?.(ws, request)
    } catch (err) {
      reply(ws, request, { status: 500 })
      throw err // reported as any callback's throw
    }
    if (a instanceof Promise) {
      a.then(
        (v) => reply(ws, request, v),
        (err: unknown) => {
          h.onError?.(ws, err)
          reply(ws, request, { status: 500 })
        },
      )
    } else {
      reply(ws, request, a)
    }
  }
  return {
    of,
    opened(conn) {
      const ws = of(conn)
      if (ws.phase !== 'upgrading') return Promise.resolve(ws)
      return new Promise((resolve, reject) => waiting.set(ws, { resolve, reject }))
    },
    onOpen(conn) {
      // The transport is up (a client's, after the 101; a reconnect's too): the open record
      // comes next, and messages only after it.
      of(conn).phase = 'upgrading'
    },
    onBoot: h.onBoot && ((engine) => h.onBoot!(engine)),
    onTick: h.onTick && ((engine) => h.onTick!(engine)),
    onShutdown: h.onShutdown && ((engine) => h.onShutdown!(engine)),
    onTraffic(conn, frame) {
      const ws = of(conn)
      const kind = frame[0]
      if (kind === UPGRADE) upgrade(ws, upgradeRequest(frame))
      else if (kind === OPEN) open(ws, frame)
      else if (ws.phase === 'upgrading') return
      else if (kind === PING) h.onPing?.(ws, frame.subarray(1))
      else if (kind === PONG) h.onPong?.(ws, frame.subarray(1))
      else h.onTraffic?.(ws, frame.subarray(1), { binary: kind === BINARY })
    },
    onWritability: h.onWritability && ((conn, writable) => {
      const ws = conns.get(conn)
      if (ws !== undefined && ws.phase !== 'upgrading') h.onWritability!(ws, writable)
    }),
    onDrain(conn) {
      const ws = conns.get(conn)
      if (ws === undefined || ws.phase === 'upgrading') conn.close()
      else if (h.onDrain === undefined) ws.close(1001)
      else h.onDrain(ws)
    },
    onClose(conn, err) {
      const ws = conns.get(conn)
      if (ws === undefined) return
      const waiter = waiting.get(ws)
      waiting.delete(ws)
      waiter?.reject(err ?? new ConnClosedError('the connection closed before the WebSocket opened'))
      if (ws.phase === 'upgrading') return
      ws.phase = 'closing'
      h.onClose?.(ws, err)
    },
    onError: h.onError && ((conn, err) => h.onError!(conn === undefined ? undefined : of(conn), err)),
  }
}
