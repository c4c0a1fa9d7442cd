/**
 * Options of `webrtc://` listeners (Rust `riptide::WebRtcOptions`): WebRTC data channels on the
 * UDP port, their HTTP signalling on the TCP port of the same address. See `docs/webrtc.md`.
 */

import { statSync } from 'node:fs'
import { isIP } from 'node:net'
import { resolve as resolvePath } from 'node:path'
import { InvalidOptionError } from './errors'
import { int, knownKeys } from './validate'

/** Parameters of `webrtc://` listeners. Every field is optional; see {@link DEFAULT_WEBRTC_OPTIONS}. */
export interface WebRtcOptions {
  /** Where clients `POST` their offer (`{"type":"offer","sdp":…}` → `{"type":"answer","sdp":…}`). Default `/.rtc/offer`. */
  path?: string
  /**
   * The host candidate advertised to clients, `ip:port` (port 0 or none: the listener's port).
   * Default: the bound address; required when binding `0.0.0.0` or `::`.
   */
  publicAddress?: string
  /** Most peers at once, half-open ones included; more offers are answered `503`. Default `10000`. */
  maxPeers?: number
  /** Ms a peer has from its answer to both channels being open before it expires. Default `10000`. */
  handshakeTimeout?: number
  /** Bytes a peer's unreliable channel may hold before `send(…, { reliable: false })` drops (returns `false`). Default `65536`. */
  unreliableHighWater?: number
  /** Bytes a peer's channels may hold unacknowledged; also the largest message sent. Default `262144`. */
  sendBuffer?: number
  /** Largest signalling request body in bytes (`413` beyond). Default `16384`. */
  maxBody?: number
  /**
   * Ms a signalling connection has to send its whole request before it is closed (attached to
   * an HTTP listener: ms `authorize` has to decide before the request fails). Default `10000`.
   */
  requestTimeout?: number
  /**
   * A directory: `GET` (and `HEAD`) requests on the signalling port for any other path are
   * answered from it (`/` → `index.html`, content type by extension, nothing outside it), so
   * an example page comes from the same engine. Default none: `404`.
   */
  static?: string
  /**
   * Called before each offer is answered, with the request: throwing, rejecting or returning
   * `false` refuses it (`403`); any other value (or what the promise resolves to) answers it
   * and becomes the peer's `conn.context` before `onOpen`. Main thread only: the listener and
   * its peers live on reactor 0.
   */
  authorize?: (request: WebRtcAuthorizeRequest) => unknown
  /**
   * geckos.io v2 mode: the stock `@geckos.io/client` 3.x connects unchanged. Signalling is
   * geckos's (`/.wrtc/v2/…`, the server offers; `path` is refused with it), each peer has
   * geckos's one unordered, no-retransmit channel, and `authorize` sees
   * `POST /.wrtc/v2/connections` (refused: `401`; its value is also sent to the client as
   * `userData` when JSON can carry it). `onTraffic` gets an emit as the JSON text
   * `{"<event>":data}` (a `reliable` one once) and a raw message as its bytes;
   * `conn.emit(event, data, { reliable })` emits, `conn.write`/`send` send raw. Default `false`.
   */
  geckos?: boolean
  /**
   * Serve signalling on the TCP port of the listener's address. `false`: bind only the UDP
   * port, and let a riptide HTTP listener (`codecs.http1()`) answer the signalling requests
   * through `engine.webrtcSignal` or `engine.webrtcAttachment()` (see docs/webrtc.md,
   * "Attaching to an HTTP listener"); `static` is refused then. Default `true`.
   */
  signalling?: boolean
}

/** What `webrtc.authorize` is told about a signalling request. */
export interface WebRtcAuthorizeRequest {
  /** The request path, without its query. */
  path: string
  /** The request headers, names lower-cased. */
  headers: Record<string, string>
  /** The client's IP address. */
  remoteAddress: string
}

/** The defaults of {@link WebRtcOptions}. */
export const DEFAULT_WEBRTC_OPTIONS: Readonly<Required<Omit<WebRtcOptions, 'publicAddress' | 'static' | 'authorize'>>> = Object.freeze({
  path: '/.rtc/offer',
  maxPeers: 10_000,
  handshakeTimeout: 10_000,
  unreliableHighWater: 64 * 1024,
  sendBuffer: 256 * 1024,
  maxBody: 16 * 1024,
  requestTimeout: 10_000,
  geckos: false,
  signalling: true,
})

/** {@link WebRtcOptions} checked, with the defaults filled in. */
export type ResolvedWebRtc = Required<Omit<WebRtcOptions, 'publicAddress' | 'static' | 'authorize'>> & {
  publicAddress: string | undefined
  authorize: WebRtcOptions['authorize']
  /** `static`, as an absolute path. */
  staticDir: string | undefined
}

/** Fills and checks {@link WebRtcOptions}; throws `ERR_INVALID_ARG_VALUE` on a bad value or an unknown key. */
export function resolveWebRtc(value: unknown): ResolvedWebRtc {
  if (value === undefined) return { ...DEFAULT_WEBRTC_OPTIONS, publicAddress: undefined, staticDir: undefined, authorize: undefined }
  if (value === null || typeof value !== 'object') throw new InvalidOptionError('options.webrtc must be an object')
  const w = value as WebRtcOptions
  knownKeys('options.webrtc', w, [...Object.keys(DEFAULT_WEBRTC_OPTIONS), 'publicAddress', 'static', 'authorize'])
  const { static: dir, ...rest } = w
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined))
  const o = { ...DEFAULT_WEBRTC_OPTIONS, publicAddress: undefined, staticDir: undefined, authorize: undefined, ...defined } as ResolvedWebRtc
  if (o.authorize !== undefined && typeof o.authorize !== 'function') throw new InvalidOptionError('webrtc.authorize must be a function')
  if (typeof o.geckos !== 'boolean') throw new InvalidOptionError('webrtc.geckos must be a boolean')
  if (typeof o.signalling !== 'boolean') throw new InvalidOptionError('webrtc.signalling must be a boolean')
  if (!o.signalling && dir !== undefined) throw new InvalidOptionError('webrtc.static needs the signalling port: it cannot be served with signalling: false')
  if (o.geckos && w.path !== undefined) throw new InvalidOptionError('webrtc.path is the default signalling\'s: geckos mode serves /.wrtc/v2')
  if (dir !== undefined) {
    if (typeof dir !== 'string' || dir === '') throw new InvalidOptionError('webrtc.static must be a directory path')
    const abs = resolvePath(dir)
    if (!statSync(abs, { throwIfNoEntry: false })?.isDirectory()) throw new InvalidOptionError(`webrtc.static ${JSON.stringify(dir)} is not a directory`)
    o.staticDir = abs
  }
  if (typeof o.path !== 'string' || !o.path.startsWith('/') || o.path.length > 256 || /[\s?#]/.test(o.path)) {
    throw new InvalidOptionError(`webrtc.path must be an absolute path without a query (at most 256 bytes), got ${JSON.stringify(o.path)}`)
  }
  if (o.publicAddress !== undefined) {
    const a = o.publicAddress as unknown
    const m = typeof a === 'string' ? /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(a) : null
    if (m === null || isIP(m[1]) === 0 || Number(m[2]) > 65535) {
      throw new InvalidOptionError(`webrtc.publicAddress must be ip:port, got ${JSON.stringify(a)}`)
    }
    if (/^(0\.0\.0\.0|::)$/.test(m[1])) throw new InvalidOptionError('webrtc.publicAddress must be an address clients can reach, not the unspecified one')
  }
  int('webrtc.maxPeers', o.maxPeers, 1, 1 << 24)
  int('webrtc.handshakeTimeout', o.handshakeTimeout, 1, 600_000)
  int('webrtc.sendBuffer', o.sendBuffer, 1024, 64 << 20)
  int('webrtc.unreliableHighWater', o.unreliableHighWater, 0, o.sendBuffer)
  int('webrtc.maxBody', o.maxBody, 1024, 1 << 20)
  int('webrtc.requestTimeout', o.requestTimeout, 1, 600_000)
  return o
}
