/**
 * Loads a user module (a worker reactor's handler, a task pool's task function) inside a
 * worker thread, TypeScript included.
 */
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

/**
 * Imports the module at `url` (a `file:` URL). Node 20 does not run the parent's `--import`
 * loader hooks in worker threads, so a TypeScript module fails with
 * `ERR_UNKNOWN_FILE_EXTENSION`; when `tsx` is installed beside the module, register its
 * CommonJS hook in this thread and load the module with `require`.
 */
export async function loadModule(url: string): Promise<Record<string, unknown>> {
  try {
    return (await import(url)) as Record<string, unknown>
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err
    const requireHere = createRequire(url)
    let tsx: { register: () => void }
    try {
      tsx = requireHere('tsx/cjs/api') as { register: () => void }
    } catch {
      throw err
    }
    tsx.register()
    return requireHere(fileURLToPath(url)) as Record<string, unknown>
  }
}
