/**
 * Entry point of a worker reactor: loads the user's handler module, joins the engine started
 * on the main thread, and serves until the main thread asks it to stop.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { loadModule } from './load-module'
import { resolveServeOptions } from './options'
import type { EventHandler } from './handler'
import { Reactor } from './reactor'

/** What the main thread tells a new worker reactor. */
export interface WorkerSetup {
  engineId: number
  index: number
  /** `file:` URL of the handler module. */
  module: string
  exportName: string
  /** The serve options that cross threads (functions such as a logger do not). */
  options: Record<string, unknown>
  /** The engine has a cross-instance bus (on the main thread): send it this reactor's publications. */
  bus: boolean
}

/** Messages a worker reactor sends to the main thread. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'error'; message: string; code?: string }
  | { type: 'stopped'; drained: number; reset: number }
  /** A publication of this reactor, for the cross-instance bus. */
  | { type: 'publish'; topic: string; data: Uint8Array }

async function main(port: NonNullable<typeof parentPort>, setup: WorkerSetup): Promise<void> {
  const mod = await loadModule(setup.module)
  const nested = mod.default as Record<string, unknown> | undefined
  const handler = (mod[setup.exportName] ?? nested?.[setup.exportName] ?? mod.default) as EventHandler | undefined
  if (handler === null || typeof handler !== 'object') {
    throw Object.assign(new Error(`${setup.module} exports no handler object named ${setup.exportName}`), {
      code: 'ERR_INVALID_ARG_VALUE',
    })
  }
  const reactor = new Reactor(handler, resolveServeOptions(setup.options))
  reactor.join(setup.engineId, setup.index)
  if (setup.bus) reactor.busOut = (topic, data) => port.postMessage({ type: 'publish', topic, data } satisfies WorkerMessage)
  port.on('message', (m: { type: string; drainTimeout?: number }) => {
    if (m.type === 'stop') void reactor.stop(m.drainTimeout ?? 0)
  })
  // Once stopped nothing is left on this thread's loop but the port: close it to exit.
  void reactor.stopped.then((counts) => {
    port.postMessage({ type: 'stopped', ...counts } satisfies WorkerMessage)
    port.close()
  })
  port.postMessage({ type: 'ready' } satisfies WorkerMessage)
}

// Started by the engine (`startWorker`), not merely imported (the `riptide/worker` export is an
// entry for bundlers; loading it anywhere else does nothing).
const setup = workerData as Partial<WorkerSetup> | null | undefined
if (parentPort !== null && typeof setup?.engineId === 'number' && typeof setup.module === 'string') {
  const port = parentPort
  main(port, setup as WorkerSetup).catch((err: unknown) => {
    const e = err as { message?: string; code?: string }
    port.postMessage({ type: 'error', message: String(e?.message ?? err), code: e?.code } satisfies WorkerMessage)
    port.close()
  })
}
