/**
 * Shared pieces of riptide's benchmark runs: start a server pinned to a core, measure its CPU
 * time and memory from /proc, drive it with the Rust load generator pinned to another core, and
 * tell how much CPU other processes took meanwhile (the noise check).
 * Used by `examples/demo.ts` (npm start) and the benchmark suite (`bench/run.ts`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/** Repository root. */
export const ROOT = join(__dirname, '..')

/** This machine's Rust target triple (`rustc -vV`). */
const HOST_TRIPLE = /^host: (\S+)$/m.exec(spawnSync('rustc', ['-vV'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 'unknown'

/**
 * Where `npm run build:bench` puts the Rust binaries: `target/<host triple>/release`, the
 * directory `napi build` uses for the addon, so the two builds share their dependencies.
 */
export const RUST_RELEASE_DIR = join(ROOT, 'target', HOST_TRIPLE, 'release')

/** The release build of the load generator (`npm run build:bench`). */
export const LOADGEN = join(RUST_RELEASE_DIR, 'riptide-bench')

/** True when `taskset` can pin processes to cores (Linux with util-linux). */
export const canPin = spawnSync('taskset', ['-c', '0', 'true']).status === 0

/** Clock ticks per second of /proc/<pid>/stat times. */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

/** Logical CPUs of this machine. */
export const CPU_COUNT = cpus().length

/** `argv` prefixed with `taskset -c <cpu>` when pinning is available. */
export function pinned(cpu: number, argv: string[]): string[] {
  return canPin ? ['taskset', '-c', String(cpu), ...argv] : argv
}

/** A server process under test. */
export interface Server {
  name: string
  child: ChildProcess
  port: number
  /** Lines the server printed on stdout so far. */
  lines: string[]
  /** Resolves with the next stdout line after this call that `match` accepts (rejects after `ms`). */
  nextLine(match: (line: string) => boolean, ms?: number): Promise<string>
}

/** How {@link startServer} runs a server. */
export interface ServerOptions {
  /** Extra environment variables. */
  env?: Record<string, string>
  /** Give the server a stdin pipe (riptide peers answer stats requests on it). Default: no stdin. */
  stdin?: boolean
  /**
   * How to tell the server is ready. Default `'port'`: it accepts TCP connections on `port`;
   * or a line it prints on stdout (on stderr with `stderr: true`).
   */
  ready?: 'port' | { line: RegExp; stderr?: boolean }
  /** Ms to wait for readiness. Default 15 000. */
  timeout?: number
}

/** Resolves once something accepts connections on 127.0.0.1:port. */
export async function waitForPort(port: number, ms = 15000, child?: ChildProcess): Promise<void> {
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
    if (child && child.exitCode !== null) throw new Error(`exited with code ${child.exitCode} before listening`)
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * Starts `argv` pinned to `cpu` and waits until it is ready (listens on `port` by default).
 * If it fails to get ready, it is killed and the error says what it printed last.
 */
export async function startServer(name: string, argv: string[], port: number, cpu: number, options: ServerOptions = {}): Promise<Server> {
  const [cmd, ...rest] = pinned(cpu, argv)
  const child = spawn(cmd, rest, {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const waiters = new Set<(line: string) => void>()
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line)
    for (const w of [...waiters]) w(line)
  })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)))
  const ready = options.ready ?? 'port'
  const readyOnStderr = ready !== 'port' && ready.stderr === true
  const stderrLines: string[] = []
  if (readyOnStderr) {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      stderrLines.push(line)
      for (const w of [...waiters]) w(line)
    })
  }
  const nextLine = (match: (line: string) => boolean, ms = 5000): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(w)
        reject(new Error(`${name}: no matching output within ${ms} ms`))
      }, ms)
      const w = (line: string): void => {
        if (!match(line)) return
        clearTimeout(timer)
        waiters.delete(w)
        resolve(line)
      }
      waiters.add(w)
    })
  const server: Server = { name, child, port, lines, nextLine }
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', reject)
  })
  try {
    await spawned
    if (ready === 'port') {
      await waitForPort(port, options.timeout ?? 15000, child)
    } else {
      const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`exited with code ${code}`))))
      const seen = (readyOnStderr ? stderrLines : lines).find((l) => ready.line.test(l))
      if (!seen) await Promise.race([nextLine((l) => ready.line.test(l), options.timeout ?? 15000), exited])
    }
  } catch (err) {
    await stopServer(server)
    const said = [...lines.slice(-3), stderr.trim().split('\n').slice(-3).join(' | ')].filter(Boolean).join(' | ')
    throw new Error(`${name}: ${err instanceof Error ? err.message : String(err)}${said ? ` (${said})` : ''}`)
  }
  return server
}

/** Stops a server (SIGTERM, then SIGKILL after 3 s) and waits for it to exit. */
export async function stopServer(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return
  const exited = new Promise((r) => s.child.once('exit', r))
  s.child.kill('SIGTERM')
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
}

/**
 * CPU seconds a process (all its live threads) has used so far: nanosecond run time from
 * /proc/<pid>/task/<tid>/schedstat, or user + system ticks from /proc/<pid>/stat where
 * schedstat is missing.
 */
export function cpuSeconds(pid: number): number {
  try {
    let ns = 0
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
    }
    if (ns > 0 && Number.isFinite(ns)) return ns / 1e9
  } catch {
    // no schedstat (or a thread exited while we looked): fall back to ticks
  }
  return procTicks(pid).ticks / CLK_TCK
}

/** The fields of `/proc/<pid>/stat` after the command name (index 0 is the state, field 3). */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

function procTicks(pid: number | string): { ticks: number; ppid: number } {
  const fields = statFields(pid)
  return { ticks: Number(fields[11]) + Number(fields[12]), ppid: Number(fields[1]) }
}

/**
 * CPU seconds of this process's children that have exited and been waited for (cutime +
 * cstime). A load generator that starts and exits inside a measured window is in neither
 * machine sample; the change of this figure over the window is its CPU, which
 * {@link foreignCpu} takes as `extraOurSeconds`.
 */
export function exitedChildrenSeconds(): number {
  const fields = statFields('self')
  return (Number(fields[13]) + Number(fields[14])) / CLK_TCK
}

/** True when per-process CPU can be read (/proc exists). */
/** `pid` and every live process below it (NSD answers from a forked child). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const { ppid } = procTicks(name)
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)])
    } catch {
      // the process exited while we looked
    }
  }
  const tree: number[] = []
  const stack = [pid]
  while (stack.length > 0) {
    const p = stack.pop()!
    tree.push(p)
    stack.push(...(children.get(p) ?? []))
  }
  return tree
}

export const canMeasureCpu = existsSync('/proc/self/stat')

/** Resident memory of a process in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : NaN
}

/**
 * Times the threads of a process have blocked so far (voluntary context switches, summed over
 * its live threads from /proc/<pid>/task/<tid>/status). An event-loop server blocks once per
 * wait that found nothing ready, so over a window this counts its sleeps: round trips per sleep
 * is how many events one wake-up serves. NaN where /proc does not say.
 */
export function sleeps(pid: number): number {
  try {
    let n = 0
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))
      if (m) n += Number(m[1])
    }
    return n
  } catch {
    return NaN
  }
}

/** Number of open file descriptors of a process. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

/** CPU accounting of the whole machine at one instant (see {@link foreignCpu}). */
export interface MachineSample {
  at: number
  /** user + nice + system ticks of all CPUs (irq/softirq excluded: they are mostly our own traffic). */
  busy: number
  /** Idle + iowait ticks of all CPUs. */
  idle: number
  /** CPU ticks of every process, and whether it is a kernel thread. */
  procs: Map<number, { ticks: number; kernel: boolean }>
}

/** Reads /proc/stat and every /proc/<pid>/stat. */
export function sampleMachine(): MachineSample {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const procs = new Map<number, { ticks: number; kernel: boolean }>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const { ticks, ppid } = procTicks(name)
      const pid = Number(name)
      procs.set(pid, { ticks, kernel: pid === 2 || ppid === 2 })
    } catch {
      // the process exited while we looked
    }
  }
  return { at: Date.now(), busy: cpu[0] + cpu[1] + cpu[2], idle: cpu[3] + cpu[4], procs }
}

/**
 * Share of the machine's CPU (0..1 of all cores) used between two samples by processes other
 * than `ours` and kernel threads. `extraOurSeconds` adds CPU of ours that already exited.
 */
export function foreignCpu(a: MachineSample, b: MachineSample, ours: number[], extraOurSeconds = 0): number {
  let excluded = extraOurSeconds * CLK_TCK
  for (const [pid, now] of b.procs) {
    const before = a.procs.get(pid)
    if (before && (now.kernel || ours.includes(pid))) excluded += now.ticks - before.ticks
  }
  const capacity = ((b.at - a.at) / 1000) * CLK_TCK * CPU_COUNT
  return capacity > 0 ? Math.max(0, b.busy - a.busy - excluded) / capacity : 0
}

/** Waits (at most `maxMs`) until the machine is at least `idleShare` idle over 500 ms. Returns the idle share seen last. */
export async function waitForQuiet(maxMs: number, idleShare = 0.9): Promise<number> {
  const deadline = Date.now() + maxMs
  let share = 0
  do {
    const a = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    await new Promise((r) => setTimeout(r, 500))
    const b = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const total = b.reduce((s, x) => s + x, 0) - a.reduce((s, x) => s + x, 0)
    share = total > 0 ? (b[3] + b[4] - a[3] - a[4]) / total : 1
  } while (share < idleShare && Date.now() < deadline)
  return share
}

/** What a load generator run printed, plus what the runner measured around its window. */
export interface LoadRun<R> {
  /** The load generator's result line. */
  result: R
  /** Server CPU seconds over the measured window. */
  serverCpuSeconds: number
  /** Times the server's threads blocked over the measured window (see {@link sleeps}). */
  serverSleeps: number
  /** Wall seconds of the measured window as the runner saw it. */
  windowSeconds: number
  /** Share of the machine other processes used during the window (0..1). */
  foreign: number
  /** Server stats lines (riptide peers) at the start and end of the window. */
  stats?: { start: string; end: string }
}

/**
 * Runs the load generator (`riptide-bench <argv>`, or `loadgen <argv>`: bench/peers/c-epoll/load.c
 * takes the same echo arguments) pinned to `cpu` against `server`. At the `{"phase":"measure"}`
 * line it samples the server's CPU and sleeps, the machine, and (with `askStats`) the server's
 * counters; again at the result line.
 */
export async function runLoad<R extends { loadgen_cpu_s?: number }>(
  server: Server,
  argv: string[],
  cpu: number,
  askStats = false,
  loadgen = LOADGEN,
): Promise<LoadRun<R>> {
  const [cmd, ...rest] = pinned(cpu, [loadgen, ...argv])
  const pid = server.child.pid!
  const askStatsLine = async (): Promise<string | undefined> => {
    if (!askStats || !server.child.stdin) return undefined
    const line = server.nextLine((l) => l.startsWith('{'), 2000).catch(() => undefined)
    server.child.stdin.write('stats\n')
    return line
  }
  type Sample = { cpu: number; sleeps: number; machine: MachineSample; stats: Promise<string | undefined> }
  let start: Sample | undefined
  let end: Sample | undefined
  const gen = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  gen.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  let resultLine = ''
  createInterface({ input: gen.stdout }).on('line', (line) => {
    if (line.includes('"phase":"measure"')) {
      start = { cpu: cpuSeconds(pid), sleeps: sleeps(pid), machine: sampleMachine(), stats: askStatsLine() }
    } else if (line.startsWith('{')) {
      end = { cpu: cpuSeconds(pid), sleeps: sleeps(pid), machine: sampleMachine(), stats: askStatsLine() }
      resultLine = line
    }
  })
  const code = await new Promise<number | null>((resolve, reject) => {
    gen.once('error', reject)
    gen.once('close', resolve)
  })
  if (code !== 0 || !resultLine || !start || !end) {
    throw new Error(`load generator exited with ${code}: ${stderr.trim().split('\n').slice(-2).join(' | ') || 'no result'}`)
  }
  const result = JSON.parse(resultLine) as R
  const [s0, s1] = await Promise.all([start.stats, end.stats])
  return {
    result,
    serverCpuSeconds: end.cpu - start.cpu,
    serverSleeps: end.sleeps - start.sleeps,
    windowSeconds: (end.machine.at - start.machine.at) / 1000,
    foreign: foreignCpu(start.machine, end.machine, [pid, process.pid], result.loadgen_cpu_s ?? 0),
    stats: s0 && s1 ? { start: s0, end: s1 } : undefined,
  }
}

/** Echo load parameters. */
export interface EchoLoad {
  conns: number
  size: number
  depth: number
  seconds: number
  warmup: number
}

/** What the load generator reports for one echo run. */
export interface EchoResult {
  messages: number
  rate: number
  p50_us: number
  p99_us: number
  p999_us: number
  stalls: number
  loadgen_cpu_s?: number
}

/** One measured run: load-generator figures plus the server's CPU per round trip. */
export interface Measured extends EchoResult {
  server: string
  cpuUsPerMessage: number
}

/** `riptide-bench echo` (or `ws-echo`, over WebSocket) arguments for `load` against `port`. */
export function echoArgs(port: number, load: EchoLoad, mode: 'echo' | 'ws-echo' = 'echo'): string[] {
  return [
    mode, '--addr', `127.0.0.1:${port}`, '--conns', String(load.conns), '--size', String(load.size),
    '--depth', String(load.depth), '--duration', String(load.seconds), '--warmup', String(load.warmup),
  ]
}

/** WebSocket pub/sub load parameters (W2). */
export interface PubSubLoad {
  subscribers: number
  size: number
  window: number
  seconds: number
  warmup: number
}

/** `riptide-bench ws-pubsub` arguments for `load` against `port`. */
export function pubsubArgs(port: number, load: PubSubLoad): string[] {
  return [
    'ws-pubsub', '--addr', `127.0.0.1:${port}`, '--conns', String(load.subscribers), '--size', String(load.size),
    '--window', String(load.window), '--duration', String(load.seconds), '--warmup', String(load.warmup),
  ]
}

/**
 * HTTP load parameters (`pipeline` 1 = keep-alive without pipelining; `tls`: over TLS;
 * `close`: a new connection per request).
 */
export interface HttpLoad {
  conns: number
  pipeline: number
  tls?: boolean
  close?: boolean
  seconds: number
  warmup: number
}

/** `riptide-bench http` arguments for `load` against `port`. */
export function httpArgs(port: number, load: HttpLoad): string[] {
  return [
    'http', '--addr', `127.0.0.1:${port}`, '--conns', String(load.conns), '--pipeline', String(load.pipeline),
    ...(load.tls ? ['--tls', '1'] : []), ...(load.close ? ['--close', '1'] : []),
    '--duration', String(load.seconds), '--warmup', String(load.warmup),
  ]
}

/** Drives `server` with the load generator pinned to `cpu`; measures the server's CPU. */
export async function measureEcho(server: Server, load: EchoLoad, cpu: number): Promise<Measured> {
  const run = await runLoad<EchoResult>(server, echoArgs(server.port, load), cpu)
  const r = run.result
  return { ...r, server: server.name, cpuUsPerMessage: r.messages > 0 ? (run.serverCpuSeconds * 1e6) / r.messages : NaN }
}

/** Median of numbers (NaN for none). */
export function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
