/** Server options: their types, documented defaults (gnet's where gnet has them), and validation. */
import { resolveBus, type BusOptions, type ResolvedBusOptions } from './bus'
import { resolveAgent, type AgentOptions, type ResolvedAgentOptions } from './agent'
import { DEFAULT_BACKPRESSURE, resolveBackpressure, type BackpressureOptions } from './pubsub'
import { resolveServerTls, type ResolvedServerTls, type ServerTlsOptions } from './tls'
import { resolveTaskOptions, type ResolvedTaskOptions, type TaskOptions } from './tasks'
import { isIP } from 'node:net'
import { checkCodec, type Codec } from './codecs'
import { InvalidOptionError } from './errors'
import { resolveWebRtc, type ResolvedWebRtc, type WebRtcOptions } from './webrtc-options'
import { consoleLogger, type Logger } from './logger'
import { bool as checkBool, int as checkInt, knownKeys, ms as checkMs } from './validate'

/** How an engine with several reactors spreads new connections (gnet's policies). */
export type LoadBalancing = 'round-robin' | 'least-connections' | 'source-addr-hash'

/** TCP keep-alive timing (gnet `WithTCPKeepAlive`/`Interval`/`Count`). */
export interface TcpKeepAlive {
  /** Idle ms before the first probe. */
  idle: number
  /** Ms between probes. Default `idle / 5` (gnet). */
  interval?: number
  /** Unanswered probes before the connection drops. Default `5` (gnet). */
  count?: number
}

/** Idle detection (netty `IdleStateHandler`): each fires `onIdle` once per period without the activity. */
export interface IdleTimeout {
  /** Ms without reading. */
  read?: number
  /** Ms without writing. */
  write?: number
  /** Ms without either. */
  all?: number
  /** Count bytes leaving the outbound queue as write activity (netty's `observeOutput`). Default `false`. */
  observeOutput?: boolean
}

/** Keep-alive at the protocol level (knet's idle kick): ping when quiet, drop when the peer is. */
export interface Heartbeat {
  /** Ms without writing after which `ping` is written. */
  interval: number
  /** Ms without reading after which the connection is destroyed with `ETIMEDOUT`. */
  timeout: number
  /** The bytes to send (a frame of your protocol). */
  ping: Uint8Array | string
}

/**
 * KCP parameters of `kcp://` listeners and dials, with ikcp's names and defaults. The README
 * presets of KCP: normal `{ nodelay: false, interval: 40 }`, turbo
 * `{ nodelay: true, interval: 10, resend: 2, nc: true }`.
 */
export interface KcpOptions {
  /** Faster retransmission: minimum RTO 30 ms instead of 100, and RTO grows ×1.5 per timeout instead of ×2. Default `false`. */
  nodelay?: boolean
  /** Ms between KCP's own flushes (retransmission checks), 10…5000. Writes and acks are flushed at once anyway. Default `100`. */
  interval?: number
  /** Fast retransmit after this many later segments were acknowledged; `0` turns it off. Default `0`. */
  resend?: number
  /** No congestion window: only the send and receive windows limit what is in flight (fast, and unfair to other traffic). Default `false`. */
  nc?: boolean
  /** Send window in segments: above this many unacknowledged segments `write()` returns false. Default `32`. */
  sndWnd?: number
  /** Receive window in segments (at least 128, as in ikcp). Default `128`. */
  rcvWnd?: number
  /** Largest datagram in bytes (50…65000); each segment carries `mtu - 24` bytes. Default `1400`. */
  mtu?: number
  /** Stream mode: bytes without message boundaries (a codec can frame them). Default `false`: each `write` arrives as one `onTraffic`. */
  stream?: boolean
  /** Transmissions of one segment after which the session closes with `ERR_KCP_DEAD_LINK`. Default `20`. */
  deadLink?: number
  /** Ms of silence from the peer after which the session closes with `ETIMEDOUT` (KCP has no close handshake); `0` never. Default `90000`. */
  idleTimeout?: number
  /**
   * Listeners: sessions one source IP may hold (0…16777216, `0`: no cap). At the cap, that IP's
   * oldest unconfirmed session makes room; if all are confirmed the new one is refused. Default `64`.
   */
  maxSessionsPerIp?: number
  /**
   * Listeners: ms of silence after which an *unconfirmed* session (its peer never acknowledged
   * data the server sent) closes with `ETIMEDOUT`, instead of `idleTimeout`. Unconfirmed sessions
   * are also the ones evicted (`ECONNABORTED`), oldest first, to admit new peers when the session
   * table, an IP's cap or `maxBuffered` is full. `0`: `idleTimeout` applies. Default `5000`.
   */
  handshakeTimeout?: number
  /**
   * Listeners: memory budget in bytes for segments buffered by all sessions (each counted at
   * `mtu − 24` bytes). Past it unconfirmed sessions are evicted, oldest first, and no session
   * opens while confirmed ones alone exceed it. 65536…2^48. Default `268435456` (256 MiB).
   */
  maxBuffered?: number
}

/**
 * kcp-go's forward error correction (Rust `KcpOptions::fec`): after every `dataShards`
 * datagrams, `parityShards` Reed-Solomon parity datagrams, so a receiver rebuilds up to
 * `parityShards` lost ones per set without waiting for a retransmission. Both ends must use
 * FEC (the receiver adapts to the sender's counts). kcp-go's usual 10/3 is not implied:
 * without `fec`, FEC is off.
 */
export interface FecOptions {
  /** Datagrams per set, 1…255. */
  dataShards: number
  /** Parity datagrams per set, 1…255; `dataShards + parityShards` ≤ 256. */
  parityShards: number
}

/** kcptun's cipher names (kcp-go's `BlockCrypt`s). */
export type KcpCipher = 'null' | 'none' | 'aes' | 'aes-128' | 'aes-192' | 'salsa20' | 'xor' | 'aes-128-gcm'

/** Key length in bytes of each {@link KcpCipher} (`null` and `none` use no key). */
export const CIPHER_KEY_LENGTHS: Readonly<Record<KcpCipher, number>> = Object.freeze({
  null: 0,
  none: 0,
  aes: 32,
  'aes-128': 16,
  'aes-192': 24,
  salsa20: 32,
  xor: 32,
  'aes-128-gcm': 16,
})

/**
 * kcp-go's packet encryption, byte-compatible with kcp-go and kcptun (Rust `KcpCrypt`).
 * **Compatible, not secure**: no handshake, one static key, no replay protection, and most
 * ciphers are unauthenticated (docs/kcp.md). Use {@link SecureOptions} between riptide peers.
 */
export interface CryptOptions {
  /** kcptun's cipher name. */
  cipher: KcpCipher
  /**
   * A passphrase (kcptun's key derivation: PBKDF2-SHA1, salt `kcp-go`, 4096 rounds, cut to the
   * cipher's key length), or the raw key of exactly {@link CIPHER_KEY_LENGTHS} bytes. Optional
   * for `null` and `none`, which use no key.
   */
  key?: string | Uint8Array
}

/**
 * A secure-mode key: its 32 raw bytes, or those bytes in standard base64 (44 characters with
 * the `=` padding, as `Buffer.from(key).toString('base64')` and `riptide-tunnel gen-client`
 * write them).
 */
export type SecureKey = Uint8Array | string

/**
 * Secure mode on a listener: its static private key (from {@link generateKeyPair}) and,
 * optionally, the client keys it accepts.
 */
export interface ServerSecureOptions {
  /** The 32-byte X25519 private key. Keep it secret; riptide never logs it. */
  privateKey: SecureKey
  /**
   * The public keys of the clients allowed in (each client's `secure.clientKey` is the private
   * half), as WireGuard's peer list: the handshake becomes Noise IK, and a client whose key is
   * not listed gets no answer at all. Without it clients are anonymous (Noise NK) and any
   * holder of the server's public key gets in. An empty list refuses everyone. Change it
   * while serving with {@link Engine.setAllowedClients}.
   */
  allowedClients?: readonly SecureKey[]
}

/** Secure mode on a dial: the server's public key, pinned, and this client's own key, if any. */
export interface ClientSecureOptions {
  /** The server's 32-byte X25519 public key: the handshake fails unless the server holds its private half. */
  serverPublicKey: SecureKey
  /**
   * This client's 32-byte X25519 private key (from {@link generateKeyPair}), for a server with
   * `allowedClients`, which must list its public half. Keep it secret.
   */
  clientKey?: SecureKey
}

/**
 * Riptide's secure mode (Rust `KcpSecure`): a Noise NK handshake pinning the server's key
 * (Noise IK with per-client keys), then ChaCha20-Poly1305 per datagram with a replay window
 * and rekeying (docs/kcp.md).
 */
export type SecureOptions = ServerSecureOptions | ClientSecureOptions

/** Secure mode as validated: keys decoded to bytes and copied (what crosses to Rust). */
export type ResolvedSecure =
  | {
      /** A listener's private key. */
      privateKey: Uint8Array
      /** The client public keys allowed in; absent: anonymous clients. */
      allowedClients?: Uint8Array[]
    }
  | {
      /** A dial's pinned server public key. */
      serverPublicKey: Uint8Array
      /** The dial's own private key; absent: an anonymous client. */
      clientKey?: Uint8Array
    }

/** The packet-layer options of a `kcp://` listener or dial, as validated. */
export interface KcpLayers {
  fec?: Required<FecOptions>
  crypt?: CryptOptions
  secure?: ResolvedSecure
}

/** The defaults of {@link KcpOptions}. */
export const DEFAULT_KCP_OPTIONS: Readonly<Required<KcpOptions>> = Object.freeze({
  nodelay: false,
  interval: 100,
  resend: 0,
  nc: false,
  sndWnd: 32,
  rcvWnd: 128,
  mtu: 1400,
  stream: false,
  deadLink: 20,
  idleTimeout: 90_000,
  maxSessionsPerIp: 64,
  handshakeTimeout: 5_000,
  maxBuffered: 256 * 1024 * 1024,
})

/**
 * How a reactor is driven from Node.
 * - `'same-thread'`: the JS thread's own libuv loop watches the reactor's epoll/kqueue
 *   descriptor and runs its turns; no thread hop (Linux, macOS, the BSDs).
 * - `'thread'`: the reactor turns on a Rust thread of its own and hands events to the JS
 *   thread in batches (one wake per batch, never one per event). Reading, decoding, KCP, FEC
 *   and encryption then run off the JS thread. The only driver on Windows.
 */
export type Driver = 'same-thread' | 'thread'

const DRIVERS: readonly Driver[] = ['same-thread', 'thread']

/**
 * The driver used when the options name none: `RIPTIDE_DRIVER` from the environment when
 * set (so a whole test suite can run under either), else `'thread'` on Windows and
 * `'same-thread'` elsewhere.
 */
function defaultDriver(): Driver {
  const fromEnv = process.env.RIPTIDE_DRIVER
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!(DRIVERS as readonly string[]).includes(fromEnv)) {
      throw new InvalidOptionError(`RIPTIDE_DRIVER must be one of ${DRIVERS.join(', ')}, got ${JSON.stringify(fromEnv)}`)
    }
    return fromEnv as Driver
  }
  return process.platform === 'win32' ? 'thread' : 'same-thread'
}

/** Options of {@link serve}. Every field is optional; defaults are listed per field. */
export interface ServeOptions {
  /**
   * Which driver runs the reactors (see {@link Driver}). Default `'same-thread'`, except on
   * Windows (`'thread'`); the `RIPTIDE_DRIVER` environment variable changes the default.
   */
  driver?: Driver
  /**
   * Reactors (event loops). Reactor 0 runs on the calling thread; each other one on a
   * `worker_thread` that loads {@link ServeOptions.workerModule}. Default `1`.
   */
  reactors?: number
  /**
   * Module each worker reactor loads its handler from (a path or `file:` URL). It must export
   * the handler as {@link ServeOptions.workerExport} (or `default`) and start no server when
   * imported. Required when `reactors > 1`.
   */
  workerModule?: string
  /** Export name of the handler in `workerModule`. Default `'handler'`. */
  workerExport?: string
  /** How reactor 0 spreads connections over reactors. Default `'round-robin'`. */
  loadBalancing?: LoadBalancing
  /** `SO_REUSEPORT`: every reactor binds its own listener and the kernel spreads connections. Default `false`. */
  reusePort?: boolean
  /** `SO_REUSEADDR` on listeners. Default `true` (as Node does; gnet's default is false). */
  reuseAddr?: boolean
  /** Bytes one read takes from a socket: the largest `data` chunk (gnet `ReadBufferCap`). Default `65536`. */
  readBufferCap?: number
  /** Bytes a connection's drained outbound queue keeps for reuse (gnet `WriteBufferCap`). Default `65536`. */
  writeBufferCap?: number
  /** `TCP_NODELAY` on accepted connections. Default `true`. */
  tcpNoDelay?: boolean
  /** TCP keep-alive on accepted connections. Default off. */
  tcpKeepAlive?: TcpKeepAlive
  /** `SO_RCVBUF` of accepted connections in bytes. Default: the OS's. */
  socketRecvBuffer?: number
  /** `SO_SNDBUF` of accepted connections in bytes. Default: the OS's. */
  socketSendBuffer?: number
  /** `SO_BINDTODEVICE` (Linux): bind listeners to this interface. Default none. */
  bindToDevice?: string
  /** Call `onTick` on reactor 0, first right after boot. Default `false`. */
  ticker?: boolean
  /** Where riptide reports errors it cannot give a callback. Default: `console.error` for warnings and errors. */
  logger?: Logger
  /**
   * UDP sessions: with a timeout in ms, each UDP peer becomes a `Conn` with `onOpen`,
   * `onTraffic` and `onClose` after that long without datagrams. Default `0`: no sessions,
   * gnet's model (a transient `Conn` per datagram; `conn.write` replies to its sender).
   */
  udpSessionTimeout?: number
  /** Most UDP sessions per reactor; datagrams from further new peers are dropped. Default `65536`. */
  maxUdpSessions?: number
  /** IPv4 address of the interface UDP listeners join multicast groups on. Default: any. */
  multicastInterface?: string
  /** Above this many queued bytes `conn.write()` returns false. Default `65536`. */
  writeHighWaterMark?: number
  /** When the queue falls to this many bytes `onWritability(conn, true)` fires. Default `32768`. */
  writeLowWaterMark?: number
  /** A write that would queue more than this closes the connection with `ERR_OUTBOUND_FULL`. Default `0` (no cap). */
  maxOutbound?: number
  /** Ms `close()` waits for queued bytes to drain before resetting. Default `30000`; `0` waits while the peer reads. */
  closeTimeout?: number
  /** Keep writing after the peer's FIN (`onEnd`), until `conn.end()` or `close()`. Default `false`. */
  allowHalfOpen?: boolean
  /** Idle detection. Default off. */
  idleTimeout?: IdleTimeout
  /** Ping on write-idle, destroy on read-idle. Default off. */
  heartbeat?: Heartbeat
  /** Most open connections over all reactors; further ones are refused. Default `0` (no cap). */
  maxConnections?: number
  /** Most open connections from one IP. Default `0` (no cap). */
  maxConnectionsPerIp?: number
  /** Framing of every listener without its own codec (see `codecs`). Default none: raw bytes. */
  codec?: Codec
  /** Ms a partial frame (or retained bytes) may wait for the rest before the connection is closed with `ETIMEDOUT` (slowloris). Default `0`: no limit. */
  frameTimeout?: number
  /** What `publish` does for a subscriber that does not keep up (docs/pubsub.md). Default `{ policy: 'buffer' }`. */
  backpressure?: BackpressureOptions
  /** Listen backlog. Default `1024`. */
  backlog?: number
  /** Most readiness events one reactor turn handles before yielding to the JS loop. Default `1024`. */
  eventBudget?: number
  /** Bytes one reactor turn reads in all before yielding, bounding one batch. Default `1048576`. */
  readBudget?: number
  /** KCP parameters of `kcp://` listeners (and of a client's `kcp://` dials). Defaults: {@link DEFAULT_KCP_OPTIONS}. */
  kcp?: KcpOptions
  /** `kcp://` only: kcp-go's forward error correction. Default off. */
  fec?: FecOptions
  /** `kcp://` only: kcp-go's packet encryption (*compatible, not secure*). Not with `secure`. Default off. */
  crypt?: CryptOptions
  /** `kcp://` listeners only: riptide's secure mode with this private key (and, with `allowedClients`, only those clients). Not with `crypt`. Default off. */
  secure?: ServerSecureOptions
  /** TLS listeners only (`tls://`, or `{ url, tls: true }`): the certificate, key and TLS options (docs/tls.md). */
  tls?: ServerTlsOptions
  /** `webrtc://` listeners: signalling path, advertised address, peer bounds (docs/webrtc.md). Defaults: {@link DEFAULT_WEBRTC_OPTIONS}. */
  webrtc?: WebRtcOptions
  /** A pool of threads for blocking work, run with `engine.task()` / `conn.task()` (docs/tasks.md). Default none. */
  tasks?: TaskOptions
  /** A broker (Redis pub/sub or NATS) that carries this engine's topics to the other instances that name it (docs/deploy.md). Default none. */
  bus?: BusOptions
  /**
   * An agent port for HAProxy's `agent-check`: it answers `up ready` while serving and
   * `drain` once `engine.stop` has begun, so the balancer sends no new connections during
   * the drain (docs/deploy.md). Default none.
   */
  agent?: AgentOptions
}

/** {@link ServeOptions} with every default filled in. */
export type ResolvedServeOptions = Required<Omit<ServeOptions, 'workerModule' | 'tcpKeepAlive' | 'idleTimeout' | 'heartbeat' | 'codec' | 'kcp' | 'fec' | 'crypt' | 'secure' | 'tls' | 'webrtc' | 'backpressure' | 'tasks' | 'bus' | 'agent'>> & {
  /** The cross-instance bus, checked. */
  bus: ResolvedBusOptions | undefined
  /** The agent port, checked. */
  agent: ResolvedAgentOptions | undefined
  /** What a publish does for slow subscribers, defaults filled in. */
  backpressure: Required<BackpressureOptions>
  /** A server's TLS options, checked (a client's are per dial). */
  tls: ResolvedServerTls | undefined
  fec: Required<FecOptions> | undefined
  crypt: CryptOptions | undefined
  /** A server's or, for a client's options, a dial's secure mode. */
  secure: ResolvedSecure | undefined
  kcp: Required<KcpOptions>
  /** `webrtc://` listeners' options, checked. */
  webrtc: ResolvedWebRtc
  codec: Codec | undefined
  workerModule: string | undefined
  tcpKeepAlive: Required<TcpKeepAlive> | undefined
  idleTimeout: Required<IdleTimeout>
  heartbeat: (Omit<Heartbeat, 'ping'> & { ping: Uint8Array }) | undefined
  /** The task pool's options, checked (`module` a `file:` URL). */
  tasks: ResolvedTaskOptions | undefined
}

/** The defaults of {@link ServeOptions}. */
export const DEFAULT_SERVE_OPTIONS: Readonly<ResolvedServeOptions> = Object.freeze({
  driver: defaultDriver(),
  reactors: 1,
  workerModule: undefined,
  workerExport: 'handler',
  loadBalancing: 'round-robin',
  reusePort: false,
  reuseAddr: true,
  readBufferCap: 64 * 1024,
  writeBufferCap: 64 * 1024,
  tcpNoDelay: true,
  tcpKeepAlive: undefined,
  socketRecvBuffer: 0,
  socketSendBuffer: 0,
  bindToDevice: '',
  ticker: false,
  udpSessionTimeout: 0,
  maxUdpSessions: 65536,
  multicastInterface: '',
  writeHighWaterMark: 64 * 1024,
  writeLowWaterMark: 32 * 1024,
  maxOutbound: 0,
  closeTimeout: 30_000,
  allowHalfOpen: false,
  idleTimeout: { read: 0, write: 0, all: 0, observeOutput: false },
  heartbeat: undefined,
  maxConnections: 0,
  maxConnectionsPerIp: 0,
  codec: undefined,
  frameTimeout: 0,
  backpressure: DEFAULT_BACKPRESSURE,
  logger: consoleLogger,
  backlog: 1024,
  eventBudget: 1024,
  readBudget: 1024 * 1024,
  kcp: DEFAULT_KCP_OPTIONS,
  webrtc: resolveWebRtc(undefined),
  fec: undefined,
  crypt: undefined,
  secure: undefined,
  tls: undefined,
  tasks: undefined,
  bus: undefined,
  agent: undefined,
} as ResolvedServeOptions)

const int = (name: string, value: unknown, min: number, max: number) => checkInt(`options.${name}`, value, min, max)
const bool = (name: string, value: unknown) => checkBool(`options.${name}`, value)
const ms = (name: string, value: unknown, min = 0) => checkMs(`options.${name}`, value, min)

/** Keys of a listener (`serve([{ url, ... }])`), not of the options: named when misplaced. */
export const LISTENER_KEYS: readonly string[] = ['url', 'codec', 'proxyProtocol', 'proxyTimeout', 'tls', 'carrier']

/** Explains a listener key given as an engine option. */
export function listenerKeyHint(key: string): string | undefined {
  return LISTENER_KEYS.includes(key) && key !== 'codec' ? `'${key}' is a listener option: serve([{ url, ${key} }], handler)` : undefined
}

const POLICIES: readonly LoadBalancing[] = ['round-robin', 'least-connections', 'source-addr-hash']

/** Fills defaults and validates; throws {@link InvalidOptionError} (`ERR_INVALID_ARG_VALUE`) on a bad value. */
export function resolveServeOptions(options: ServeOptions | undefined): ResolvedServeOptions {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new InvalidOptionError('options must be an object')
  }
  knownKeys('options', options ?? {}, Object.keys(DEFAULT_SERVE_OPTIONS), listenerKeyHint)
  const defined = Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined))
  const o = { ...DEFAULT_SERVE_OPTIONS, ...defined } as ResolvedServeOptions
  if (!DRIVERS.includes(o.driver)) {
    throw new InvalidOptionError(`options.driver must be one of ${DRIVERS.join(', ')}, got ${String(o.driver)}`)
  }
  int('reactors', o.reactors, 1, 256)
  if (o.reactors > 1 && (typeof o.workerModule !== 'string' || o.workerModule === '')) {
    throw new InvalidOptionError('options.workerModule is required when options.reactors > 1')
  }
  if (o.workerModule !== undefined && typeof o.workerModule !== 'string') {
    throw new InvalidOptionError('options.workerModule must be a path or file: URL string')
  }
  if (typeof o.workerExport !== 'string') throw new InvalidOptionError('options.workerExport must be a string')
  if (!POLICIES.includes(o.loadBalancing)) {
    throw new InvalidOptionError(`options.loadBalancing must be one of ${POLICIES.join(', ')}, got ${String(o.loadBalancing)}`)
  }
  bool('reusePort', o.reusePort)
  bool('reuseAddr', o.reuseAddr)
  bool('tcpNoDelay', o.tcpNoDelay)
  bool('ticker', o.ticker)
  int('readBufferCap', o.readBufferCap, 1024, 1 << 26)
  int('writeBufferCap', o.writeBufferCap, 0, 1 << 30)
  int('socketRecvBuffer', o.socketRecvBuffer, 0, 2 ** 31 - 1)
  int('socketSendBuffer', o.socketSendBuffer, 0, 2 ** 31 - 1)
  int('backlog', o.backlog, 1, 65535)
  int('eventBudget', o.eventBudget, 1, 1 << 20)
  int('readBudget', o.readBudget, 0, 1 << 30)
  if (typeof o.bindToDevice !== 'string') throw new InvalidOptionError('options.bindToDevice must be a string')
  ms('udpSessionTimeout', o.udpSessionTimeout)
  int('maxUdpSessions', o.maxUdpSessions, 1, 1 << 24)
  if (typeof o.multicastInterface !== 'string' || (o.multicastInterface !== '' && isIP(o.multicastInterface) !== 4)) {
    throw new InvalidOptionError('options.multicastInterface must be an IPv4 address')
  }
  if (typeof o.logger !== 'function' && (o.logger === null || typeof o.logger !== 'object')) {
    throw new InvalidOptionError('options.logger must be a function or a logger object')
  }
  int('writeHighWaterMark', o.writeHighWaterMark, 1, 2 ** 31 - 1)
  int('writeLowWaterMark', o.writeLowWaterMark, 0, o.writeHighWaterMark)
  int('maxOutbound', o.maxOutbound, 0, 2 ** 31 - 1)
  ms('closeTimeout', o.closeTimeout)
  bool('allowHalfOpen', o.allowHalfOpen)
  int('maxConnections', o.maxConnections, 0, 2 ** 31 - 1)
  ms('frameTimeout', o.frameTimeout)
  o.backpressure = resolveBackpressure(o.backpressure)
  if (o.bus !== undefined) o.bus = resolveBus(o.bus)
  if (o.agent !== undefined) o.agent = resolveAgent(o.agent)
  if (o.codec !== undefined) o.codec = checkCodec(o.codec)
  int('maxConnectionsPerIp', o.maxConnectionsPerIp, 0, 2 ** 31 - 1)
  const idle = (o.idleTimeout ?? {}) as IdleTimeout
  if (idle === null || typeof idle !== 'object') throw new InvalidOptionError('options.idleTimeout must be an object')
  knownKeys('options.idleTimeout', idle, ['read', 'write', 'all', 'observeOutput'])
  o.idleTimeout = {
    read: int('idleTimeout.read', idle.read ?? 0, 0, 2 ** 31 - 1),
    write: int('idleTimeout.write', idle.write ?? 0, 0, 2 ** 31 - 1),
    all: int('idleTimeout.all', idle.all ?? 0, 0, 2 ** 31 - 1),
    observeOutput: bool('idleTimeout.observeOutput', idle.observeOutput ?? false),
  }
  if (o.heartbeat !== undefined) {
    const hb = o.heartbeat as Heartbeat
    if (hb === null || typeof hb !== 'object') throw new InvalidOptionError('options.heartbeat must be an object')
    knownKeys('options.heartbeat', hb, ['interval', 'timeout', 'ping'])
    if (typeof hb.ping !== 'string' && !(hb.ping instanceof Uint8Array)) {
      throw new InvalidOptionError('options.heartbeat.ping must be a string or Uint8Array')
    }
    o.heartbeat = {
      interval: int('heartbeat.interval', hb.interval, 1, 2 ** 31 - 1),
      timeout: int('heartbeat.timeout', hb.timeout, 1, 2 ** 31 - 1),
      ping: typeof hb.ping === 'string' ? Buffer.from(hb.ping) : hb.ping,
    }
  }
  o.kcp = resolveKcp(o.kcp as KcpOptions)
  // The user's own value: the default in `o` is already resolved.
  o.webrtc = resolveWebRtc(options?.webrtc)
  Object.assign(o, resolveKcpLayers('options', o))
  if (o.tls !== undefined) o.tls = resolveServerTls('options', o.tls)
  if (o.tasks !== undefined) o.tasks = resolveTaskOptions(o.tasks)
  if (o.tcpKeepAlive !== undefined) {
    const ka = o.tcpKeepAlive as TcpKeepAlive
    if (ka === null || typeof ka !== 'object') throw new InvalidOptionError('options.tcpKeepAlive must be an object')
    knownKeys('options.tcpKeepAlive', ka, ['idle', 'interval', 'count'])
    const idle = int('tcpKeepAlive.idle', ka.idle, 1000, 2 ** 31 - 1)
    o.tcpKeepAlive = {
      idle,
      interval: int('tcpKeepAlive.interval', ka.interval ?? Math.max(1000, Math.floor(idle / 5)), 1000, 2 ** 31 - 1),
      count: int('tcpKeepAlive.count', ka.count ?? 5, 1, 127),
    }
  }
  return o
}

/** Fills and checks {@link KcpOptions}; throws `ERR_INVALID_ARG_VALUE` on a bad value. */
export function resolveKcp(kcp: KcpOptions): Required<KcpOptions> {
  if (kcp === null || typeof kcp !== 'object') throw new InvalidOptionError('options.kcp must be an object')
  knownKeys('options.kcp', kcp, Object.keys(DEFAULT_KCP_OPTIONS))
  const defined = Object.fromEntries(Object.entries(kcp).filter(([, v]) => v !== undefined))
  const k = { ...DEFAULT_KCP_OPTIONS, ...defined } as Required<KcpOptions>
  bool('kcp.nodelay', k.nodelay)
  int('kcp.interval', k.interval, 10, 5000)
  int('kcp.resend', k.resend, 0, 2 ** 31 - 1)
  bool('kcp.nc', k.nc)
  int('kcp.sndWnd', k.sndWnd, 1, 65535)
  int('kcp.rcvWnd', k.rcvWnd, 128, 65535)
  int('kcp.mtu', k.mtu, 50, 65000)
  bool('kcp.stream', k.stream)
  int('kcp.deadLink', k.deadLink, 1, 2 ** 31 - 1)
  int('kcp.idleTimeout', k.idleTimeout, 0, 2 ** 31 - 1)
  int('kcp.maxSessionsPerIp', k.maxSessionsPerIp, 0, 1 << 24)
  int('kcp.handshakeTimeout', k.handshakeTimeout, 0, 2 ** 31 - 1)
  int('kcp.maxBuffered', k.maxBuffered, 1 << 16, 2 ** 48)
  return k
}

/** True when `layers` turns on a packet layer. */
export function hasKcpLayers(layers: KcpLayers): boolean {
  return layers.fec !== undefined || layers.crypt !== undefined || layers.secure !== undefined
}

/**
 * Throws `ERR_INVALID_ARG_VALUE` when packet-layer options are set for an address that is
 * not `kcp://`: they would otherwise be silently ignored.
 */
export function checkKcpOnly(layers: KcpLayers, url: string, what: string): void {
  if (!hasKcpLayers(layers) || /^kcp:\/\//i.test(url)) return
  const set = (['fec', 'crypt', 'secure'] as const).filter((k) => layers[k] !== undefined)
  throw new InvalidOptionError(`options.${set.join('/')} only apply to kcp:// addresses, and ${what} ${JSON.stringify(url)} is not one`)
}

/**
 * Checks `fec`, `crypt` and `secure` (a listener's or a dial's: the caller checks the role)
 * and returns them validated, with key bytes copied (a later change to the caller's array
 * changes nothing). Messages name fields and lengths, never key material.
 */
export function resolveKcpLayers(where: string, o: { fec?: unknown; crypt?: unknown; secure?: unknown }): KcpLayers {
  const out: KcpLayers = { fec: undefined, crypt: undefined, secure: undefined }
  if (o.fec !== undefined) {
    const f = o.fec as FecOptions
    if (f === null || typeof f !== 'object') throw new InvalidOptionError(`${where}.fec must be an object { dataShards, parityShards }`)
    knownKeys(`${where}.fec`, f, ['dataShards', 'parityShards'])
    const dataShards = checkInt(`${where}.fec.dataShards`, f.dataShards, 1, 255)
    const parityShards = checkInt(`${where}.fec.parityShards`, f.parityShards, 1, 255)
    if (dataShards + parityShards > 256) {
      throw new InvalidOptionError(`${where}.fec: dataShards + parityShards must be at most 256, got ${dataShards + parityShards}`)
    }
    out.fec = { dataShards, parityShards }
  }
  if (o.crypt !== undefined) {
    const c = o.crypt as CryptOptions
    if (c === null || typeof c !== 'object') throw new InvalidOptionError(`${where}.crypt must be an object { cipher, key }`)
    knownKeys(`${where}.crypt`, c, ['cipher', 'key'])
    const names = Object.keys(CIPHER_KEY_LENGTHS)
    if (typeof c.cipher !== 'string' || !names.includes(c.cipher)) {
      throw new InvalidOptionError(`${where}.crypt.cipher must be one of ${names.join(', ')}, got ${typeof c.cipher === 'string' ? JSON.stringify(c.cipher) : typeof c.cipher}`)
    }
    const need = CIPHER_KEY_LENGTHS[c.cipher]
    const key = c.key
    if (typeof key === 'string') {
      if (key === '') throw new InvalidOptionError(`${where}.crypt.key must not be an empty passphrase`)
      out.crypt = { cipher: c.cipher, key }
    } else if (key instanceof Uint8Array) {
      if (need !== 0 && key.byteLength !== need) {
        throw new InvalidOptionError(`${where}.crypt.key must be ${need} bytes for ${c.cipher}, got ${key.byteLength}`)
      }
      out.crypt = { cipher: c.cipher, key: new Uint8Array(key) }
    } else if (key === undefined && need === 0) {
      out.crypt = { cipher: c.cipher }
    } else {
      throw new InvalidOptionError(`${where}.crypt.key must be a passphrase string or a Uint8Array of ${need} bytes, got ${key === null ? 'null' : typeof key}`)
    }
  }
  if (o.secure !== undefined) out.secure = resolveSecure(`${where}.secure`, o.secure)
  if (out.secure !== undefined && out.crypt !== undefined) {
    throw new InvalidOptionError(`${where}.secure and ${where}.crypt do not combine: secure mode encrypts and authenticates by itself (crypt is kcp-go's compat mode)`)
  }
  return out
}

/**
 * Checks a `secure` option (a listener's or a dial's shape: the caller checks the role) and
 * decodes its keys.
 */
function resolveSecure(where: string, secure: unknown): ResolvedSecure {
  const s = secure as Partial<ServerSecureOptions & ClientSecureOptions>
  if (s === null || typeof s !== 'object') throw new InvalidOptionError(`${where} must be an object { privateKey } or { serverPublicKey }`)
  knownKeys(where, s, ['privateKey', 'allowedClients', 'serverPublicKey', 'clientKey'])
  if (s.privateKey !== undefined && s.serverPublicKey !== undefined) {
    throw new InvalidOptionError(`${where} takes privateKey (a listener) or serverPublicKey (a dial), not both`)
  }
  if (s.privateKey !== undefined) {
    if (s.clientKey !== undefined) throw new InvalidOptionError(`${where}.clientKey is for dials (a listener takes allowedClients)`)
    const privateKey = secureKey(`${where}.privateKey`, s.privateKey)
    if (s.allowedClients === undefined) return { privateKey }
    return { privateKey, allowedClients: secureKeys(`${where}.allowedClients`, s.allowedClients) }
  }
  if (s.serverPublicKey !== undefined) {
    if (s.allowedClients !== undefined) throw new InvalidOptionError(`${where}.allowedClients is for listeners (a dial takes clientKey)`)
    const serverPublicKey = secureKey(`${where}.serverPublicKey`, s.serverPublicKey)
    if (s.clientKey === undefined) return { serverPublicKey }
    return { serverPublicKey, clientKey: secureKey(`${where}.clientKey`, s.clientKey) }
  }
  throw new InvalidOptionError(`${where} needs privateKey (a listener) or serverPublicKey (a dial)`)
}

/**
 * The bytes of a {@link SecureKey}, copied: a 32-byte `Uint8Array`, or canonical base64 of 32
 * bytes. Messages name the field and the length, never the key.
 */
function secureKey(name: string, key: unknown): Uint8Array {
  if (key instanceof Uint8Array && key.byteLength === 32) return new Uint8Array(key)
  if (typeof key === 'string') {
    const bytes = Buffer.from(key, 'base64')
    // Node's decoder skips what is not base64: only a string that re-encodes to itself is one.
    if (bytes.byteLength === 32 && bytes.toString('base64') === key) return new Uint8Array(bytes)
  }
  const got =
    key instanceof Uint8Array
      ? `${key.byteLength} bytes`
      : typeof key === 'string'
        ? key.length === 44
          ? 'a 44-character string that is not canonical base64'
          : `a string of ${key.length} characters`
        : key === null
          ? 'null'
          : typeof key
  throw new InvalidOptionError(`${name} must be a 32-byte Uint8Array or its base64 (44 characters), got ${got}`)
}

/** The bytes of each key of a list of {@link SecureKey}s (as {@link secureKey}). */
export function secureKeys(name: string, keys: unknown): Uint8Array[] {
  if (!Array.isArray(keys)) throw new InvalidOptionError(`${name} must be an array of keys, got ${keys === null ? 'null' : typeof keys}`)
  return keys.map((k: unknown, i) => secureKey(`${name}[${i}]`, k))
}

/**
 * Throws unless `secure` is the role's shape: `privateKey` (and `allowedClients`) for
 * listeners, `serverPublicKey` (and `clientKey`) for dials.
 */
export function checkSecureRole(where: string, secure: ResolvedSecure | undefined, role: 'listener' | 'dial'): void {
  if (secure === undefined) return
  if (role === 'listener' && !('privateKey' in secure)) {
    throw new InvalidOptionError(`${where}.secure of a server takes privateKey (serverPublicKey is for clients)`)
  }
  if (role === 'dial' && !('serverPublicKey' in secure)) {
    throw new InvalidOptionError(`${where}.secure of a client takes serverPublicKey (privateKey is for servers)`)
  }
}
