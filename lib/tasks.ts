/**
 * The task pool (`serve`'s `tasks` option): blocking or CPU-heavy work runs on worker threads
 * managed by piscina, so a handler awaiting it does not hold up the reactor's other
 * connections (Swoole's task workers, gnet v1's goroutine pool). See docs/tasks.md.
 */
import { existsSync, statSync } from 'node:fs'
import { join, resolve as resolvePath } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Piscina } from 'piscina'
import { AbortError, EngineStoppedError, InvalidOptionError, TaskError, TaskQueueFullError } from './errors'
import { log, type Logger } from './logger'
import { int, knownKeys, ms } from './validate'

/** The most threads one pool may have. */
export const MAX_TASK_THREADS = 256

/** The options of `serve`'s task pool. */
export interface TaskOptions {
  /**
   * The module whose task function the threads run: a path or `file:` URL of an existing
   * file (`.js`, `.mjs`, `.cjs`; `.ts` when `tsx` is installed beside it). Its default
   * export (or `module.exports`) is `(payload) => result`, sync or async. It is loaded once
   * per thread.
   */
  module: string
  /** Threads of the pool, 1 to {@link MAX_TASK_THREADS}. With several reactors, each reactor has a pool of its own. */
  threads: number
  /**
   * Tasks that may wait for a busy thread, 0 to 2³¹−1; past that `task()` rejects with
   * `ERR_TASK_QUEUE_FULL`. `0`: a task runs only if a thread is free.
   */
  maxQueue: number
  /**
   * Ms an idle thread lives before it exits (a later task starts a new one). Default: threads
   * start with the engine and never idle out.
   */
  idleTimeout?: number
}

/** {@link TaskOptions} as validated: `module` is a `file:` URL. */
export interface ResolvedTaskOptions {
  /** `file:` URL of the task module. */
  module: string
  /** Threads of the pool. */
  threads: number
  /** Tasks that may wait for a thread. */
  maxQueue: number
  /** Ms before an idle thread exits; `undefined`: never. */
  idleTimeout: number | undefined
}

/** Options of `engine.task` and `conn.task`. */
export interface TaskRunOptions {
  /** Cancels the task: a queued one is dropped, a running one's thread is ended; rejects with `ABORT_ERR`. */
  signal?: AbortSignal
}

/** What the pool's thread entry (`task-worker.ts`) throws for a failed task: plain data, so it crosses threads whole. */
export interface TaskFailure {
  /** Marks the object as one of these (a task may throw any value). */
  readonly riptideTaskFailure: true
  /** The thrown error's message. */
  readonly message: string
  /** The thrown error's name. */
  readonly name: string
  /** The thrown error's `code`, when it was a string. */
  readonly code: string | undefined
}

/** Checks `serve`'s `tasks` option; throws `ERR_INVALID_ARG_VALUE` naming the bad field. */
export function resolveTaskOptions(tasks: unknown): ResolvedTaskOptions {
  if (tasks === null || typeof tasks !== 'object') throw new InvalidOptionError('options.tasks must be an object { module, threads, maxQueue, idleTimeout? }')
  knownKeys('options.tasks', tasks, ['module', 'threads', 'maxQueue', 'idleTimeout'])
  const t = tasks as Partial<TaskOptions>
  const idle = t.idleTimeout
  return {
    module: taskModuleUrl(t.module),
    threads: int('options.tasks.threads', t.threads, 1, MAX_TASK_THREADS),
    maxQueue: int('options.tasks.maxQueue', t.maxQueue, 0, 2 ** 31 - 1),
    idleTimeout: idle === undefined ? undefined : ms('options.tasks.idleTimeout', idle, 1),
  }
}

/** The `file:` URL of an existing task module given as a path or `file:` URL. */
function taskModuleUrl(module: unknown): string {
  if (typeof module !== 'string' || module === '') throw new InvalidOptionError('options.tasks.module must be a path or file: URL string')
  let path: string
  try {
    path = module.startsWith('file:') ? fileURLToPath(module) : resolvePath(module)
  } catch {
    throw new InvalidOptionError(`options.tasks.module is not a valid file: URL: ${JSON.stringify(module)}`)
  }
  if (!existsSync(path) || !statSync(path).isFile()) throw new InvalidOptionError(`options.tasks.module: no such file ${JSON.stringify(path)}`)
  return pathToFileURL(path).href
}

/**
 * One reactor's pool: piscina with a fixed thread count and a bounded queue, whose failures
 * become riptide errors. Closing it cancels what is queued or running.
 */
export class TaskPool {
  readonly #piscina: Piscina
  /** Tasks running or waiting that this pool takes at most: `threads + maxQueue`. */
  readonly #capacity: number
  readonly #maxQueue: number
  /** Tasks handed to piscina and not settled yet. */
  #inFlight = 0
  #closing: Promise<void> | undefined

  constructor(o: ResolvedTaskOptions, logger: Logger) {
    this.#piscina = new Piscina({
      // The entry is named relative to this file, as engine.ts names the reactor worker's.
      filename: join(__dirname, 'task-worker.js'),
      workerData: { module: o.module },
      minThreads: o.idleTimeout === undefined ? o.threads : 0,
      maxThreads: o.threads,
      // The bound is kept here (`#capacity`), the same while threads start as after: piscina's
      // own refuses a task (with maxQueue 0) that it then runs all the same.
      maxQueue: Infinity,
      idleTimeout: o.idleTimeout ?? Infinity,
    })
    this.#capacity = o.threads + o.maxQueue
    this.#maxQueue = o.maxQueue
    // A thread that dies outside a task is replaced by piscina; say so instead of letting an
    // 'error' event without a listener throw.
    this.#piscina.on('error', (err: unknown) => log(logger, 'error', 'task pool thread failed', err))
  }

  /**
   * Runs the task function on `payload` in a pool thread (structured clone both ways) and
   * resolves with its result. Rejects with {@link TaskError} when it throws,
   * {@link TaskQueueFullError} when the queue is full, `ABORT_ERR` when `signal` aborts, and
   * `ERR_ENGINE_STOPPED` once the pool is closed (the engine stopping cancels every task).
   */
  async run<R>(payload: unknown, options?: TaskRunOptions): Promise<R> {
    const signal = runSignal(options)
    if (this.#closing !== undefined) throw new EngineStoppedError()
    if (this.#inFlight >= this.#capacity) {
      throw new TaskQueueFullError(`task queue is full (${this.#maxQueue} waiting, every thread busy)`)
    }
    this.#inFlight++
    try {
      return (await this.#piscina.run(payload, signal === undefined ? {} : { signal })) as R
    } catch (err) {
      throw this.#error(err, signal)
    } finally {
      this.#inFlight--
    }
  }

  /** Cancels every queued and running task (they reject with `ERR_ENGINE_STOPPED`) and ends the threads. */
  close(): Promise<void> {
    this.#closing ??= this.#piscina.destroy()
    return this.#closing
  }

  /** The riptide error for a rejection of `piscina.run`. */
  #error(err: unknown, signal: AbortSignal | undefined): Error {
    if (isTaskFailure(err)) return new TaskError(err.message, err.code, err.name)
    if (signal?.aborted === true && (err as { name?: unknown })?.name === 'AbortError') return new AbortError('the task was aborted')
    if (this.#closing !== undefined) return new EngineStoppedError('the engine stopped before the task finished')
    const message = (err as { message?: unknown })?.message
    // The thread itself failed (it exited, or ran out of memory): no task error to carry.
    return new TaskError(typeof message === 'string' ? message : String(err), undefined, (err as { name?: string })?.name ?? 'Error')
  }
}

/** The `signal` of a task's options, checked. */
function runSignal(options: TaskRunOptions | undefined): AbortSignal | undefined {
  if (options === undefined) return undefined
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('task options must be an object')
  knownKeys('task options', options, ['signal'])
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new InvalidOptionError('task options.signal must be an AbortSignal')
  return options.signal
}

/** True for what the thread entry throws when a task fails. */
function isTaskFailure(err: unknown): err is TaskFailure {
  return err !== null && typeof err === 'object' && (err as Partial<TaskFailure>).riptideTaskFailure === true
}
