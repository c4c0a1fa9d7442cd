/**
 * Error classes. Every error riptide raises or reports is a {@link RiptideError} with a
 * stable, Node-style `code`; subclasses let callers use `instanceof` as well.
 */
import { constants as osConstants } from 'node:os'

/**
 * Base class of all riptide errors.
 *
 * @example
 * ```ts
 * try { await serve('tcp://nope', handler) } catch (e) {
 *   if (e instanceof RiptideError && e.code === 'ERR_INVALID_ADDRESS') { ... }
 * }
 * ```
 */
export class RiptideError extends Error {
  /** Stable machine-readable code, e.g. `ERR_INVALID_ADDRESS` or `ECONNRESET`. */
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/**
 * The address string is malformed, names an unsupported scheme, or (a listen address) does
 * not resolve. A dial whose name does not resolve fails with a {@link ConnectionError}
 * `ENOTFOUND` instead.
 */
export class InvalidAddressError extends RiptideError {
  constructor(message: string) {
    super('ERR_INVALID_ADDRESS', message)
  }
}

/** Another socket already holds the address. */
export class AddressInUseError extends RiptideError {
  constructor(message: string) {
    super('ERR_ADDRESS_IN_USE', message)
  }
}

/** The connection is closed (or closing): it accepts no more writes. */
export class ConnClosedError extends RiptideError {
  constructor(message = 'connection is closed') {
    super('ERR_CONN_CLOSED', message)
  }
}

/** The engine (or the reactor owning a connection) has stopped. */
export class EngineStoppedError extends RiptideError {
  constructor(message = 'engine is stopped') {
    super('ERR_ENGINE_STOPPED', message)
  }
}

/** A client connection is between connections (reconnecting) and holds no writes (`ERR_NOT_CONNECTED`). */
export class NotConnectedError extends RiptideError {
  constructor(message = 'connection is reconnecting') {
    super('ERR_NOT_CONNECTED', message)
  }
}

/** More bytes than allowed would be queued (`ERR_OUTBOUND_FULL`). */
export class OutboundFullError extends RiptideError {
  constructor(message = 'outbound queue is full') {
    super('ERR_OUTBOUND_FULL', message)
  }
}

/** A dial was cancelled by its `AbortSignal` (`ABORT_ERR`, as Node's `AbortError`). */
export class AbortError extends RiptideError {
  constructor(message = 'the operation was aborted') {
    super('ABORT_ERR', message)
    this.name = 'AbortError'
  }
}

/** An option has a wrong type or is out of range. */
export class InvalidOptionError extends RiptideError {
  constructor(message: string) {
    super('ERR_INVALID_ARG_VALUE', message)
  }
}

/**
 * A framing error from a connection's codec: a frame that could not be valid
 * (`ERR_FRAME_CORRUPT`), a message the framing cannot express (`ERR_FRAME_UNENCODABLE`), a bad
 * HTTP/1.1 request (`ERR_HTTP_PARSE`, `ERR_HTTP_HEADER_TOO_LARGE`, `ERR_HTTP_BODY_TOO_LARGE`)
 * a missing or malformed PROXY protocol header (`ERR_PROXY_PROTOCOL`), or a bad RESP request
 * (`ERR_RESP_PROTOCOL`, `ERR_RESP_BULK_TOO_LONG`, `ERR_RESP_TOO_MANY_ELEMENTS`,
 * `ERR_RESP_INLINE_TOO_LONG`, `ERR_RESP_REQUEST_TOO_LARGE`, `ERR_RESP_TOO_DEEP`), whose message
 * is redis-server's protocol error text.
 */
export class FrameError extends RiptideError {}

/** A frame exceeded its codec's maximum (`ERR_FRAME_TOO_LONG`); the bytes were skipped. */
export class FrameTooLongError extends FrameError {
  constructor(message: string) {
    super('ERR_FRAME_TOO_LONG', message)
  }
}

/**
 * An HTTP response field that would corrupt the response (header injection): a header name that
 * is not a token (`ERR_INVALID_HTTP_TOKEN`), a value with a control character such as CR, LF or
 * NUL (`ERR_INVALID_CHAR`), or a status outside 100-999 (`ERR_HTTP_INVALID_STATUS_CODE`); the
 * codes are node:http's.
 */
export class InvalidHttpFieldError extends RiptideError {}

/** Where an OS error arose, as Node's `net` errors tell it. */
export interface ConnectionErrorDetails {
  /** The OS error number, negative as in Node (`-104` for `ECONNRESET` on Linux). */
  errno?: number
  /** `'connect'` for a failed dial, `'getaddrinfo'` for a failed name lookup, `'accept'`, `'read'` or `'write'`. */
  syscall?: string
  /** The peer's IP address (or socket path). */
  address?: string
  /** The peer's port. */
  port?: number
  /** The name looked up, for a failed lookup (`syscall: 'getaddrinfo'`). */
  hostname?: string
}

/**
 * An operating-system error on a socket: `code` is its errno name (`ECONNRESET`, `EPIPE`,
 * `ETIMEDOUT`, `ENETUNREACH`...), or `ERR_IO` for an OS error without one; or a failed name
 * lookup of a dial (`ENOTFOUND`, `EAI_AGAIN`..., with `syscall: 'getaddrinfo'` and
 * `hostname`). Like Node's `net` errors it carries `errno`, `syscall`, `address`, `port` and
 * `hostname` where they are known.
 *
 * @example
 * ```ts
 * onClose(conn, err) {
 *   if (err instanceof ConnectionError) console.log(err.code, err.errno, err.syscall, err.address, err.port)
 * }
 * ```
 */
export class ConnectionError extends RiptideError {
  /** The OS error number, negative as in Node (`-104`: `ECONNRESET` on Linux). */
  readonly errno: number | undefined
  /** The operation that failed: `'connect'`, `'getaddrinfo'`, `'accept'`, `'read'` or `'write'`; `undefined` for timeouts riptide decides. */
  readonly syscall: string | undefined
  /** The peer's address. */
  readonly address: string | undefined
  /** The peer's port. */
  readonly port: number | undefined
  /** The name that failed to resolve (`syscall: 'getaddrinfo'`); `undefined` otherwise. */
  readonly hostname: string | undefined

  constructor(code: string, message: string, details: ConnectionErrorDetails = {}) {
    super(code, message)
    this.errno = details.errno ?? errnoOf(code)
    this.syscall = details.syscall
    this.address = details.address
    this.port = details.port
    this.hostname = details.hostname
  }
}

/** Node's (negative) errno for an errno name on this platform, if it has one. */
function errnoOf(code: string): number | undefined {
  const n = (osConstants.errno as Record<string, number | undefined>)[code]
  return n === undefined ? undefined : -n
}

/** A connection was refused because its client already holds `maxConnectionsPerIp` (`ERR_TOO_MANY_CONNECTIONS`). */
export class TooManyConnectionsError extends RiptideError {
  constructor(message = 'too many connections') {
    super('ERR_TOO_MANY_CONNECTIONS', message)
  }
}

/** A KCP message is larger than KCP can carry (127 fragments); nothing was queued (`ERR_MESSAGE_TOO_LARGE`). */
export class MessageTooLargeError extends RiptideError {
  constructor(message = 'message too large for KCP') {
    super('ERR_MESSAGE_TOO_LARGE', message)
  }
}

/** A KCP segment went unacknowledged through `kcp.deadLink` transmissions: the peer or path is gone (`ERR_KCP_DEAD_LINK`). */
export class KcpDeadLinkError extends RiptideError {
  constructor(message = 'KCP dead link') {
    super('ERR_KCP_DEAD_LINK', message)
  }
}

/**
 * A KCP secure-mode handshake failed (`ERR_HANDSHAKE_FAILED`): the server did not prove it
 * holds the private half of the pinned `serverPublicKey`, or answered with garbage, or never
 * answered in time.
 */
export class HandshakeError extends RiptideError {
  constructor(message = 'secure handshake failed') {
    super('ERR_HANDSHAKE_FAILED', message)
  }
}

/**
 * A TLS handshake failed (`ERR_TLS_HANDSHAKE`): the peer's certificate was not trusted or not
 * valid for the name, no protocol version, cipher suite or ALPN protocol was shared, the peer
 * sent something other than TLS, or the handshake took longer than `tls.handshakeTimeout`. The
 * message says which (rustls' own words).
 */
export class TlsHandshakeError extends RiptideError {
  constructor(message = 'TLS handshake failed') {
    super('ERR_TLS_HANDSHAKE', message)
  }
}

/**
 * TLS failed after the handshake (`ERR_TLS`; Rust `Error::TlsAlert`): a record that did not
 * decrypt (corrupted or forged on the way), a fatal alert from the peer, a message out of
 * place. The message is rustls' reason; the alert rustls chose was sent to the peer before
 * the close.
 */
export class TlsError extends RiptideError {
  constructor(message = 'TLS error') {
    super('ERR_TLS', message)
  }
}

/**
 * A bug inside riptide (a panic) while handling this connection: it was closed so the engine
 * could go on (`ERR_INTERNAL`). Please report it.
 */
export class InternalError extends RiptideError {
  constructor(message = 'internal error') {
    super('ERR_INTERNAL', message)
  }
}

/** A worker reactor failed to start (`ERR_WORKER_INIT`). */
export class WorkerInitError extends RiptideError {
  constructor(message: string) {
    super('ERR_WORKER_INIT', message)
  }
}

/**
 * A task of the engine's task pool (`serve`'s `tasks` option) threw (`ERR_TASK_FAILED`): the
 * message is the thrown error's, `taskCode` its `code` (a thrown error's own properties do not
 * survive the trip between threads otherwise), `taskName` its `name`.
 */
export class TaskError extends RiptideError {
  /** The `code` of the error the task threw, if it had a string one (`'ENOENT'`, `'ERR_BAD_IMAGE'`...). */
  readonly taskCode: string | undefined
  /** The `name` of the error the task threw (`'TypeError'`...). */
  readonly taskName: string

  constructor(message: string, taskCode?: string, taskName = 'Error') {
    super('ERR_TASK_FAILED', message)
    this.taskCode = taskCode
    this.taskName = taskName
  }
}

/**
 * The task pool's queue holds `tasks.maxQueue` tasks waiting for a thread, and every thread
 * is busy: the task was not queued (`ERR_TASK_QUEUE_FULL`). Shed load or retry later.
 */
export class TaskQueueFullError extends RiptideError {
  constructor(message = 'task queue is full') {
    super('ERR_TASK_QUEUE_FULL', message)
  }
}

/**
 * This platform lacks what was asked (`ERR_UNSUPPORTED_PLATFORM`): there is no native engine
 * for it, or the call is Unix-only (`Client#enroll(fd)` on Windows).
 */
export class UnsupportedPlatformError extends RiptideError {
  constructor(message: string) {
    super('ERR_UNSUPPORTED_PLATFORM', message)
  }
}

/**
 * An upgrade in place failed (`ERR_UPGRADE_FAILED`): the new process could not be started,
 * exited or timed out before it was ready, or another upgrade was under way. The old process
 * keeps serving.
 */
export class UpgradeError extends RiptideError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_UPGRADE_FAILED', message, options)
  }
}

/** Errno names look like `ECONNRESET`; `ERR_IO` is an OS error without one. */
/**
 * A WebSocket connection ended with a close frame (`ERR_WS_CLOSE`): the peer's, or its answer
 * to `conn.close()`. `closeCode` is the peer's code (1005 when it sent none), `reason` its reason.
 */
export class WebSocketCloseError extends RiptideError {
  /** The peer's close code. */
  readonly closeCode: number
  /** The peer's reason. */
  readonly reason: string

  constructor(closeCode: number, reason: string, message = `WebSocket closed: ${closeCode}${reason === '' ? '' : ` ${reason}`}`) {
    super('ERR_WS_CLOSE', message)
    this.closeCode = closeCode
    this.reason = reason
  }

  /** @internal From the native close text, which ends in `ERR_WS_CLOSE: <code> <reason>` (the reason's UTF-8 bytes, one char each). */
  static fromNative(message: string): WebSocketCloseError {
    const m = /ERR_WS_CLOSE: (\d+) ([\s\S]*)$/.exec(message)
    if (m === null) return new WebSocketCloseError(1005, '', message)
    const reason = Buffer.from(m[2], 'latin1').toString('utf8')
    return new WebSocketCloseError(Number(m[1]), reason, `WebSocket closed: ${m[1]}${reason === '' ? '' : ` ${reason}`}`)
  }
}

/**
 * A WebSocket failed: the peer broke the protocol and was sent the matching close code
 * (`ERR_WS_PROTOCOL` 1002, `ERR_WS_INVALID_UTF8` and `ERR_WS_BAD_DEFLATE` 1007,
 * `ERR_WS_MESSAGE_TOO_BIG` 1009, `ERR_WS_BAD_CLOSE` 1002), the peer went silent or did not
 * answer a close (`ERR_WS_TIMEOUT`), the handshake failed (`ERR_WS_HANDSHAKE`,
 * `ERR_WS_UPGRADE_REFUSED`, `ERR_WS_BAD_HEADER`), or `ERR_WS_CLOSED`/`ERR_WS_RANDOM`.
 */
export class WebSocketError extends RiptideError {
  /** `ERR_WS_UPGRADE_REFUSED` on a client: the HTTP status the server answered instead of 101. */
  readonly status: number | undefined

  constructor(code: string, message: string, status?: number) {
    super(code, message)
    this.status = status
  }

  /** @internal From a native code and message (a refusal's names the status: `server answered 404 instead of 101`). */
  static fromNative(code: string, message: string): WebSocketError {
    const m = code === 'ERR_WS_UPGRADE_REFUSED' ? /answered (\d{3}) instead of 101/.exec(message) : null
    return new WebSocketError(code, message, m === null ? undefined : Number(m[1]))
  }
}

const OS_CODE = /^E[A-Z0-9]+$/

/**
 * The riptide error for `code` as it comes over the native boundary (a close, a failed write,
 * a codec error, a thrown error): the class documented for that code, or {@link ConnectionError}
 * for an OS error, with `details` (where an OS error arose) when it is one.
 */
export function errorFromCode(code: string, message: string, details?: ConnectionErrorDetails): RiptideError {
  switch (code) {
    case 'ERR_INVALID_ADDRESS':
      return new InvalidAddressError(message)
    case 'ERR_ADDRESS_IN_USE':
      return new AddressInUseError(message)
    case 'ERR_CONN_CLOSED':
      return new ConnClosedError(message)
    case 'ERR_ENGINE_STOPPED':
      return new EngineStoppedError(message)
    case 'ERR_INVALID_ARG_VALUE':
      return new InvalidOptionError(message)
    case 'ERR_OUTBOUND_FULL':
      return new OutboundFullError(message)
    case 'ERR_TOO_MANY_CONNECTIONS':
      return new TooManyConnectionsError(message)
    case 'ERR_MESSAGE_TOO_LARGE':
      return new MessageTooLargeError(message)
    case 'ERR_KCP_DEAD_LINK':
      return new KcpDeadLinkError(message)
    case 'ERR_HANDSHAKE_FAILED':
      return new HandshakeError(message)
    case 'ERR_TLS_HANDSHAKE':
      return new TlsHandshakeError(message)
    case 'ERR_TLS':
      return new TlsError(message)
    case 'ERR_INTERNAL':
      return new InternalError(message)
    case 'ERR_FRAME_TOO_LONG':
      return new FrameTooLongError(message)
    case 'ERR_FRAME_CORRUPT':
    case 'ERR_FRAME_UNENCODABLE':
    case 'ERR_HTTP_PARSE':
    case 'ERR_HTTP_HEADER_TOO_LARGE':
    case 'ERR_HTTP_BODY_TOO_LARGE':
    case 'ERR_PROXY_PROTOCOL':
    case 'ERR_RESP_PROTOCOL':
    case 'ERR_RESP_BULK_TOO_LONG':
    case 'ERR_RESP_TOO_MANY_ELEMENTS':
    case 'ERR_RESP_INLINE_TOO_LONG':
    case 'ERR_RESP_REQUEST_TOO_LARGE':
    case 'ERR_RESP_TOO_DEEP':
      return new FrameError(code, message)
    case 'ERR_WORKER_INIT':
      return new WorkerInitError(message)
    case 'ERR_UNSUPPORTED_PLATFORM':
      return new UnsupportedPlatformError(message)
    case 'ERR_IO':
      return new ConnectionError(code, message, details)
    case 'ERR_WS_CLOSE':
      return WebSocketCloseError.fromNative(message)
    default:
      if (code.startsWith('ERR_WS_')) return WebSocketError.fromNative(code, message)
      return OS_CODE.test(code) ? new ConnectionError(code, message, details) : new RiptideError(code, message)
  }
}

/** Turns an error thrown by the native binding into the matching {@link RiptideError}. */
export function fromNative(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof RiptideError) return err
  const code = (err as Error & { code?: unknown }).code
  return typeof code === 'string' ? errorFromCode(code, err.message) : err
}
