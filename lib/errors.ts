/**
 * Error classes. Every error riptide raises or reports is a {@link RiptideError} with a
 * stable, Node-style `code`; subclasses let callers use `instanceof` as well.
 */

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

/** The address string is malformed, names an unsupported scheme, or does not resolve. */
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

/** A frame exceeded its codec's maximum (`ERR_FRAME_TOO_LONG`); the bytes were skipped. */
export class FrameTooLongError extends RiptideError {
  constructor(message: string) {
    super('ERR_FRAME_TOO_LONG', message)
  }
}

/** A frame could not be valid (`ERR_FRAME_CORRUPT`), or a message could not be framed (`ERR_FRAME_UNENCODABLE`). */
export class FrameError extends RiptideError {}

/**
 * An HTTP response field that would corrupt the response (header injection): a header name that
 * is not a token (`ERR_INVALID_HTTP_TOKEN`), a value with a control character such as CR, LF or
 * NUL (`ERR_INVALID_CHAR`), or a status outside 100-999 (`ERR_HTTP_INVALID_STATUS_CODE`); the
 * codes are node:http's.
 */
export class InvalidHttpFieldError extends RiptideError {}

/** A connection ended because of a socket error; `code` is the errno name (`ECONNRESET`...). */
export class ConnectionError extends RiptideError {}

/** Turns an error thrown by the native binding into the matching {@link RiptideError}. */
export function fromNative(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof RiptideError) return err
  const code = (err as Error & { code?: unknown }).code
  switch (code) {
    case 'ERR_INVALID_ADDRESS':
      return new InvalidAddressError(err.message)
    case 'ERR_ADDRESS_IN_USE':
      return new AddressInUseError(err.message)
    case 'ERR_CONN_CLOSED':
      return new ConnClosedError(err.message)
    case 'ERR_ENGINE_STOPPED':
      return new EngineStoppedError(err.message)
    case 'ERR_INVALID_ARG_VALUE':
      return new InvalidOptionError(err.message)
    case 'ERR_FRAME_TOO_LONG':
      return new FrameTooLongError(err.message)
    case 'ERR_FRAME_CORRUPT':
    case 'ERR_FRAME_UNENCODABLE':
    case 'ERR_HTTP_PARSE':
    case 'ERR_HTTP_HEADER_TOO_LARGE':
    case 'ERR_HTTP_BODY_TOO_LARGE':
    case 'ERR_PROXY_PROTOCOL':
      return new FrameError(code, err.message)
    default:
      return typeof code === 'string' ? new RiptideError(code, err.message, { cause: err }) : err
  }
}
