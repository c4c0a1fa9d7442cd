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

const latin1 = (b: Uint8Array, at: number, n: number) => Buffer.from(b.buffer, b.byteOffset + at, n).toString('latin1')

/** Reads a request descriptor (the `frame` of an http1 connection's `onTraffic`). */
export function parseRequest(frame: Uint8Array): HttpRequest {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
  let at = 0
  const minorVersion = frame[at++]
  const m = view.getUint16(at, true)
  const method = latin1(frame, at + 2, m)
  at += 2 + m
  const p = view.getUint16(at, true)
  const path = latin1(frame, at + 2, p)
  at += 2 + p
  const count = view.getUint16(at, true)
  at += 2
  const headers: Array<[string, string]> = []
  for (let i = 0; i < count; i++) {
    const n = view.getUint16(at, true)
    const name = latin1(frame, at + 2, n)
    at += 2 + n
    const v = view.getUint32(at, true)
    headers.push([name, latin1(frame, at + 4, v)])
    at += 4 + v
  }
  const b = view.getUint32(at, true)
  const body = frame.subarray(at + 4, at + 4 + b)
  const header = (name: string) => headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1]
  const connection = header('connection')?.toLowerCase()
  const keepAlive = minorVersion === 1 ? connection !== 'close' : connection === 'keep-alive'
  return { method, path, minorVersion, headers, body, header, keepAlive }
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

/** The bytes of an HTTP/1.1 response, with `Content-Length` set from the body. */
export function response(r: HttpResponse = {}): Buffer {
  const status = r.status ?? 200
  const body = r.body === undefined ? Buffer.alloc(0) : typeof r.body === 'string' ? Buffer.from(r.body) : r.body
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Status'}\r\n`
  for (const [k, v] of Object.entries(r.headers ?? {})) if (k.toLowerCase() !== 'content-length') head += `${k}: ${v}\r\n`
  head += `Content-Length: ${body.byteLength}\r\n\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), body])
}
