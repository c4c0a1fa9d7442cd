/**
 * What a WebSocket client adds to a `Client`: `ws://` and `wss://` URLs become a transport
 * address (`tcp://`, or `tls://` for `wss://`) and the upgrade request to make there, and
 * `connect()`'s WebSocket options become the client's `codecs.websocket()`. The handshake
 * itself runs in Rust (the WebSocket layer's client mode, see `docs/websocket.md`).
 */

import { codecs, type WebSocketCodec } from './codecs'
import { InvalidAddressError, InvalidOptionError } from './errors'
import type { NativeWsDial } from './native'
import { checkHeaders, type UpgradeHeaders, type WebSocketConn, type WebSocketHandler } from './websocket'

/** A `ws://` or `wss://` URL (the forms `connect` and `Client#dial` type as WebSocket dials). */
export type WebSocketUrl = `ws://${string}` | `wss://${string}`

/** The callbacks of a WebSocket client: a server's without `onUpgrade`, plus `onReconnecting`. */
export interface WebSocketClientHandler<Context = unknown> extends Omit<WebSocketHandler<Context>, 'onUpgrade'> {
  /** The connection was lost; attempt number `attempt` (a new handshake) follows in `delay` ms. */
  onReconnecting?(conn: WebSocketConn<Context>, attempt: number, delay: number): void
}

/** The options of `codecs.websocket()`, given flat to `connect('ws://…')`. */
export interface WebSocketDialCodecOptions {
  /** Subprotocols to offer, in order of preference (`Sec-WebSocket-Protocol`). Default none. */
  subprotocols?: string[]
  /** Offer permessage-deflate. Default `false`. */
  compression?: boolean
  /** Largest message accepted, after inflating (then close code 1009). Default 16 MiB. */
  maxPayload?: number
  /** ms of silence before a ping; as long again without a byte ends the connection (`ERR_WS_TIMEOUT`). Default `0`, never. */
  idleTimeout?: number
  /** ms to wait for the server's answer to `conn.close()`. Default `5000`. */
  closeTimeout?: number
}

const CODEC_KEYS = ['subprotocols', 'compression', 'maxPayload', 'idleTimeout', 'closeTimeout'] as const satisfies readonly (keyof WebSocketDialCodecOptions)[]

/** Headers the handshake writes itself, which a dial may not set. */
const OWN_HEADERS = new Set(['host', 'upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions'])

/** True for a `ws://` or `wss://` URL. */
export function isWebSocketUrl(url: unknown): url is WebSocketUrl {
  return typeof url === 'string' && /^wss?:\/\//i.test(url)
}

/** Splits `connect('ws://…')`'s options into the client's codec and the rest. */
export function websocketCodec<T extends object>(options: T): { codec: WebSocketCodec; rest: Omit<T, (typeof CODEC_KEYS)[number]> } {
  const codec: Record<string, unknown> = {}
  const rest: Record<string, unknown> = { ...(options as Record<string, unknown>) }
  if ('codec' in rest) throw new InvalidOptionError("connect('ws://…') options take the codec's options flat (subprotocols, compression…), not codec")
  for (const key of CODEC_KEYS) {
    if (key in rest) codec[key] = rest[key]
    delete rest[key]
  }
  return { codec: codecs.websocket(codec), rest: rest as Omit<T, (typeof CODEC_KEYS)[number]> }
}

/**
 * The transport address of a WebSocket URL and the request to make: `Host` (with the port
 * unless it is the scheme's, 80 or 443), the path and query, and `headers` (checked: tokens,
 * no CR/LF, none the handshake sets itself).
 */
export function websocketTarget(url: string, headers: UpgradeHeaders | undefined): { url: string; secure: boolean; ws: NativeWsDial } {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new InvalidAddressError(`${JSON.stringify(url)} is not a WebSocket URL`)
  }
  if (u.hash !== '') throw new InvalidAddressError(`a WebSocket URL has no fragment (RFC 6455 §3): ${JSON.stringify(url)}`)
  if (u.username !== '' || u.password !== '') {
    throw new InvalidAddressError('a WebSocket URL carries no credentials: send them as headers (authorization)')
  }
  const pairs = checkHeaders(headers)
  const own = pairs.find(([name]) => OWN_HEADERS.has(name.toLowerCase()))
  if (own !== undefined) throw new InvalidOptionError(`header ${own[0]} is the handshake's own (use subprotocols or compression for the Sec-WebSocket ones)`)
  const secure = u.protocol === 'wss:'
  const port = u.port === '' ? (secure ? 443 : 80) : Number(u.port)
  return {
    url: `${secure ? 'tls' : 'tcp'}://${u.hostname}:${port}`,
    secure,
    ws: { host: u.host, path: `${u.pathname}${u.search}`, headers: pairs },
  }
}
