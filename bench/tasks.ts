/**
 * Issue 20's task pool measurement: an echo server where one connection's handler runs a
 * 200 ms synchronous job, and the p99 echo latency of the other connections, with the job run
 * inline in the handler and in the task pool (`engine.task`). A fresh server process per mode
 * and round; the load (Node clients in this process) is the same for both. Not a test: it
 * prints a table and writes `bench/results/tasks-<driver>-<date>.json`. Build first (`npm run build`).
 *
 *   npm run bench:tasks                                   # 3 rounds × 10 s per mode
 *   npm run bench:tasks -- --rounds 5 --seconds 20 --conns 50 --driver thread
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { serve, type Conn, type Driver } from 'riptide'
import job from './tasks-job'

const ROOT = join(__dirname, '..')
/** The echo message size and the job's length. */
const SIZE = 64
const JOB_MS = 200
/** The job connection's request byte; its answer is the job's 64-char digest. */
const JOB = 0x4a

const { values: opts } = parseArgs({
  options: {
    serve: { type: 'string' },
    driver: { type: 'string', default: process.env.RIPTIDE_DRIVER ?? 'same-thread' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '1' },
    conns: { type: 'string', default: '20' },
  },
})

type Mode = 'inline' | 'pool'

/** The server side (`--serve inline|pool`): echo, except on the job connection. */
async function server(mode: Mode, driver: Driver): Promise<void> {
  const engine = await serve(
    'tcp://127.0.0.1:0',
    {
      onTraffic(conn: Conn<boolean>, data) {
        if (conn.context !== true && data[0] !== JOB) {
          conn.write(data)
          return
        }
        conn.context = true
        // One job per request byte.
        for (let i = 0; i < data.length; i++) {
          if (mode === 'inline') conn.write(job(JOB_MS))
          else void conn.task<string>(JOB_MS).then((digest) => conn.write(digest))
        }
      },
    },
    { driver, tasks: mode === 'pool' ? { module: join(__dirname, 'tasks-job.ts'), threads: 1, maxQueue: 16 } : undefined },
  )
  console.log(`port ${engine.port}`)
  process.stdin.resume()
  process.stdin.once('end', () => void engine.stop().then(() => process.exit(0)))
}

interface Run {
  mode: Mode
  echoes: number
  jobs: number
  p50Us: number
  p99Us: number
  maxUs: number
}

/** Starts a server process in `mode` and resolves with it and its port. */
function startServer(mode: Mode): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', __filename, '--serve', mode, '--driver', opts.driver], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString()
      const m = /port (\d+)/.exec(out)
      if (m !== null) resolve({ child, port: Number(m[1]) })
    })
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)))
  })
}

/** One ping-pong loop: sends SIZE bytes, waits for them back, records the round trip. */
async function echoLoop(port: number, until: () => boolean, record: (us: number) => void): Promise<void> {
  const s = net.connect(port, '127.0.0.1')
  s.setNoDelay(true)
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject))
  const msg = Buffer.alloc(SIZE, 0x65)
  while (!until()) {
    const sent = performance.now()
    const back = new Promise<void>((resolve) => {
      let got = 0
      const onData = (b: Buffer) => {
        got += b.length
        if (got >= SIZE) {
          s.off('data', onData)
          resolve()
        }
      }
      s.on('data', onData)
    })
    s.write(msg)
    await back
    record((performance.now() - sent) * 1000)
  }
  s.destroy()
}

/** The job connection: asks for one job after another; resolves with how many finished. */
async function jobLoop(port: number, until: () => boolean): Promise<number> {
  const s = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject))
  let done = 0
  while (!until()) {
    const back = new Promise<void>((resolve) => {
      let got = 0
      const onData = (b: Buffer) => {
        got += b.length
        if (got >= 64) {
          s.off('data', onData)
          resolve()
        }
      }
      s.on('data', onData)
    })
    s.write(Buffer.of(JOB))
    await back
    done++
  }
  s.destroy()
  return done
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** One measured run of `mode`: warm-up, then `seconds` of echo latencies while jobs run. */
async function measure(mode: Mode): Promise<Run> {
  const { child, port } = await startServer(mode)
  const warmEnd = performance.now() + Number(opts.warmup) * 1000
  const end = warmEnd + Number(opts.seconds) * 1000
  const stop = () => performance.now() >= end
  const samples: number[] = []
  const record = (us: number) => {
    if (performance.now() >= warmEnd) samples.push(us)
  }
  const [jobs] = await Promise.all([jobLoop(port, stop), ...Array.from({ length: Number(opts.conns) }, () => echoLoop(port, stop, record))])
  child.stdin!.end()
  await new Promise((r) => child.once('exit', r))
  samples.sort((a, b) => a - b)
  return { mode, echoes: samples.length, jobs, p50Us: percentile(samples, 50), p99Us: percentile(samples, 99), maxUs: samples[samples.length - 1] }
}

async function main(): Promise<void> {
  if (opts.serve !== undefined) return server(opts.serve as Mode, opts.driver as Driver)
  const runs: Run[] = []
  for (let round = 0; round < Number(opts.rounds); round++) {
    // The order alternates so neither mode always runs on a warmer machine.
    for (const mode of (round % 2 === 0 ? ['inline', 'pool'] : ['pool', 'inline']) as Mode[]) {
      const r = await measure(mode)
      runs.push(r)
      console.log(`round ${round + 1} ${mode}: ${r.echoes} echoes, ${r.jobs} jobs, p50 ${r.p50Us.toFixed(0)} µs, p99 ${r.p99Us.toFixed(0)} µs, max ${r.maxUs.toFixed(0)} µs`)
    }
  }
  const summary = (['inline', 'pool'] as Mode[]).map((mode) => {
    const mine = runs.filter((r) => r.mode === mode)
    return { mode, p50Us: median(mine.map((r) => r.p50Us)), p99Us: median(mine.map((r) => r.p99Us)), maxUs: median(mine.map((r) => r.maxUs)), jobsPerRun: median(mine.map((r) => r.jobs)) }
  })
  console.log(`\n${opts.conns} echo connections (${SIZE} B ping-pong) + 1 connection running ${JOB_MS} ms jobs back to back; driver ${opts.driver}; medians of ${opts.rounds} rounds`)
  console.log('| job runs | echo p50 µs | echo p99 µs | echo max µs | jobs per run |\n|---|---|---|---|---|')
  for (const s of summary) console.log(`| ${s.mode === 'inline' ? 'inline in the handler' : 'in the task pool'} | ${s.p50Us.toFixed(0)} | ${s.p99Us.toFixed(0)} | ${s.maxUs.toFixed(0)} | ${s.jobsPerRun} |`)
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true })
  const file = join(ROOT, 'bench', 'results', `tasks-${opts.driver}-${new Date().toISOString().slice(0, 10)}.json`)
  writeFileSync(file, `${JSON.stringify({ settings: { ...opts, jobMs: JOB_MS, size: SIZE }, runs, summary }, null, 2)}\n`)
  console.log(`\nwrote ${file}`)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
