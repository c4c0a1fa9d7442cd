/**
 * The blocking job of bench/tasks.ts: `ms` of synchronous CPU work (SHA-256 chained over
 * itself until the time is up), returned as the last digest in hex. Run inline in a handler
 * or as the task pool's function (its default export).
 */
import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'

/** Hashes for `ms` milliseconds on this thread; returns the final digest (64 hex chars). */
export default function job(ms: number): string {
  const end = performance.now() + ms
  let digest = Buffer.from('riptide')
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++) digest = createHash('sha256').update(digest).digest()
  }
  return digest.toString('hex')
}
