/**
 * The counters channel of riptide's benchmark peers: every line the runner writes on stdin is
 * answered with one JSON line of `engine.stats()` on stdout (workload B1 reads the wakes, JS
 * calls and events counters from it), and the server stops on SIGTERM/SIGINT or when stdin ends.
 */
import { createInterface } from 'node:readline'
import type { Engine } from 'riptide'

/**
 * Answers stats requests on stdin and stops `engine` on SIGTERM, SIGINT or end of stdin.
 *
 * @example
 * ```ts
 * const engine = await serve('tcp://127.0.0.1:9000', { onTraffic(c, d) { c.write(d) } })
 * serveStats(engine)
 * ```
 */
export function serveStats(engine: Engine): void {
  const stop = (): void => {
    console.log(JSON.stringify({ final: true, ...engine.stats() }))
    void engine.stop().then(() => process.exit(0))
  }
  const lines = createInterface({ input: process.stdin })
  lines.on('line', () => console.log(JSON.stringify(engine.stats())))
  lines.on('close', stop)
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
