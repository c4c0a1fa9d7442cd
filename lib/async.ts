/**
 * Writes and closes from any thread: a connection handle names the engine, reactor, slot and
 * generation, and the native side queues the work on the owning reactor. Completions come
 * back to the calling thread in batches.
 */
import type { ConnHandle } from './conn'
import { fromNative, RiptideError, type ConnClosedError } from './errors'
import { native } from './native'

/** Called once per {@link asyncWrite}: no error when written or queued, else why not. */
export type WriteCallback = (err?: RiptideError | ConnClosedError) => void

const pending = new Map<number, WriteCallback>()
/** Callbacks that do not keep the thread alive (the bus's interest watch). */
const watches = new Map<number, () => void>()
let nextToken = 1
let installed = false

function onCompletions(pairs: Array<number | string>): void {
  for (let i = 0; i < pairs.length; i += 2) {
    const token = pairs[i] as number
    const code = pairs[i + 1] as string
    const watch = watches.get(token)
    if (watch !== undefined) {
      watches.delete(token)
      watch()
      continue
    }
    const cb = pending.get(token)
    if (cb === undefined) continue
    pending.delete(token)
    if (pending.size === 0) native.NativeEngine.setCompletionRef(false)
    cb(code === '' ? undefined : (fromNative(Object.assign(new Error(code), { code })) as RiptideError))
  }
}

function install(): void {
  if (!installed) {
    native.NativeEngine.setCompletionHandler(onCompletions)
    installed = true
  }
}

function register(cb: WriteCallback): number {
  install()
  const token = nextToken++
  if (pending.size === 0) native.NativeEngine.setCompletionRef(true)
  pending.set(token, cb)
  return token
}

/**
 * A token for a native one-shot notice (such as `watchInterest`) that calls `cb` on this
 * thread, without keeping the thread alive while it waits.
 */
export function watchToken(cb: () => void): number {
  install()
  const token = nextToken++
  watches.set(token, cb)
  return token
}

/** Forgets the notice of `token` (its engine is stopping). */
export function unwatch(token: number): void {
  watches.delete(token)
}

/**
 * Writes to the connection named by `handle` from any thread (gnet's `AsyncWrite`). Writes
 * from one thread arrive in the order made. `cb` runs once on this thread: without an error
 * when the bytes were written or queued, with `ERR_CONN_CLOSED` if the connection was gone,
 * `ERR_ENGINE_STOPPED` if its engine was. Without `cb`, a stopped engine throws.
 *
 * @example
 * ```ts
 * // in a worker, with a handle posted from onOpen:
 * asyncWrite(handle, 'tick\n', (err) => err && console.log(err.code))
 * ```
 */
export function asyncWrite(handle: ConnHandle, data: Uint8Array | string, cb?: WriteCallback): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  const token = cb === undefined ? 0 : register(cb)
  try {
    native.NativeEngine.asyncWrite(handle.engine, handle.reactor, handle.slot, handle.generation, bytes, token)
  } catch (err) {
    if (token !== 0) {
      pending.delete(token)
      if (pending.size === 0) native.NativeEngine.setCompletionRef(false)
    }
    throw fromNative(err)
  }
}

/** Closes the connection named by `handle` from any thread, after its pending writes. */
export function asyncClose(handle: ConnHandle): void {
  try {
    native.NativeEngine.asyncClose(handle.engine, handle.reactor, handle.slot, handle.generation)
  } catch (err) {
    throw fromNative(err)
  }
}
