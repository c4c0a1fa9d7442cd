/**
 * Entry of a task pool thread (piscina loads it; `lib/tasks.ts`): loads the user's task
 * module once and runs its function on each payload. A thrown error is sent back as plain
 * data ({@link TaskFailure}), because an `Error`'s own properties such as `code` are lost
 * when it crosses threads.
 */
import { workerData } from 'node:worker_threads'
import { loadModule } from './load-module'
import type { TaskFailure } from './tasks'

type TaskFunction = (payload: unknown) => unknown

/** The task function of `module`: its default export, or a CommonJS `module.exports`. */
async function taskFunction(module: string): Promise<TaskFunction> {
  const mod = await loadModule(module)
  const nested = mod.default as Record<string, unknown> | TaskFunction | undefined
  const fn = typeof mod === 'function' ? mod : typeof nested === 'function' ? nested : nested?.default
  if (typeof fn !== 'function') {
    throw Object.assign(new TypeError(`${module} has no default export that is a function`), { code: 'ERR_INVALID_ARG_VALUE' })
  }
  return fn as TaskFunction
}

const loaded = taskFunction((workerData as { module: string }).module)
// A module that fails to load fails every task with its error (below), not the thread.
loaded.catch(() => {})

/** Runs one task; what it throws comes back as a {@link TaskFailure}. */
export default async function runTask(payload: unknown): Promise<unknown> {
  try {
    return await (await loaded)(payload)
  } catch (err) {
    const e = err as { message?: unknown; name?: unknown; code?: unknown } | null
    const failure: TaskFailure = {
      riptideTaskFailure: true,
      message: typeof e?.message === 'string' ? e.message : String(err),
      name: typeof e?.name === 'string' ? e.name : 'Error',
      code: typeof e?.code === 'string' ? e.code : undefined,
    }
    throw failure
  }
}
