// The stock geckos.io client (`@geckos.io/client` 3.x, unchanged) in headless Chromium against
// the WebRTC endpoint in geckos mode: `examples/webrtc_echo.rs -- … --geckos` of
// crates/riptide-webrtc (a std-socket driver), and riptide's reactor (below). The page
// is served from another origin, so CORS preflights are exercised too. The client connects
// (its Authorization header comes back in userData; `deny` is refused with 401), and an emit,
// a `reliable: true` emit (repeated 10 times each way, delivered once) and raw binary and text
// messages make the round trip; a second client alongside gets only its own echoes.
//
// The same client also runs against riptide's reactor: `serve('webrtc://…', handler, { webrtc:
// { geckos: true, authorize } })` with a TS handler that echoes emits (`conn.emit`, reliable or
// not) and raw messages (`conn.write`); `authorize` refuses `deny` (401) and its value is both
// `conn.context` and the client's `userData`. Once more with `signalling: false`, the client
// signalling through a `codecs.http1()` listener the geckos listener is attached to.
//
// Needs `chromium`, `cargo`, and `@geckos.io/client` (a devDependency, or a node_modules
// directory holding it in GECKOS_NODE_MODULES); skipped with a note otherwise.

import test, { type ExecutionContext } from 'ava'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join, normalize, sep } from 'node:path'
import { serve, type Conn } from 'riptide'
import { serveAttached } from './helpers'
import { Browser, CHROMIUM_MISSING, findChromium, WEBRTC_LOOPBACK_FLAGS } from './cdp'

const root = join(__dirname, '..')
const chromium = findChromium()
const hasCargo = spawnSync('cargo', ['--version']).status === 0

/** The node_modules directory holding @geckos.io/client, or undefined. */
function geckosModules(): string | undefined {
  const env = process.env.GECKOS_NODE_MODULES
  if (env !== undefined && existsSync(join(env, '@geckos.io', 'client', 'package.json'))) return env
  try {
    const pkg = require.resolve('@geckos.io/client/package.json', { paths: [root] })
    return dirname(dirname(dirname(pkg)))
  } catch {
    return undefined
  }
}
const modules = geckosModules()

/** The page: an import map for the client's bare imports, nothing else. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>geckos</title>
<script type="importmap">{"imports":{"@geckos.io/":"/m/@geckos.io/","@yandeu/events":"/m/@yandeu/events/lib/index.js"}}</script>
<body>geckos client test</body>`

/** Serves the page and, under /m/, the client's ES modules from `dir`. */
function servePage(dir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE)
      return
    }
    const file = normalize(join(dir, path.slice('/m/'.length)))
    if (!path.startsWith('/m/') || !file.startsWith(dir + sep) || !file.endsWith('.js') || !existsSync(file)) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file))
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

/** Builds and starts the echo example in geckos mode; resolves with its HTTP port. */
function startEcho(): Promise<{ child: ChildProcess; port: number }> {
  const built = spawnSync('cargo', ['build', '-q', '-p', 'riptide-net-webrtc', '--example', 'webrtc_echo'], { cwd: root, stdio: 'inherit' })
  if (built.status !== 0) throw new Error('could not build the echo example')
  const bin = join(root, 'target', 'debug', 'examples', 'webrtc_echo')
  const child = spawn(bin, ['127.0.0.1', '0', '0', '--geckos'], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /ready http:\/\/127\.0\.0\.1:(\d+)\S* udp \S+ geckos/.exec(out)
      if (m !== null) resolve({ child, port: Number(m[1]) })
    })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`the echo example exited (${code}): ${out}`)))
  })
}

/** What the page reports. */
interface Result {
  id: string
  userData: { authorization?: string }
  maxMessageSize: number
  chats: unknown[]
  raws: unknown[]
  /** From geckos() to onConnect: two HTTP requests, ICE, DTLS, SCTP and the DCEP open. */
  connectMs: number
  /** A reliable emit's echo (its first run each way). */
  reliableMs: number
  /** How many runs of the server's reliable echo reached the channel (the client keeps one). */
  reliableRuns: number
  /** A second client connected alongside. */
  second: { id: string; userData: { authorization?: string }; chats: unknown[] }
  /** The channel the server opened, as the browser sees it. */
  dataChannel: { label: string; ordered: boolean; maxRetransmits: number | null; negotiated: boolean }
}

/** The client's whole run, evaluated in the page. */
const run = (port: number) => `(async () => {
  const { default: geckos } = await import('/m/@geckos.io/client/lib/index.js')
  const wait = (ms) => new Promise((r) => setTimeout(r, ms))
  const until = async (what, ok) => {
    for (let i = 0; i < 200; i++) { if (ok()) return; await wait(50) }
    throw new Error('timed out waiting for ' + what)
  }
  const denied = geckos({ url: 'http://127.0.0.1', port: ${port}, authorization: 'deny' })
  const refusal = await new Promise((resolve) => denied.onConnect((e) => resolve(e ? String(e.status ?? e.message) : 'connected')))
  if (refusal !== '401') throw new Error('deny was not refused with 401: ' + refusal)

  const channel = geckos({ url: 'http://127.0.0.1', port: ${port}, authorization: 'token-1' })
  const t0 = performance.now()
  await new Promise((resolve, reject) => {
    channel.onConnect((e) => (e ? reject(new Error('connect: ' + (e.message ?? e.status))) : resolve()))
  })
  const connectMs = Math.round(performance.now() - t0)
  const dc = channel.peerConnection.dataChannel
  const dataChannel = { label: dc.label, ordered: dc.ordered, maxRetransmits: dc.maxRetransmits, negotiated: dc.negotiated }
  const chats = []
  const raws = []
  // Every run of the server's reliable echo, before the client's dedup.
  let reliableRuns = 0
  dc.addEventListener('message', (e) => { if (typeof e.data === 'string' && e.data.includes('reliable-1')) reliableRuns++ })
  channel.on('chat', (d) => chats.push(d))
  channel.onRaw((d) => raws.push(d instanceof ArrayBuffer ? Array.from(new Uint8Array(d)) : d))
  channel.emit('chat', { text: 'hello', n: 1 })
  await until('the emit echo', () => chats.length >= 1)
  channel.emit('chat', 'reliable-1', { reliable: true })
  const t1 = performance.now()
  await until('the reliable echo', () => chats.length >= 2)
  const reliableMs = Math.round(performance.now() - t1)
  // 10 runs 150 ms apart each way: wait them out, so any duplicate would have arrived.
  await wait(3500)
  channel.raw.emit(new Uint8Array([1, 2, 3]))
  channel.raw.emit('raw text')
  await until('the raw echoes', () => raws.length >= 2)
  // A second client at once: its own peer, its own echoes.
  const other = geckos({ url: 'http://127.0.0.1', port: ${port}, authorization: 'token-2' })
  await new Promise((resolve, reject) => other.onConnect((e) => (e ? reject(new Error('second connect')) : resolve())))
  const otherChats = []
  other.on('chat', (d) => otherChats.push(d))
  other.emit('chat', 'from the second')
  await until('the second echo', () => otherChats.length >= 1)
  await wait(200)
  const second = { id: other.id, userData: other.userData, chats: otherChats }
  other.close()
  const result = { reliableRuns, second, id: channel.id, userData: channel.userData, maxMessageSize: channel.maxMessageSize, chats, raws, connectMs, reliableMs, dataChannel }
  channel.close()
  return result
})()`

const missing =
  chromium === undefined
    ? CHROMIUM_MISSING
    : !hasCargo
      ? 'no `cargo`'
      : modules === undefined
        ? 'no @geckos.io/client (npm install -D @geckos.io/client@3, or set GECKOS_NODE_MODULES)'
        : undefined
const browserTest = missing === undefined ? test.serial : test.skip
const skipped = missing === undefined ? '' : ` (skipped: ${missing})`

browserTest(`the stock @geckos.io/client in Chromium connects to geckos mode and its emit, reliable emit and raw echo${skipped}`, async (t) => {
  const echo = await startEcho()
  t.teardown(() => {
    echo.child.kill('SIGKILL')
  })
  const page = await servePage(modules!)
  t.teardown(() => new Promise<void>((resolve) => page.close(() => resolve())))
  const browser = await Browser.launch(chromium!, WEBRTC_LOOPBACK_FLAGS)
  t.teardown(() => browser.stop())

  const tab = await browser.open(`http://127.0.0.1:${(page.address() as AddressInfo).port}/`, 400, 300)
  for (let i = 0; i < 100 && (await tab.evaluate<string>('document.readyState')) !== 'complete'; i++) {
    await new Promise((r) => setTimeout(r, 50))
  }
  const result = await tab.evaluate<Result>(run(echo.port))
  t.log(`connect ${result.connectMs} ms, reliable echo ${result.reliableMs} ms, maxMessageSize ${result.maxMessageSize}`)
  t.regex(result.id, /^[0-9A-Za-z]{24}$/)
  t.deepEqual(result.userData, { authorization: 'token-1' })
  t.true(result.maxMessageSize > 0)
  // geckos's channel: opened in-band by the server, unordered, no retransmissions.
  t.deepEqual(result.dataChannel, { label: 'geckos.io', ordered: false, maxRetransmits: 0, negotiated: false })
  // The plain emit once, the reliable one once (deduplicated at both ends), nothing more.
  t.deepEqual(result.chats, [{ text: 'hello', n: 1 }, 'reliable-1'])
  t.deepEqual(result.second.userData, { authorization: 'token-2' })
  t.not(result.second.id, result.id)
  t.deepEqual(result.second.chats, ['from the second'], "only its own echo, not the first client's")
  t.deepEqual(
    result.raws.map((r) => JSON.stringify(r)).sort(),
    [JSON.stringify([1, 2, 3]), JSON.stringify('raw text')].sort(),
  )
})

/** Runs the client's page against the geckos listener on `port`. */
async function runClient(port: number): Promise<Result> {
  const page = await servePage(modules!)
  const browser = await Browser.launch(chromium!, WEBRTC_LOOPBACK_FLAGS)
  try {
    const tab = await browser.open(`http://127.0.0.1:${(page.address() as AddressInfo).port}/`, 400, 300)
    for (let i = 0; i < 100 && (await tab.evaluate<string>('document.readyState')) !== 'complete'; i++) {
      await new Promise((r) => setTimeout(r, 50))
    }
    return await tab.evaluate<Result>(run(port))
  } finally {
    await browser.stop()
    await new Promise<void>((resolve) => page.close(() => resolve()))
  }
}

/** A geckos message as riptide hands it over: an emit `{"<event>":data}`, or raw bytes. */
function asEmit(data: Uint8Array): [string, unknown] | undefined {
  try {
    const v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data)) as unknown
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined
    const keys = Object.keys(v)
    return keys.length === 1 ? [keys[0], (v as Record<string, unknown>)[keys[0]]] : undefined
  } catch {
    return undefined
  }
}

const browserOnly = chromium !== undefined && modules !== undefined ? test.serial : test.skip

/**
 * The stock client against `serve('webrtc://…', h, { webrtc: { geckos: true, authorize } })`;
 * `attached`: with `signalling: false`, its routes served by a `codecs.http1()` listener
 * (`engine.webrtcAttachment()`) that the client connects to instead.
 */
async function againstRiptide(t: ExecutionContext, attached: boolean): Promise<void> {
  const contexts: unknown[] = []
  const received: string[] = []
  const engine = await serve(
    'webrtc://127.0.0.1:0',
    {
      onOpen: (conn: Conn) => void contexts.push(conn.context),
      onTraffic: (conn: Conn, data: Uint8Array) => {
        const emit = asEmit(data)
        if (emit === undefined) {
          received.push(`raw ${JSON.stringify(Array.from(data))}`)
          conn.write(data)
          return
        }
        const [event, value] = emit
        received.push(`emit ${event} ${JSON.stringify(value)}`)
        // A reliable emit is echoed reliably (Rust's timer repeats it), the others plainly.
        const reliable = typeof value === 'string' && value.startsWith('reliable')
        conn.emit(event, value, { reliable })
      },
    },
    {
      webrtc: {
        geckos: true,
        signalling: !attached,
        authorize: (request) => (request.headers.authorization === 'deny' ? false : { authorization: request.headers.authorization }),
      },
    },
  )
  t.teardown(() => engine.stop())
  let port = engine.port
  if (attached) {
    const http = await serveAttached(engine)
    t.teardown(() => http.stop())
    port = http.port
  }
  const result = await runClient(port)
  t.log(`riptide${attached ? ' (attached to an HTTP listener)' : ''}: connect ${result.connectMs} ms, reliable echo ${result.reliableMs} ms, maxMessageSize ${result.maxMessageSize}`)
  t.regex(result.id, /^[0-9A-Za-z]{24}$/)
  t.deepEqual(result.userData, { authorization: 'token-1' })
  t.deepEqual(result.dataChannel, { label: 'geckos.io', ordered: false, maxRetransmits: 0, negotiated: false })
  // Client → handler: each emit once (the reliable one's 10 runs deduplicated), raw as bytes.
  t.deepEqual(received.filter((r) => r.startsWith('emit chat "reliable')), ['emit chat "reliable-1"'])
  // (Rust's JSON sorts an object's keys.)
  t.true(received.includes('emit chat {"n":1,"text":"hello"}'), received.join('\n'))
  t.true(received.includes('raw [1,2,3]'))
  t.true(received.includes(`raw ${JSON.stringify(Array.from(Buffer.from('raw text')))}`))
  // Handler → client: the plain and the reliable emit once each; raw always binary.
  t.deepEqual(result.chats, [{ text: 'hello', n: 1 }, 'reliable-1'])
  // The reliable echo's 10 runs, 150 ms apart, came from the listener's timing-wheel entry.
  t.is(result.reliableRuns, 10)
  t.deepEqual(
    result.raws.map((r) => JSON.stringify(r)).sort(),
    [JSON.stringify([1, 2, 3]), JSON.stringify(Array.from(Buffer.from('raw text')))].sort(),
  )
  t.deepEqual(result.second.userData, { authorization: 'token-2' })
  t.deepEqual(result.second.chats, ['from the second'])
  t.deepEqual(contexts, [{ authorization: 'token-1' }, { authorization: 'token-2' }])
}

browserOnly('the stock @geckos.io/client in Chromium against serve(webrtc://, { geckos: true }): emit, reliable emit once, raw both ways, authorize', (t) => againstRiptide(t, false))

browserOnly('the stock @geckos.io/client in Chromium signals through a codecs.http1() listener the geckos listener is attached to', (t) => againstRiptide(t, true))
