/**
 * Shared pieces of riptide's benchmark runs: start a server pinned to a core, measure its CPU
 * time from /proc, and drive it with the Rust load generator pinned to another core.
 * Used by `examples/demo.ts` (npm start) and the benchmark suite.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'

/** Repository root. */
export const ROOT = join(__dirname, '..')

/** The release build of the load generator (`npm run build:bench`). */
export const LOADGEN = join(ROOT, 'target', 'release', 'riptide-bench')

/** True when `taskset` can pin processes to cores (Linux with util-linux). */
export const canPin = spawnSync('taskset', ['-c', '0', 'true']).status === 0

/** Clock ticks per second of /proc/<pid>/stat times. */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

/** `argv` prefixed with `taskset -c <cpu>` when pinning is available. */
export function pinned(cpu: number, argv: string[]): string[] {
  return canPin ? ['taskset', '-c', String(cpu), ...argv] : argv
}

/** A server process under test. */
export interface Server {
  name: string
  child: ChildProcess
  port: number
}

/** Resolves once something accepts connections on 127.0.0.1:port. */
export async function waitForPort(port: number, ms = 15000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Starts `argv` pinned to `cpu` and waits for `port`. */
export async function startServer(name: string, argv: string[], port: number, cpu: number): Promise<Server> {
  const [cmd, ...rest] = pinned(cpu, argv)
  const child = spawn(cmd, rest, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] })
  await waitForPort(port)
  return { name, child, port }
}

/** Stops a server and waits for it to exit. */
export async function stopServer(s: Server): Promise<void> {
  if (s.child.exitCode !== null) return
  const exited = new Promise((r) => s.child.once('exit', r))
  s.child.kill('SIGTERM')
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
}

/** User + system CPU seconds a process (all its threads) has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}

/** True when per-process CPU can be read (/proc exists). */
export const canMeasureCpu = existsSync('/proc/self/stat')

/** Echo load parameters. */
export interface EchoLoad {
  conns: number
  size: number
  depth: number
  seconds: number
  warmup: number
}

/** What the load generator reports for one run. */
export interface EchoResult {
  messages: number
  rate: number
  p50_us: number
  p99_us: number
  p999_us: number
  stalls: number
}

/** One measured run: load-generator figures plus the server's CPU per round trip. */
export interface Measured extends EchoResult {
  server: string
  cpuUsPerMessage: number
}

/** Drives `server` with the load generator pinned to `cpu`; measures the server's CPU. */
export async function measureEcho(server: Server, load: EchoLoad, cpu: number): Promise<Measured> {
  const argv = pinned(cpu, [
    LOADGEN, 'echo', '--addr', `127.0.0.1:${server.port}`, '--conns', String(load.conns),
    '--size', String(load.size), '--depth', String(load.depth),
    '--duration', String(load.seconds), '--warmup', String(load.warmup),
  ])
  const pid = server.child.pid!
  let cpuAtStart = 0
  const warm = setTimeout(() => (cpuAtStart = cpuSeconds(pid)), load.warmup * 1000)
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.on('data', (d) => (text += d))
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`load generator exited with ${code}`))))
  })
  clearTimeout(warm)
  const cpuUsed = cpuSeconds(pid) - cpuAtStart
  const r = JSON.parse(out) as EchoResult
  return { ...r, server: server.name, cpuUsPerMessage: r.messages > 0 ? (cpuUsed * 1e6) / r.messages : NaN }
}

/** Median of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
