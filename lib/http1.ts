/**
 * HTTP/1.1 on top of `codecs.http1()`: the Rust decoder hands each request to `onTraffic` as
 * a compact descriptor; {@link parseRequest} reads it, {@link response} builds the bytes of a
 * reply. Enough for plaintext/JSON servers and gateways; not a full HTTP framework.
 *
 * @example
 * ```ts
 * await serve('tcp://0.0.0.0:8080', {
 *   onTraffic(conn, frame) {
 *     const req = parseRequest(frame)
 *     conn.write(response({ body: 'Hello, World!', headers: { 'content-type': 'text/plain' } }))
 *   },
 * }, { codec: codecs.http1() })
 * ```
 */

import { InvalidHttpFieldError } from './errors'

/** One request. */
export interface HttpRequest {
  method: string
  /** The request target as sent (path and query). */
  path: string
  /** `1` for HTTP/1.1, `0` for HTTP/1.0. */
  minorVersion: number
  /** Header fields in order, names as sent. */
  headers: Array<[string, string]>
  /** The body (de-chunked), a view valid during the callback like the frame itself. */
  body: Uint8Array
  /** The first value of a header, case-insensitively. */
  header(name: string): string | undefined
  /** Whether the connection stays open after the response (HTTP/1.1 default, `Connection` header). */
  keepAlive: boolean
}

/** Bytes `[at, at + n)` of `b` as a latin1 string: a JS loop for the short fields of a request line, Buffer's decoder beyond. */
function latin1(b: Uint8Array, at: number, n: number): string {
  if (n > 32) return Buffer.from(b.buffer, b.byteOffset + at, n).toString('latin1')
  let s = ''
  for (let i = at; i < at + n; i++) s += String.fromCharCode(b[i])
  return s
}

const u32 = (b: Uint8Array, at: number) => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0

/** True when bytes `[at, at + name.length)` of `b` spell `name` (lowercase ASCII) in any case. */
function nameIs(b: Uint8Array, at: number, n: number, name: string): boolean {
  if (n !== name.length) return false
  for (let i = 0; i < n; i++) {
    const c = b[at + i]
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== name.charCodeAt(i)) return false
  }
  return true
}

/**
 * A request read from its descriptor. The request line and `keepAlive` are read at once; header
 * strings only when asked for (most handlers never look at most headers).
 */
class ParsedRequest implements HttpRequest {
  readonly method: string
  readonly path: string
  readonly minorVersion: number
  readonly keepAlive: boolean
  readonly #frame: Uint8Array
  /** Offset of the body's length field in the descriptor. */
  readonly #bodyAt: number
  /** Offset of the first header in the descriptor. */
  readonly #first: number
  readonly #count: number
  #headers: Array<[string, string]> | undefined

  constructor(frame: Uint8Array) {
    let at = 0
    this.minorVersion = frame[at++]
    const m = u32(frame, at)
    this.method = latin1(frame, at + 4, m)
    at += 4 + m
    const p = u32(frame, at)
    this.path = latin1(frame, at + 4, p)
    at += 4 + p
    this.#count = u32(frame, at)
    at += 4
    this.#first = at
    this.#frame = frame
    for (let i = 0; i < this.#count; i++) {
      at += 4 + u32(frame, at)
      at += 4 + u32(frame, at)
    }
    this.#bodyAt = at
    const connection = this.header('connection')?.toLowerCase()
    this.keepAlive = this.minorVersion === 1 ? connection !== 'close' : connection === 'keep-alive'
  }

  get body(): Uint8Array {
    const at = this.#bodyAt
    return this.#frame.subarray(at + 4, at + 4 + u32(this.#frame, at))
  }

  get headers(): Array<[string, string]> {
    if (this.#headers === undefined) {
      const f = this.#frame
      const headers: Array<[string, string]> = []
      let at = this.#first
      for (let i = 0; i < this.#count; i++) {
        const n = u32(f, at)
        const name = latin1(f, at + 4, n)
        at += 4 + n
        const v = u32(f, at)
        headers.push([name, latin1(f, at + 4, v)])
        at += 4 + v
      }
      this.#headers = headers
    }
    return this.#headers
  }

  header(name: string): string | undefined {
    const f = this.#frame
    const wanted = name.toLowerCase()
    let at = this.#first
    for (let i = 0; i < this.#count; i++) {
      const n = u32(f, at)
      const v = u32(f, at + 4 + n)
      if (nameIs(f, at + 4, n, wanted)) return latin1(f, at + 8 + n, v)
      at += 8 + n + v
    }
    return undefined
  }
}

/**
 * Reads a request descriptor (the `data` of `onTraffic` on an `http1` connection). The result
 * is valid during the callback, like the frame it reads.
 */
export function parseRequest(frame: Uint8Array): HttpRequest {
  return new ParsedRequest(frame)
}

const REASONS: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 301: 'Moved Permanently', 302: 'Found', 304: 'Not Modified',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  413: 'Content Too Large', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 503: 'Service Unavailable',
}

/** A response to build with {@link response}. */
export interface HttpResponse {
  /** Default `200`. */
  status?: number
  headers?: Record<string, string | number>
  body?: Uint8Array | string
}

/** A header name is a token (RFC 9110 §5.1): visible ASCII but delimiters. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** A header value may hold HTAB, visible ASCII, SP and obs-text (RFC 9110 §5.5); never CR, LF or NUL. */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/

/**
 * The bytes of an HTTP/1.1 response, with `Content-Length` set from the body.
 *
 * @throws {InvalidHttpFieldError} `ERR_INVALID_HTTP_TOKEN` for a header name that is not a
 * token, `ERR_INVALID_CHAR` for a value with a control character (CR, LF, NUL...) or a
 * character beyond latin1, `ERR_HTTP_INVALID_STATUS_CODE` for a status outside 100-999: what
 * would let a caller's input split the response or inject headers.
 */
export function response(r: HttpResponse = {}): Buffer {
  const status = r.status ?? 200
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new InvalidHttpFieldError('ERR_HTTP_INVALID_STATUS_CODE', `invalid status code: ${String(status)}`)
  }
  const body = r.body === undefined ? Buffer.alloc(0) : typeof r.body === 'string' ? Buffer.from(r.body) : r.body
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Status'}\r\n`
  for (const [k, v] of Object.entries(r.headers ?? {})) {
    if (!TOKEN.test(k)) throw new InvalidHttpFieldError('ERR_INVALID_HTTP_TOKEN', `header name must be a valid HTTP token: ${JSON.stringify(k)}`)
    const value = String(v)
    if (INVALID_VALUE.test(value)) throw new InvalidHttpFieldError('ERR_INVALID_CHAR', `invalid character in header ${JSON.stringify(k)}`)
    if (k.toLowerCase() !== 'content-length') head += `${k}: ${value}\r\n`
  }
  head += `Content-Length: ${body.byteLength}\r\n\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), body])
}
