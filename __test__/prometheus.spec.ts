// examples/metrics.ts against Debian's Prometheus tools: `promtool check metrics` accepts
// riptide's exposition, and a real Prometheus server (temp dir, loopback, 1 s scrapes) scrapes
// the example's /metrics and answers `up == 1` and `riptide_connections_open` through its
// HTTP query API. Skipped, saying so, where the `prometheus` package is not installed.
import test from 'ava'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { get } from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, readExactly } from './helpers'
import { freePort } from './redis-servers'

function has(tool: string): boolean {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const present = has('promtool') && has('prometheus')
const promTest = present ? test.serial : test.skip
const skipped = present ? '' : ' (SKIPPED: promtool and prometheus are not installed: apt-get install prometheus)'

/** GET `url`; the body (rejects on a status other than 200). */
function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode} ${body}`))))
    }).once('error', reject)
  })
}

/** Starts `node --import tsx examples/metrics.ts` on free ports; its echo and metrics ports. */
async function startExample(): Promise<{ child: ChildProcess, echo: number, metrics: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'examples', 'metrics.ts'), '--port', '0', '--metrics-port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [echo, metrics] = await new Promise<[number, number]>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /echo on 127\.0\.0\.1:(\d+), metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(out)
      if (m !== null) resolve([Number(m[1]), Number(m[2])])
    })
    child.once('exit', (code) => reject(new Error(`example exited (${code}): ${out}`)))
  })
  return { child, echo, metrics }
}

/** Stops a child process and waits for it to exit. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  await exited
}

/** One instant-query result value of `query` on the Prometheus at `port`, or undefined. */
async function query(port: number, q: string): Promise<string | undefined> {
  const body = JSON.parse(await fetchText(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`)) as {
    status: string
    data: { result: Array<{ value: [number, string] }> }
  }
  return body.status === 'success' ? body.data.result[0]?.value[1] : undefined
}

promTest(`promtool check metrics accepts the example's exposition${skipped}`, async (t) => {
  const ex = await startExample()
  t.teardown(() => stop(ex.child))
  const s = await connect(ex.echo)
  s.write('ping')
  await readExactly(s, 4)
  const text = await fetchText(`http://127.0.0.1:${ex.metrics}/metrics`)
  t.regex(text, /riptide_connections_open\{reactor="0"\} 1\n/)
  t.regex(text, /riptide_received_bytes_total\{reactor="0"\} 4\n/)
  // promtool reads the exposition on stdin; exit 0 means no problem and no lint finding.
  const out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  t.is(out.trim(), '')
  s.destroy()
})

promTest(`a Prometheus server scrapes the example: up == 1 and riptide_connections_open${skipped}`, async (t) => {
  const ex = await startExample()
  t.teardown(() => stop(ex.child))
  const dir = mkdtempSync(join(tmpdir(), 'riptide-prometheus-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const config = join(dir, 'prometheus.yml')
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: riptide',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${ex.metrics}']`,
      '',
    ].join('\n'),
  )
  const port = await freePort()
  const server = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let log = ''
  server.stderr!.on('data', (d: Buffer) => (log += d.toString()))
  t.teardown(() => stop(server))
  // Two connections held open while Prometheus scrapes.
  const clients: net.Socket[] = []
  for (let i = 0; i < 2; i++) {
    const s = await connect(ex.echo)
    s.write('x')
    await readExactly(s, 1)
    clients.push(s)
  }
  // Polled for up to 30 s (the server starts, then scrapes every second); the assertions
  // below say what was last seen.
  let up: string | undefined
  let open: string | undefined
  for (let i = 0; i < 60 && (up !== '1' || open !== '2'); i++) {
    up = await query(port, 'up{job="riptide"}').catch(() => undefined)
    open = await query(port, 'sum(riptide_connections_open{job="riptide"})').catch(() => undefined)
    if (up !== '1' || open !== '2') await new Promise((r) => setTimeout(r, 500))
  }
  t.is(up, '1', log)
  t.is(open, '2', log)
  const accepted = await query(port, 'riptide_listener_connections_accepted_total{protocol="tcp"}')
  t.is(accepted, '2')
  for (const s of clients) s.destroy()
})
