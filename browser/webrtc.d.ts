// Types of riptide's browser WebRTC client (webrtc.js beside this file). Browser-only: it needs
// the DOM library's RTCPeerConnection, fetch and TextEncoder.

/** The signalling path the server listens on unless told otherwise: `/.rtc/offer`. */
export declare const OFFER_PATH: string

/** Options of {@link connect}. Unknown keys throw `InvalidArgError`. */
export interface ConnectOptions {
  /** The signalling path on the server's origin. Default `/.rtc/offer`. */
  path?: string
  /** Extra request headers for the offer (an `Authorization` for the server's `authorize` hook). */
  headers?: Record<string, string>
  /** Milliseconds for the whole connection (signalling, ICE, DTLS, both channels open). Default 10,000. */
  timeout?: number
  /** An unreliable send is dropped while the unreliable channel buffers more than this. Default 65,536 bytes. */
  unreliableHighWater?: number
  /** `write` returns false while more than this waits on the reliable channel. Default 1 MiB. */
  reliableHighWater?: number
  /** Passed to `new RTCPeerConnection` (ICE servers, for instance); `bundlePolicy` defaults to `max-bundle`. */
  rtcConfiguration?: RTCConfiguration
}

/** Options of {@link Peer.send}. */
export interface SendOptions {
  /** False: the unordered, never retransmitted channel. Default true ({@link Peer.write}). */
  reliable?: boolean
}

/** Why a peer closed: `close()` was called, the server closed it, or the connection failed. */
export type CloseReason = 'local' | 'remote' | 'failed'

/** What `write` and `send` take: strings go as text, bytes as binary. */
export type RtcData = string | ArrayBuffer | ArrayBufferView

/**
 * Connects to a riptide WebRTC server at `url` (its HTTP(S) origin, `http://127.0.0.1:9208`):
 * POSTs the offer to `options.path`, applies the answer and resolves when both channels are open.
 *
 * @example
 * ```js
 * import { connect } from 'riptide/browser/webrtc'
 * const peer = await connect('http://127.0.0.1:9208')
 * peer.onTraffic = (data) => console.log('reliable', data)
 * peer.onUnreliable = (data) => console.log('unreliable', data)
 * peer.write('hello')                                  // reliable, ordered
 * peer.send(new Uint8Array([1, 2]), { reliable: false }) // false = dropped, congested
 * ```
 * @throws SignallingError (`ERR_SIGNALLING`, with the HTTP `status`), TimeoutError (`ERR_TIMEOUT`),
 *   ConnectError (`ERR_CONNECT`), InvalidArgError (`ERR_INVALID_ARG_VALUE`)
 */
export declare function connect(url: string | URL, options?: ConnectOptions): Promise<Peer>

/** One connection to the server: a reliable ordered channel and an unreliable unordered one. */
export declare class Peer {
  private constructor()
  /** A message on the reliable channel: a string when the server sent text, else bytes. */
  onTraffic: (data: Uint8Array | string) => void
  /** A message on the unreliable channel. */
  onUnreliable: (data: Uint8Array | string) => void
  /** The reliable queue drained after `write` returned false. */
  onWritable: () => void
  /** The peer closed; called once. */
  onClose: (reason: CloseReason) => void
  /** The largest message either channel takes: the smaller of the server's and this browser's limits. */
  readonly maxMessageSize: number
  /** The underlying connection (for `getStats()`); close the peer with `close()`, not this. */
  readonly connection: RTCPeerConnection
  /** True once closed. */
  readonly closed: boolean
  /** Bytes waiting on the reliable channel. */
  readonly bufferedAmount: number
  /**
   * Sends on the reliable, ordered channel; always accepted. Returns false once more than
   * `reliableHighWater` bytes wait (then `onWritable` follows).
   * @throws ClosedError, MessageTooLargeError
   */
  write(data: RtcData): boolean
  /**
   * `reliable: false`: sends once on the unordered channel, or returns false (dropped) when it
   * is congested. Otherwise {@link Peer.write}.
   * @throws ClosedError, MessageTooLargeError, InvalidArgError
   */
  send(data: RtcData, options?: SendOptions): boolean
  /** Closes the connection; `onClose('local')` follows at once. Idempotent. */
  close(): void
}

/** Base class of the client's errors, with a stable `code`. */
export declare class RtcError extends Error {
  constructor(code: string, message: string)
  /** A stable code such as `'ERR_SIGNALLING'`. */
  readonly code: string
}

/** The server refused the offer (non-2xx) or did not answer with an SDP answer. `code`: `ERR_SIGNALLING`. */
export declare class SignallingError extends RtcError {
  constructor(status: number, message: string)
  /** The HTTP status; 0 when no response came. */
  readonly status: number
}

/** `connect` did not finish within its timeout. `code`: `ERR_TIMEOUT`. */
export declare class TimeoutError extends RtcError {
  constructor(message: string)
}

/** ICE or DTLS failed, or a channel closed before opening. `code`: `ERR_CONNECT`. */
export declare class ConnectError extends RtcError {
  constructor(message: string)
}

/** A write or send after close. `code`: `ERR_CONN_CLOSED`. */
export declare class ClosedError extends RtcError {
  constructor()
}

/** A message above `maxMessageSize`. `code`: `ERR_MESSAGE_TOO_LARGE`. */
export declare class MessageTooLargeError extends RtcError {
  constructor(size: number, max: number)
}

/** A bad argument or option. `code`: `ERR_INVALID_ARG_VALUE`. */
export declare class InvalidArgError extends RtcError {
  constructor(message: string)
}
