/** The connection object handed to callbacks, and the serialisable handle that names it. */
import { asyncWrite, type WriteCallback } from './async'
import { ConnClosedError, InvalidOptionError } from './errors'
import type { NativeEngine } from './native'

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
  /** Connection-table slot. */
  readonly slot: number
  /** Generation of the slot (changes on every reuse). */
  readonly generation: number
}

/** Marks a connection ended; a symbol so only the reactor (which imports it) can call it. */
export const kEnded = Symbol('riptide.ended')

/** What a {@link Conn} asks of its reactor; not part of the public API. */
export interface ConnSink {
  readonly engineId: number
  readonly reactorIndex: number
  write(conn: Conn, data: Uint8Array): void
  sendTo(socket: number, address: string, port: number, data: Uint8Array): void
  writev(conn: Conn, data: Uint8Array[]): void
  close(conn: Conn): void
  flush(): void
  /** Runs `fn` on the native reactor, turning its errors into riptide errors. */
  call<T>(fn: (native: NativeEngine) => T): T
}

/** Socket address of one end of a connection. */
export interface SocketAddress {
  /** IP address (empty for an unnamed Unix socket). */
  address: string
  /** Port (0 for Unix sockets). */
  port: number
}

const toBytes = (data: Uint8Array | string): Uint8Array => (typeof data === 'string' ? Buffer.from(data) : data)

/**
 * One connection. The same object is passed to every callback for this connection, from
 * `onOpen` to `onClose`; after `onClose` it is stale and writes throw `ERR_CONN_CLOSED`.
 *
 * @example
 * ```ts
 * onTraffic(conn, data) { conn.write(data) } // echo
 * ```
 */
export class Conn {
  /** Unique among this reactor's live connections; never reused while a reference could be stale. */
  readonly id: number
  /** The peer's IP address (empty for Unix sockets). */
  readonly remoteAddress: string
  /** The peer's port (0 for Unix sockets). */
  readonly remotePort: number
  /** Your per-connection value (a session, a parser state...). Starts `undefined`. */
  context: unknown = undefined
  /**
   * For UDP: the index of the listener socket the peer talks to (then `write` sends one
   * datagram to the peer and {@link Conn.sendTo} works); `undefined` for streams.
   */
  readonly udpSocket: number | undefined
  /** @internal */
  readonly slot: number
  /** @internal */
  readonly generation: number
  #sink: ConnSink
  #open = true
  #local: SocketAddress | undefined

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
    this.udpSocket = udpSocket
    this.slot = slot
    this.generation = generation
    this.id = generation * 0x1000000 + slot
    this.remoteAddress = remoteAddress
    this.remotePort = remotePort
  }

  /** True from `onOpen` until `close()` is called or the connection ends. */
  get open(): boolean {
    return this.#open
  }

  /** A serialisable handle for {@link asyncWrite} from other threads. */
  get handle(): ConnHandle {
    return { engine: this.#sink.engineId, reactor: this.#sink.reactorIndex, slot: this.slot, generation: this.generation }
  }

  /** The local address the connection was accepted on. */
  get localAddress(): string {
    return this.#localAddr().address
  }

  /** The local port the connection was accepted on. */
  get localPort(): number {
    return this.#localAddr().port
  }

  #localAddr(): SocketAddress {
    this.#local ??= this.#sink.call((n) => n.localAddress(this.slot, this.generation))
    return this.#local
  }

  #check(): void {
    if (!this.#open) throw new ConnClosedError()
  }

  /**
   * Queues bytes for the peer; strings are sent as UTF-8. Bytes are copied, so `data` may be
   * reused at once (the `data` view of `onTraffic` included). Throws `ERR_CONN_CLOSED` after
   * `close()` or `onClose`.
   */
  write(data: Uint8Array | string): void {
    this.#check()
    if (this.slot < 0) this.#sink.sendTo(this.udpSocket!, this.remoteAddress, this.remotePort, toBytes(data))
    else this.#sink.write(this, toBytes(data))
  }

  /** UDP only: sends one datagram to any `address:port` from this connection's socket (gnet's `SendTo`). */
  sendTo(data: Uint8Array | string, address: string, port: number): void {
    if (this.udpSocket === undefined) throw new InvalidOptionError('sendTo() needs a UDP connection')
    this.#sink.sendTo(this.udpSocket, address, port, toBytes(data))
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

  /** Schedules an `onTraffic(conn, <empty>)` on the owning reactor (gnet's `Wake`). */
  wake(): void {
    this.#check()
    this.#sink.call((n) => n.wake(this.slot, this.generation))
  }

  /** Closes after everything already written has been sent; `onClose` follows. */
  close(): void {
    if (!this.#open) return
    this.#open = false
    // A transient datagram conn has nothing to close.
    if (this.slot >= 0) this.#sink.close(this)
  }

  /** Bytes accepted for this connection and not yet handed to the kernel. */
  get outboundBuffered(): number {
    if (!this.#open) return 0
    this.#sink.flush()
    return this.#sink.call((n) => n.outboundBuffered(this.slot, this.generation))
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

  /** @internal The connection ended. */
  [kEnded](): void {
    this.#open = false
  }
}
