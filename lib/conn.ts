/** The connection object handed to callbacks. */
import { ConnClosedError } from './errors'

/** Marks a connection ended; a symbol so only the engine (which imports it) can call it. */
export const kEnded = Symbol('riptide.ended')

/** What a {@link Conn} asks of its engine; not part of the public API. */
export interface ConnSink {
  write(conn: Conn, data: Uint8Array): void
  close(conn: Conn): void
}

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
  /** Unique among this engine's live connections; never reused while a reference could be stale. */
  readonly id: number
  /** The peer's IP address. */
  readonly remoteAddress: string
  /** The peer's port. */
  readonly remotePort: number
  /** Your per-connection value (a session, a parser state...). Starts `undefined`. */
  context: unknown = undefined
  /** @internal */
  readonly slot: number
  /** @internal */
  readonly generation: number
  #sink: ConnSink
  #open = true

  /** @internal Created by the engine on accept. */
  constructor(sink: ConnSink, slot: number, generation: number, remoteAddress: string, remotePort: number) {
    this.#sink = sink
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

  /**
   * Queues bytes for the peer; strings are sent as UTF-8. Bytes are copied, so `data` may be
   * reused at once (the `data` view of `onTraffic` included). Throws `ERR_CONN_CLOSED` after
   * `close()` or `onClose`.
   */
  write(data: Uint8Array | string): void {
    if (!this.#open) throw new ConnClosedError()
    this.#sink.write(this, typeof data === 'string' ? Buffer.from(data) : data)
  }

  /** Closes after everything already written has been sent; `onClose` follows. */
  close(): void {
    if (!this.#open) return
    this.#open = false
    this.#sink.close(this)
  }

  /** @internal The connection ended. */
  [kEnded](): void {
    this.#open = false
  }
}
