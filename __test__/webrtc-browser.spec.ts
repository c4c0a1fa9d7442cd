// riptide's browser WebRTC client (browser/webrtc.js) in a real browser: headless Chromium
// (Debian's `chromium`, with the loopback WebRTC flags) loads a page from a node:http server,
// which also serves the client; the page connects to a WebRTC echo server with the client,
// echoes 1,000 reliable messages (all back, in order, byte-exact, plus a text one and one of
// the maximum size) and 1,000 unreliable ones (loss reported, no corruption or duplicates),
// drives the client's own reliable queue with a second peer (16 KiB high water), checks the
// client's errors, and hands its results back through Runtime.evaluate.
// RIPTIDE_SCREENSHOT=1 writes the page to docs/webrtc-chromium.png.

import test from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Browser, findChromium, findOnPath, WEBRTC_LOOPBACK_FLAGS, type Tab } from './cdp'

const root = join(__dirname, '..')
const chromium = findChromium()
const cargo = findOnPath('cargo')
const N = 1000

/** A WebRTC server for the page: the origin its signalling is on, and how to stop it. */
interface RtcServer {
  /** `http://host:port`; the client POSTs its offer to `/.rtc/offer` there. */
  signalUrl: string
  close(): Promise<void>
}

/**
 * The server under test: the std-socket echo of crates/riptide-webrtc (examples/echo.rs),
 * built if needed. When `serve('webrtc://…')` lands this becomes the riptide engine with an
 * echo handler (`onTraffic: (c, d) => c.write(d)`, `onUnreliable: (c, d) => c.send(d, { reliable: false })`).
 */
async function startServer(): Promise<RtcServer> {
  return startEchoExample()
}

/** Builds (a no-op when fresh) and starts `examples/echo` on ephemeral ports of 127.0.0.1. */
async function startEchoExample(): Promise<RtcServer> {
  await run('cargo', ['build', '-q', '-p', 'riptide-net-webrtc', '--example', 'echo'])
  const child = spawn(join(root, 'target', 'debug', 'examples', 'echo'), ['127.0.0.1', '0', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const signalUrl = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /ready (http:\/\/[\d.:]+)\/\.rtc\/offer/.exec(out)
      if (m !== null) resolve(m[1])
    })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`the echo example exited (${code}): ${out}`)))
  })
  return { signalUrl, close: () => stop(child) }
}

/** Runs a command in the repository; rejects when it fails. */
function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] })
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`))))
  })
}

/** Kills `child` and waits for it to exit. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGKILL')
  await exited
}

/**
 * The page's server: `/` the test page, `/webrtc.js` the client, `/refuse` a 403 and `/hang`
 * a request never answered (for the client's error paths).
 */
async function startPageServer(): Promise<{ url: string; server: Server }> {
  const page = readFileSync(join(__dirname, 'fixtures', 'webrtc-echo.html'))
  const client = readFileSync(join(root, 'browser', 'webrtc.js'))
  const server = createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page)
    else if (req.url === '/webrtc.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(client)
    else if (req.url === '/refuse') res.writeHead(403, { 'content-type': 'text/plain' }).end('not you')
    else if (req.url === '/hang') req.resume()
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server }
}

/** Waits for the page's module script to define `window.echo`. */
async function pageReady(tab: Tab): Promise<void> {
  const deadline = Date.now() + 30_000
  while ((await tab.evaluate<string>('typeof window.echo')) !== 'function') {
    if (Date.now() > deadline) throw new Error('the page never defined window.echo')
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** What the page reports (fixtures/webrtc-echo.html). */
interface EchoResult {
  connectMs: number
  maxMessageSize: number
  rttP50Ms: number
  rttP99Ms: number
  reliableSent: number
  reliableReceived: number
  reliableInOrderAndExact: boolean
  reliableMsgPerSec: number
  textEchoed: string
  maxSizeEchoed: boolean
  tooLarge: string
  queueWriteFalseAt: number
  queueOnWritable: number
  queueInOrderAndExact: boolean
  unreliableSent: number
  unreliableRefused: number
  unreliableReceived: number
  unreliableLossPct: number
  unreliableCorrupt: number
  unreliableDuplicates: number
  closedWith: string
  afterClose: string
  seconds: number
}

const missing =
  chromium === undefined
    ? "no `chromium` on PATH; .ci/run installs Debian's"
    : cargo === undefined
      ? 'no `cargo` on PATH to build the echo example'
      : undefined
const browserTest = missing === undefined ? test.serial : test.skip
const skipped = missing === undefined ? '' : ` (skipped: ${missing})`

browserTest(`Chromium with riptide's client: ${N} reliable echoes in order and byte-exact, ${N} unreliable with loss reported, errors with codes${skipped}`, async (t) => {
  t.timeout(600_000) // the first run builds the echo example
  const started = Date.now()
  const rtc = await startServer()
  t.teardown(() => rtc.close())
  const pages = await startPageServer()
  t.teardown(() => {
    pages.server.closeAllConnections() // /hang's
    return new Promise<void>((resolve) => pages.server.close(() => resolve()))
  })
  t.timeout(120_000)

  const browser = await Browser.launch(chromium!, WEBRTC_LOOPBACK_FLAGS)
  t.teardown(() => browser.stop())
  const tab = await browser.open(pages.url, 720, 420)
  await pageReady(tab)

  const r = await tab.evaluate<EchoResult>(`window.echo(${JSON.stringify(rtc.signalUrl)}, ${N})`)
  t.log(`page result: ${JSON.stringify(r)}`)
  t.true(r.maxMessageSize >= 65_536, 'the negotiated maximum message size')
  t.is(r.reliableReceived, N)
  t.true(r.reliableInOrderAndExact, 'reliable echoes all back, in order, byte-exact')
  t.is(r.textEchoed, 'héllo ✓', 'a text message goes as UTF-8')
  t.true(r.maxSizeEchoed, 'a message of maxMessageSize bytes goes and comes back whole')
  t.is(r.tooLarge, 'ERR_MESSAGE_TOO_LARGE')
  t.true(r.queueWriteFalseAt > 0, 'write returns false past reliableHighWater (16 KiB)')
  t.true(r.queueOnWritable >= 1, 'onWritable follows once the queue drains')
  t.true(r.queueInOrderAndExact, "messages held in the client's queue go out in order, byte-exact")
  t.is(r.unreliableCorrupt, 0)
  t.is(r.unreliableDuplicates, 0)
  t.true(r.unreliableReceived > 0, 'the unreliable channel carries messages')
  t.is(r.closedWith, 'local')
  t.is(r.afterClose, 'ERR_CONN_CLOSED')

  const errors = await tab.evaluate<Record<string, string>>(`window.errors(${JSON.stringify(rtc.signalUrl)})`)
  t.deepEqual(errors, {
    refused: 'ERR_SIGNALLING 403',
    hang: 'ERR_TIMEOUT',
    unknownOption: 'ERR_INVALID_ARG_VALUE',
    badTimeout: 'ERR_INVALID_ARG_VALUE',
    notHttp: 'ERR_INVALID_ARG_VALUE',
  })

  if (process.env.RIPTIDE_SCREENSHOT === '1') {
    const png = await tab.screenshot()
    t.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')])
    writeFileSync(join(root, 'docs', 'webrtc-chromium.png'), png)
    t.log(`screenshot: docs/webrtc-chromium.png (${png.length} bytes)`)
  }
  t.log(`took ${((Date.now() - started) / 1000).toFixed(1)} s`)
})
