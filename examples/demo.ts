/**
 * `npm start`: a riptide echo server and a `node:net` echo server, each driven by the Rust
 * load generator (64-byte ping-pong over 50 connections), rounds interleaved, servers and load
 * on separate cores. Prints round trips per second and server CPU per round trip.
 * `--rounds N --seconds S` lengthen the run (docs/architecture.md used 5 × 5 s).
 */
import { parseArgs } from 'node:util'
import {
  canMeasureCpu,
  canPin,
  measureEcho,
  median,
  startServer,
  stopServer,
  type Measured,
} from '../bench/harness'

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '2' }, seconds: { type: 'string', default: '3' } },
})
const LOAD = { conns: 50, size: 64, depth: 1, seconds: Number(values.seconds), warmup: 1 }
const ROUNDS = Number(values.rounds)
const SERVER_CPU = 1
const LOAD_CPU = 0

async function main(): Promise<void> {
  console.log(`riptide demo: echo ${LOAD.size} B ping-pong, ${LOAD.conns} connections, ${ROUNDS} interleaved rounds of ${LOAD.seconds} s`)
  if (!canPin) console.log('(taskset not available: processes are not pinned to cores)')
  const servers = [
    await startServer('riptide', [process.execPath, '--import', 'tsx', 'examples/echo.ts', '--port', '9300'], 9300, SERVER_CPU),
    await startServer('node:net', [process.execPath, '--import', 'tsx', 'bench/peers/node-net-echo.ts', '--port', '9301'], 9301, SERVER_CPU),
  ]
  const runs: Measured[] = []
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const s of servers) {
        const r = await measureEcho(s, LOAD, LOAD_CPU)
        runs.push(r)
        console.log(`  round ${round} ${s.name.padEnd(9)} ${Math.round(r.rate).toLocaleString('en-US').padStart(9)} round trips/s`)
      }
    }
  } finally {
    await Promise.all(servers.map(stopServer))
  }
  const rows = servers.map((s) => {
    const mine = runs.filter((r) => r.server === s.name)
    return {
      name: s.name,
      rate: median(mine.map((r) => r.rate)),
      cpu: median(mine.map((r) => r.cpuUsPerMessage)),
      p50: median(mine.map((r) => r.p50_us)),
      p99: median(mine.map((r) => r.p99_us)),
    }
  })
  const base = rows.find((r) => r.name === 'node:net')!
  console.log('')
  console.log('| server   | round trips/s | × node:net | server CPU µs/round trip | × node:net | p50 µs | p99 µs |')
  console.log('|----------|--------------:|-----------:|-------------------------:|-----------:|-------:|-------:|')
  for (const r of rows) {
    const cpu = canMeasureCpu ? r.cpu.toFixed(2) : 'n/a'
    const cpuRatio = canMeasureCpu ? (r.cpu / base.cpu).toFixed(2) : 'n/a'
    console.log(
      `| ${r.name.padEnd(8)} | ${Math.round(r.rate).toLocaleString('en-US').padStart(13)} | ${(r.rate / base.rate).toFixed(2).padStart(10)} | ${cpu.padStart(24)} | ${cpuRatio.padStart(10)} | ${r.p50.toFixed(0).padStart(6)} | ${r.p99.toFixed(0).padStart(6)} |`,
    )
  }
  console.log('\nMedians of the rounds; ratios are from this run only (this machine is noisy across runs).')
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
