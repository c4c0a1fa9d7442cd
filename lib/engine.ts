/**
 * The engine: reactor 0 on the calling thread plus one reactor per worker thread, listeners
 * bound once, connections spread by the load balancer (or `SO_REUSEPORT`).
 */
import { resolve as resolvePath } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { EngineStoppedError, InvalidOptionError, RiptideError } from './errors'
import type { EventHandler } from './handler'
import { resolveServeOptions, type ResolvedServeOptions, type ServeOptions } from './options'
import { Reactor } from './reactor'
import type { WorkerMessage, WorkerSetup } from './worker'

/** A bound listener. */
export interface ListenerAddress {
  /** The bound IP address (or the socket path of a `unix://` listener). */
  address: string
  /** The bound port (resolved when 0 was asked; 0 for Unix sockets). */
  port: number
}

/** A running server. Created by {@link serve}. */
export class Engine {
  readonly #handler: EventHandler
  readonly #reactor: Reactor
  readonly #workers: Worker[]
  readonly #listeners: ListenerAddress[]
  #stopping: Promise<void> | undefined

  /** @internal Use {@link serve}. */
  constructor(handler: EventHandler, reactor: Reactor, workers: Worker[]) {
    this.#handler = handler
    this.#reactor = reactor
    this.#workers = workers
    this.#listeners = reactor.nativeEngine.listeners()
  }

  /** The port of the first listener. */
  get port(): number {
    return this.#listeners[0]?.port ?? 0
  }

  /** Every listener's bound address, in the order given to {@link serve}. */
  get addresses(): ListenerAddress[] {
    return this.#listeners.map((l) => ({ ...l }))
  }

  /** Number of reactors. */
  get reactors(): number {
    return this.#workers.length + 1
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

  /** True until the engine has stopped. */
  get running(): boolean {
    return this.#reactor.nativeEngine.running
  }

  /**
   * Stops accepting, closes every connection on every reactor (each gets `onClose`), then
   * calls `onShutdown`. Resolves when done; calling it again returns the same promise.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await Promise.all(this.#workers.map(stopWorker))
      await this.#reactor.stop()
      try {
        this.#handler.onShutdown?.(this)
      } catch (err) {
        this.#reactor.report(err, undefined, 'onShutdown')
      }
    })()
    return this.#stopping
  }

  /** Lets the process exit while this engine runs (like `net.Server#unref`). */
  unref(): this {
    this.#reactor.nativeEngine.setRef(false)
    for (const w of this.#workers) w.unref()
    return this
  }

  /** Undoes {@link Engine.unref}: the running engine keeps the process alive (the default). */
  ref(): this {
    this.#reactor.nativeEngine.setRef(true)
    for (const w of this.#workers) w.ref()
    return this
  }
}

/** Asks a worker reactor to stop and waits until its thread has exited. */
async function stopWorker(w: Worker): Promise<void> {
  if (w.threadId === -1) return
  const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()))
  w.postMessage({ type: 'stop' })
  const timer = setTimeout(() => void w.terminate(), 10_000)
  await exited
  clearTimeout(timer)
}

/** Starts worker reactor `index` and waits until it has joined the engine. */
function startWorker(engineId: number, index: number, o: ResolvedServeOptions): Promise<Worker> {
  const module = o.workerModule!
  const setup: WorkerSetup = {
    engineId,
    index,
    module: module.startsWith('file:') ? module : pathToFileURL(resolvePath(module)).href,
    exportName: o.workerExport,
  }
  const worker = new Worker(resolvePath(__dirname, 'worker.js'), { workerData: setup })
  return new Promise((resolve, reject) => {
    const onMessage = (m: WorkerMessage) => {
      if (m.type === 'ready') {
        worker.off('error', reject)
        resolve(worker)
      } else if (m.type === 'error') {
        reject(new RiptideError(m.code ?? 'ERR_WORKER_INIT', `worker reactor ${index}: ${m.message}`))
      }
    }
    worker.on('message', onMessage)
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new RiptideError('ERR_WORKER_INIT', `worker reactor ${index} exited with ${code}`)))
  })
}

/**
 * Starts a server on one or more addresses and resolves once it listens, after `onBoot`.
 * Addresses: `tcp://host:port`, `tcp4://`, `tcp6://[host]:port`, `unix://path` (port 0 picks
 * a free port).
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
export async function serve(address: string | string[], handler: EventHandler, options?: ServeOptions): Promise<Engine> {
  const urls = typeof address === 'string' ? [address] : address
  if (!Array.isArray(urls) || urls.length === 0 || urls.some((u) => typeof u !== 'string')) {
    throw new InvalidOptionError('address must be a string or a non-empty array of strings')
  }
  if (handler === null || typeof handler !== 'object') {
    throw new InvalidOptionError('handler must be an object of callbacks')
  }
  const o = resolveServeOptions(options)
  let engine: Engine | undefined
  const reactor = new Reactor(handler, o.logger, { onTick: () => (engine ? handler.onTick?.(engine) : 0) })
  reactor.listen(urls, o)
  const workers: Worker[] = []
  try {
    for (let i = 1; i < o.reactors; i++) workers.push(await startWorker(reactor.engineId, i, o))
  } catch (err) {
    await Promise.all(workers.map(stopWorker))
    await reactor.stop()
    throw err
  }
  reactor.nativeEngine.balance()
  engine = new Engine(handler, reactor, workers)
  try {
    handler.onBoot?.(engine)
  } catch (err) {
    await engine.stop()
    throw err
  }
  if (o.ticker) reactor.nativeEngine.scheduleTick(0)
  return engine
}
