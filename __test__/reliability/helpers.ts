import { readdirSync, readFileSync } from 'node:fs'

/** Resident set size of this process in bytes. */
export const rss = (): number => process.memoryUsage().rss

/** Open file descriptors of this process. */
export const openFds = (): number => readdirSync('/proc/self/fd').length

/** CPU seconds (user + system) this process has used. */
export function cpuSeconds(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** Busy-waits `ms` (a handler that is slow on purpose). */
export function spin(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // spin
  }
}

/** The p-th percentile of numbers. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

/** VmHWM-free RSS from /proc (kB → bytes), for child processes. */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}
