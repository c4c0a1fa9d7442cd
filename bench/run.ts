/**
 * `npm run bench`: builds what it needs, then runs the workloads (E1 E2 E3 H1 H2 T1 T2 W1 W2 M1 R1 K1 K2 K3 D1 D1P16 D2 RTC1 RTC2 B1)
 * against every peer that can run here: server pinned to one core, load generator to another,
 * a fresh server per run, warm-up, interleaved rounds with the peer order rotated each round,
 * a noise check per run, medians. Writes `bench/results/<date>.json` and regenerates
 * docs/benchmarks.md and docs/benchmarks.png from it. The HTTPS workloads (T1, T2) get a
 * certificate made with `openssl` into a temporary directory (removed at exit).
 *
 *   npm run bench                      # full run (3 rounds, 2 s warm-up + 8 s per run)
 *   npm run bench -- --quick           # CI smoke: 1 round, short runs, fewer peers
 *   npm run bench -- --only E1,H2 --rounds 5 --peers riptide,node:net
 *   npm run bench -- --only T1,T2 --merge bench/results/2026-11-21.json
 *                                      # keeps FILE's other workloads (marked with their run)
 *   npm run bench -- --only E1 --loadgen c --out /tmp/e1-c.json
 *                                      # echo workloads driven by bench/peers/c-epoll/load.c
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { build, type BuildFailures } from './build'
import {
  canPin,
  CPU_COUNT,
  cpuSeconds,
  echoArgs,
  exitedChildrenSeconds,
  foreignCpu,
  httpArgs,
  LOADGEN,
  median,
  openFds,
  pinned,
  processTree,
  pubsubArgs,
  ROOT,
  rssBytes,
  runLoad,
  sampleMachine,
  startServer,
  stopServer,
  waitForQuiet,
  type Server,
} from './harness'
import { makePki } from '../__test__/tls-certs'
import { machineInfo } from './machine'
import { BUILD_DIR, C_LOADGEN_BIN, KCP_KNOBS, KCPGO_BIN, peer, PEERS, PION_WEBRTC_BIN, RELAY_BIN, unavailable, type Peer, type TlsFiles } from './peers'
import { writeReport } from './report'
import type { PeerSummary, Results, RunRecord, WorkloadResult } from './results'
import { WORKLOADS, workload, type Workload } from './workloads'

const SERVER_CPU = CPU_COUNT > 1 ? 1 : 0
const LOADGEN_CPU = 0
const NOISE = 0.05

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    peers: { type: 'string' },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    retries: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    'no-report': { type: 'boolean', default: false },
    out: { type: 'string' },
    merge: { type: 'string' },
    loadgen: { type: 'string', default: 'rust' },
    help: { type: 'boolean', default: false },
  },
})

if (opts.help) {
  console.log(readFileSync(__filename, 'utf8').split('*/')[0].replace(/^\/\*\*?|^ \* ?/gm, ''))
  process.exit(0)
}

const quick = opts.quick ?? false
if (opts.loadgen !== 'rust' && opts.loadgen !== 'c') {
  console.error(`--loadgen is rust (crates/riptide-bench) or c (bench/peers/c-epoll/load.c), not ${opts.loadgen}`)
  process.exit(2)
}
/** The echo load generator: the suite's Rust one, or the C one that checks it (docs/architecture.md, E1). */
const loadgen: 'rust' | 'c' = opts.loadgen
const settings = {
  rounds: Number(opts.rounds ?? (quick ? 1 : 3)),
  warmupS: Number(opts.warmup ?? (quick ? 0.5 : 2)),
  seconds: Number(opts.seconds ?? (quick ? 1.5 : 8)),
  retries: Number(opts.retries ?? (quick ? 0 : 2)),
  quietWaitS: quick ? 0 : 5,
  noiseThreshold: NOISE,
  serverCpu: SERVER_CPU,
  loadgenCpu: LOADGEN_CPU,
  pinned: canPin,
  loadgen,
}

/** Workloads to run, and the peers of each. */
function selection(): { w: Workload; peers: string[] }[] {
  const ids = opts.only ? opts.only.split(',').map((s) => s.trim().toUpperCase()) : WORKLOADS.map((w) => w.id)
  const onlyPeers = opts.peers?.split(',').map((s) => s.trim())
  for (const p of onlyPeers ?? []) peer(p)
  const chosen = ids.map(workload)
  const notEcho = chosen.filter((w) => w.load.kind !== 'echo')
  if (loadgen === 'c' && notEcho.length > 0) {
    throw new Error(`--loadgen c drives echo workloads only (E1, E2, E3), not ${notEcho.map((w) => w.id).join(', ')}`)
  }
  const runnable = chosen.filter((w) => w.load.kind !== 'counters')
  // B1 reads riptide's counters from its echo/HTTP runs; alone, it runs riptide under E1 and E2.
  if (chosen.some((w) => w.id === 'B1') && !runnable.some((w) => w.load.kind === 'echo' || w.load.kind === 'http')) {
    return [workload('E1'), workload('E2')].map((w) => ({ w, peers: ['riptide'] }))
  }
  return runnable.map((w) => ({ w, peers: (quick ? w.quickPeers : w.peers).filter((p) => !onlyPeers || onlyPeers.includes(p)) }))
}

let port = 21000 + (process.pid % 400) * 20
/** A fresh port below the ephemeral range for every server. */
function nextPort(): number {
  port = port >= 32000 ? 21000 : port + 1
  return port
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

const fmt = (x: number | undefined, digits = 0): string =>
  x === undefined || Number.isNaN(x) ? '-' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

/** A peer known to be unable to serve a workload, with the reason (e.g. riptide without kcp://). */
const skipped = new Map<string, string>()

/** Parses riptide's counters out of two stats lines. */
function counterDelta(stats: { start: string; end: string } | undefined): RunRecord['counters'] {
  if (!stats) return undefined
  const a = JSON.parse(stats.start) as Record<string, unknown>
  const b = JSON.parse(stats.end) as Record<string, unknown>
  const d = (k: string): number | undefined => (typeof a[k] === 'number' && typeof b[k] === 'number' ? (b[k] as number) - (a[k] as number) : undefined)
  const wakes = d('wakes')
  const jsCalls = d('jsCalls')
  const events = d('events')
  return wakes === undefined || jsCalls === undefined || events === undefined ? undefined : { wakes, jsCalls, events }
}

/** The certificate of the `https` servers, made once per run (see {@link tlsFiles}). */
let certificate: TlsFiles | string | undefined

/**
 * The certificate and key files `https` servers are started with: a leaf for `localhost` and
 * 127.0.0.1 (EC P-256) from a throwaway CA, made with `openssl` (__test__/tls-certs.ts) in a
 * temporary directory removed at exit. Throws {@link NotAvailable} when it cannot be made.
 */
function tlsFiles(): TlsFiles {
  if (certificate === undefined) {
    try {
      certificate = makePki().files
    } catch (err) {
      const msg = err instanceof Error ? err.message.split('\n')[0] : String(err)
      certificate = `cannot make a test certificate with openssl (${msg})`
    }
  }
  if (typeof certificate === 'string') throw new NotAvailable(certificate)
  return certificate
}

/** Starts `p` for `proto` on a fresh port on the server core. */
async function start(p: Peer, w: Workload): Promise<Server> {
  const port = nextPort()
  const argv = p.command(w.proto, port, w.proto === 'https' ? tlsFiles() : undefined)
  if (!argv) throw new Error(`${p.id} does not serve ${w.proto}`)
  const line = p.readyLine?.[w.proto]
  return startServer(p.label, argv, port, SERVER_CPU, { env: p.env, stdin: p.stats, ready: line ? { line } : 'port' })
}

/** One echo or HTTP run. */
async function throughputRun(p: Peer, w: Workload, round: number): Promise<RunRecord> {
  const server = await start(p, w)
  try {
    await waitForQuiet(settings.quietWaitS * 1000)
    const load = { seconds: settings.seconds, warmup: settings.warmupS }
    const argv =
      w.load.kind === 'echo' || w.load.kind === 'ws'
        ? echoArgs(server.port, { ...load, conns: w.load.conns, size: w.load.size, depth: w.load.depth }, w.load.kind === 'ws' ? 'ws-echo' : 'echo')
        : w.load.kind === 'ws-pubsub'
          ? pubsubArgs(server.port, { ...load, subscribers: w.load.subscribers, size: w.load.size, window: w.load.window })
          : w.load.kind === 'http'
          ? httpArgs(server.port, { ...load, conns: w.load.conns, pipeline: w.load.pipeline, tls: w.load.tls, close: w.load.close })
          : []
    const run = await runLoad<{
      rate: number
      messages: number
      p50_us: number
      p99_us: number
      p999_us: number
      stalls: number
      errors?: number
      tls?: string | null
      loadgen_cpu_s: number
    }>(
      server,
      argv,
      LOADGEN_CPU,
      p.stats ?? false,
      loadgen === 'c' ? C_LOADGEN_BIN : LOADGEN,
    )
    const r = run.result
    return {
      round,
      peer: p.id,
      rate: r.rate,
      p50Us: r.p50_us,
      p99Us: r.p99_us,
      p999Us: r.p999_us,
      serverCpuS: run.serverCpuSeconds,
      serverSleeps: run.serverSleeps,
      cpuUsPerUnit: r.messages > 0 ? (run.serverCpuSeconds * 1e6) / r.messages : NaN,
      perCpuSecond: run.serverCpuSeconds > 0 ? r.messages / run.serverCpuSeconds : NaN,
      loadgenCpu: r.loadgen_cpu_s / settings.seconds,
      foreign: run.foreign,
      noisy: false,
      attempts: 1,
      stalls: r.stalls,
      errors: r.errors,
      ...(r.tls ? { negotiated: r.tls } : {}),
      counters: counterDelta(run.stats),
    }
  } finally {
    await stopServer(server)
  }
}

/** Hard open-file limit of children (they raise their soft limit to it). */
function fdHardLimit(): number {
  try {
    const m = /Max open files\s+\d+\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))
    return m ? Number(m[1]) : 1024
  } catch {
    return 1024
  }
}

/** The record of a run that did `units` (requests, queries, MB) at `rate` per second, with `serverCpuS` of server CPU. */
function cpuRecord(p: Peer, round: number, rate: number, units: number, serverCpuS: number, foreign: number, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    round,
    peer: p.id,
    rate,
    serverCpuS,
    cpuUsPerUnit: (serverCpuS * 1e6) / units,
    perCpuSecond: serverCpuS > 0 ? units / serverCpuS : NaN,
    foreign,
    noisy: false,
    attempts: 1,
    ...extra,
  }
}

/**
 * One D1 run: Debian's `redis-benchmark -t set,get` pinned to the load core, to completion,
 * after an unmeasured warm-up of a tenth of the requests.
 * The rate is SET and GET requests over the time both took (from redis-benchmark's own CSV
 * rates); server CPU is sampled from its start to its exit, and redis-benchmark's own CPU
 * (`loadgenCpu`, and kept out of the foreign share) from our exited children's.
 */
async function redisRun(p: Peer, w: Workload, round: number): Promise<RunRecord> {
  const load = w.load
  if (load.kind !== 'redis') throw new Error('not a Redis workload')
  const n = quick ? load.quickRequests : load.requests
  const server = await start(p, w)
  try {
    const argv = (requests: number): string[] =>
      pinned(LOADGEN_CPU, ['redis-benchmark', '-h', '127.0.0.1', '-p', String(server.port), '-t', 'set,get', '-c', String(load.conns), '-P', String(load.pipeline), '-n', String(requests), '--csv'])
    // Warm-up, not measured: a tenth of the requests (JIT, allocator, connection setup).
    const [wcmd, ...wrest] = argv(Math.ceil(n / 10))
    if (spawnSync(wcmd, wrest, { stdio: 'ignore' }).status !== 0) throw new Error('redis-benchmark warm-up failed')
    await waitForQuiet(settings.quietWaitS * 1000)
    const [cmd, ...rest] = argv(n)
    const pid = server.child.pid!
    const cpu0 = cpuSeconds(pid)
    const m0 = sampleMachine()
    const exited0 = exitedChildrenSeconds()
    const child = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', resolve)
    })
    const serverCpuS = cpuSeconds(pid) - cpu0
    // redis-benchmark has exited: its CPU is in our children's, not in the end sample.
    const loadgenS = exitedChildrenSeconds() - exited0
    const m1 = sampleMachine()
    const foreign = foreignCpu(m0, m1, [pid, process.pid], loadgenS)
    // CSV lines: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    const rows = [...out.matchAll(/^"(SET|GET)","([\d.]+)","[\d.]+","[\d.]+","([\d.]+)","[\d.]+","([\d.]+)"/gm)]
    if (code !== 0 || rows.length !== 2) throw new Error(`redis-benchmark exited with ${code}: ${out.trim().split('\n').slice(-2).join(' | ')}`)
    const seconds = rows.reduce((t, r) => t + n / Number(r[2]), 0)
    const requests = 2 * n
    return cpuRecord(p, round, requests / seconds, requests, serverCpuS, foreign, {
      p50Us: median(rows.map((r) => Number(r[3]) * 1000)),
      p99Us: median(rows.map((r) => Number(r[4]) * 1000)),
      loadgenCpu: loadgenS / ((m1.at - m0.at) / 1000),
    })
  } finally {
    await stopServer(server)
  }
}

/**
 * One D2 run: dnsperf (pinned to the load core, 200 queries in flight) sends the query mix over
 * UDP for the warm-up, then for the measured window (whole seconds: dnsperf's `-l`); CPU is
 * the server's process tree's; dnsperf's own (`loadgenCpu`, and kept out of the foreign share)
 * is our exited children's.
 */
async function dnsRun(p: Peer, w: Workload, round: number): Promise<RunRecord> {
  if (w.load.kind !== 'dns') throw new Error('not a DNS workload')
  if (spawnSync('sh', ['-c', 'command -v dnsperf']).status !== 0) throw new NotAvailable("dnsperf is not installed (Debian's dnsperf)")
  const queries = join(BUILD_DIR, 'dns-queries.txt')
  mkdirSync(BUILD_DIR, { recursive: true })
  writeFileSync(queries, w.load.queries.split(', ').join('\n') + '\n')
  const server = await start(p, w)
  const dnsperf = (seconds: number): number => {
    const [cmd, ...args] = pinned(LOADGEN_CPU, ['dnsperf', '-s', '127.0.0.1', '-p', String(server.port), '-d', queries, '-l', String(seconds), '-q', '200'])
    const r = spawnSync(cmd, args, { encoding: 'utf8' })
    const qps = Number(/Queries per second:\s+([\d.]+)/.exec(r.stdout)?.[1])
    if (r.status !== 0 || !Number.isFinite(qps)) throw new Error(`dnsperf exited with ${r.status}: ${(r.stdout + r.stderr).trim().split('\n').slice(-2).join(' | ')}`)
    return qps
  }
  try {
    dnsperf(Math.max(1, Math.round(settings.warmupS)))
    await waitForQuiet(settings.quietWaitS * 1000)
    const tree = processTree(server.child.pid!)
    const cpu = (): number => tree.reduce((t, pid) => t + cpuSeconds(pid), 0)
    const cpu0 = cpu()
    const m0 = sampleMachine()
    const exited0 = exitedChildrenSeconds()
    const seconds = Math.max(1, Math.round(settings.seconds))
    const qps = dnsperf(seconds)
    const serverCpuS = cpu() - cpu0
    // dnsperf has exited: its CPU is in our children's, not in the end sample.
    const loadgenS = exitedChildrenSeconds() - exited0
    const m1 = sampleMachine()
    const foreign = foreignCpu(m0, m1, [...tree, process.pid], loadgenS)
    const queriesDone = qps * seconds
    return cpuRecord(p, round, qps, queriesDone, serverCpuS, foreign, { loadgenCpu: loadgenS / ((m1.at - m0.at) / 1000) })
  } finally {
    await stopServer(server)
  }
}

/**
 * The connection counts of one M1 run, ascending: `conns` for the single RSS delta, and the
 * two ends of the slope when the fd limit allows them.
 */
function idleCounts(w: Workload): { conns: number; slope?: [number, number] } {
  if (w.load.kind !== 'idle') throw new Error('not an idle workload')
  const cap = fdHardLimit() - 200
  const conns = Math.min(quick ? w.load.quickConns : w.load.conns, cap)
  const from = quick ? w.load.quickSlopeFrom : w.load.slopeFrom
  const to = quick ? w.load.quickSlopeTo : w.load.slopeTo
  return to <= cap ? { conns, slope: [from, to] } : { conns }
}

/** Quarters of the slope's span: the counts between which the step slopes are taken. */
const SLOPE_STEPS = 4

/** The counts the slope samples: its two ends and {@link SLOPE_STEPS} − 1 evenly between. */
function slopePoints([from, to]: [number, number]): number[] {
  return Array.from({ length: SLOPE_STEPS + 1 }, (_, i) => Math.round(from + ((to - from) * i) / SLOPE_STEPS))
}

/** Spawns an idle holder of `conns` more connections; resolves with it and its connect time once all are up. */
async function holdIdle(port: number, conns: number): Promise<{ holder: ReturnType<typeof spawn>; connectMs: number }> {
  const [cmd, ...rest] = pinned(LOADGEN_CPU, [LOADGEN, 'idle', '--addr', `127.0.0.1:${port}`, '--conns', String(conns), '--hold', '180'])
  const holder = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  holder.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      holder.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('\n')) resolve(out.split('\n')[0])
      })
      holder.once('exit', (code) => reject(new Error(`idle holder exited with ${code}: ${stderr.trim()}`)))
    })
    return { holder, connectMs: (JSON.parse(line) as { connect_ms: number }).connect_ms }
  } catch (err) {
    holder.kill('SIGKILL')
    throw err
  }
}

/**
 * The server's RSS once it has settled: at least `minMs` from now, then as soon as three
 * samples 0.5 s apart lie within 64 KiB (a garbage collector that shrinks or grows its heap
 * after a start or a burst of connections has done so), at most 12 s (2 s with `--quick`).
 */
async function settledRss(pid: number, minMs: number): Promise<number> {
  await sleep(minMs)
  const deadline = Date.now() + (quick ? 2000 : 12_000)
  const samples = [rssBytes(pid)]
  while (Date.now() < deadline) {
    await sleep(500)
    samples.push(rssBytes(pid))
    const last = samples.slice(-3)
    if (last.length === 3 && Math.max(...last) - Math.min(...last) <= 64 << 10) break
  }
  return samples[samples.length - 1]
}

/**
 * One M1 run: server RSS before any connection (after the server's start has settled, and
 * at least 20 s in, past a Node server's first idle-time collections), then with idle
 * connections added in steps (one holder process per step) up to each count of
 * {@link idleCounts} and {@link slopePoints}, each sampled once settled: the single delta (RSS
 * at `conns` − RSS before, ÷ `conns`) and the slope: the median of the RSS growth per
 * connection over each step between the slope's ends, which leaves out what a fresh process
 * grows by anyway, and a one-off collection (a heap shrinking or growing its young
 * generation once) within one step.
 */
async function idleRun(p: Peer, w: Workload, round: number): Promise<RunRecord> {
  const { conns, slope } = idleCounts(w)
  const points = slope ? slopePoints(slope) : []
  const counts = [...new Set([conns, ...points])].sort((a, b) => a - b)
  const proto = p.command('echo', 1) ? 'echo' : 'http'
  const server = await start(p, { ...w, proto })
  const pid = server.child.pid!
  const holders: ReturnType<typeof spawn>[] = []
  try {
    const rssBefore = await settledRss(pid, quick ? 300 : 20_000)
    const fdsBefore = openFds(pid)
    const rssAt = new Map<number, number>()
    let held = 0
    let connectMs = 0
    for (const count of counts) {
      const step = await holdIdle(server.port, count - held)
      holders.push(step.holder)
      if (count <= conns) connectMs += step.connectMs
      held = count
      const deadline = Date.now() + 30_000
      while (openFds(pid) < fdsBefore + held) {
        if (Date.now() > deadline) throw new Error(`server holds ${openFds(pid) - fdsBefore} of ${held} connections after 30 s`)
        await sleep(100)
      }
      rssAt.set(count, await settledRss(pid, quick ? 300 : 1000))
    }
    const rssAfter = rssAt.get(conns)!
    const rec: RunRecord = { round, peer: p.id, rate: (rssAfter - rssBefore) / conns, rssBefore, rssAfter, conns, connectMs, foreign: 0, noisy: false, attempts: 1 }
    if (slope) {
      const [from, to] = slope
      const steps = points.slice(1).map((c, i) => (rssAt.get(c)! - rssAt.get(points[i])!) / (c - points[i]))
      rec.slope = {
        from,
        to,
        rssFrom: rssAt.get(from)!,
        rssTo: rssAt.get(to)!,
        bytesPerConn: median(steps),
        steps,
        endToEnd: (rssAt.get(to)! - rssAt.get(from)!) / (to - from),
      }
    }
    return rec
  } finally {
    for (const h of holders) h.kill('SIGKILL')
    await stopServer(server)
  }
}

/** What {@link runClient} saw: the client's last stdout line, and the server CPU and machine samples around its run. */
interface ClientRun {
  line: string
  serverCpuS: number
  foreign: number
}

/**
 * Runs the client `argv` pinned to `cpu` to completion. Samples the server's CPU and the machine
 * right after the client starts and again when it prints its result (before it exits, so its
 * own CPU is still visible and not counted as foreign).
 */
function runClient(argv: string[], cpu: number, timeoutMs: number, server: Server, alsoOurs: number[]): Promise<ClientRun> {
  const [cmd, ...rest] = pinned(cpu, argv)
  const pid = server.child.pid!
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'] })
    const cpu0 = cpuSeconds(pid)
    const m0 = sampleMachine()
    let end: ClientRun | undefined
    let err = ''
    let last = ''
    createInterface({ input: child.stdout }).on('line', (line) => {
      last = line
      if (!end && line.startsWith('{')) {
        end = { line, serverCpuS: cpuSeconds(pid) - cpu0, foreign: foreignCpu(m0, sampleMachine(), [pid, child.pid!, process.pid, ...alsoOurs]) }
      }
    })
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('close', (code) => {
      clearTimeout(timer)
      if (code === 0 && end) resolve(end)
      else reject(new Error(`${argv[0].split('/').pop()} exited with ${code}: ${last || err.trim().split('\n').pop() || ''}`))
    })
  })
}

/**
 * One KCP run (K1, K2): client → lossy relay → sink server, bulk transfer. K1's client is
 * kcpgo-peer for every server; in K2 each server peer brings its client ({@link Peer.client}).
 */
async function kcpRun(p: Peer, w: Workload, round: number): Promise<RunRecord> {
  if (w.load.kind !== 'kcp') throw new Error('not a KCP workload')
  const bytes = quick ? w.load.quickBytes : w.load.bytes
  let server: Server
  try {
    server = await start(p, w)
  } catch (err) {
    const m = /\{"error":"([^"]*)"/.exec(String(err))
    if (m) throw new NotAvailable(`cannot serve kcp:// yet (${m[1]})`)
    throw err
  }
  let relay: Awaited<ReturnType<typeof startRelay>> | undefined
  try {
    const hello = JSON.parse(server.lines.find((l) => l.includes('"listen"')) ?? '{}') as Record<string, unknown>
    const listen = typeof hello.listen === 'string' ? hello.listen : undefined
    if (!listen) throw new Error('the server did not print its address')
    relay = await startRelay(listen, w.load.loss, round)
    const relayAddr = relay.listen
    const client = p.client ? p.client(relayAddr, hello) : [KCPGO_BIN, 'client', '--addr', relayAddr, '--mode', 'bulk', ...KCP_KNOBS]
    const run = await runClient(
      [...client, '--bytes', String(bytes), '--size', String(w.load.size), '--timeout', '120'],
      LOADGEN_CPU,
      130_000,
      server,
      [relay.server.child.pid!],
    )
    const serverCpuS = run.serverCpuS
    const r = JSON.parse(run.line) as { ok: boolean; bytes: number; seconds: number; error?: string }
    if (!r.ok) throw new Error(`${client[0].split('/').pop()} client: ${r.error ?? run.line}`)
    const mb = r.bytes / 1e6
    return cpuRecord(p, round, mb / r.seconds, mb, serverCpuS, run.foreign)
  } finally {
    if (relay) await stopServer(relay.server)
    await stopServer(server)
  }
}

/** Starts riptide-relay in front of `upstream`, dropping `loss` of datagrams each way, seeded by `round`. */
async function startRelay(upstream: string, loss: number, round: number): Promise<{ server: Server; listen: string }> {
  const server = await startServer('relay', [RELAY_BIN, '--upstream', upstream, '--loss', String(loss), '--seed', String(round)], 0, LOADGEN_CPU, {
    ready: { line: /"listen"/ },
  })
  const listen = (JSON.parse(server.lines.find((l) => l.includes('"listen"')) ?? '{}') as { listen?: string }).listen
  if (listen) return { server, listen }
  await stopServer(server)
  throw new Error('the relay did not print its address')
}

/** A TCP sink in this process: counts the bytes of every connection. */
async function tcpSink(): Promise<{ port: number; received: () => number; close: () => void }> {
  let received = 0
  const sockets = new Set<net.Socket>()
  const srv = net.createServer((s) => {
    sockets.add(s)
    s.on('data', (d: Buffer) => (received += d.length))
    s.on('error', () => s.destroy())
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  return {
    port: (srv.address() as net.AddressInfo).port,
    received: () => received,
    close: () => {
      for (const s of sockets) s.destroy()
      srv.close()
    },
  }
}

/** Writes `bytes` of random data into 127.0.0.1:`port` (waiting for drain) and waits until `sink` has them all. */
async function sendThrough(port: number, bytes: number, sink: { received: () => number }, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const chunk = randomBytes(1 << 20)
  const socket = net.connect(port, '127.0.0.1')
  try {
    await once(socket, 'connect')
    for (let sent = 0; sent < bytes; ) {
      const n = Math.min(chunk.length, bytes - sent)
      sent += n
      if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await Promise.race([once(socket, 'drain'), once(socket, 'close')])
      if (socket.destroyed) throw new Error('the tunnel client closed the connection')
    }
    while (sink.received() < bytes) {
      if (Date.now() > deadline) throw new Error(`timed out: the sink got ${sink.received()} of ${bytes} bytes`)
      await sleep(2)
    }
  } finally {
    socket.destroy()
  }
}

/**
 * One K3 run: this process writes the bytes into the tunnel client over one TCP connection; the
 * client carries them over KCP through the lossy relay to the tunnel server, which forwards them
 * to a TCP sink in this process. Goodput = bytes ÷ time from the connect to the sink's last
 * byte; each end's CPU is its own process's over that window (server pinned to the server core,
 * client and relay to the load core).
 */
async function tunnelRun(p: Peer, w: Workload, round: number): Promise<RunRecord> {
  if (w.load.kind !== 'tunnel' || !p.tunnel) throw new Error('not a tunnel workload')
  const bytes = quick ? w.load.quickBytes : w.load.bytes
  const sink = await tcpSink()
  const started: Server[] = []
  try {
    const serverAddr = `127.0.0.1:${nextPort()}`
    const server = await startServer(`${p.label} server`, p.tunnel.server(serverAddr, `127.0.0.1:${sink.port}`), 0, SERVER_CPU, { env: p.env, ready: p.tunnel.ready })
    started.push(server)
    const relay = await startRelay(serverAddr, w.load.loss, round)
    started.push(relay.server)
    const clientPort = nextPort()
    const client = await startServer(`${p.label} client`, p.tunnel.client(`127.0.0.1:${clientPort}`, relay.listen), 0, LOADGEN_CPU, { env: p.env, ready: p.tunnel.ready })
    started.push(client)
    const pids = [server.child.pid!, client.child.pid!]
    const m0 = sampleMachine()
    const cpu0 = pids.map(cpuSeconds)
    const t0 = performance.now()
    await sendThrough(clientPort, bytes, sink, 120_000)
    const seconds = (performance.now() - t0) / 1000
    const [serverCpuS, clientCpuS] = pids.map((pid, i) => cpuSeconds(pid) - cpu0[i])
    const foreign = foreignCpu(m0, sampleMachine(), [...pids, relay.server.child.pid!, process.pid])
    const mb = bytes / 1e6
    return cpuRecord(p, round, mb / seconds, mb, serverCpuS, foreign, { clientCpuUsPerUnit: (clientCpuS * 1e6) / mb })
  } finally {
    for (const s of started.reverse()) await stopServer(s)
    sink.close()
  }
}

/** The signalling URL of a `webrtc` server on `port`. */
const offerUrl = (port: number): string => `http://127.0.0.1:${port}/.rtc/offer`

/**
 * One RTC1 run: `pion-webrtc rate` (pinned to the load core) opens one peer and keeps reliable
 * messages of the workload's size in flight (at most 1 MiB unanswered); the rate is echoes
 * received per second over the measured window, after the warm-up. Server CPU is sampled from
 * the client's start to its result line, so it includes the handshake and the warm-up; the
 * messages it is divided by include the warm-up's too (`total`).
 */
async function rtcRun(p: Peer, w: Workload, round: number): Promise<RunRecord> {
  if (w.load.kind !== 'rtc') throw new Error('not an RTC workload')
  if (!existsSync(PION_WEBRTC_BIN)) throw new NotAvailable('the pion load generator is not built (needs Go and bench/peers/pion-webrtc)')
  const server = await start(p, w)
  try {
    await waitForQuiet(settings.quietWaitS * 1000)
    const argv = [PION_WEBRTC_BIN, 'rate', '-url', offerUrl(server.port), '-size', String(w.load.size), '-seconds', String(settings.seconds), '-warmup', String(settings.warmupS)]
    const run = await runClient(argv, LOADGEN_CPU, (settings.seconds + settings.warmupS + 30) * 1000, server, [])
    const r = JSON.parse(run.line) as { rate: number; total: number }
    return cpuRecord(p, round, r.rate, r.total, run.serverCpuS, run.foreign)
  } finally {
    await stopServer(server)
  }
}

/**
 * One RTC2 run: server RSS once settled after its start (at least 20 s, as in M1), then with
 * `pion-webrtc idle` holding the workload's peers (both channels open, nothing sent), settled
 * again; bytes per peer = the growth ÷ peers. Kernel socket memory is not included (all peers
 * share one UDP socket on both riptide and pion).
 */
async function rtcIdleRun(p: Peer, w: Workload, round: number): Promise<RunRecord> {
  if (w.load.kind !== 'rtc-idle') throw new Error('not an RTC idle workload')
  if (!existsSync(PION_WEBRTC_BIN)) throw new NotAvailable('the pion load generator is not built (needs Go and bench/peers/pion-webrtc)')
  const peers = quick ? w.load.quickPeers : w.load.peers
  const server = await start(p, w)
  const pid = server.child.pid!
  const [cmd, ...rest] = pinned(LOADGEN_CPU, [PION_WEBRTC_BIN, 'idle', '-url', offerUrl(server.port), '-peers', String(peers)])
  let holder: ReturnType<typeof spawn> | undefined
  try {
    const rssBefore = await settledRss(pid, quick ? 300 : 20_000)
    const t0 = Date.now()
    const child = spawn(cmd, rest, { stdio: ['pipe', 'pipe', 'pipe'] })
    holder = child
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pion-webrtc idle: ${peers} peers not open after 120 s`)), 120_000)
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.startsWith('{"open"')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`pion-webrtc idle exited with ${code}: ${stderr.trim().split('\n').pop() ?? ''}`))
      })
    })
    const connectMs = Date.now() - t0
    const rssAfter = await settledRss(pid, quick ? 300 : 2000)
    return { round, peer: p.id, rate: (rssAfter - rssBefore) / peers, rssBefore, rssAfter, conns: peers, connectMs, foreign: 0, noisy: false, attempts: 1 }
  } finally {
    holder?.kill('SIGKILL')
    await stopServer(server)
  }
}

/** A peer that cannot serve this workload in this build (reported, not retried). */
class NotAvailable extends Error {}

/** Runs one (workload, peer) with the noise check: redo up to `retries` times when noisy. */
async function measured(p: Peer, w: Workload, round: number): Promise<RunRecord> {
  const runs: Partial<Record<Workload['load']['kind'], typeof throughputRun>> = {
    idle: idleRun,
    kcp: kcpRun,
    tunnel: tunnelRun,
    redis: redisRun,
    dns: dnsRun,
    rtc: rtcRun,
    'rtc-idle': rtcIdleRun,
  }
  const run = runs[w.load.kind] ?? throughputRun
  let rec = await run(p, w, round)
  let attempts = 1
  while (rec.foreign > NOISE && attempts <= settings.retries) {
    console.log(`      noisy (other processes used ${(rec.foreign * 100).toFixed(1)} % CPU): again`)
    attempts++
    rec = await run(p, w, round)
  }
  return { ...rec, attempts, noisy: rec.foreign > NOISE }
}

/** Medians per peer and ratios from the same run. */
function summarize(w: Workload, runs: RunRecord[]): PeerSummary[] {
  const ids = [...new Set(runs.map((r) => r.peer))]
  const rows = ids.map((id): PeerSummary => {
    const mine = runs.filter((r) => r.peer === id)
    const m = (f: (r: RunRecord) => number | undefined): number | undefined => {
      const xs = mine.map(f).filter((x): x is number => x !== undefined)
      return xs.length ? median(xs) : undefined
    }
    const rates = mine.map((r) => r.rate)
    return {
      peer: id,
      label: peer(id).label,
      rounds: mine.length,
      rate: median(rates),
      rateMin: Math.min(...rates),
      rateMax: Math.max(...rates),
      p50Us: m((r) => r.p50Us),
      p99Us: m((r) => r.p99Us),
      cpuUsPerUnit: m((r) => r.cpuUsPerUnit),
      clientCpuUsPerUnit: m((r) => r.clientCpuUsPerUnit),
      perCpuSecond: m((r) => r.perCpuSecond),
      loadgenCpu: m((r) => r.loadgenCpu),
      slope: m((r) => r.slope?.bytesPerConn),
      slopeMin: mine.some((r) => r.slope) ? Math.min(...mine.flatMap((r) => (r.slope ? [r.slope.bytesPerConn] : []))) : undefined,
      slopeMax: mine.some((r) => r.slope) ? Math.max(...mine.flatMap((r) => (r.slope ? [r.slope.bytesPerConn] : []))) : undefined,
      noisyRuns: mine.filter((r) => r.noisy).length,
      loadgenBound: (m((r) => r.loadgenCpu) ?? 0) >= 0.95,
    }
  })
  const floor = rows.find((r) => r.peer === 'c-floor')
  for (const r of rows) {
    const base = rows.find((x) => x.peer === (w.baselines?.[r.peer] ?? w.baseline))
    if (base) {
      r.xBaseline = r.rate / base.rate
      if (r.cpuUsPerUnit !== undefined && base.cpuUsPerUnit) r.cpuXBaseline = r.cpuUsPerUnit / base.cpuUsPerUnit
      if (r.clientCpuUsPerUnit !== undefined && base.clientCpuUsPerUnit) r.clientCpuXBaseline = r.clientCpuUsPerUnit / base.clientCpuUsPerUnit
    }
    if (floor && w.load.kind !== 'idle') {
      r.xFloor = r.rate / floor.rate
      if (r.perCpuSecond !== undefined && floor.perCpuSecond) r.perCpuXFloor = r.perCpuSecond / floor.perCpuSecond
    }
  }
  return rows
}

/** B1: riptide's boundary counters over the measured windows of its echo and HTTP runs. */
function boundaryResult(all: WorkloadResult[]): WorkloadResult {
  const b1 = workload('B1')
  const result: WorkloadResult = { id: 'B1', title: b1.title, unit: b1.unit, baseline: 'riptide', load: {}, runs: [], summary: [], failures: [] }
  for (const wr of all) {
    const mine = wr.runs.filter((r) => r.peer === 'riptide' && r.counters && r.counters.wakes > 0 && r.counters.jsCalls > 0)
    if (mine.length === 0) continue
    result.runs.push(...mine.map((r) => ({ ...r, peer: `riptide@${wr.id}` })))
    const m = (f: (c: NonNullable<RunRecord['counters']>) => number): number => median(mine.map((r) => f(r.counters!)))
    result.summary.push({
      peer: `riptide@${wr.id}`,
      label: `riptide in ${wr.id}`,
      rounds: mine.length,
      rate: median(mine.map((r) => r.rate)),
      rateMin: Math.min(...mine.map((r) => r.rate)),
      rateMax: Math.max(...mine.map((r) => r.rate)),
      callsPerWake: m((c) => c.jsCalls / c.wakes),
      eventsPerCall: m((c) => c.events / c.jsCalls),
      wakesPerSecond: m((c) => c.wakes / settings.seconds),
      noisyRuns: mine.filter((r) => r.noisy).length,
      loadgenBound: false,
    })
  }
  result.load = { from: result.summary.map((s) => s.peer.split('@')[1]).join(',') }
  if (result.summary.length === 0) {
    const sawRiptide = all.some((wr) => wr.runs.some((x) => x.peer === 'riptide'))
    result.note = sawRiptide
      ? "counters not available: this build's engine.stats() has no wakes/jsCalls/events fields"
      : 'not measured: no riptide echo or HTTP run in this selection'
  }
  return result
}

async function main(): Promise<void> {
  const t0 = Date.now()
  const plan = selection()
  const wantsB1 = !opts.only || opts.only.toUpperCase().split(',').includes('B1')
  const needed = new Set(plan.flatMap((x) => x.peers))
  if (plan.some((x) => x.w.load.kind === 'kcp' || x.w.load.kind === 'tunnel')) needed.add('relay')
  if (plan.some((x) => x.w.load.kind === 'rtc' || x.w.load.kind === 'rtc-idle')) needed.add('pion-webrtc')
  if (loadgen === 'c') needed.add('c-loadgen')
  console.log(`riptide bench${quick ? ' --quick' : ''}: ${plan.map((x) => x.w.id).join(' ')}${wantsB1 && !plan.some((x) => x.w.id === 'B1') ? ' B1' : ''}`)
  console.log(`  ${settings.rounds} round(s), ${settings.warmupS} s warm-up + ${settings.seconds} s per run, server on CPU ${SERVER_CPU}, load on CPU ${LOADGEN_CPU}${canPin ? '' : ' (taskset missing: NOT pinned)'}`)
  let failures: BuildFailures = new Map()
  if (!opts['no-build']) {
    console.log('building:')
    failures = build(needed, (l) => console.log(l))
    if (failures.has('c-loadgen')) throw new Error(`--loadgen c: ${failures.get('c-loadgen')}`)
  }
  const peersInfo = PEERS.map((p) => {
    // Unselected peers were not built; only uWebSockets.js's availability is a fact of the machine.
    const reason = needed.has(p.id) || p.id === 'uws' ? unavailable(p, failures) : undefined
    return { id: p.id, label: p.label, about: p.about, selected: needed.has(p.id), available: !reason, ...(reason ? { reason } : {}) }
  })
  for (const p of peersInfo.filter((x) => !x.available && x.selected)) console.log(`  not runnable: ${p.label}: ${p.reason}`)
  const relayProblem = failures.get('relay') ?? (needed.has('relay') && !existsSync(RELAY_BIN) ? 'riptide-relay is not built (npm run build:bench)' : undefined)
  const machine = await machineInfo(quick ? 300 : 2000)
  console.log(`  machine: ${machine.cpu} ×${machine.cores}, ${machine.os}, kernel ${machine.kernel}, runner spin loop got ${machine.effectiveCpuPct} % of a CPU`)

  const results = new Map<string, WorkloadResult>()
  for (const { w } of plan) {
    const load: WorkloadResult['load'] = { ...w.load }
    if (w.load.kind === 'idle') {
      const { conns, slope } = idleCounts(w)
      load.conns = conns
      if (slope) [load.slopeFrom, load.slopeTo] = slope
      else load.slope = `not measured: ${w.load.slopeTo} connections need a higher fd limit (${fdHardLimit()})`
    }
    if (w.load.kind === 'kcp' || w.load.kind === 'tunnel') load.bytes = quick ? w.load.quickBytes : w.load.bytes
    if (w.load.kind === 'redis') load.requests = quick ? w.load.quickRequests : w.load.requests
    if (w.load.kind === 'rtc-idle') load.peers = quick ? w.load.quickPeers : w.load.peers
    results.set(w.id, { id: w.id, title: w.title, unit: w.unit, baseline: w.baseline, baselines: w.baselines, target: w.target, load, runs: [], summary: [], failures: [] })
  }
  const jobs = plan.flatMap(({ w, peers }) => peers.filter((id) => peersInfo.find((p) => p.id === id)?.available).map((id) => ({ w, id })))
  const total = jobs.length * settings.rounds
  let done = 0
  const tRuns = Date.now()
  for (let round = 1; round <= settings.rounds; round++) {
    for (const { w, peers } of plan) {
      const wr = results.get(w.id)!
      if ((w.load.kind === 'kcp' || w.load.kind === 'tunnel') && relayProblem) {
        wr.note = `not run: the lossy relay is not available (${relayProblem})`
        continue
      }
      const runnable = peers.filter((id) => peersInfo.find((p) => p.id === id)?.available)
      const shift = (round - 1) % Math.max(1, runnable.length)
      for (const id of [...runnable.slice(shift), ...runnable.slice(0, shift)]) {
        done++
        const label = `[${done}/${total}] round ${round} ${w.id} ${peer(id).label}`
        if (skipped.has(`${w.id}/${id}`)) {
          console.log(`  ${label}: skipped (${skipped.get(`${w.id}/${id}`)})`)
          continue
        }
        try {
          const rec = await measured(peer(id), w, round)
          wr.runs.push(rec)
          const left = ((Date.now() - tRuns) / 1000 / done) * (total - done)
          const eta = ` | ${Math.round((Date.now() - t0) / 1000)} s elapsed, ~${Math.round(left)} s left`
          console.log(`  ${label}: ${describe(w, rec)}${eta}`)
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err)
          if (err instanceof NotAvailable) skipped.set(`${w.id}/${id}`, msg)
          wr.failures.push({ peer: id, round, error: msg })
          console.log(`  ${label}: FAILED: ${msg}`)
        }
      }
    }
  }
  const workloads = [...results.values()]
  for (const wr of workloads) wr.summary = summarize(workload(wr.id), wr.runs)
  if (wantsB1) workloads.push(boundaryResult(workloads))
  for (const [key, reason] of skipped) {
    const [wid, pid] = key.split('/')
    const p = peersInfo.find((x) => x.id === pid)
    if (p && p.available && workloads.every((wr) => wr.id === wid || !wr.runs.some((r) => r.peer === pid))) {
      p.available = false
      p.reason = reason
    }
  }
  const now = new Date()
  const date = now.toISOString().slice(0, 10)
  const out: Results = {
    date,
    startedAt: new Date(t0).toISOString(),
    durationS: Math.round((Date.now() - t0) / 1000),
    quick,
    settings,
    machine,
    peers: peersInfo,
    workloads,
  }
  const result = opts.merge ? merged(out, JSON.parse(readFileSync(opts.merge, 'utf8')) as Results) : out
  const dir = join(ROOT, 'bench', 'results')
  mkdirSync(dir, { recursive: true })
  const file = opts.out ?? join(dir, `${date}${quick ? '-quick' : ''}.json`)
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n')
  console.log(`\nwrote ${file} (${out.durationS} s${opts.merge ? `; other workloads from ${opts.merge}` : ''})`)
  if (!opts['no-report']) {
    const written = await writeReport(result, file)
    console.log(`wrote ${written.join(', ')}`)
  }
}

/**
 * `--merge FILE`: this run plus the workloads of the earlier results `earlier` that this run
 * did not measure, each marked with the run it comes from; peers this run did not select keep
 * their entries from `earlier`.
 */
function merged(run: Results, earlier: Results): Results {
  const measured = new Set(run.workloads.map((w) => w.id))
  const carried = earlier.workloads
    .filter((w) => !measured.has(w.id))
    .map((w): WorkloadResult => ({ ...w, from: w.from ?? { startedAt: earlier.startedAt, settings: earlier.settings } }))
  const rank = (id: string): number => {
    const i = WORKLOADS.findIndex((x) => x.id === id)
    return i < 0 ? WORKLOADS.length : i
  }
  const workloads = [...run.workloads, ...carried].sort((a, b) => rank(a.id) - rank(b.id))
  const peers = run.peers.map((p) => (p.selected ? p : (earlier.peers.find((q) => q.id === p.id && q.selected) ?? p)))
  return { ...run, peers, workloads }
}

/** One progress line for a run. */
function describe(w: Workload, r: RunRecord): string {
  const noise = r.foreign > 0.005 || r.attempts > 1 ? ` | other CPU ${(r.foreign * 100).toFixed(1)} %${r.noisy ? ' NOISY' : ''}${r.attempts > 1 ? ` (${r.attempts} tries)` : ''}` : ''
  if (w.load.kind === 'idle') {
    const slope = r.slope ? `; slope ${fmt(r.slope.bytesPerConn)} B/connection from ${r.slope.from} to ${r.slope.to} conns` : ''
    return `${fmt(r.rate)} B/connection (RSS ${fmt((r.rssBefore ?? 0) / 1048576, 1)} → ${fmt((r.rssAfter ?? 0) / 1048576, 1)} MiB, ${r.conns} conns${slope})`
  }
  if (w.load.kind === 'rtc-idle') return `${fmt(r.rate)} B/peer (RSS ${fmt((r.rssBefore ?? 0) / 1048576, 1)} → ${fmt((r.rssAfter ?? 0) / 1048576, 1)} MiB, ${r.conns} peers open in ${fmt(r.connectMs)} ms)`
  if (w.load.kind === 'rtc') return `${fmt(r.rate)} messages/s, server ${fmt(r.cpuUsPerUnit, 2)} µs CPU/message, ${fmt(r.perCpuSecond)} per server-CPU-s${noise}`
  if (w.load.kind === 'kcp') return `${fmt(r.rate, 2)} MB/s goodput, server ${fmt(r.cpuUsPerUnit)} µs CPU/MB${noise}`
  if (w.load.kind === 'tunnel') return `${fmt(r.rate, 2)} MB/s goodput, server ${fmt(r.cpuUsPerUnit)} µs CPU/MB, client ${fmt(r.clientCpuUsPerUnit)} µs CPU/MB${noise}`
  if (w.load.kind === 'dns') return `${fmt(r.rate)} queries/s, ${fmt(r.perCpuSecond)} per server-CPU-s${noise}`
  if (w.load.kind === 'redis') return `${fmt(r.rate)} requests/s, ${fmt(r.perCpuSecond)} per server-CPU-s, p50 ${fmt(r.p50Us)} µs p99 ${fmt(r.p99Us)} µs${noise}`
  const tls = r.negotiated ? ` | ${r.negotiated}` : ''
  const busy = r.serverCpuS !== undefined ? `, server busy ${fmt((r.serverCpuS / settings.seconds) * 100)} %` : ''
  const perSleep = r.serverSleeps ? `, ${fmt((r.rate * settings.seconds) / r.serverSleeps, 1)} ${w.unit}s per server sleep` : ''
  return `${fmt(r.rate)} ${w.unit}s/s, p50 ${fmt(r.p50Us)} µs p99 ${fmt(r.p99Us)} µs, server ${fmt(r.cpuUsPerUnit, 2)} µs CPU/${w.unit}${busy}${perSleep}, loadgen ${fmt((r.loadgenCpu ?? 0) * 100)} %${tls}${noise}`
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
