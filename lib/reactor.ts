/**
 * One reactor as seen from its JS thread: the native reactor, the batch dispatcher that calls
 * the user's handler, and the staging of writes made during a batch. The main thread and
 * every worker thread each run one.
 */
import {
  ascii,
  EV_CLOSE,
  EV_DATA,
  EV_DATAGRAM,
  EV_EXECUTE,
  EV_OPEN,
  EV_SHUTDOWN,
  EV_TICK,
  OP_CLOSE,
  OP_SEND_TO,
  OP_STRIDE,
  OP_WRITE,
  STAGE_MAX_WRITE,
  STAGED_BYTES,
  STAGED_OPS,
  STRIDE,
} from './boundary'
import { Conn, type ConnSink, kEnded } from './conn'
import { ConnectionError, fromNative } from './errors'
import type { EventHandler } from './handler'
import { log, type Logger } from './logger'
import { native, type NativeEngine } from './native'
import type { ResolvedServeOptions } from './options'

/** The native form of the options. */
export function nativeOptions(o: ResolvedServeOptions) {
  return {
    eventBudget: o.eventBudget,
    readBufferSize: o.readBufferCap,
    readBudget: o.readBudget,
    writeBufferCap: o.writeBufferCap,
    noDelay: o.tcpNoDelay,
    backlog: o.backlog,
    reuseAddr: o.reuseAddr,
    reusePort: o.reusePort,
    keepAliveIdle: o.tcpKeepAlive?.idle ?? 0,
    keepAliveInterval: o.tcpKeepAlive?.interval ?? 0,
    keepAliveCount: o.tcpKeepAlive?.count ?? 0,
    socketRecvBuffer: o.socketRecvBuffer,
    socketSendBuffer: o.socketSendBuffer,
    bindToDevice: o.bindToDevice,
    reactors: o.reactors,
    loadBalancing: o.loadBalancing,
    udpSessionTimeout: o.udpSessionTimeout,
    maxUdpSessions: o.maxUdpSessions,
    multicastInterface: o.multicastInterface,
    multicastInterfaceIndex: 0,
  }
}

/** What a reactor asks of its owner for engine-level events. */
export interface ReactorHooks {
  /** The ticker fired; returns ms to the next tick, or nothing to stop. */
  onTick?(): number | void
}

/** A reactor on this JS thread. */
export class Reactor implements ConnSink {
  readonly #handler: EventHandler
  readonly #logger: Logger
  readonly #hooks: ReactorHooks
  readonly #conns: (Conn | undefined)[] = []
  readonly #ops = new Int32Array(1 + OP_STRIDE * STAGED_OPS)
  readonly #bytes = new Uint8Array(STAGED_BYTES)
  #native!: NativeEngine
  #inBatch = false
  #used = 0
  #tasks: Array<() => void> = []
  /** Resolves when the native reactor has delivered its shutdown. */
  readonly stopped: Promise<void>
  #markStopped!: () => void

  constructor(handler: EventHandler, logger: Logger, hooks: ReactorHooks = {}) {
    this.#handler = handler
    this.#logger = logger
    this.#hooks = hooks
    this.stopped = new Promise((resolve) => (this.#markStopped = resolve))
  }

  /** Binds `urls` and starts reactor 0 of a new engine. Throws riptide errors. */
  listen(urls: string[], options: ResolvedServeOptions): void {
    this.#start(() => native.NativeEngine.listen(urls, nativeOptions(options), this.#dispatch, this.#ops, this.#bytes))
  }

  /** Starts reactor `index` of engine `engineId` on this thread. */
  join(engineId: number, index: number): void {
    this.#start(() => native.NativeEngine.join(engineId, index, this.#dispatch, this.#ops, this.#bytes))
  }

  #start(make: () => NativeEngine): void {
    try {
      this.#native = make()
    } catch (err) {
      throw fromNative(err)
    }
  }

  /** The native reactor. */
  get nativeEngine(): NativeEngine {
    return this.#native
  }

  get engineId(): number {
    return this.#native.engineId
  }

  get reactorIndex(): number {
    return this.#native.index
  }

  /** Runs `fn` inside this reactor's next batch. */
  execute(fn: () => void): void {
    this.#tasks.push(fn)
    this.#native.requestExecute()
  }

  /** Stops this reactor; {@link Reactor.stopped} resolves once its closes are delivered. */
  stop(): Promise<void> {
    this.#native.stop()
    return this.stopped
  }

  call<T>(fn: (n: NativeEngine) => T): T {
    try {
      return fn(this.#native)
    } catch (err) {
      throw fromNative(err)
    }
  }

  write(conn: Conn, data: Uint8Array): void {
    const len = data.byteLength
    if (this.#inBatch && len <= STAGE_MAX_WRITE) {
      const ops = this.#ops
      if (ops[0] >= STAGED_OPS || this.#used + len > STAGED_BYTES) this.flush()
      this.#bytes.set(data, this.#used)
      const at = 1 + ops[0] * OP_STRIDE
      ops[at] = OP_WRITE
      ops[at + 1] = conn.slot
      ops[at + 2] = conn.generation
      ops[at + 3] = this.#used
      ops[at + 4] = len
      ops[0]++
      this.#used += len
      return
    }
    this.flush()
    this.call((n) => n.write(conn.slot, conn.generation, data))
  }

  sendTo(socket: number, address: string, port: number, data: Uint8Array): void {
    const len = data.byteLength
    if (this.#inBatch && len <= STAGE_MAX_WRITE && address.length < 64) {
      const ops = this.#ops
      if (ops[0] >= STAGED_OPS || this.#used + address.length + len > STAGED_BYTES) this.flush()
      const start = this.#used
      for (let i = 0; i < address.length; i++) this.#bytes[start + i] = address.charCodeAt(i)
      this.#bytes.set(data, start + address.length)
      const at = 1 + ops[0] * OP_STRIDE
      ops[at] = OP_SEND_TO
      ops[at + 1] = socket
      ops[at + 2] = (port << 8) | address.length
      ops[at + 3] = start
      ops[at + 4] = len
      ops[0]++
      this.#used += address.length + len
      return
    }
    this.flush()
    this.call((n) => n.sendTo(socket, address, port, data))
  }

  writev(conn: Conn, data: Uint8Array[]): void {
    this.flush()
    this.call((n) => n.writev(conn.slot, conn.generation, data))
  }

  close(conn: Conn): void {
    if (this.#inBatch) {
      const ops = this.#ops
      if (ops[0] >= STAGED_OPS) this.flush()
      const at = 1 + ops[0] * OP_STRIDE
      ops[at] = OP_CLOSE
      ops[at + 1] = conn.slot
      ops[at + 2] = conn.generation
      ops[0]++
      return
    }
    this.call((n) => n.close(conn.slot, conn.generation))
  }

  /** Applies staged writes and closes now. */
  flush(): void {
    if (this.#ops[0] === 0) return
    this.#native.flush()
    this.#used = 0
  }

  /** Called by the native driver once per wake with the batch of events. */
  readonly #dispatch = (count: number, meta: Int32Array, arena: Uint8Array): void => {
    this.#inBatch = true
    this.#used = 0
    const h = this.#handler
    try {
      for (let i = 0; i < count; i++) {
        const at = i * STRIDE
        const kind = meta[at]
        const slot = meta[at + 1]
        const generation = meta[at + 2]
        const offset = meta[at + 3]
        const length = meta[at + 4]
        if (kind === EV_DATA) {
          const conn = this.#conns[slot]
          if (conn === undefined || conn.generation !== generation || h.onTraffic === undefined) continue
          try {
            h.onTraffic(conn, arena.subarray(offset, offset + length))
          } catch (err) {
            this.report(err, conn, 'onTraffic')
          }
        } else if (kind === EV_DATAGRAM) {
          if (h.onTraffic === undefined) continue
          const conn = new Conn(this, -1, -1, ascii(arena, offset, generation), meta[at + 5], slot)
          try {
            h.onTraffic(conn, arena.subarray(offset + generation, offset + generation + length))
          } catch (err) {
            this.report(err, conn, 'onTraffic')
          }
        } else if (kind === EV_OPEN) {
          const extra = meta[at + 5]
          const udp = extra >>> 16
          const conn = new Conn(this, slot, generation, ascii(arena, offset, length), extra & 0xffff, udp === 0 ? undefined : udp - 1)
          this.#conns[slot] = conn
          if (h.onOpen === undefined) continue
          try {
            h.onOpen(conn)
          } catch (err) {
            this.report(err, conn, 'onOpen')
          }
        } else if (kind === EV_CLOSE) {
          const conn = this.#conns[slot]
          if (conn === undefined || conn.generation !== generation) continue
          this.#conns[slot] = undefined
          conn[kEnded]()
          if (h.onClose === undefined) continue
          const code = length > 0 ? ascii(arena, offset, length) : ''
          try {
            if (code === '') h.onClose(conn)
            else h.onClose(conn, new ConnectionError(code, `connection ${conn.id} closed: ${code}`))
          } catch (err) {
            this.report(err, conn, 'onClose')
          }
        } else if (kind === EV_EXECUTE) {
          const tasks = this.#tasks
          this.#tasks = []
          for (const task of tasks) {
            try {
              task()
            } catch (err) {
              this.report(err, undefined, 'execute')
            }
          }
        } else if (kind === EV_TICK) {
          this.#tick()
        } else if (kind === EV_SHUTDOWN) {
          this.#markStopped()
        }
      }
    } finally {
      this.#inBatch = false
    }
  }

  #tick(): void {
    let next: number | void = undefined
    try {
      next = this.#hooks.onTick?.()
    } catch (err) {
      this.report(err, undefined, 'onTick')
    }
    const ms = typeof next === 'number' && Number.isFinite(next) && next >= 0 ? next : -1
    this.#native.scheduleTick(ms)
  }

  /** Routes an exception from a user callback to `onError`, or the logger. */
  report(err: unknown, conn: Conn | undefined, where: string): void {
    const onError = this.#handler.onError
    if (onError === undefined) {
      log(this.#logger, 'error', `uncaught exception in ${where}`, err)
      return
    }
    try {
      onError.call(this.#handler, err, conn)
    } catch (fatal) {
      // An error handler that throws is a bug in the program: surface it as an uncaught
      // exception, after the batch, so no other connection's events are lost.
      queueMicrotask(() => {
        throw fatal
      })
    }
  }
}
