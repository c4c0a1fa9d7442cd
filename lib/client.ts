/**
 * Clients: connections dialed from a reactor on this thread, with the same handler API,
 * codecs, idle detection and backpressure as servers, plus reconnection with exponential
 * backoff and full jitter.
 */
import { isStreamUrl, isTlsUrl, resolveClientTls, tlsDial, urlHost, type ClientTls, type ClientTlsOptions } from './tls'
import { checkCodec, type Codec, type LtvCodec, type WebSocketCodec } from './codecs'
import type { LtvClientHandler } from './ltv'
import { type Conn, kClosedByUser, kEnded, kLink, kReconnecting, type ReconnectLink } from './conn'
import { AbortError, type ConnectionError, InvalidOptionError, type RiptideError } from './errors'
import type { EventHandler } from './handler'
import {
  checkKcpOnly,
  checkSecureRole,
  type ClientSecureOptions,
  type CryptOptions,
  type FecOptions,
  type KcpLayers,
  type KcpOptions,
  resolveKcp,
  resolveKcpLayers,
  resolveServeOptions,
  type ServeOptions,
} from './options'
import { type DialRequest, Reactor } from './reactor'
import { checkCarrier, type DatagramCarrier } from './carrier'
import { int, knownKeys, ms } from './validate'
import { asyncDispose } from './dispose'
import type { UpgradeHeaders, WebSocketConn } from './websocket'
import {
  isWebSocketUrl,
  websocketCodec,
  websocketTarget,
  type WebSocketClientHandler,
  type WebSocketDialCodecOptions,
  type WebSocketUrl,
} from './websocket-client'

/** Reconnection after a connection is lost (not after `close()`). */
export interface ReconnectOptions {
  /** Ms before the first attempt. Default `100`. */
  initialDelay?: number
  /** Longest wait between attempts. Default `30000`. */
  maxDelay?: number
  /** Growth of the wait per attempt. Default `2`. */
  factor?: number
  /** `'full'`: wait a random time up to the backoff (AWS's full jitter, the default); `'none'`: exactly the backoff. */
  jitter?: 'full' | 'none'
  /** Attempts before giving up (then `onClose` with the last error). Default unlimited. */
  maxAttempts?: number
}

/** The options of {@link ServeOptions} a client takes (its connections' options). */
const CONNECTION_KEYS = [
  'codec',
  'tcpNoDelay',
  'tcpKeepAlive',
  'socketRecvBuffer',
  'socketSendBuffer',
  'readBufferCap',
  'writeBufferCap',
  'writeHighWaterMark',
  'writeLowWaterMark',
  'maxOutbound',
  'closeTimeout',
  'allowHalfOpen',
  'idleTimeout',
  'heartbeat',
  'frameTimeout',
  'logger',
  'kcp',
  'fec',
  'crypt',
  'driver',
] as const satisfies readonly (keyof ServeOptions)[]

/** Client options: the connection options of {@link ServeOptions} plus dialing. */
export interface ClientOptions extends Pick<ServeOptions, (typeof CONNECTION_KEYS)[number]> {
  /** `kcp://` dials only: riptide's secure mode, pinning the server's public key (and proving this client's `clientKey`). Not with `crypt`. Default off. */
  secure?: ClientSecureOptions
  /**
   * TLS of `tls://` dials: trusted CAs, ALPN... (docs/tls.md). Default: none, and `tls://` dials
   * need it here or per dial. `connect(url, handler, { tls })` on a `tcp://` or `unix://` URL
   * runs TLS over that stream.
   */
  tls?: ClientTlsOptions
  /** Ms a connect may take before failing with `ETIMEDOUT`. Default `10000`; `0` for no limit. */
  connectTimeout?: number
  /** Reconnect lost connections (`true` for the defaults). Default off. */
  reconnect?: ReconnectOptions | boolean
  /** Bytes `write()` may hold while reconnecting (sent on reconnect); beyond, `ERR_OUTBOUND_FULL`. Default `0`: writes throw `ERR_NOT_CONNECTED`. */
  maxQueuedWhileReconnecting?: number
}

/** The keys of {@link ClientOptions}. */
const CLIENT_KEYS: readonly (keyof ClientOptions)[] = [...CONNECTION_KEYS, 'secure', 'tls', 'connectTimeout', 'reconnect', 'maxQueuedWhileReconnecting']

/** Client callbacks: a server's, plus `onReconnecting`. `Context` types `conn.context`. */
export interface ClientHandler<Context = unknown> extends EventHandler<Context> {
  /** The connection was lost; attempt number `attempt` follows in `delay` ms. */
  onReconnecting?(conn: Conn<Context>, attempt: number, delay: number): void
}

/**
 * Options of one dial (Rust `DialOptions`, given to `Reactor::dial(url, options)`): each
 * overrides the client's option of the same name for this connection.
 *
 * @example
 * ```ts
 * const conn = await client.dial('tcp://127.0.0.1:9000', { codec: codecs.line(), connectTimeout: 2000 })
 * ```
 */
export interface DialOptions<Context = unknown> {
  /** Framing of this connection. Default: the client's `codec`. */
  codec?: Codec
  /** Ms the connect may take before failing with `ETIMEDOUT`; `0` for no limit. Default: the client's `connectTimeout`. */
  connectTimeout?: number
  /** KCP parameters of a `kcp://` dial. Default: the client's `kcp`. */
  kcp?: KcpOptions
  /** `kcp://` only: FEC of this dial. Default: the client's `fec`. */
  fec?: FecOptions
  /** `kcp://` only: kcp-go's encryption of this dial (*compatible, not secure*). Default: the client's `crypt`. */
  crypt?: CryptOptions
  /** `kcp://` only: secure mode of this dial. Default: the client's `secure`. */
  secure?: ClientSecureOptions
  /**
   * TLS of this dial. A `tls://` dial defaults to the client's `tls`; given here on a `tcp://`
   * or `unix://` dial it runs TLS over that stream (over Unix, `servername` is required).
   */
  tls?: ClientTlsOptions
  /**
   * Cancels the dial while it looks up its host or connects (rejects with `ABORT_ERR`). One
   * signal may serve any number of dials: each removes its listener when it settles.
   */
  signal?: AbortSignal
  /**
   * `kcp://name` dials only: carry the session's datagrams through this application carrier
   * instead of UDP; the URL names the peer (as the carrier's `send` and `receive` name it).
   */
  carrier?: DatagramCarrier
  /** The new connection's `context`. */
  context?: Context
  /**
   * `ws://` and `wss://` dials only: extra headers of the upgrade request (`Origin`, cookies,
   * `Authorization`...), an object or `[name, value]` pairs.
   */
  headers?: UpgradeHeaders
}

/** The keys of {@link DialOptions}. */
const DIAL_KEYS: readonly (keyof DialOptions)[] = ['codec', 'connectTimeout', 'kcp', 'fec', 'crypt', 'secure', 'tls', 'signal', 'context', 'headers', 'carrier']

/**
 * `connect('ws://…' | 'wss://…')`'s options: the client's (`tls` for `wss://`, `reconnect`,
 * `connectTimeout`, which also bounds the handshake...), the WebSocket codec's flat, and the
 * request's `headers`. `idleTimeout` is the WebSocket's idle ping, not the connection's.
 */
export type WebSocketConnectOptions = Omit<ClientOptions, 'codec' | 'idleTimeout' | 'maxQueuedWhileReconnecting'> &
  WebSocketDialCodecOptions & { signal?: AbortSignal; headers?: UpgradeHeaders }

type Backoff = Required<ReconnectOptions>

function resolveBackoff(r: ReconnectOptions | boolean | undefined): Backoff | undefined {
  if (r === undefined || r === false) return undefined
  const o = r === true ? {} : r
  if (o === null || typeof o !== 'object') throw new InvalidOptionError('options.reconnect must be an object or a boolean')
  knownKeys('options.reconnect', o, ['initialDelay', 'maxDelay', 'factor', 'jitter', 'maxAttempts'])
  const factor = o.factor ?? 2
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1 || factor > 1000) {
    throw new InvalidOptionError(`options.reconnect.factor must be a number in [1, 1000], got ${String(factor)}`)
  }
  const attempts = o.maxAttempts ?? Infinity
  const backoff: Backoff = {
    initialDelay: ms('options.reconnect.initialDelay', o.initialDelay ?? 100),
    maxDelay: ms('options.reconnect.maxDelay', o.maxDelay ?? 30_000),
    factor,
    jitter: o.jitter ?? 'full',
    // Unlimited by default; a count otherwise.
    maxAttempts: attempts === Infinity ? attempts : int('options.reconnect.maxAttempts', attempts, 1, Number.MAX_SAFE_INTEGER),
  }
  if (backoff.jitter !== 'full' && backoff.jitter !== 'none') throw new InvalidOptionError("options.reconnect.jitter must be 'full' or 'none'")
  return backoff
}

/**
 * Dials connections from a reactor on this thread. `Context` types its connections'
 * `context` (default `unknown`).
 */
export class Client<Context = unknown> {
  readonly #reactor: Reactor
  readonly #handler: ClientHandler<Context> | WebSocketClientHandler<Context> | LtvClientHandler<Context>
  readonly #connectTimeout: number
  readonly #backoff: Backoff | undefined
  readonly #queueLimit: number
  readonly #layers: KcpLayers
  /** The client's own `tls`: its dials share one session cache (a dial's own `tls` has its own). */
  readonly #tls: ClientTls | undefined
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()
  #stopped = false
  #ref = true

  /**
   * A WebSocket client: `codec: codecs.websocket({ subprotocols, compression, ... })` makes
   * every dial a `ws://` or `wss://` one, with the handler of a WebSocket server (no
   * `onUpgrade`; `onOpen` after the 101). See `docs/websocket.md`.
   */
  constructor(handler: WebSocketClientHandler<Context>, options: ClientOptions & { codec: WebSocketCodec })
  /**
   * An LTV client: `codec: codecs.ltv(...)` makes `onTraffic` take `(conn, body, { msgId })`
   * and writes `conn.write(body, { msgId })`.
   */
  constructor(handler: LtvClientHandler<Context>, options: ClientOptions & { codec: LtvCodec })
  /** A client whose connections call `handler`. */
  constructor(handler: ClientHandler<Context>, options?: ClientOptions)
  constructor(handler: ClientHandler<Context> | WebSocketClientHandler<Context> | LtvClientHandler<Context>, options: ClientOptions = {}) {
    if (handler === null || typeof handler !== 'object') throw new InvalidOptionError('handler must be an object of callbacks')
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options must be an object')
    knownKeys('client options', options, CLIENT_KEYS)
    const { connectTimeout, reconnect, maxQueuedWhileReconnecting, tls, ...rest } = options
    this.#tls = tls === undefined ? undefined : resolveClientTls('options', tls)
    const o = resolveServeOptions(rest as ServeOptions)
    checkSecureRole('options', o.secure, 'dial')
    this.#layers = { fec: o.fec, crypt: o.crypt, secure: o.secure }
    this.#connectTimeout = ms('options.connectTimeout', connectTimeout ?? 10_000)
    this.#backoff = resolveBackoff(reconnect)
    this.#queueLimit = int('options.maxQueuedWhileReconnecting', maxQueuedWhileReconnecting ?? 0, 0, 2 ** 31 - 1)
    if (o.codec?.kind === 'http1' && o.codec.websocket !== undefined) {
      throw new InvalidOptionError("codecs.http1({ websocket }) is a server's codec: a client dials ws:// or wss:// with codecs.websocket()")
    }
    if (o.codec?.kind === 'websocket' && this.#queueLimit > 0) {
      // Writes go out as messages only after a new handshake: there is nothing to queue them in.
      throw new InvalidOptionError('a WebSocket client does not queue while reconnecting: maxQueuedWhileReconnecting must be 0')
    }
    this.#handler = handler
    this.#reactor = new Reactor(handler as ClientHandler<Context>, o)
    this.#reactor.listen([])
  }

  /**
   * Dials `url` (`tcp://`, `udp://` for a connected UDP socket, `kcp://`, `unix://`). A host
   * that is a name (`tcp://localhost:9000`) is looked up with `dns.lookup` off the JS thread
   * (again on each reconnect), in the family of a `tcp4`/`tcp6`-style scheme. Resolves with
   * the connection once it is open (after `onOpen`); rejects with `ENOTFOUND` (a
   * {@link ConnectionError} with `syscall: 'getaddrinfo'` and `hostname`), `ECONNREFUSED`,
   * `ETIMEDOUT` (`connectTimeout`, lookup included), `ABORT_ERR` or `ERR_INVALID_ADDRESS`.
   */
  async dial(url: WebSocketUrl, options?: DialOptions<Context>): Promise<WebSocketConn<Context>>
  async dial(url: string, options?: DialOptions<Context>): Promise<Conn<Context>>
  async dial(url: string, options: DialOptions<Context> = {}): Promise<Conn<Context> | WebSocketConn<Context>> {
    if (this.#stopped) throw new InvalidOptionError('the client is stopped')
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('dial options must be an object')
    knownKeys('dial options', options, DIAL_KEYS)
    const request: DialRequest = {
      timeout: options.connectTimeout === undefined ? this.#connectTimeout : ms('options.connectTimeout', options.connectTimeout),
      signal: options.signal,
    }
    const websocket = this.#reactor.websocket
    if (isWebSocketUrl(url) !== websocket) {
      throw new InvalidOptionError(
        websocket ? `a WebSocket client dials ws:// or wss://, not ${JSON.stringify(url)}` : `${JSON.stringify(url)} needs a WebSocket client: connect(), or a Client with codec: codecs.websocket()`,
      )
    }
    if (websocket) {
      if (options.codec !== undefined) throw new InvalidOptionError("a WebSocket client's dials take its codec (options.codec is not for them)")
      const plain = url.toLowerCase().startsWith('ws:')
      if (plain && options.tls !== undefined) throw new InvalidOptionError('a ws:// dial is plain: use wss:// for TLS')
      const target = websocketTarget(url, options.headers)
      url = target.url
      request.ws = target.ws
    } else if (options.headers !== undefined) {
      throw new InvalidOptionError('dial options.headers are for ws:// and wss:// dials')
    }
    if (options.codec !== undefined) request.codec = checkCodec(options.codec)
    if (request.codec !== undefined && (this.#reactor.ltv !== undefined || request.codec.kind === 'ltv')) {
      // The handler's onTraffic takes LTV messages or bytes, for every connection alike.
      throw new InvalidOptionError("codecs.ltv() is a client-wide codec: pass it as the client's options.codec, with no dial codecs")
    }
    if (options.kcp !== undefined) request.kcp = resolveKcp(options.kcp)
    const own = resolveKcpLayers('dial options', options)
    checkSecureRole('dial options', own.secure, 'dial')
    const layers: KcpLayers = {
      fec: own.fec ?? this.#layers.fec,
      crypt: own.crypt ?? this.#layers.crypt,
      secure: own.secure ?? this.#layers.secure,
    }
    if (layers.secure !== undefined && layers.crypt !== undefined) {
      throw new InvalidOptionError('secure and crypt do not combine (one comes from the client options, one from the dial options)')
    }
    if (typeof url === 'string') checkKcpOnly(layers, url, 'the dial address')
    request.carrier = checkCarrier(options.carrier, url, 'the dial address')
    const tls = options.tls === undefined ? this.#tls : resolveClientTls('dial options', options.tls)
    if (isTlsUrl(url)) {
      if (tls === undefined) throw new InvalidOptionError(`a tls:// dial needs options.tls (the client's or the dial's)`)
      request.tls = tlsDial(tls, tls.servername || urlHost(url))
    } else if (options.tls !== undefined && tls !== undefined) {
      // TLS over a plain stream, asked for by the dial itself (the client's `tls` is for
      // tls:// dials): a unix:// URL names no host, so the server name must be given.
      if (!isStreamUrl(url)) {
        throw new InvalidOptionError(`dial options.tls needs a tls://, tcp:// or unix:// address, not ${JSON.stringify(url)}`)
      }
      const servername = tls.servername || (/^unix:/i.test(url) ? '' : urlHost(url))
      if (servername === '') throw new InvalidOptionError('TLS over unix:// needs tls.servername (the URL names no host)')
      request.tls = tlsDial(tls, servername)
    }
    request.layers = layers
    const conn = (await this.#reactor.dial(url, request)) as Conn<Context>
    if (options.context !== undefined) conn.context = options.context
    // A WebSocket is the dial's once its 101 is in (after onOpen): its open record follows
    // the transport's open at once.
    const ws = websocket ? ((await this.#reactor.websocketOpened(conn)) as WebSocketConn<Context>) : undefined
    if (this.#backoff !== undefined) conn[kLink] = this.#link(url, request)
    return ws ?? conn
  }

  /**
   * Adopts a connected socket descriptor made elsewhere (gnet's `Enroll`), e.g. one handed
   * over from another process or library. The client takes ownership of `fd`: do not close
   * or use it afterwards. Resolves with the connection (after `onOpen`); it does not reconnect.
   * Unix only: on Windows (no POSIX descriptors) it rejects with `UnsupportedPlatformError`
   * (`ERR_UNSUPPORTED_PLATFORM`).
   */
  async enroll(fd: number, options: { context?: Context } = {}): Promise<Conn<Context>> {
    if (this.#stopped) throw new InvalidOptionError('the client is stopped')
    if (!Number.isInteger(fd) || fd < 0) throw new InvalidOptionError('fd must be a descriptor number')
    const conn = (await this.#reactor.enroll(fd)) as Conn<Context>
    if (options.context !== undefined) conn.context = options.context
    return conn
  }

  /** How a connection of this client reconnects (dialing `url` as `request` did). */
  #link(url: string, request: DialRequest): ReconnectLink {
    const backoff = this.#backoff!
    const pending = new Map<Conn, ReturnType<typeof setTimeout>>()
    const give = (conn: Conn, err: RiptideError | undefined) => {
      conn[kEnded]()
      this.#reactor.closeCallback(conn, err)
    }
    const attempt = (conn: Conn, n: number, lastErr: RiptideError | undefined) => {
      if (this.#stopped || !conn.reconnecting) return
      if (n > backoff.maxAttempts) return give(conn, lastErr)
      const cap = Math.min(backoff.maxDelay, backoff.initialDelay * backoff.factor ** (n - 1))
      const delay = Math.round(backoff.jitter === 'full' ? Math.random() * cap : cap)
      try {
        // A WebSocket client's handler is told of its WebSocket, not the transport.
        const onReconnecting = this.#handler.onReconnecting as ((conn: unknown, attempt: number, delay: number) => void) | undefined
        onReconnecting?.call(this.#handler, this.#reactor.websocket ? this.#reactor.websocketOf(conn) : conn, n, delay)
      } catch (err) {
        this.#reactor.report(err, conn, 'onReconnecting')
      }
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        pending.delete(conn)
        if (this.#stopped || !conn.reconnecting) return
        this.#reactor
          .dial(url, { codec: request.codec, timeout: request.timeout, kcp: request.kcp, layers: request.layers, tls: request.tls, ws: request.ws, carrier: request.carrier, conn })
          .catch((err: RiptideError) => attempt(conn, n + 1, err))
      }, delay)
      if (!this.#ref) timer.unref()
      this.#timers.add(timer)
      pending.set(conn, timer)
    }
    return {
      queueLimit: this.#queueLimit,
      lost: (conn, err) => {
        if (this.#stopped || conn[kClosedByUser]()) return false
        conn[kReconnecting]()
        attempt(conn, 1, err)
        return true
      },
      closed: (conn) => {
        const timer = pending.get(conn)
        if (timer !== undefined) {
          clearTimeout(timer)
          this.#timers.delete(timer)
          pending.delete(conn)
        }
        give(conn, undefined)
      },
    }
  }

  /** Closes every connection (each `onClose`) and the client's reactor; cancels reconnects. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    await this.#reactor.stop()
  }

  /**
   * Lets the process exit while this client's connections are open (like `net.Socket#unref`):
   * its reactor and its reconnect timers no longer keep the event loop alive.
   */
  unref(): this {
    this.#ref = false
    if (!this.#stopped) this.#reactor.nativeEngine.setRef(false)
    for (const t of this.#timers) t.unref()
    return this
  }

  /** Undoes {@link Client.unref}: the client keeps the process alive while it runs (the default). */
  ref(): this {
    this.#ref = true
    if (!this.#stopped) this.#reactor.nativeEngine.setRef(true)
    for (const t of this.#timers) t.ref()
    return this
  }

  /** `await using client = new Client(...)`: stops the client when the scope ends ({@link Client.stop}). */
  async [asyncDispose](): Promise<void> {
    await this.stop()
  }
}

/**
 * Dials one connection with its own client; the client stops by itself when the connection
 * finally closes (after any reconnects). Resolves once connected. A `ws://` or `wss://` URL
 * makes a WebSocket client (a {@link WebSocketClientHandler} and
 * {@link WebSocketConnectOptions}); it resolves with the `WebSocketConn` after the 101 and
 * `onOpen`, and a refused handshake rejects with `WebSocketError` (`ERR_WS_UPGRADE_REFUSED`
 * with the `status`, `ERR_WS_HANDSHAKE`).
 *
 * @example
 * ```ts
 * const conn = await connect('tcp://127.0.0.1:9000', {
 *   onTraffic(conn, data) { console.log(Buffer.from(data).toString()) },
 * }, { reconnect: { initialDelay: 100, maxDelay: 5000 } })
 * conn.write('hello')
 * ```
 */
export async function connect<Context = unknown>(url: WebSocketUrl, handler: WebSocketClientHandler<Context>, options?: WebSocketConnectOptions): Promise<WebSocketConn<Context>>
export async function connect<Context = unknown>(url: string, handler: LtvClientHandler<Context>, options: ClientOptions & { signal?: AbortSignal; codec: LtvCodec }): Promise<Conn<Context>>
export async function connect<Context = unknown>(
  url: string,
  handler: ClientHandler<Context>,
  options?: ClientOptions & { signal?: AbortSignal; carrier?: DatagramCarrier },
): Promise<Conn<Context>>
export async function connect<Context = unknown>(
  url: string,
  handler: ClientHandler<Context> | WebSocketClientHandler<Context> | LtvClientHandler<Context>,
  options: (ClientOptions & { signal?: AbortSignal; carrier?: DatagramCarrier }) | WebSocketConnectOptions = {},
): Promise<Conn<Context> | WebSocketConn<Context>> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options must be an object')
  let headers: UpgradeHeaders | undefined
  let all = options as ClientOptions & { signal?: AbortSignal; headers?: UpgradeHeaders; carrier?: DatagramCarrier }
  if (isWebSocketUrl(url)) {
    const { codec, rest } = websocketCodec(options)
    headers = (rest as { headers?: UpgradeHeaders }).headers
    delete (rest as { headers?: UpgradeHeaders }).headers
    all = { ...rest, codec }
  }
  // The carrier is the one dial's, as its signal is.
  const { signal, carrier, ...rest } = all
  let client: Client<Context> | undefined
  const wrapped: ClientHandler<Context> = Object.create(handler, {
    onClose: {
      value(conn: Conn<Context>, err?: RiptideError) {
        ;(handler.onClose as ((conn: Conn<Context>, err?: RiptideError) => void) | undefined)?.call(handler, conn, err)
        void client?.stop()
      },
    },
  })
  // TLS over a tcp:// or unix:// address is the dial's own choice (the client's `tls` is for
  // tls:// dials); connect() makes one dial, so its `tls` goes there.
  const ownTls = !isTlsUrl(url) && rest.tls !== undefined ? rest.tls : undefined
  if (ownTls !== undefined) delete rest.tls
  client = new Client(wrapped, rest)
  try {
    return await client.dial(url, { signal, tls: ownTls, headers, carrier })
  } catch (err) {
    await client.stop()
    throw err instanceof AbortError ? err : err
  }
}
