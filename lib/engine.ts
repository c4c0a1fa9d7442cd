/**
 * The engine: reactor 0 on the calling thread plus one reactor per worker thread, listeners
 * bound once, connections spread by the load balancer (or `SO_REUSEPORT`).
 */
import { checkTlsUrls, resolveServerTls, type ServerTlsOptions } from './tls'
import { join, resolve as resolvePath } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { EngineStoppedError, errorFromCode, fromNative, InvalidAddressError, InvalidOptionError, UpgradeError, WorkerInitError } from './errors'
import { WebRtcAttachment } from './webrtc-attach'
import { fromNativeAddress, type InetAddr, type PeerAddr } from './address'
import type { EventHandler } from './handler'
import type { DatagramSocket } from './datagram'
import { checkKcpOnly, checkSecureRole, LISTENER_KEYS, resolveServeOptions, secureKeys, type ResolvedServeOptions, type SecureKey, type ServeOptions } from './options'
import { checkCodec, type Codec, type Http1UpgradeCodec, type LtvCodec, type WebSocketCodec } from './codecs'
import type { HttpWebSocketHandler } from './http-websocket'
import type { WebSocketHandler } from './websocket'
import type { LtvHandler, WriteOptions } from './ltv'
import { int, knownKeys, ms } from './validate'
import { type ListenSpec, Reactor, type StopCounts } from './reactor'
import type { NativeEngine } from './native'
import type { WorkerMessage, WorkerSetup } from './worker'
import { asyncDispose } from './dispose'
import { checkCarrier } from './carrier'
import { checkTopic } from './pubsub'
import { listenerLabels, readMetrics, type EngineMetrics, type ListenerLabel } from './metrics'
import type { TaskRunOptions } from './tasks'
import { Bus } from './bus'
import { Agent } from './agent'
import { log } from './logger'
import { readFileSync } from 'node:fs'
import { adoptInherited, readyIfAllTaken, upgrade, type UpgradeOptions, type UpgradeResult } from './upgrade'

/** The `webrtc://` URL of a listener bound at `a`. */
function webrtcUrl(a: InetAddr): string {
  return a.family === 'IPv6' ? `webrtc://[${a.address}]:${a.port}` : `webrtc://${a.address}:${a.port}`
}

/** @internal Registers a function run once when the engine has stopped (the Prometheus collector unregisters itself). */
export const kOnStopped: unique symbol = Symbol('riptide.onStopped')

/** A running server. Created by {@link serve}. */
export class Engine {
  readonly #handler: EventHandler
  readonly #reactor: Reactor
  readonly #workers: Worker[]
  readonly #listeners: PeerAddr[]
  readonly #labels: ListenerLabel[]
  readonly #onStopped: Array<() => void> = []
  readonly #bus: Bus | undefined
  readonly #agent: Agent | undefined
  readonly #specs: readonly ListenSpec[]
  #upgrading: Promise<UpgradeResult> | undefined
  #stopping: Promise<StopCounts> | undefined

  /** @internal Use {@link serve}. */
  constructor(handler: EventHandler, reactor: Reactor, workers: Worker[], specs: readonly ListenSpec[] = [], bus?: Bus, agent?: Agent) {
    this.#handler = handler
    this.#reactor = reactor
    this.#workers = workers
    this.#bus = bus
    this.#agent = agent
    this.#specs = specs
    this.#listeners = reactor.nativeEngine.listeners().map(fromNativeAddress)
    this.#labels = listenerLabels(specs, this.#listeners, reactor.websocket)
  }

  /** @internal Runs `fn` once the engine has stopped (at once if it has). */
  [kOnStopped](fn: () => void): void {
    if (this.running) this.#onStopped.push(fn)
    else fn()
  }

  /** @internal The native reactor 0, for test hooks (`__test__/hostile`). */
  get [Symbol.for('riptide.native')](): NativeEngine {
    return this.#reactor.nativeEngine
  }

  /** The port of the first listener (resolved when 0 was asked; 0 for a Unix socket). */
  get port(): number {
    const first = this.#listeners[0]
    return first === undefined || first.family === 'unix' ? 0 : first.port
  }

  /** Every listener's bound address, in the order given to {@link serve} (ports resolved). */
  get addresses(): PeerAddr[] {
    return this.#listeners.map((l) => ({ ...l }))
  }

  /** Number of reactors. */
  get reactors(): number {
    return this.#workers.length + 1
  }

  /**
   * Replaces the certificates and TLS options of every `tls://` listener (on all reactors)
   * for connections accepted from now on; open connections keep theirs. `options` is checked
   * like `serve`'s `tls` (`ERR_INVALID_ARG_VALUE`, nothing changed), and needs a `tls://`
   * listener. Sessions issued before do not resume afterwards.
   */
  setTlsContext(options: ServerTlsOptions): void {
    const tls = resolveServerTls('setTlsContext', options)
    this.#reactor.call((n) => n.setTlsContext(tls))
  }

  /**
   * Replaces the client public keys that the secure `kcp://` listeners allow
   * (`secure.allowedClients`), on every reactor at once. It affects **new sessions only**: a
   * client whose key is no longer listed gets no new session (not even one whose handshake was
   * answered just before the change), while its sessions already open keep working until they
   * close; close them yourself to cut it off at once. Keys as in `allowedClients` (32-byte
   * `Uint8Array`s or their base64); an empty list refuses every new client. Throws
   * `ERR_INVALID_ARG_VALUE` for a bad key (nothing changes then) or when the engine was not
   * started with `secure.allowedClients`.
   *
   * @example
   * ```ts
   * const engine = await serve('kcp://0.0.0.0:7000', handler, { secure: { privateKey, allowedClients: [alice] } })
   * engine.setAllowedClients([alice, bob])   // bob may connect from now on
   * ```
   */
  setAllowedClients(keys: readonly SecureKey[]): void {
    const bytes = secureKeys('setAllowedClients(keys)', keys)
    this.#reactor.call((n) => n.setAllowedClients(bytes))
  }

  /**
   * This thread's UDP listener socket `index`: 0 for the first `udp://` or `kcp://` listener
   * given to {@link serve}, and so on in order. It is the object `onDatagram` gets for that
   * socket, for sending datagrams that are not replies, such as a DNS resolver's queries
   * upstream from its listening port (their answers arrive in `onDatagram`).
   * Throws `ERR_INVALID_ARG_VALUE` for an index with no such socket.
   *
   * @example
   * ```ts
   * const engine = await serve('udp://127.0.0.1:5353', handler)
   * engine.datagramSocket(0).sendTo({ family: 'IPv4', address: '127.0.0.2', port: 53 }, query)
   * ```
   */
  datagramSocket(index = 0): DatagramSocket {
    int('datagramSocket index', index, 0, 2 ** 31 - 1)
    const socket = this.#reactor.datagramSocket(index)
    if (socket === undefined) throw new InvalidOptionError(`the engine has no UDP listener socket ${index}`)
    return socket
  }

  /** Open connections over all reactors. */
  countConnections(): number {
    return this.#reactor.nativeEngine.countAllConnections()
  }

  /**
   * Runs `fn` on reactor 0 (this thread) inside its next batch, like gnet's
   * `EventLoop.Execute`: writes it makes are staged and flushed with the batch. Throws
   * `ERR_ENGINE_STOPPED` once stopped. (Functions cannot cross threads; to reach a worker
   * reactor's connection use `asyncWrite` with its handle.)
   */
  execute(fn: () => void): void {
    if (!this.running) throw new EngineStoppedError()
    this.#reactor.execute(fn)
  }

  /**
   * Publishes `data` (strings as UTF-8; on a WebSocket server, strings as text messages and
   * bytes as binary ones) to every connection subscribed to `topic`
   * (`conn.subscribe`) on every reactor. Each subscriber's codec frames it, once per codec for
   * all of them, and the same bytes are queued to each, under the `backpressure` policy.
   * After this reactor's writes staged so far, and in publish order on every reactor.
   * Returns how many subscribers it was queued for: those of this reactor, plus those the
   * worker reactors had when it was sent (they get it through their inboxes; a number now,
   * not a promise, because waiting on every reactor would cost a round trip per message).
   * Throws `ERR_INVALID_ARG_VALUE` for a topic that is not 1 to 256 bytes, and
   * `ERR_ENGINE_STOPPED` once stopped. With `codecs.ltv()`, `publish(topic, body, { msgId })`.
   * With `serve`'s `bus` option it also goes, once, to the other instances' subscribers
   * (docs/deploy.md); the count is this engine's only.
   *
   * `{ reliable: false }` sends it instead on the unreliable channel of each subscriber of
   * this (the main) reactor that has one — `webrtc://` peers, which all live here, and KCP
   * sessions with `fec` or `secure` — once, with no codec, no queue and no bus, and returns how
   * many took it (a congested channel's drop is not counted).
   */
  publish(topic: string, data: Uint8Array | string, options?: WriteOptions & { reliable?: boolean }): number {
    checkTopic(topic)
    if (options?.reliable !== undefined && typeof options.reliable !== 'boolean') throw new InvalidOptionError('publish options.reliable must be a boolean')
    if (options?.reliable === false) return this.#reactor.publishUnreliable(topic, typeof data === 'string' ? Buffer.from(data) : data)
    if (options?.reliable !== undefined) {
      const { reliable: _reliable, ...rest } = options
      options = rest
    }
    // A WebSocket server's subscribers take records: strings go out as text, bytes as binary.
    return this.#reactor.publish(topic, this.#reactor.publication(data, options))
  }

  /**
   * Runs `payload` through the task pool's function on one of its threads (`serve`'s `tasks`
   * option; docs/tasks.md) and resolves with the result, so a handler can await blocking
   * work without holding up other connections. Payload and result are copied between threads
   * (structured clone). Rejects with `ERR_TASK_FAILED` (`TaskError`: the thrown error's
   * message, `taskCode`, `taskName`), `ERR_TASK_QUEUE_FULL` when `tasks.maxQueue` tasks
   * already wait, `ABORT_ERR` when `options.signal` aborts, `ERR_ENGINE_STOPPED` once the
   * engine stops (stopping cancels queued and running tasks), `ERR_INVALID_ARG_VALUE` without
   * a pool. The pool is reactor 0's; on a worker reactor use `conn.task`.
   */
  task<R = unknown>(payload: unknown, options?: TaskRunOptions): Promise<R> {
    if (!this.running) return Promise.reject(new EngineStoppedError())
    return this.#reactor.task<R>(payload, options)
  }

  /**
   * What this engine's `webrtc://` listeners hold (they live on reactor 0): `peers` (half-open
   * ones included), `open` ones (connections), peers with a noted address and a live
   * deadline, and unreliable messages dropped as congested. All but `congested` return to 0
   * once every peer is gone: half-open peers expire after `webrtc.handshakeTimeout`.
   */
  webrtcCounts(): { peers: number; open: number; addresses: number; deadlines: number; congested: number } {
    return this.#reactor.nativeEngine.webrtcCounts()
  }

  /**
   * Answers a signalling request an HTTP listener received for this engine's `webrtc://`
   * listener at `webrtcAddress` (its URL as bound, e.g. `webrtc://127.0.0.1:9208`; usually
   * one made with `webrtc: { signalling: false }`): `request` is the frame an `http1`
   * handler's `onTraffic` got, `remoteAddress` the client (`conn.remote`). Resolves to the
   * whole HTTP response to write back: what the listener's own signalling port would send,
   * `authorize` included, saying `connection: keep-alive` unless the request closes the
   * connection. Rejects with `InvalidAddressError` (`ERR_INVALID_ADDRESS`) when no
   * `webrtc://` listener of this engine is bound there, `InvalidOptionError` for a frame that
   * is not an `http1` request or a Unix client, `EngineStoppedError` once stopped, and a
   * `ConnectionError` (`ERR_IO`) when `authorize` did not decide within `requestTimeout`.
   * {@link Engine.webrtcAttachment} wraps it for an `onTraffic`.
   */
  webrtcSignal(webrtcAddress: string, request: Uint8Array, remoteAddress: PeerAddr): Promise<Uint8Array> {
    if (typeof webrtcAddress !== 'string') return Promise.reject(new InvalidAddressError('webrtcAddress must be a webrtc:// URL'))
    if (!(request instanceof Uint8Array)) return Promise.reject(new InvalidOptionError('request must be an http1 frame (a Uint8Array)'))
    if (remoteAddress?.family !== 'IPv4' && remoteAddress?.family !== 'IPv6') {
      return Promise.reject(new InvalidOptionError('remoteAddress must be an IP address ({ family, address, port })'))
    }
    if (!this.running) return Promise.reject(new EngineStoppedError())
    const remote = remoteAddress.family === 'IPv6' ? `[${remoteAddress.address}]:${remoteAddress.port}` : `${remoteAddress.address}:${remoteAddress.port}`
    return this.#reactor.nativeEngine.webrtcSignal(webrtcAddress, request, remote).then((reply) => {
      if (reply.response !== undefined && reply.response !== null) return new Uint8Array(reply.response.buffer, reply.response.byteOffset, reply.response.byteLength)
      throw errorFromCode(reply.code ?? 'ERR_INTERNAL', reply.message ?? 'webrtc signalling failed')
    })
  }

  /**
   * The signalling routes of this engine's `webrtc://` listener (`webrtcAddress`: which one,
   * by URL as bound; default: the only one), to serve from a riptide HTTP listener's
   * `onTraffic`: `handles(frame)` tells whether a request is the listener's, `answer(conn,
   * frame)` answers it in order (see {@link WebRtcAttachment}). Throws
   * `InvalidAddressError` when there is no such listener (or several, and none was named).
   */
  webrtcAttachment(webrtcAddress?: string): WebRtcAttachment {
    const urls = this.#listeners.flatMap((a, i) => (/^webrtc[46]?:/i.test(this.#specs[i]?.url ?? '') && a.family !== 'unix' ? [webrtcUrl(a)] : []))
    const url = webrtcAddress ?? (urls.length === 1 ? urls[0] : undefined)
    if (url === undefined || !urls.includes(url)) {
      throw new InvalidAddressError(`no webrtc:// listener ${webrtcAddress ?? '(exactly one)'} on this engine; it has ${urls.join(', ') || 'none'}`)
    }
    const o = this.#reactor.webrtcOptions
    return new WebRtcAttachment((request, remote) => this.webrtcSignal(url, request, remote), o.path, o.geckos)
  }

  /** Connections subscribed to `topic` over all reactors. */
  subscriberCount(topic: string): number {
    checkTopic(topic)
    return this.#reactor.nativeEngine.subscriberCount(topic)
  }

  /** True until the engine has stopped. */
  get running(): boolean {
    return this.#reactor.nativeEngine.running
  }

  /**
   * Stops the engine, then calls `onShutdown`. Without `drainTimeout` every connection on
   * every reactor is reset at once (each gets `onClose`). With `drainTimeout` (ms) it
   * drains: the `agent` port (if any) answers `drain` and the stop waits, at most
   * `drainTimeout`, until a balancer's check has read it; then each listener accepts what
   * is queued on it and closes (a `reusePort` listener first steers the group's new
   * connections to the other process's sockets, and keeps accepting handshakes already
   * under way for up to a second); every connection gets `onDrain` (without one it is closed
   * after its queued bytes); and after `drainTimeout` those left close with FIN, or are reset
   * when their queued bytes could not be written. Resolves with how many connections drained
   * and how many were reset; calling it again returns the same promise. The `bus`'s broker
   * connections are closed first (what waits in its queues is dropped). See docs/deploy.md.
   */
  stop(options?: StopOptions): Promise<StopCounts> {
    if (options !== undefined) {
      if (options === null || typeof options !== 'object') throw new InvalidOptionError('stop options must be an object')
      knownKeys('stop options', options, ['drainTimeout'])
    }
    const drain = ms('drainTimeout', options?.drainTimeout ?? 0)
    this.#stopping ??= (async () => {
      if (this.#agent !== undefined && drain > 0) await this.#agent.drain(drain)
      const [, , mine, ...theirs] = await Promise.all([this.#bus?.close(), this.#agent?.close(), this.#reactor.stop(drain), ...this.#workers.map((w) => stopWorker(w, drain))])
      const counts = [mine, ...theirs].reduce((a, b) => ({ drained: a.drained + b.drained, reset: a.reset + b.reset }))
      for (const fn of this.#onStopped.splice(0)) {
        try {
          fn()
        } catch (err) {
          this.#reactor.report(err, undefined, 'stop')
        }
      }
      try {
        this.#handler.onShutdown?.(this)
      } catch (err) {
        this.#reactor.report(err, undefined, 'onShutdown')
      }
      return counts
    })()
    return this.#stopping
  }

  /**
   * Upgrade in place: starts a new process (by default this one's program and arguments
   * again, e.g. after a deploy replaced the code) that inherits this engine's listening
   * sockets (`LISTEN_FDS`, as systemd passes them; docs/deploy.md), and resolves once it is
   * ready (its `serve` took every socket, or it called `ready()`). This engine then stops
   * accepting (the sockets stay open in the new process, so no connection is refused or reset
   * by the change) and drains in the background: its connections get `drainTimeout` ms to
   * end by themselves, then `stop({ drainTimeout })` closes the rest (`result.stopped`).
   * If the new process exits, fails to start or is not ready within `timeout` ms (it is then
   * killed), the promise rejects with `ERR_UPGRADE_FAILED` and this engine keeps serving as
   * before. One upgrade at a time (`ERR_UPGRADE_FAILED` otherwise); `ERR_ENGINE_STOPPED` once
   * stopped; Unix only (`ERR_UNSUPPORTED_PLATFORM`). UDP and KCP sockets are handed over too:
   * this engine's sessions on them end (docs/deploy.md).
   *
   * @example
   * ```ts
   * process.on('SIGHUP', async () => {
   *   const { stopped } = await engine.upgrade({ timeout: 10_000 })
   *   await stopped
   *   process.exit(0)
   * })
   * ```
   */
  upgrade(options?: UpgradeOptions): Promise<UpgradeResult> {
    if (!this.running || this.#stopping !== undefined) return Promise.reject(new EngineStoppedError())
    if (this.#upgrading !== undefined) return Promise.reject(new UpgradeError('an upgrade of this engine is already under way'))
    const engine = {
      nativeEngine: this.#reactor.nativeEngine,
      specs: this.#specs,
      addresses: this.#listeners,
      countConnections: () => this.countConnections(),
      stop: (drainTimeout: number) => this.stop({ drainTimeout }),
    }
    let started: Promise<UpgradeResult>
    try {
      started = upgrade(engine, options)
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
    this.#upgrading = started
    // A failed upgrade leaves the engine as it was, free to try again.
    started.catch(() => (this.#upgrading = undefined))
    return started
  }

  /** Operator counters of this engine, summed over all its reactors (see {@link EngineStats}). */
  stats(): EngineStats {
    return this.#reactor.nativeEngine.stats()
  }

  /**
   * Every counter of this engine now: per reactor (worker reactors included), per listener
   * (summed over the reactors, labelled with its bound URL and protocol) and in total. See
   * {@link EngineMetrics} and `docs/metrics.md`; `riptide/prometheus` exports the same to
   * Prometheus. Throws `ERR_ENGINE_STOPPED` once stopped.
   */
  metrics(): EngineMetrics {
    if (!this.running) throw new EngineStoppedError()
    const metrics = readMetrics(this.#reactor.nativeEngine, this.#labels)
    if (this.#bus !== undefined) metrics.bus = this.#bus.metrics()
    return metrics
  }

  /** Lets the process exit while this engine runs (like `net.Server#unref`). */
  unref(): this {
    this.#reactor.nativeEngine.setRef(false)
    this.#agent?.unref()
    for (const w of this.#workers) w.unref()
    return this
  }

  /** Undoes {@link Engine.unref}: the running engine keeps the process alive (the default). */
  ref(): this {
    this.#reactor.nativeEngine.setRef(true)
    this.#agent?.ref()
    for (const w of this.#workers) w.ref()
    return this
  }

  /**
   * `await using engine = await serve(...)`: stops the engine (no drain) when the scope
   * ends; the same as `await engine.stop()`.
   */
  async [asyncDispose](): Promise<void> {
    await this.stop()
  }
}

/**
 * Operator counters of an engine: each is the sum over its reactors (the worker reactors'
 * too), except `rejected`, which the engine-wide caps count once.
 */
export interface EngineStats {
  /** Accept pauses after resource errors (EMFILE and the like). */
  acceptErrors: number
  /** Connections refused by the engine's caps (`maxConnections`, `maxConnectionsPerIp`). */
  rejected: number
  /**
   * Accepted connections that failed before they opened (a TLS handshake failed or timed
   * out...), each also reported to `onHandshakeError`.
   */
  handshakeErrors: number
  /** Times the event loop woke the reactor. */
  wakes: number
  /** JS calls those wakes made (one per batch of events). */
  jsCalls: number
  /** Events delivered in those calls: `events / jsCalls` is the batching factor. */
  events: number
}

/** Options of {@link Engine.stop}. */
export interface StopOptions {
  /**
   * Ms the drain lasts (see {@link Engine.stop}): connections get `onDrain` and that long to
   * close, then close with FIN. Default `0`: no drain, every connection is reset at once.
   */
  drainTimeout?: number
}

let migrateReqWarned = false

/**
 * Warns once per process when `net.ipv4.tcp_migrate_req` is 0 (Linux): a `reusePort`
 * listener that closes then resets the handshakes still under way on it unless the drain's
 * steer took them elsewhere first (docs/deploy.md).
 */
function warnMigrateReq(o: ResolvedServeOptions): void {
  if (migrateReqWarned || process.platform !== 'linux') return
  let value: string
  try {
    value = readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim()
  } catch {
    return
  }
  if (value !== '0') return
  migrateReqWarned = true
  log(o.logger, 'warn', 'net.ipv4.tcp_migrate_req is 0: with reusePort, a drain steers new connections to the other process with a BPF program, but a listener that closes without it resets what is queued on it; set net.ipv4.tcp_migrate_req=1 (docs/deploy.md)')
}

/** Asks a worker reactor to stop and waits until its thread has exited. */
async function stopWorker(w: Worker, drainTimeout = 0): Promise<StopCounts> {
  let counts: StopCounts = { drained: 0, reset: 0 }
  if (w.threadId === -1) return counts
  const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()))
  w.on('message', (m: WorkerMessage) => {
    if (m.type === 'stopped') counts = { drained: m.drained, reset: m.reset }
  })
  w.postMessage({ type: 'stop', drainTimeout })
  const timer = setTimeout(() => void w.terminate(), drainTimeout + 10_000)
  await exited
  clearTimeout(timer)
  return counts
}

/** Starts worker reactor `index` and waits until it has joined the engine. */
function startWorker(engineId: number, index: number, o: ResolvedServeOptions): Promise<Worker> {
  const module = o.workerModule!
  const setup: WorkerSetup = {
    engineId,
    index,
    module: module.startsWith('file:') ? module : pathToFileURL(resolvePath(module)).href,
    exportName: o.workerExport,
    options: transferable(o),
    bus: o.bus !== undefined,
  }
  // The worker entry is named statically, relative to this file, in the one form CommonJS
  // output allows bundlers and file tracers to follow: `join(__dirname, '<literal>')` inside
  // `new Worker(...)` (Turbopack bundles it as a worker entry; @vercel/nft and ncc trace it).
  // webpack and esbuild fold no worker into a CommonJS bundle (webpack only an ESM
  // `new URL('./w.js', import.meta.url)`; `require.resolve` would even become a module id
  // there): they build the package's `riptide/worker` export as a second entry named
  // `worker.js` beside the bundle, where this path then points (README, "Bundlers").
  const worker = new Worker(join(__dirname, 'worker.js'), { workerData: setup })
  return new Promise((resolve, reject) => {
    const onMessage = (m: WorkerMessage) => {
      if (m.type === 'ready') {
        worker.off('error', reject)
        resolve(worker)
      } else if (m.type === 'error') {
        reject(m.code === undefined ? new WorkerInitError(`worker reactor ${index}: ${m.message}`) : errorFromCode(m.code, `worker reactor ${index}: ${m.message}`))
      }
    }
    worker.on('message', onMessage)
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new WorkerInitError(`worker reactor ${index} exited with ${code}`)))
  })
}

/**
 * The options a worker can receive (functions cannot cross threads; workers log to stderr).
 * Keys stay on this thread: KCP listeners are bound here (with `reusePort`, workers bind
 * copies of the native listener options, keys included, without JS seeing them). `webrtc://`
 * listeners and their `authorize` hook stay on reactor 0.
 */
function transferable(o: ResolvedServeOptions): Record<string, unknown> {
  const { logger: _logger, secure: _secure, crypt: _crypt, tls: _tls, bus: _bus, agent: _agent, webrtc: _webrtc, ...rest } = o
  return rest
}

/**
 * The name of a server-wide codec, whose handler is adapted for the whole server (WebSocket
 * messages, LTV messages with their ids), so no listener may have a codec of its own.
 */
function serverWide(codec: Codec | undefined): string | undefined {
  if (codec?.kind === 'websocket') return 'codecs.websocket()'
  if (codec?.kind === 'http1' && codec.websocket !== undefined) return 'codecs.http1({ websocket })'
  if (codec?.kind === 'ltv') return 'codecs.ltv()'
  return undefined
}

/**
 * Starts a server on one or more addresses and resolves once it listens, after `onBoot`.
 * Addresses: `tcp://host:port`, `tcp4://`, `tcp6://[host]:port`, `udp://...`, `unix://path`
 * (port 0 picks a free port); `{ url, codec }` gives one listener its own codec.
 *
 * @example
 * ```ts
 * const engine = await serve('tcp://127.0.0.1:0', {
 *   onTraffic(conn, data) { conn.write(data) },
 * })
 * console.log(engine.port)
 * await engine.stop()
 * ```
 * @throws {InvalidAddressError} `ERR_INVALID_ADDRESS` for a malformed or unresolvable address.
 * @throws {AddressInUseError} `ERR_ADDRESS_IN_USE` when the address is taken.
 * @throws {InvalidOptionError} `ERR_INVALID_ARG_VALUE` for a bad option.
 */
export async function serve<Context = unknown>(
  address: string | ListenSpec | Array<string | ListenSpec>,
  handler: WebSocketHandler<Context>,
  options: ServeOptions & { codec: WebSocketCodec },
): Promise<Engine>
export async function serve<Context = unknown>(
  address: string | ListenSpec | Array<string | ListenSpec>,
  handler: LtvHandler<Context>,
  options: ServeOptions & { codec: LtvCodec },
): Promise<Engine>
export async function serve<Context = unknown>(
  address: string | ListenSpec | Array<string | ListenSpec>,
  handler: HttpWebSocketHandler<Context>,
  options: ServeOptions & { codec: Http1UpgradeCodec },
): Promise<Engine>
export async function serve<Context = unknown>(
  address: string | ListenSpec | Array<string | ListenSpec>,
  handler: EventHandler<Context>,
  options?: ServeOptions,
): Promise<Engine>
export async function serve<Context = unknown>(
  address: string | ListenSpec | Array<string | ListenSpec>,
  handler: EventHandler<Context> | WebSocketHandler<Context> | LtvHandler<Context> | HttpWebSocketHandler<Context>,
  options?: ServeOptions,
): Promise<Engine> {
  const list = Array.isArray(address) ? address : [address]
  const listeners: ListenSpec[] = list.map((a) => (typeof a === 'string' ? { url: a } : a))
  if (listeners.length === 0 || listeners.some((l) => l === null || typeof l !== 'object' || typeof l.url !== 'string')) {
    throw new InvalidOptionError('address must be a URL string, a { url, codec } object, or a non-empty array of them')
  }
  for (const l of listeners) {
    knownKeys('listener', l, LISTENER_KEYS)
    if (l.codec !== undefined) l.codec = checkCodec(l.codec)
    const wide = serverWide(l.codec) ?? serverWide(options?.codec)
    if (l.codec !== undefined && wide !== undefined) {
      throw new InvalidOptionError(`${wide} is a server-wide codec: pass it as serve's options.codec, with no listener codecs`)
    }
    if (l.proxyProtocol !== undefined && !['v1', 'v2', 'any'].includes(l.proxyProtocol)) {
      throw new InvalidOptionError("proxyProtocol must be 'v1', 'v2' or 'any'")
    }
    if (l.proxyTimeout !== undefined) ms('proxyTimeout', l.proxyTimeout, 1)
    checkCarrier(l.carrier, l.url, 'the listener')
  }
  if (handler === null || typeof handler !== 'object') {
    throw new InvalidOptionError('handler must be an object of callbacks')
  }
  const o = resolveServeOptions(options)
  checkSecureRole('options', o.secure, 'listener')
  for (const l of listeners) checkKcpOnly(o, l.url, 'the listener')
  checkTlsUrls(o.tls, listeners, 'listener')
  let engine: Engine | undefined
  // The reactor wraps a WebSocket or LTV handler itself (it knows the codec; so do workers).
  const events = handler as EventHandler<Context>
  const reactor = new Reactor(events, o, { onTick: () => (engine ? handler.onTick?.(engine) : 0) })
  // Sockets handed over by systemd or an upgrade wait in a pool the listeners take from.
  adoptInherited()
  // A listen address that is a name is resolved by the native parser, synchronously on this
  // thread: that happens once, at start-up, unlike dials (looked up off the thread, lookup.ts).
  reactor.listen(listeners)
  const workers: Worker[] = []
  try {
    for (let i = 1; i < o.reactors; i++) workers.push(await startWorker(reactor.engineId, i, o))
  } catch (err) {
    await Promise.all(workers.map((w) => stopWorker(w)))
    await reactor.stop()
    throw err
  }
  reactor.nativeEngine.balance()
  if (o.reusePort && listeners.some((l) => !/^(udp|kcp|unix)[46]?:/.test(l.url))) warnMigrateReq(o)
  let agent: Agent | undefined
  if (o.agent !== undefined) {
    try {
      agent = await Agent.listen(o.agent)
    } catch (err) {
      await Promise.all(workers.map((w) => stopWorker(w)))
      await reactor.stop()
      throw err
    }
  }
  const bus = o.bus === undefined ? undefined : new Bus(o.bus, reactor.nativeEngine, (err, where) => reactor.report(err, undefined, where))
  if (bus !== undefined) {
    reactor.busOut = (topic, publication) => bus.publish(topic, publication)
    for (const w of workers) {
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'publish') bus.publish(m.topic, m.data)
      })
    }
  }
  engine = new Engine(events, reactor, workers, listeners, bus, agent)
  try {
    handler.onBoot?.(engine)
  } catch (err) {
    await engine.stop()
    throw err
  }
  if (o.ticker) reactor.nativeEngine.scheduleTick(0)
  // A process started by an upgrade is ready once its listeners took every inherited socket.
  readyIfAllTaken()
  return engine
}
