/**
 * Framing codecs, run in Rust: with a codec, `onTraffic` receives whole frames (one call per
 * frame) and `conn.write(message)` frames the message. Semantics are netty's
 * (`LineBasedFrameDecoder`, `DelimiterBasedFrameDecoder`, `FixedLengthFrameDecoder`,
 * `LengthFieldBasedFrameDecoder` + `LengthFieldPrepender`).
 *
 * @example
 * ```ts
 * await serve({ url: 'tcp://127.0.0.1:9000', codec: codecs.lengthField({ lengthFieldLength: 2 }) }, {
 *   onTraffic(conn, frame) { conn.write(frame) }, // frame excludes the header; write() adds it
 * })
 * ```
 */
import { InvalidOptionError } from './errors'
import { bool as checkBool, int as checkInt, knownKeys } from './validate'

/** Lines ending in `\n` or `\r\n`. */
export interface LineCodec {
  readonly kind: 'line'
  /** Longest line, not counting the line break. Default `8192`. */
  readonly maxLength: number
  /** Deliver lines without the line break. Default `true`. */
  readonly stripDelimiter: boolean
  /** Report an overlong line as soon as `maxLength` is passed, not at its line break. Default `false`. */
  readonly failFast: boolean
  /** Writes end with `\r\n` instead of `\n`. Default `false`. */
  readonly crlf: boolean
}

/** Frames ending in one of several delimiters (the one giving the shortest frame wins). */
export interface DelimiterCodec {
  readonly kind: 'delimiter'
  /** Delimiters; writes are followed by the first. */
  readonly delimiters: Uint8Array[]
  /** Longest frame, not counting the delimiter. Default `8192`. */
  readonly maxFrameLength: number
  /** Deliver frames without the delimiter. Default `true`. */
  readonly stripDelimiter: boolean
  /** Report an overlong frame at once. Default `true`. */
  readonly failFast: boolean
}

/** Frames of exactly `frameLength` bytes. */
export interface FixedLengthCodec {
  readonly kind: 'fixedLength'
  readonly frameLength: number
}

/** Frames with a length field (netty's exact arithmetic). */
export interface LengthFieldCodec {
  readonly kind: 'lengthField'
  /** Default `'big'`. */
  readonly byteOrder: 'big' | 'little'
  /** Longest frame. Default `1048576`. */
  readonly maxFrameLength: number
  /** Where the length field starts. Default `0`. */
  readonly lengthFieldOffset: number
  /** 1, 2, 3, 4 or 8 bytes. Default `4`. */
  readonly lengthFieldLength: number
  /** Added to the field's value to get the bytes after it. Default `0`. */
  readonly lengthAdjustment: number
  /**
   * Bytes dropped from the front of each frame. Default `lengthFieldOffset + lengthFieldLength`
   * (the header), so frames in and messages out are symmetric; netty's decoder defaults to 0.
   */
  readonly initialBytesToStrip: number
  /** Report an oversized frame as soon as its length is read. Default `true`. */
  readonly failFast: boolean
  /** Encoder: the written length counts the field itself. Default `false`. */
  readonly lengthIncludesLengthFieldLength: boolean
  /** Encoder: added to the body length before writing it. Default `0`. */
  readonly prependerAdjustment: number
}

/** HTTP/1.1 requests: one `onTraffic` per request, as a descriptor read with `parseRequest`. */
export interface Http1Codec {
  readonly kind: 'http1'
  /** Most bytes of request line + headers (then `ERR_HTTP_HEADER_TOO_LARGE`). Default `16384`. */
  readonly maxHeaderSize: number
  /** Most header fields. Default `64`. */
  readonly maxHeaders: number
  /** Most body bytes (then `ERR_HTTP_BODY_TOO_LARGE`). Default `1048576`. */
  readonly maxBodySize: number
  /**
   * Routes that upgrade to WebSocket on the same port ({@link Http1UpgradeCodec}); none by
   * default.
   */
  readonly websocket?: Http1WebSocket
}

/**
 * The `websocket` option of `codecs.http1()`: the routes whose upgrade requests become
 * WebSockets, and the WebSocket's options, as `codecs.websocket()` takes them.
 */
export interface Http1WebSocket extends Omit<WebSocketCodec, 'kind'> {
  /**
   * Paths (the query aside) whose upgrade requests go to the WebSocket handler: exact
   * (`'/chat'`), or a prefix ending in `*` (`'/rooms/*'`). An upgrade request elsewhere is
   * refused with 404; any other request on these paths is an ordinary HTTP request.
   */
  readonly routes: string[]
}

/**
 * An HTTP/1.1 server whose chosen routes upgrade to WebSocket, on one port (docs/websocket.md,
 * "One port for HTTP and WebSocket"): `serve`'s handler is then an `HttpWebSocketHandler`.
 */
export type Http1UpgradeCodec = Http1Codec & {
  /** The routes that upgrade, and the WebSocket's options. */
  readonly websocket: Http1WebSocket
}

/** What `codecs.http1()` takes. */
export type Http1Options = Partial<Omit<Http1Codec, 'kind' | 'websocket'>> & {
  /** Routes that upgrade to WebSocket, and the WebSocket's options. */
  websocket?: {
    /** As {@link Http1WebSocket.routes}. */
    routes: string[]
  } & Partial<Omit<WebSocketCodec, 'kind'>>
}

/**
 * RESP2 (the Redis protocol) requests: one `onTraffic` per command, read with `parseCommand`
 * (`lib/resp.ts`), or with `batch` one per read holding its whole commands, read with
 * `RespCommands`; replies are written as bytes built by `resp.*`. Defaults follow
 * redis-server's. A violation goes to `onError` with its `ERR_RESP_*` code and redis-server's
 * protocol error text as the message: answer `resp.error('ERR ' + err.message)` and close.
 */
export interface RespCodec {
  readonly kind: 'resp'
  /** Longest bulk string (then `ERR_RESP_BULK_TOO_LONG`). Default `536870912` (redis-server's `proto-max-bulk-len`). */
  readonly maxBulkLength: number
  /** Most arguments of one command (then `ERR_RESP_TOO_MANY_ELEMENTS`). Default `65536`: a command is held whole before delivery. */
  readonly maxElements: number
  /** Longest inline command (then `ERR_RESP_INLINE_TOO_LONG`). Default `65536` (redis-server's). */
  readonly maxInlineLength: number
  /** Most wire bytes of one command (then `ERR_RESP_REQUEST_TOO_LARGE`). Default `1073741824` (redis-server's `client-query-buffer-limit`). */
  readonly maxRequestSize: number
  /**
   * Deliver every whole command of one read as one frame (their descriptors one after
   * another, read with `RespCommands`): a pipelined read is one `onTraffic`, its replies can
   * go out in one write. Default `false` (one frame per command, for `parseCommand`). The
   * commands before a protocol error arrive before the error.
   */
  readonly batch: boolean
}

/**
 * Length-type-value messages (Cellnet's packet: `size | msgId | body`): `onTraffic(conn, body,
 * { msgId })`, `conn.write(body, { msgId })`. Defaults are Cellnet's: a 2-byte size counting
 * the id and the body, a 2-byte id, little-endian. See `docs/api.md` ("LTV").
 */
export interface LtvCodec {
  readonly kind: 'ltv'
  /** Width of the size field: 2 or 4 bytes. Default `2`. */
  readonly sizeBytes: 2 | 4
  /** Width of the message id field: 2 or 4 bytes. Default `2`. */
  readonly idBytes: 2 | 4
  /** Byte order of both fields. Default `'little'` (Cellnet's). */
  readonly byteOrder: 'big' | 'little'
  /** The size counts the whole frame, size field included. Default `false`: the id and the body (Cellnet's). */
  readonly sizeIncludesHeader: boolean
  /**
   * Longest frame on the wire, size field included (then `ERR_FRAME_TOO_LONG`, reported as
   * soon as the size is read; the frame is skipped). Default: all a 2-byte size can declare
   * (`65537`, or `65535` with `sizeIncludesHeader`) or `1048576` with a 4-byte size.
   */
  readonly maxFrameLength: number
}

/** WebSocket (RFC 6455, permessage-deflate RFC 7692) for a server: see `docs/websocket.md`. */
export interface WebSocketCodec {
  readonly kind: 'websocket'
  /** Largest message accepted, in bytes, after inflating (then close code 1009). Default `16777216`. */
  readonly maxPayload: number
  /** Agree to permessage-deflate when the client offers it. Default `false`. */
  readonly compression: boolean
  /** ms without a byte from the peer before a ping; as long again without an answer closes (`ERR_WS_TIMEOUT`). `0` (default) never. */
  readonly idleTimeout: number
  /** ms to wait for the peer's close frame after `conn.close()` (then `ERR_WS_TIMEOUT`). Default `5000`. */
  readonly closeTimeout: number
  /** Subprotocols spoken, in order of preference; the first one the client offers is chosen unless `onUpgrade` says otherwise. Default none. */
  readonly subprotocols: string[]
}

/** Any codec. */
export type Codec = LineCodec | DelimiterCodec | FixedLengthCodec | LengthFieldCodec | Http1Codec | RespCodec | LtvCodec | WebSocketCodec

const int = (name: string, v: unknown, min: number, max: number) => checkInt(`codec ${name}`, v, min, max)
const bool = (name: string, v: unknown) => checkBool(`codec ${name}`, v)

/** Unknown keys of a codec's options are errors; `kind` is allowed (specs passed back in). */
function keys(kind: string, o: unknown, known: string[]): void {
  if (o !== null && typeof o === 'object') knownKeys(`codecs.${kind}() options`, o, ['kind', ...known])
}

const bytes = (d: string | Uint8Array): Uint8Array => (typeof d === 'string' ? Buffer.from(d) : d)

/** A WebSocket route: a path without a query or a fragment, `*` only at its end. */
const ROUTE = /^\/[^?#*\s]*\*?$/

/** `codecs.http1()`, overloaded so that a `websocket` option gives an {@link Http1UpgradeCodec}. */
function http1(o: Http1Options & { websocket: object }): Http1UpgradeCodec
function http1(o?: Http1Options): Http1Codec
function http1(o: Http1Options = {}): Http1Codec {
  keys('http1', o, ['maxHeaderSize', 'maxHeaders', 'maxBodySize', 'websocket'])
  const codec: Http1Codec = {
    kind: 'http1',
    maxHeaderSize: int('maxHeaderSize', o.maxHeaderSize ?? 16384, 64, 1 << 24),
    maxHeaders: int('maxHeaders', o.maxHeaders ?? 64, 1, 1024),
    maxBodySize: int('maxBodySize', o.maxBodySize ?? 1 << 20, 0, 2 ** 31 - 1),
  }
  if (o.websocket === undefined) return codec
  if (o.websocket === null || typeof o.websocket !== 'object') throw new InvalidOptionError('codec websocket must be an object with routes')
  const { routes, ...rest } = o.websocket
  if (!Array.isArray(routes) || routes.length === 0 || routes.some((r) => typeof r !== 'string' || !ROUTE.test(r))) {
    throw new InvalidOptionError("codec websocket.routes must be a non-empty array of paths ('/chat', or '/rooms/*' for a prefix)")
  }
  const { kind: _, ...websocket } = codecs.websocket(rest)
  return { ...codec, websocket: { routes: [...routes], ...websocket } }
}

/** Builders of codec specs, with defaults filled in and options checked. */
export const codecs = {
  /** `\n` / `\r\n` lines. */
  line(o: Partial<Omit<LineCodec, 'kind'>> = {}): LineCodec {
    keys('line', o, ['maxLength', 'stripDelimiter', 'failFast', 'crlf'])
    return {
      kind: 'line',
      maxLength: int('maxLength', o.maxLength ?? 8192, 1, 2 ** 31 - 1),
      stripDelimiter: bool('stripDelimiter', o.stripDelimiter ?? true),
      failFast: bool('failFast', o.failFast ?? false),
      crlf: bool('crlf', o.crlf ?? false),
    }
  },

  /** Custom delimiters (strings are UTF-8). */
  delimiter(o: { delimiters: Array<string | Uint8Array> } & Partial<Omit<DelimiterCodec, 'kind' | 'delimiters'>>): DelimiterCodec {
    keys('delimiter', o, ['delimiters', 'maxFrameLength', 'stripDelimiter', 'failFast'])
    if (!Array.isArray(o?.delimiters) || o.delimiters.length === 0) {
      throw new InvalidOptionError('codec delimiters must be a non-empty array')
    }
    const delimiters = o.delimiters.map(bytes)
    if (delimiters.some((d) => !(d instanceof Uint8Array) || d.length === 0)) {
      throw new InvalidOptionError('codec delimiters must be non-empty strings or Uint8Arrays')
    }
    return {
      kind: 'delimiter',
      delimiters,
      maxFrameLength: int('maxFrameLength', o.maxFrameLength ?? 8192, 1, 2 ** 31 - 1),
      stripDelimiter: bool('stripDelimiter', o.stripDelimiter ?? true),
      failFast: bool('failFast', o.failFast ?? true),
    }
  },

  /** Fixed-size frames. */
  fixedLength(o: { frameLength: number }): FixedLengthCodec {
    keys('fixedLength', o, ['frameLength'])
    return { kind: 'fixedLength', frameLength: int('frameLength', o?.frameLength, 1, 2 ** 31 - 1) }
  },

  /**
   * HTTP/1.1 request framing (Content-Length and chunked bodies, pipelining, `Expect:
   * 100-continue` answered for you). Responses are written as bytes (see `response`). A bad
   * request goes to `onError` (`ERR_HTTP_PARSE`, `ERR_HTTP_HEADER_TOO_LARGE`,
   * `ERR_HTTP_BODY_TOO_LARGE`); answer 400/431/413 and close. With `websocket: { routes }`,
   * upgrade requests on those routes become WebSockets on the same port
   * ({@link Http1UpgradeCodec}).
   */
  http1,

  /**
   * RESP2 request framing for a Redis-protocol server: arrays of bulk strings and inline
   * commands, pipelined. Each command arrives as one frame; `parseCommand(frame)` gives its
   * arguments without a copy. With `batch`, each read's commands arrive as one frame, read
   * with `RespCommands`. See {@link RespCodec} for the limits and their errors.
   */
  resp(o: Partial<Omit<RespCodec, 'kind'>> = {}): RespCodec {
    keys('resp', o, ['maxBulkLength', 'maxElements', 'maxInlineLength', 'maxRequestSize', 'batch'])
    return {
      kind: 'resp',
      maxBulkLength: int('maxBulkLength', o.maxBulkLength ?? 512 * 1024 * 1024, 1, 2 ** 32 - 1),
      maxElements: int('maxElements', o.maxElements ?? 65536, 1, 2 ** 31 - 1),
      maxInlineLength: int('maxInlineLength', o.maxInlineLength ?? 64 * 1024, 1, 2 ** 31 - 1),
      maxRequestSize: int('maxRequestSize', o.maxRequestSize ?? 1024 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
      batch: bool('batch', o.batch ?? false),
    }
  },

  /**
   * WebSocket for `serve` (`tcp://` or `tls://` listeners, as `options.codec`): the handler
   * is then a {@link WebSocketHandler} (`onUpgrade`, whole messages with their type,
   * `conn.write(string | bytes)`, `conn.ping()`, `conn.close(code, reason)`).
   */
  websocket(o: Partial<Omit<WebSocketCodec, 'kind'>> = {}): WebSocketCodec {
    keys('websocket', o, ['maxPayload', 'compression', 'idleTimeout', 'closeTimeout', 'subprotocols'])
    const subprotocols = o.subprotocols ?? []
    if (!Array.isArray(subprotocols) || subprotocols.some((p) => typeof p !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(p))) {
      throw new InvalidOptionError('codec subprotocols must be an array of HTTP tokens')
    }
    return {
      kind: 'websocket',
      maxPayload: int('maxPayload', o.maxPayload ?? 16 * 1024 * 1024, 1, 2_147_483_000),
      compression: bool('compression', o.compression ?? false),
      idleTimeout: int('idleTimeout', o.idleTimeout ?? 0, 0, 2 ** 31 - 1),
      closeTimeout: int('closeTimeout', o.closeTimeout ?? 5000, 1, 2 ** 31 - 1),
      subprotocols: [...subprotocols],
    }
  },

  /**
   * Length-type-value messages (Cellnet's `tcp.ltv`): a server-wide codec (`serve`'s
   * `options.codec`, or a `Client`'s), as the handler's `onTraffic` then takes `(conn, body, {
   * msgId })` and writes need `{ msgId }`. A size below the id field is `ERR_FRAME_CORRUPT`, one
   * above `maxFrameLength` `ERR_FRAME_TOO_LONG` (both skipped; the connection goes on).
   */
  ltv(o: Partial<Omit<LtvCodec, 'kind'>> = {}): LtvCodec {
    keys('ltv', o, ['sizeBytes', 'idBytes', 'byteOrder', 'sizeIncludesHeader', 'maxFrameLength'])
    const width = (name: string, v: unknown): 2 | 4 => {
      if (v !== 2 && v !== 4) throw new InvalidOptionError(`codec ${name} must be 2 or 4, got ${String(v)}`)
      return v
    }
    const sizeBytes = width('sizeBytes', o.sizeBytes ?? 2)
    const idBytes = width('idBytes', o.idBytes ?? 2)
    const byteOrder = o.byteOrder ?? 'little'
    if (byteOrder !== 'big' && byteOrder !== 'little') throw new InvalidOptionError("codec byteOrder must be 'big' or 'little'")
    const sizeIncludesHeader = bool('sizeIncludesHeader', o.sizeIncludesHeader ?? false)
    // The most a size field can declare, as a whole frame.
    const most = sizeBytes === 2 ? (sizeIncludesHeader ? 0xffff : 0xffff + 2) : Number.MAX_SAFE_INTEGER
    const maxFrameLength = int('maxFrameLength', o.maxFrameLength ?? Math.min(most, 1 << 20), sizeBytes + idBytes, Number.MAX_SAFE_INTEGER)
    return { kind: 'ltv', sizeBytes, idBytes, byteOrder, sizeIncludesHeader, maxFrameLength }
  },

  /** A length field, netty's `LengthFieldBasedFrameDecoder` + `LengthFieldPrepender`. */
  lengthField(o: Partial<Omit<LengthFieldCodec, 'kind'>> = {}): LengthFieldCodec {
    keys('lengthField', o, [
      'byteOrder',
      'maxFrameLength',
      'lengthFieldOffset',
      'lengthFieldLength',
      'lengthAdjustment',
      'initialBytesToStrip',
      'failFast',
      'lengthIncludesLengthFieldLength',
      'prependerAdjustment',
    ])
    const lengthFieldOffset = int('lengthFieldOffset', o.lengthFieldOffset ?? 0, 0, 2 ** 31 - 1)
    const lengthFieldLength = o.lengthFieldLength ?? 4
    if (![1, 2, 3, 4, 8].includes(lengthFieldLength)) {
      throw new InvalidOptionError(`codec lengthFieldLength must be 1, 2, 3, 4 or 8, got ${String(lengthFieldLength)}`)
    }
    const byteOrder = o.byteOrder ?? 'big'
    if (byteOrder !== 'big' && byteOrder !== 'little') throw new InvalidOptionError("codec byteOrder must be 'big' or 'little'")
    const maxFrameLength = int('maxFrameLength', o.maxFrameLength ?? 1 << 20, 1, Number.MAX_SAFE_INTEGER)
    if (lengthFieldOffset > maxFrameLength - lengthFieldLength) {
      throw new InvalidOptionError('codec lengthFieldOffset must be <= maxFrameLength - lengthFieldLength')
    }
    return {
      kind: 'lengthField',
      byteOrder,
      maxFrameLength,
      lengthFieldOffset,
      lengthFieldLength,
      lengthAdjustment: int('lengthAdjustment', o.lengthAdjustment ?? 0, -(2 ** 31), 2 ** 31 - 1),
      initialBytesToStrip: int('initialBytesToStrip', o.initialBytesToStrip ?? lengthFieldOffset + lengthFieldLength, 0, 2 ** 31 - 1),
      failFast: bool('failFast', o.failFast ?? true),
      lengthIncludesLengthFieldLength: bool('lengthIncludesLengthFieldLength', o.lengthIncludesLengthFieldLength ?? false),
      prependerAdjustment: int('prependerAdjustment', o.prependerAdjustment ?? 0, -(2 ** 31), 2 ** 31 - 1),
    }
  },
}

/** Checks a codec value that did not come from {@link codecs} (e.g. plain objects). */
export function checkCodec(c: unknown): Codec {
  const kind = (c as { kind?: unknown } | null)?.kind
  switch (kind) {
    case 'line':
      return codecs.line(c as LineCodec)
    case 'delimiter':
      return codecs.delimiter(c as DelimiterCodec)
    case 'fixedLength':
      return codecs.fixedLength(c as FixedLengthCodec)
    case 'lengthField':
      return codecs.lengthField(c as LengthFieldCodec)
    case 'http1':
      return codecs.http1(c as Http1Options)
    case 'resp':
      return codecs.resp(c as RespCodec)
    case 'ltv':
      return codecs.ltv(c as LtvCodec)
    case 'websocket':
      return codecs.websocket(c as WebSocketCodec)
    default:
      throw new InvalidOptionError(`unknown codec kind ${String(kind)}`)
  }
}
