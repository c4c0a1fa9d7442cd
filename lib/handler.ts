/**
 * The callbacks a server calls: one handler object serves every connection. Every callback
 * takes its target first (the connection, the UDP socket), then the payload, as the Rust
 * `EventHandler` does (`docs/rust.md` maps one to the other).
 */

/** Which idleness `onIdle` reports. */
export type IdleKind = 'read' | 'write' | 'all'
import type { PeerAddr } from './address'
import type { Conn } from './conn'
import type { DatagramSocket } from './datagram'
import type { Engine } from './engine'
import type { ConnectionError, RiptideError } from './errors'

/**
 * Your callbacks. One handler object serves every connection of a reactor (no closures per
 * socket). All are optional; each runs on the thread of the reactor that owns the connection.
 * `Context` types every callback's `conn.context` (default `unknown`).
 *
 * @example
 * ```ts
 * const handler: EventHandler = {
 *   onOpen(conn) { conn.context = { bytes: 0 } },
 *   onTraffic(conn, data) { if (!conn.write(data)) conn.pause() },
 *   onWritability(conn, writable) { if (writable) conn.resume() },
 *   onClose(conn, err) { if (err) console.log(conn.id, err.code) },
 *   onError(conn, err) { console.error(conn?.id, err) },
 * }
 * ```
 */
export interface EventHandler<Context = unknown> {
  /** The engine is listening; `engine.port` and `engine.addresses` are known. Main thread only. */
  onBoot?(engine: Engine): void
  /** A connection was accepted (or a UDP session began, or a dial connected). */
  onOpen?(conn: Conn<Context>): void
  /**
   * Bytes arrived: with a codec, one whole frame; without, whatever was read (or nothing,
   * after `conn.wake()`). `data` is a view into a shared buffer, valid only during this call:
   * copy it (`data.slice()`) to keep it. Without a codec you may return how many bytes you
   * consumed; the rest is delivered again in front of the next bytes (custom framing).
   * Returning nothing consumes everything. Without `onDatagram`, a UDP datagram without a
   * session also arrives here, with a transient `conn` whose `write` replies to its sender.
   */
  onTraffic?(conn: Conn<Context>, data: Uint8Array): number | void
  /**
   * A message arrived on a KCP session's or WebRTC peer's unreliable channel (Rust
   * `on_unreliable`): the peer sent it with `conn.send(data, { reliable: false })` (a browser:
   * on its unordered, no-retransmit data channel). One datagram's payload, outside KCP
   * and the codec: it may have been lost, and may arrive out of order or duplicated (game
   * state the next update replaces, "typing…" notices). `data` is valid only during the
   * call. Without `onUnreliable` such messages are dropped; they never reach `onTraffic`.
   */
  onUnreliable?(conn: Conn<Context>, data: Uint8Array): void
  /**
   * A UDP datagram without a session (no `udpSessionTimeout`) arrived on listener socket
   * `socket` from `peer`; reply with `socket.sendTo(peer, data)`. `data` is valid only
   * during the call. When the handler has no `onDatagram`, datagrams go to `onTraffic`.
   */
  onDatagram?(socket: DatagramSocket, peer: PeerAddr, data: Uint8Array): void
  /**
   * The connection's writability changed (netty's `channelWritabilityChanged`):
   * `false` once a `write()` returned false (the queue passed `writeHighWaterMark`; delivered
   * at the end of the batch that wrote, or in the next one for writes made outside a batch),
   * `true` when the queue fell back to `writeLowWaterMark` (Node's `'drain'`: write again).
   * Every `false` is followed by a `true` while the connection lives.
   */
  onWritability?(conn: Conn<Context>, writable: boolean): void
  /** The peer half-closed (with `allowHalfOpen`): the connection can still write, then `conn.end()`. */
  onEnd?(conn: Conn<Context>): void
  /**
   * `engine.stop({ drainTimeout })` began: the connection should end soon, so tell the peer
   * (a GOAWAY, a "reconnect elsewhere" message) and close when the protocol allows. Called
   * once per open connection, and for each that opens during the drain (the listeners first
   * accept what is queued). The connection stays open until it closes or the deadline, when
   * it closes with FIN (reset only if its queued bytes could not be written). Without
   * `onDrain` the connection is closed at once after its queued bytes (`conn.close()`).
   */
  onDrain?(conn: Conn<Context>): void
  /** Nothing was read / written / either for the configured `idleTimeout` (netty `IdleStateEvent`). */
  onIdle?(conn: Conn<Context>, kind: IdleKind): void
  /**
   * The connection closed; `err` is set when an error ended it: a {@link ConnectionError}
   * (`ECONNRESET`, `ETIMEDOUT`...) or another `RiptideError` (`ERR_OUTBOUND_FULL`,
   * `ERR_PROXY_PROTOCOL`...), or the error given to `conn.destroy(err)`.
   */
  onClose?(conn: Conn<Context>, err?: RiptideError): void
  /**
   * Accepting failed for lack of resources (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`) and is
   * paused briefly; at most once a second, with the running count of such failures. The
   * engine never dies of them. Without `onAcceptError` the logger gets a warning.
   */
  onAcceptError?(err: ConnectionError, count: number): void
  /**
   * An accepted connection failed before it opened, so no other callback ever saw it (like
   * `node:tls`'s `tlsClientError`; Rust `on_handshake_error`): its TLS handshake failed
   * (`TlsHandshakeError`, `ERR_TLS_HANDSHAKE`: an untrusted client certificate,
   * something other than TLS, `handshakeTimeout` passed), its PROXY header was bad
   * (`ERR_PROXY_PROTOCOL`), or the client reset or closed it first (`ECONNRESET`). `peer` is
   * the client (the one a PROXY header named, once read). Counted in
   * `engine.stats().handshakeErrors`.
   */
  onHandshakeError?(err: RiptideError, peer: PeerAddr): void
  /**
   * With `ticker: true`: called on reactor 0 (the main thread), first right after boot.
   * Return the ms until the next tick, or nothing to stop ticking.
   */
  onTick?(engine: Engine): number | void
  /** The engine stopped; every connection on every reactor has had its `onClose`. Main thread only. */
  onShutdown?(engine: Engine): void
  /**
   * A callback threw (`err` is what it threw), or the codec rejected input
   * (`ERR_FRAME_TOO_LONG`, `ERR_FRAME_CORRUPT`: the bad bytes were skipped) or a message
   * (`ERR_FRAME_UNENCODABLE`). Without `onError` the error goes to the logger and the engine
   * goes on (the connection stays open; close it here if your protocol cannot recover).
   * `conn` is undefined for engine-level callbacks (`onTick`, `execute`...).
   */
  onError?(conn: Conn<Context> | undefined, err: unknown): void
}
