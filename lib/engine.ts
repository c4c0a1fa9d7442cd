/**
 * The engine: binds listeners, walks each event batch from the native reactor, and calls the
 * user's handler. One JS call per reactor wake; no JS object per event except the `data` view.
 */
import { Conn, type ConnSink, kEnded } from './conn'
import {
  ascii,
  EV_CLOSE,
  EV_DATA,
  EV_OPEN,
  EV_SHUTDOWN,
  OP_CLOSE,
  OP_STRIDE,
  OP_WRITE,
  STAGE_MAX_WRITE,
  STAGED_BYTES,
  STAGED_OPS,
  STRIDE,
} from './boundary'
import { ConnectionError, fromNative, InvalidOptionError, type RiptideError } from './errors'
import { native, type NativeEngine } from './native'
import { resolveServeOptions, type ServeOptions } from './options'

/**
 * Your callbacks. One handler object serves every connection of an engine (no closures per
 * socket). All are optional; all run on the thread that called {@link serve}.
 */
export interface EventHandler {
  /** The engine is listening; `engine.port` is known. */
  onBoot?(engine: Engine): void
  /** A connection was accepted. */
  onOpen?(conn: Conn): void
  /**
   * Bytes arrived. `data` is a view into a shared buffer, valid only during this call: copy
   * it (`Uint8Array.prototype.slice`) to keep it. Everything delivered counts as consumed.
   */
  onTraffic?(conn: Conn, data: Uint8Array): void
  /** The connection closed; `err` is set when a socket error ended it (`err.code` is e.g. `ECONNRESET`). */
  onClose?(conn: Conn, err?: RiptideError): void
  /** The engine stopped; every connection has had its `onClose`. */
  onShutdown?(engine: Engine): void
  /**
   * A callback threw. Without `onError` the error is printed to stderr and the engine goes on
   * (the connection stays open). `conn` is undefined for engine-level callbacks.
   */
  onError?(err: unknown, conn: Conn | undefined): void
}

/** A bound listener. */
export interface ListenerAddress {
  /** The bound IP address. */
  address: string
  /** The bound port (resolved when 0 was asked). */
  port: number
}

/** A running server. Created by {@link serve}. */
export class Engine {
  readonly #handler: EventHandler
  readonly #conns: (Conn | undefined)[] = []
  readonly #ops = new Int32Array(1 + OP_STRIDE * STAGED_OPS)
  readonly #bytes = new Uint8Array(STAGED_BYTES)
  readonly #sink: ConnSink
  #native!: NativeEngine
  #listeners: ListenerAddress[] = []
  #inBatch = false
  #used = 0
  #stopped: Promise<void>
  #markStopped!: () => void

  /** @internal Use {@link serve}. */
  constructor(handler: EventHandler) {
    this.#handler = handler
    this.#stopped = new Promise((resolve) => (this.#markStopped = resolve))
    this.#sink = {
      write: (conn, data) => this.#write(conn, data),
      close: (conn) => this.#close(conn),
    }
  }

  /** @internal Binds and starts; throws riptide errors. */
  start(urls: string[], options: Required<ServeOptions>): void {
    try {
      this.#native = native.NativeEngine.listen(urls, options, this.#dispatch, this.#ops, this.#bytes)
    } catch (err) {
      throw fromNative(err)
    }
    this.#listeners = this.#native.listeners()
  }

  /** The port of the first listener. */
  get port(): number {
    return this.#listeners[0]?.port ?? 0
  }

  /** Every listener's bound address, in the order given to {@link serve}. */
  get addresses(): ListenerAddress[] {
    return this.#listeners.map((l) => ({ ...l }))
  }

  /** Number of open connections. */
  countConnections(): number {
    return this.#native.countConnections()
  }

  /** True until the engine has stopped. */
  get running(): boolean {
    return this.#native.running
  }

  /**
   * Stops accepting, closes every connection (each gets `onClose`), then calls `onShutdown`.
   * Resolves when done; calling it again returns the same promise.
   */
  stop(): Promise<void> {
    this.#native.stop()
    return this.#stopped
  }

  /** Lets the process exit while this engine runs (like `net.Server#unref`). */
  unref(): this {
    this.#native.setRef(false)
    return this
  }

  /** Undoes {@link Engine.unref}: the running engine keeps the process alive (the default). */
  ref(): this {
    this.#native.setRef(true)
    return this
  }

  #write(conn: Conn, data: Uint8Array): void {
    const len = data.byteLength
    if (this.#inBatch && len <= STAGE_MAX_WRITE) {
      const ops = this.#ops
      if (ops[0] >= STAGED_OPS || this.#used + len > STAGED_BYTES) this.#flushStaged()
      this.#bytes.set(data, this.#used)
      const at = 1 + ops[0] * OP_STRIDE
      ops[at] = OP_WRITE
      ops[at + 1] = conn.slot
      ops[at + 2] = conn.generation
      ops[at + 3] = this.#used
      ops[at + 4] = len
      ops[0]++
      this.#used += len
      return
    }
    if (this.#ops[0] > 0) this.#flushStaged()
    try {
      this.#native.write(conn.slot, conn.generation, data)
    } catch (err) {
      throw fromNative(err)
    }
  }

  #close(conn: Conn): void {
    if (this.#inBatch) {
      const ops = this.#ops
      if (ops[0] >= STAGED_OPS) this.#flushStaged()
      const at = 1 + ops[0] * OP_STRIDE
      ops[at] = OP_CLOSE
      ops[at + 1] = conn.slot
      ops[at + 2] = conn.generation
      ops[0]++
      return
    }
    try {
      this.#native.close(conn.slot, conn.generation)
    } catch (err) {
      throw fromNative(err)
    }
  }

  #flushStaged(): void {
    this.#native.flush()
    this.#used = 0
  }

  /** Called by the native driver once per wake with the batch of events. */
  readonly #dispatch = (count: number, meta: Int32Array, arena: Uint8Array): void => {
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
        if (kind === EV_DATA) {
          const conn = this.#conns[slot]
          if (conn === undefined || conn.generation !== generation || h.onTraffic === undefined) continue
          try {
            h.onTraffic(conn, arena.subarray(offset, offset + length))
          } catch (err) {
            this.#report(err, conn)
          }
        } else if (kind === EV_OPEN) {
          const conn = new Conn(this.#sink, slot, generation, ascii(arena, offset, length), meta[at + 5])
          this.#conns[slot] = conn
          if (h.onOpen === undefined) continue
          try {
            h.onOpen(conn)
          } catch (err) {
            this.#report(err, conn)
          }
        } else if (kind === EV_CLOSE) {
          const conn = this.#conns[slot]
          if (conn === undefined || conn.generation !== generation) continue
          this.#conns[slot] = undefined
          conn[kEnded]()
          if (h.onClose === undefined) continue
          const code = length > 0 ? ascii(arena, offset, length) : ''
          try {
            if (code === '') h.onClose(conn)
            else h.onClose(conn, new ConnectionError(code, `connection ${conn.id} closed: ${code}`))
          } catch (err) {
            this.#report(err, conn)
          }
        } else if (kind === EV_SHUTDOWN) {
          try {
            h.onShutdown?.(this)
          } catch (err) {
            this.#report(err, undefined)
          }
          this.#markStopped()
        }
      }
    } finally {
      this.#inBatch = false
    }
  }

  #report(err: unknown, conn: Conn | undefined): void {
    const onError = this.#handler.onError
    if (onError === undefined) {
      console.error('riptide: uncaught exception in a handler callback', err)
      return
    }
    try {
      onError.call(this.#handler, err, conn)
    } catch (fatal) {
      // An error handler that throws is a bug in the program: surface it as an uncaught
      // exception, after the batch, so no other connection's events are lost.
      queueMicrotask(() => {
        throw fatal
      })
    }
  }
}

/**
 * Starts a server on one or more addresses (`tcp://host:port`, `tcp4://`, `tcp6://`; port 0
 * picks a free port) and resolves once it listens, after `onBoot`.
 *
 * @example
 * ```ts
 * const engine = await serve('tcp://127.0.0.1:0', {
 *   onTraffic(conn, data) { conn.write(data) },
 * })
 * console.log(engine.port)
 * await engine.stop()
 * ```
 * @throws {InvalidAddressError} `ERR_INVALID_ADDRESS` for a malformed or unresolvable address.
 * @throws {AddressInUseError} `ERR_ADDRESS_IN_USE` when the address is taken.
 * @throws {InvalidOptionError} `ERR_INVALID_ARG_VALUE` for a bad option.
 */
export async function serve(
  address: string | string[],
  handler: EventHandler,
  options?: ServeOptions,
): Promise<Engine> {
  const urls = typeof address === 'string' ? [address] : address
  if (!Array.isArray(urls) || urls.length === 0 || urls.some((u) => typeof u !== 'string')) {
    throw new InvalidOptionError('address must be a string or a non-empty array of strings')
  }
  if (handler === null || typeof handler !== 'object') {
    throw new InvalidOptionError('handler must be an object of callbacks')
  }
  const engine = new Engine(handler)
  engine.start(urls, resolveServeOptions(options))
  try {
    handler.onBoot?.(engine)
  } catch (err) {
    await engine.stop()
    throw err
  }
  return engine
}
