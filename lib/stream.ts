/**
 * A connection as a `node:stream` `Duplex` ({@link Conn.toStream}): pipe it into zlib, wrap
 * it in a `tls.TLSSocket`, drive it with `stream.pipeline`, with backpressure both ways.
 */
import { Duplex } from 'node:stream'
import type { Conn, ConnConsumer } from './conn'
import { ConnClosedError, InvalidOptionError, RiptideError } from './errors'
import { int, knownKeys } from './validate'

/** Options of {@link Conn.toStream}. */
export interface ConnStreamOptions {
  /** Bytes the readable side buffers before the connection is paused. Default `16384` (Node's). */
  readableHighWaterMark?: number
  /** Bytes the writable side buffers before `stream.write()` returns false. Default `16384` (Node's). */
  writableHighWaterMark?: number
}

const OPTION_KEYS: readonly (keyof ConnStreamOptions)[] = ['readableHighWaterMark', 'writableHighWaterMark']

/**
 * A `Duplex` over one {@link Conn}, made by `conn.toStream()` (or {@link toStream}). It takes
 * over the connection's `onTraffic`, `onWritability` and `onEnd` (the handler no longer gets
 * them for this connection); `onOpen`, `onIdle`, `onError`, timers and `onClose` still go to
 * the handler.
 *
 * - Writing: each chunk is `conn.write(chunk)`; when that returns false the next chunk waits
 *   for the connection to become writable again (the stream's own buffer then fills and
 *   `stream.write()` returns false, as for a socket).
 * - Reading: bytes that arrive are pushed; when the readable buffer is full the connection is
 *   paused (`conn.pause()`) until the stream is read again (`conn.resume()`).
 * - `stream.end()` → `conn.end()` (FIN after everything written); the peer's FIN (`onEnd`
 *   with `allowHalfOpen`) or a clean close ends the readable side; a close with an error
 *   destroys the stream with it; `stream.destroy()` closes the connection (`conn.close()`),
 *   `stream.destroy(err)` resets it (`conn.destroy()`).
 */
export class ConnStream extends Duplex {
  /** The connection this stream reads and writes. */
  readonly conn: Conn
  /** The connection was paused because the readable buffer is full. */
  #paused = false
  /** The callback of a `_write` waiting for the connection to become writable. */
  #waiting: ((err?: Error | null) => void) | undefined
  /** The connection has closed (told by the reactor). */
  #closed = false
  /** `_final` sent the FIN. */
  #ended = false

  /** @internal Use `conn.toStream()`. */
  constructor(conn: Conn, attach: (consumer: ConnConsumer) => void, options: ConnStreamOptions = {}) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('toStream options must be an object')
    knownKeys('toStream options', options, OPTION_KEYS)
    const hwm = (name: keyof ConnStreamOptions) => (options[name] === undefined ? undefined : int(`toStream options.${name}`, options[name], 1, 2 ** 30))
    super({
      allowHalfOpen: true,
      decodeStrings: true,
      readableHighWaterMark: hwm('readableHighWaterMark'),
      writableHighWaterMark: hwm('writableHighWaterMark'),
    })
    this.conn = conn
    attach({
      traffic: (data) => this.#traffic(data),
      writable: () => this.#writable(),
      end: () => this.push(null),
      close: (err) => this.#close(err),
    })
  }

  #traffic(data: Uint8Array): void {
    if (data.byteLength === 0 || this.destroyed || this.readableEnded) return
    // `data` is a view of the batch arena: push a copy.
    if (!this.push(Buffer.from(data)) && !this.#paused) {
      this.#paused = true
      try {
        this.conn.pause()
      } catch {
        // Already gone: its close follows.
      }
    }
  }

  #writable(): void {
    const cb = this.#waiting
    this.#waiting = undefined
    cb?.()
  }

  #close(err: RiptideError | undefined): void {
    this.#closed = true
    const waiting = this.#waiting
    this.#waiting = undefined
    if (err !== undefined) {
      this.destroy(err)
      return
    }
    this.push(null)
    // Bytes still waiting to be written will never be sent.
    if (waiting !== undefined) waiting(new ConnClosedError('the connection closed before the stream was written'))
    else if (!this.writableEnded) this.end()
  }

  override _read(): void {
    if (!this.#paused) return
    this.#paused = false
    if (this.#closed) return
    try {
      this.conn.resume()
    } catch {
      // Already gone: its close follows.
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#closed || this.#ended) {
      cb(new ConnClosedError())
      return
    }
    let writable: boolean
    try {
      writable = this.conn.write(chunk)
    } catch (err) {
      cb(err as Error)
      return
    }
    if (writable) cb()
    else this.#waiting = cb
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#ended = true
    if (!this.#closed && this.conn.open) {
      try {
        this.conn.end()
      } catch (err) {
        cb(err as Error)
        return
      }
    }
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#waiting = undefined
    if (!this.#closed) {
      try {
        if (err !== null) this.conn.destroy(err instanceof RiptideError ? err : undefined)
        // Ended cleanly: the connection closes by itself once both sides are done.
        else if (!this.#ended) this.conn.close()
      } catch {
        // Already gone.
      }
    }
    cb(err)
  }
}

/** `conn.toStream(options)`: the connection as a `node:stream` `Duplex` (see {@link ConnStream}). */
export function toStream(conn: Conn, options?: ConnStreamOptions): ConnStream {
  return conn.toStream(options)
}
