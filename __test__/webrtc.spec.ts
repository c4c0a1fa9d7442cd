/**
 * `webrtc://` listeners from TypeScript, against an independent WebRTC stack: the pion v4
 * client of tests/interop/webrtc (built here with `go build`; the tests are skipped, with a
 * note, without Go) signals over the listener's TCP port and echoes on both data channels
 * through a TS handler; rooms are pub/sub topics; options are validated. Signalling attached to
 * a riptide HTTP listener (`signalling: false`, `engine.webrtcAttachment()`) too.
 */
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { connect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { makePki } from './tls-certs'
import { join } from 'node:path'
import { InvalidAddressError, serve, type Conn, type RiptideError, type WebRtcAuthorizeRequest } from 'riptide'
import { buildPionPeer, haveGo, PION_PEER, serveAttached, until } from './helpers'


const goTest = haveGo ? test.serial : test.serial.skip
if (!haveGo) console.log('webrtc.spec: no Go toolchain on PATH, the pion tests are skipped')

test.before(buildPionPeer)

/** Runs the pion client to completion; resolves with its stdout lines parsed as JSON. */
function pion(args: string[], onLine?: (line: Record<string, unknown>) => void): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PION_PEER, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    const lines: Record<string, unknown>[] = []
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      let nl: number
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = JSON.parse(out.slice(0, nl)) as Record<string, unknown>
        out = out.slice(nl + 1)
        lines.push(line)
        onLine?.(line)
      }
    })
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve(lines) : reject(new Error(`webrtc-peer exited ${code}`))))
  })
}

goTest('pion echoes 10,000 messages on each channel through a TS handler; its close reaches onClose', async (t) => {
  let opened = 0
  let dropped = 0
  const closes: (string | undefined)[] = []
  const engine = await serve(
    'webrtc://127.0.0.1:0',
    {
      onOpen: () => void opened++,
      onTraffic: (conn, data) => void conn.write(data),
      onUnreliable: (conn, data) => {
        if (!conn.send(data, { reliable: false })) dropped++
      },
      onClose: (_conn, err?: RiptideError) => void closes.push(err?.code),
    },
    { webrtc: { handshakeTimeout: 5000 } },
  )
  const started = Date.now()
  const [result] = await pion(['-url', `http://127.0.0.1:${engine.port}/.rtc/offer`, '-n', '10000'])
  t.log(`pion via TS: ${JSON.stringify(result)}; dropped as congested by the server: ${dropped}; ${Date.now() - started} ms`)
  t.is(result.reliable_received, 10000)
  t.true(result.reliable_in_order_and_exact)
  t.is(result.unreliable_corrupt, 0)
  t.is(result.unreliable_duplicates, 0)
  t.true((result.unreliable_received as number) > 0)
  t.is(opened, 1)
  // pion closes its PeerConnection on exit: an orderly close, without an error.
  await until(() => closes.length === 1, 30_000)
  t.deepEqual(closes, [undefined])
  await engine.stop()
})

goTest('rooms: three pion peers subscribed to a topic each get every publish', async (t) => {
  const conns: Conn[] = []
  const engine = await serve(
    'webrtc://127.0.0.1:0',
    {
      onOpen: (conn) => {
        conn.subscribe('room')
        conns.push(conn)
      },
    },
  )
  const url = `http://127.0.0.1:${engine.port}/.rtc/offer`
  const peers = [0, 1, 2].map(() => pion(['-url', url, '-mode', 'room', '-expect', '2']))
  await until(() => conns.length === 3, 20_000)
  t.is(engine.subscriberCount('room'), 3)
  // On the unreliable channel: once per member, counted when taken. First: each pion exits
  // once the two reliable messages arrived, which under the thread driver can be before a
  // publish made after them.
  t.is(engine.publish('room', 'position', { reliable: false }), 3)
  t.is(engine.publish('room', 'hello room'), 3)
  t.is(engine.publish('room', 'second'), 3)
  for (const lines of await Promise.all(peers)) {
    t.deepEqual(lines, [{ open: true }, { room: ['hello room', 'second'] }])
  }
  await engine.stop()
})

goTest('send(…, { reliable: false }) above the maximum message size throws ERR_MESSAGE_TOO_LARGE; false when congested', async (t) => {
  const results: unknown[] = []
  const engine = await serve(
    'webrtc://127.0.0.1:0',
    {
      onOpen: (conn) => {
        try {
          conn.send(new Uint8Array(64 * 1024 + 1), { reliable: false })
        } catch (err) {
          results.push((err as RiptideError).code)
        }
        // 16 KiB high water, 4 KiB messages: some are sent, then the channel is congested.
        const outcomes = Array.from({ length: 32 }, () => conn.send(new Uint8Array(4096), { reliable: false }))
        results.push(outcomes.filter((ok) => ok).length, outcomes.filter((ok) => !ok).length)
        conn.write('done')
      },
    },
    { webrtc: { sendBuffer: 64 * 1024, unreliableHighWater: 16 * 1024 } },
  )
  const [, room] = await pion(['-url', `http://127.0.0.1:${engine.port}/.rtc/offer`, '-mode', 'room', '-expect', '1'])
  t.deepEqual(room, { room: ['done'] })
  t.is(results[0], 'ERR_MESSAGE_TOO_LARGE')
  t.true((results[1] as number) > 0, 'some unreliable sends go out')
  t.true((results[2] as number) > 0, 'past the high water they are dropped')
  await engine.stop()
})

goTest('authorize: false or a throw refuses with 403, any other value (async too) becomes conn.context before onOpen', async (t) => {
  const seen: WebRtcAuthorizeRequest[] = []
  let verdict: 'refuse' | 'throw' | 'allow' = 'refuse'
  const engine = await serve(
    'webrtc://127.0.0.1:0',
    { onOpen: (conn) => void conn.write(JSON.stringify(conn.context)) },
    {
      webrtc: {
        authorize: async (request) => {
          seen.push(request)
          await new Promise((resolve) => setTimeout(resolve, 10))
          if (verdict === 'throw') throw new Error('no')
          return verdict === 'allow' ? { user: 'ann', path: request.path } : false
        },
      },
    },
  )
  const url = `http://127.0.0.1:${engine.port}/.rtc/offer`
  const offer = (await pion(['-mode', 'offer']))[0]
  for (const v of ['refuse', 'throw'] as const) {
    verdict = v
    const refused = await fetch(`${url}?room=7`, { method: 'POST', headers: { 'x-token': 'abc' }, body: JSON.stringify(offer) })
    t.is(refused.status, 403, v)
    t.is(((await refused.json()) as { code: string }).code, 'forbidden')
  }
  t.is(engine.webrtcCounts().peers, 0)
  t.is(seen[0].path, '/.rtc/offer')
  t.is(seen[0].headers['x-token'], 'abc')
  t.is(seen[0].remoteAddress, '127.0.0.1')
  verdict = 'allow'
  const [, room] = await pion(['-url', url, '-mode', 'room', '-expect', '1'])
  t.deepEqual(room, { room: [JSON.stringify({ user: 'ann', path: '/.rtc/offer' })] })
  await engine.stop()
})

test('signalling over HTTP: CORS preflight, bad offers refused with JSON errors, unknown paths 404, a static page', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'riptide-webrtc-'))
  writeFileSync(join(dir, 'index.html'), '<h1>game</h1>')
  writeFileSync(join(dir, 'client.mjs'), 'export {}')
  // Two reactors: the listener and its signalling stay on reactor 0, the worker is not bothered.
  const engine = await serve('webrtc://127.0.0.1:0', {}, {
    reactors: 2,
    workerModule: join(__dirname, 'fixtures', 'echo-handler.ts'),
    webrtc: { path: '/signal', static: dir },
  })
  const base = `http://127.0.0.1:${engine.port}`
  const preflight = await fetch(`${base}/signal`, { method: 'OPTIONS' })
  t.is(preflight.status, 204)
  t.is(preflight.headers.get('access-control-allow-origin'), '*')
  const bad = await fetch(`${base}/signal`, { method: 'POST', body: '{"type":"offer","sdp":"v=0"}' })
  t.is(bad.status, 400)
  t.is(bad.headers.get('access-control-allow-origin'), '*')
  t.is(((await bad.json()) as { code: string }).code, 'bad_offer')
  t.is((await fetch(`${base}/signal`, { method: 'POST', body: 'x'.repeat(17 * 1024) })).status, 413)
  t.is((await fetch(`${base}/.rtc/offer`, { method: 'POST', body: '{}' })).status, 404)
  const page = await fetch(`${base}/`)
  t.is(page.status, 200)
  t.is(page.headers.get('content-type'), 'text/html; charset=utf-8')
  t.is(await page.text(), '<h1>game</h1>')
  t.is((await fetch(`${base}/client.mjs`)).headers.get('content-type'), 'text/javascript; charset=utf-8')
  t.is((await fetch(`${base}/missing.js`)).status, 404)
  t.is((await fetch(`${base}/%2e%2e/etc/passwd`)).status, 404)
  await engine.stop()
  rmSync(dir, { recursive: true })
})

test('webrtc options are validated: ERR_INVALID_ARG_VALUE for bad values and unknown keys', async (t) => {
  const bad: Record<string, unknown>[] = [
    { maxPeers: 0 },
    { maxPeers: 1.5 },
    { handshakeTimeout: -1 },
    { sendBuffer: 10 },
    { unreliableHighWater: 1 << 30 },
    { path: 'no-slash' },
    { path: '/a?b' },
    { publicAddress: 'nowhere' },
    { publicAddress: '0.0.0.0:9208' },
    { maxBody: 1 << 30 },
    { static: '/nonexistent/riptide' },
    { static: 42 },
    { authorize: 'yes' },
    { geckos: 1 },
    { geckos: true, path: '/.rtc/offer' },
    { signalling: 'no' },
    { signalling: false, static: __dirname },
    { nonsense: true },
  ]
  for (const webrtc of bad) {
    const err = await t.throwsAsync(() => serve('webrtc://127.0.0.1:0', {}, { webrtc: webrtc as never }), undefined, JSON.stringify(webrtc))
    t.is((err as RiptideError).code, 'ERR_INVALID_ARG_VALUE', JSON.stringify(webrtc))
  }
  // The unspecified address needs publicAddress: clients must be told where to send.
  const err = await t.throwsAsync(() => serve('webrtc://0.0.0.0:0', {}))
  t.is((err as RiptideError).code, 'ERR_INVALID_ARG_VALUE')
  const engine = await serve('webrtc://0.0.0.0:0', {}, { webrtc: { publicAddress: '127.0.0.1:0' } })
  t.true(engine.port > 0)
  await engine.stop()
})

/** Requests written at once on one connection (TLS with `ca`); resolves with everything read until `until` matches. */
function exchange(port: number, requests: string, until: RegExp, ca?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = ca === undefined
      ? connect(port, '127.0.0.1', () => s.write(requests))
      : tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca }, () => s.write(requests))
    let out = ''
    s.on('data', (d: Buffer) => {
      out += d.toString('latin1')
      if (until.test(out)) {
        s.destroy()
        resolve(out)
      }
    })
    s.on('error', reject)
    s.on('close', () => resolve(out))
  })
}

goTest('attached: pion signals through a codecs.http1() listener that keeps serving on the same connection, and echoes', async (t) => {
  let opened = 0
  const rtc = await serve('webrtc://127.0.0.1:0', {
    onOpen: () => void opened++,
    onTraffic: (conn, data) => void conn.write(data),
    onUnreliable: (conn, data) => void conn.send(data, { reliable: false }),
  }, { webrtc: { signalling: false } })
  const http = await serveAttached(rtc)
  // No signalling port of the listener's own.
  await t.throwsAsync(() => fetch(`http://127.0.0.1:${rtc.port}/.rtc/offer`, { method: 'POST', body: '{}' }))
  // One keep-alive connection: a page, the preflight and a bad offer pipelined, then a page.
  const pipelined = 'GET /a HTTP/1.1\r\nhost: x\r\n\r\n'
    + 'OPTIONS /.rtc/offer HTTP/1.1\r\norigin: http://x\r\n\r\n'
    + 'POST /.rtc/offer HTTP/1.1\r\ncontent-length: 28\r\n\r\n{"type":"offer","sdp":"v=0"}'
    + 'GET /b HTTP/1.1\r\n\r\n'
  const out = await exchange(http.port, pipelined, /page \/b$/)
  const statuses = [...out.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1])
  t.deepEqual(statuses, ['200', '204', '400', '200'], out)
  t.regex(out, /"code":"bad_offer"/)
  t.regex(out, /connection: keep-alive\r\n/)
  t.notRegex(out, /connection: close/)

  const started = Date.now()
  const [result] = await pion(['-url', `http://127.0.0.1:${http.port}/.rtc/offer`, '-n', '5000'])
  t.log(`pion signalled through the HTTP listener: ${JSON.stringify(result)}; ${Date.now() - started} ms`)
  t.is(result.reliable_received, 5000)
  t.true(result.reliable_in_order_and_exact)
  t.true((result.unreliable_received as number) > 0)
  t.is(opened, 1)
  await http.stop()
  await rtc.stop()
})

goTest('attached: authorize holds the offer, refuses with 403 and gives conn.context through the HTTP listener', async (t) => {
  let verdict: unknown = false
  const rtc = await serve('webrtc://127.0.0.1:0', { onOpen: (conn) => void conn.write(JSON.stringify(conn.context)) }, {
    webrtc: { signalling: false, authorize: (request) => (verdict === false ? false : { ...(verdict as object), ip: request.remoteAddress }) },
  })
  const http = await serveAttached(rtc)
  const url = `http://127.0.0.1:${http.port}/.rtc/offer`
  const offer = (await pion(['-mode', 'offer']))[0]
  const refused = await fetch(url, { method: 'POST', body: JSON.stringify(offer) })
  t.is(refused.status, 403)
  t.is(((await refused.json()) as { code: string }).code, 'forbidden')
  verdict = { user: 'bo' }
  const [, room] = await pion(['-url', url, '-mode', 'room', '-expect', '1'])
  t.deepEqual(room, { room: [JSON.stringify({ user: 'bo', ip: '127.0.0.1' })] })
  await http.stop()
  await rtc.stop()
})

test('webrtcSignal: a non-webrtc address is ERR_INVALID_ADDRESS; webrtcAttachment needs a webrtc:// listener', async (t) => {
  const rtc = await serve('webrtc://127.0.0.1:0', {}, { webrtc: { signalling: false } })
  // An http1 frame (the descriptor onTraffic gets): POST /.rtc/offer, no headers, no body.
  const field = (s: string) => [...new Uint8Array(new Uint32Array([s.length]).buffer), ...Buffer.from(s)]
  const frame = new Uint8Array([1, ...field('POST'), ...field('/.rtc/offer'), 0, 0, 0, 0, ...field('')])
  const from = { family: 'IPv4', address: '127.0.0.1', port: 1 } as const
  for (const address of [`tcp://127.0.0.1:${rtc.port}`, 'webrtc://127.0.0.1:1', 'nonsense']) {
    const err = await t.throwsAsync(() => rtc.webrtcSignal(address, frame, from), { instanceOf: InvalidAddressError }, address)
    t.is((err as RiptideError).code, 'ERR_INVALID_ADDRESS')
  }
  const notFrame = await t.throwsAsync(() => rtc.webrtcSignal(`webrtc://127.0.0.1:${rtc.port}`, new Uint8Array([1, 2]), from))
  t.is((notFrame as RiptideError).code, 'ERR_INVALID_ARG_VALUE')
  const answered = await rtc.webrtcSignal(`webrtc://127.0.0.1:${rtc.port}`, frame, from)
  t.regex(Buffer.from(answered).toString(), /^HTTP\/1\.1 411 [^]*connection: keep-alive\r\n/)
  const tcp = await serve('tcp://127.0.0.1:0', {})
  t.throws(() => tcp.webrtcAttachment(), { instanceOf: InvalidAddressError })
  t.throws(() => rtc.webrtcAttachment('webrtc://127.0.0.1:1'), { instanceOf: InvalidAddressError })
  await tcp.stop()
  await rtc.stop()
  const stopped = await t.throwsAsync(() => rtc.webrtcSignal(`webrtc://127.0.0.1:${rtc.port}`, frame, from))
  t.is((stopped as RiptideError).code, 'ERR_ENGINE_STOPPED')
})

test('attached to a tls:// codecs.http1() listener: the preflight, a bad offer and a page pipelined come back in order', async (t) => {
  const pki = makePki()
  const rtc = await serve('webrtc://127.0.0.1:0', {}, { webrtc: { signalling: false } })
  const https = await serveAttached(rtc, undefined, { tls: { cert: pki.cert, key: pki.key } })
  const out = await exchange(https.port, 'OPTIONS /.rtc/offer HTTP/1.1\r\n\r\n'
    + 'POST /.rtc/offer HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}'
    + 'GET /c HTTP/1.1\r\n\r\n', /page \/c$/, pki.ca)
  t.deepEqual([...out.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]), ['204', '400', '200'], out)
  t.regex(out, /"code":"bad_offer"/)
  await https.stop()
  await rtc.stop()
})

test('attached to codecs.http1({ websocket }): signalling on the HTTP side, in order, and a WebSocket upgrade on the same port', async (t) => {
  const rtc = await serve('webrtc://127.0.0.1:0', {}, { webrtc: { signalling: false } })
  const http = await serveAttached(rtc, undefined, { websocket: true })
  const out = await exchange(http.port, 'GET /d HTTP/1.1\r\n\r\n'
    + 'POST /.rtc/offer HTTP/1.1\r\ncontent-length: 3\r\n\r\nxyz'
    + 'GET /e HTTP/1.1\r\n\r\n', /page \/e$/)
  t.deepEqual([...out.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]), ['200', '400', '200'], out)
  const ws = await exchange(http.port, 'GET /ws HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\n'
    + 'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n', /\r\n\r\n/)
  t.regex(ws, /^HTTP\/1\.1 101 /)
  await http.stop()
  await rtc.stop()
})
