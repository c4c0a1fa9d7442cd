/**
 * D2 (issue 19): `dnsperf` (Debian) against examples/dns on riptide and against NSD (Debian),
 * both serving examples/dns/example.zone over UDP, each pinned to the same core with dnsperf
 * on another. A fresh server per run, a warm-up, rounds with the order swapped each round,
 * medians. Reports queries/s and queries per server-CPU-second (the whole process tree: NSD
 * answers from a forked child); the target is riptide >= 0.5x NSD per server-CPU-s.
 * Writes `bench/results/dns-<date>.json`. Build the release binding first (`npm run build`).
 *
 *   npm run bench:dns                       # 3 rounds, 1 s warm-up + 8 s per run
 *   npm run bench:dns -- --rounds 5 --seconds 10
 */
import { execFile, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { CPU_COUNT, cpuSeconds, median, pinned, ROOT, startServer, stopServer, type Server } from './harness'

const SERVER_CPU = CPU_COUNT > 1 ? 1 : 0
const LOADGEN_CPU = 0
const ZONE = join(ROOT, 'examples', 'dns', 'example.zone')
/** The query mix: positive answers of each type, a CNAME, a wildcard and a negative answer. */
const QUERIES = ['www.example.test A', 'www.example.test AAAA', 'example.test MX', 'example.test TXT', 'ftp.example.test A', 'x.apps.example.test A', 'nope.example.test A', 'example.test NS']

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '1' },
  },
})

interface Run {
  peer: string
  qps: number
  lost: number
  serverCpuS: number
  perCpuS: number
}

/** A port free on 127.0.0.1 for TCP (both servers bind UDP and TCP on it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
    s.once('error', reject)
  })
}

/** CPU seconds of `pid` and every process below it. */
function treeCpuSeconds(pid: number): number {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)])
    } catch {
      // the process exited while we looked
    }
  }
  let total = 0
  const stack = [pid]
  while (stack.length > 0) {
    const p = stack.pop()!
    total += cpuSeconds(p)
    stack.push(...(children.get(p) ?? []))
  }
  return total
}

function nsdConfig(dir: string, port: number): string {
  const conf = join(dir, `nsd-${port}.conf`)
  writeFileSync(
    conf,
    `server:
  ip-address: 127.0.0.1@${port}
  server-count: 1
  username: ""
  zonesdir: "${dir}"
  database: ""
  pidfile: "${dir}/nsd-${port}.pid"
  xfrdfile: "${dir}/xfrd-${port}.state"
  zonelistfile: "${dir}/zone-${port}.list"
  logfile: "${dir}/nsd.log"
  verbosity: 0
  # Debian's NSD limits responses per source to 200/s (RRL); a benchmark from one source
  # would measure that limit.
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: example.test
  zonefile: "${ZONE}"
`,
  )
  return conf
}

async function start(peer: string, dir: string, port: number): Promise<Server> {
  if (peer === 'nsd') return startServer('nsd', ['nsd', '-d', '-c', nsdConfig(dir, port)], port, SERVER_CPU)
  return startServer('riptide', [process.execPath, '--import', 'tsx', join(ROOT, 'examples', 'dns', 'server.ts'), '--port', String(port), '--zone', ZONE], port, SERVER_CPU)
}

/** Runs dnsperf for `seconds` and returns its queries/s and lost queries. */
function dnsperf(port: number, queries: string, seconds: number): Promise<{ qps: number; lost: number }> {
  const [cmd, ...args] = pinned(LOADGEN_CPU, ['dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', String(seconds), '-q', '200'])
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, out) => {
      const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1])
      const lost = Number(/Queries lost:\s+(\d+)/.exec(out)?.[1])
      if (err !== null || !Number.isFinite(qps)) return reject(new Error(`dnsperf: ${err?.message ?? 'no rate'}\n${out}`))
      resolve({ qps, lost })
    })
  })
}

async function main(): Promise<void> {
  for (const tool of ['dnsperf', 'nsd']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing: apt-get install dnsperf nsd`)
  }
  const rounds = Number(opts.rounds)
  const seconds = Number(opts.seconds)
  const warmup = Number(opts.warmup)
  const dir = mkdtempSync(join(tmpdir(), 'riptide-d2-'))
  const queries = join(dir, 'queries.txt')
  writeFileSync(queries, QUERIES.join('\n') + '\n')
  const runs: Run[] = []
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ['riptide', 'nsd'] : ['nsd', 'riptide']
      for (const peer of order) {
        const port = await freePort()
        const server = await start(peer, dir, port)
        try {
          await dnsperf(port, queries, warmup)
          const pid = server.child.pid!
          const before = treeCpuSeconds(pid)
          const { qps, lost } = await dnsperf(port, queries, seconds)
          const serverCpuS = treeCpuSeconds(pid) - before
          const run = { peer, qps, lost, serverCpuS, perCpuS: (qps * seconds) / serverCpuS }
          runs.push(run)
          console.log(`round ${round + 1} ${peer}: ${qps.toFixed(0)} q/s, ${lost} lost, ${serverCpuS.toFixed(2)} server CPU-s, ${run.perCpuS.toFixed(0)} q per CPU-s`)
        } finally {
          await stopServer(server)
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const summary = Object.fromEntries(
    ['riptide', 'nsd'].map((peer) => {
      const mine = runs.filter((r) => r.peer === peer)
      return [peer, { qps: median(mine.map((r) => r.qps)), perCpuS: median(mine.map((r) => r.perCpuS)) }]
    }),
  )
  const ratio = summary.riptide.perCpuS / summary.nsd.perCpuS
  console.log(`D2 medians: riptide ${summary.riptide.qps.toFixed(0)} q/s (${summary.riptide.perCpuS.toFixed(0)} per CPU-s), NSD ${summary.nsd.qps.toFixed(0)} q/s (${summary.nsd.perCpuS.toFixed(0)} per CPU-s)`)
  console.log(`riptide/NSD per server-CPU-s: ${ratio.toFixed(2)}x (target >= 0.5x): ${ratio >= 0.5 ? 'met' : 'NOT met'}`)
  const outDir = join(ROOT, 'bench', 'results')
  mkdirSync(outDir, { recursive: true })
  const file = join(outDir, `dns-${new Date().toISOString().slice(0, 10)}.json`)
  writeFileSync(file, JSON.stringify({ workload: 'D2', rounds, seconds, queries: QUERIES, runs, summary, ratio }, null, 2) + '\n')
  console.log(`wrote ${file}`)
}

void main().catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
