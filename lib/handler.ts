/** The callbacks a server calls: one handler object serves every connection. */

/** Which idleness `onIdle` reports. */
export type IdleKind = 'read' | 'write' | 'all'
import type { Conn } from './conn'
import type { Engine } from './engine'
import type { RiptideError } from './errors'

/**
 * Your callbacks. One handler object serves every connection of a reactor (no closures per
 * socket). All are optional; each runs on the thread of the reactor that owns the connection.
 */
export interface EventHandler {
  /** The engine is listening; `engine.port` is known. Main thread only. */
  onBoot?(engine: Engine): void
  /** A connection was accepted. */
  onOpen?(conn: Conn): void
  /**
   * Bytes arrived: with a codec, one whole frame; without, whatever was read (or nothing,
   * after `conn.wake()`). `data` is a view into a shared buffer, valid only during this call:
   * copy it (`data.slice()`) to keep it. Without a codec you may return how many bytes you
   * consumed; the rest is delivered again in front of the next bytes (custom framing).
   * Returning nothing consumes everything.
   */
  onTraffic?(conn: Conn, data: Uint8Array): number | void
  /**
   * The connection's queue fell back to `writeLowWaterMark` after `write()` returned false:
   * write again (Node's `'drain'`, netty's writability change).
   */
  onWritable?(conn: Conn): void
  /** The peer half-closed (with `allowHalfOpen`): the connection can still write, then `conn.end()`. */
  onEnd?(conn: Conn): void
  /** Nothing was read / written / either for the configured `idleTimeout` (netty `IdleStateEvent`). */
  onIdle?(conn: Conn, kind: IdleKind): void
  /** The connection closed; `err` is set when a socket error ended it (`err.code` is e.g. `ECONNRESET`). */
  onClose?(conn: Conn, err?: RiptideError): void
  /**
   * With `ticker: true`: called on reactor 0 (the main thread), first right after boot.
   * Return the ms until the next tick, or nothing to stop ticking.
   */
  onTick?(engine: Engine): number | void
  /** The engine stopped; every connection on every reactor has had its `onClose`. Main thread only. */
  onShutdown?(engine: Engine): void
  /**
   * A callback threw, or the codec rejected input (`ERR_FRAME_TOO_LONG`,
   * `ERR_FRAME_CORRUPT`: the bad bytes were skipped) or a message (`ERR_FRAME_UNENCODABLE`).
   * Without `onError` the error goes to the logger and the engine goes on (the connection
   * stays open; close it here if your protocol cannot recover). `conn` is undefined for
   * engine-level callbacks.
   */
  onError?(err: unknown, conn: Conn | undefined): void
}
