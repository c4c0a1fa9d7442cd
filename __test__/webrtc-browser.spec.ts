// riptide's browser WebRTC client (browser/webrtc.js) in a real browser: headless Chromium
// (Debian's `chromium`, with the loopback WebRTC flags) loads a page from a node:http server,
// which also serves the client; the page connects to a riptide `webrtc://` echo engine with the client,
// echoes 1,000 reliable messages (all back, in order, byte-exact, plus a text one and one of
// the maximum size) and 1,000 unreliable ones (loss reported, no corruption or duplicates),
// drives the client's own reliable queue with a second peer (16 KiB high water), checks the
// client's errors, and hands its results back through Runtime.evaluate.
// RIPTIDE_SCREENSHOT=1 writes the page to docs/webrtc-chromium.png.

import test from 'ava'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { serve } from 'riptide'
import { Browser, CHROMIUM_MISSING, findChromium, WEBRTC_LOOPBACK_FLAGS, type Tab } from './cdp'

const root = join(__dirname, '..')
const chromium = findChromium()
const N = 1000

/** A WebRTC server for the page: the origin its signalling is on, and how to stop it. */
interface RtcServer {
  /** `http://host:port`; the client POSTs its offer to `/.rtc/offer` there. */
  signalUrl: string
  close(): Promise<void>
}

/**
 * The server under test: a riptide engine with a `webrtc://` listener on an ephemeral port
 * (signalling on TCP, data on UDP of the same port) whose handler echoes both channels.
 */
async function startServer(): Promise<RtcServer> {
  const engine = await serve('webrtc://127.0.0.1:0', {
    onTraffic: (conn, data) => void conn.write(data),
    onUnreliable: (conn, data) => void conn.send(data, { reliable: false }),
  })
  return { signalUrl: `http://127.0.0.1:${engine.port}`, close: async () => void (await engine.stop()) }
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

const missing = CHROMIUM_MISSING
const browserTest = missing === undefined ? test.serial : test.skip
const skipped = missing === undefined ? '' : ` (skipped: ${missing})`

browserTest(`Chromium with riptide's client: ${N} reliable echoes in order and byte-exact, ${N} unreliable with loss reported, errors with codes${skipped}`, async (t) => {
  t.timeout(120_000)
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
