// Hostile input against a running webrtc:// listener served from TypeScript: random and
// truncated STUN/DTLS/SCTP-looking datagrams on its UDP port, bad signalling on its TCP port
// (bad SDP, oversize bodies, garbage HTTP, oversize heads, connections that never send a
// request), and 1,000 real offers whose peers never run ICE. The listener keeps serving (a
// pion echo works after), the half-open peers expire on the timing wheel, and RSS is printed
// and bounded. The same bad signalling through an HTTP listener the listener is attached to
// gets the same 4xx, and that server keeps serving. Needs Go for the pion client (skipped, with
// a note, without it).
import anyTest from 'ava'
import { spawn } from 'node:child_process'
import dgram from 'node:dgram'
import net from 'node:net'
import { parseRequest, response, serve, type RiptideError } from 'riptide'
import { buildPionPeer, haveGo, page, PION_PEER, rng, serveAttached, until } from '../helpers'

const test = haveGo ? anyTest.serial : anyTest.serial.skip
if (!haveGo) console.log('hostile/webrtc.spec: no Go toolchain on PATH, skipped')

anyTest.before(buildPionPeer)

/** The pion client's stdout. */
function pion(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PION_PEER, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`webrtc-peer exited ${code}`))))
  })
}

/** Sends raw bytes on a new TCP connection; resolves with all the server answered. */
function raw(port: number, bytes: Buffer | string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes))
    let out = ''
    s.on('data', (d) => (out += d.toString()))
    s.on('error', () => resolve(out))
    s.on('close', () => resolve(out))
  })
}

function post(port: number, body: string): Promise<number> {
  return fetch(`http://127.0.0.1:${port}/.rtc/offer`, { method: 'POST', body }).then(async (r) => {
    await r.arrayBuffer()
    return r.status
  })
}

const mib = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`

test('a webrtc:// listener survives noise, bad signalling and 1,000 half-open peers, and still echoes', async (t) => {
  const engine = await serve(
    'webrtc://127.0.0.1:0',
    {
      onTraffic: (conn, data) => void conn.write(data),
      onUnreliable: (conn, data) => void conn.send(data, { reliable: false }),
    },
    { webrtc: { handshakeTimeout: 20_000, requestTimeout: 1000 } },
  )
  t.teardown(() => engine.stop())
  const port = engine.port
  const rssStart = process.memoryUsage().rss

  // 10,000 random and truncated datagrams shaped like STUN (0-3), DTLS (20-63) and noise.
  const udp = dgram.createSocket('udp4')
  t.teardown(() => udp.close())
  const r = rng(23)
  for (let i = 0; i < 10_000; i++) {
    const d = Buffer.alloc(Math.floor(r() * 1200))
    for (let j = 0; j < d.length; j++) d[j] = Math.floor(r() * 256)
    if (d.length > 0) d[0] = [0, 1, 22, 23, 20, 21][i % 6] ?? d[0]
    // STUN's magic cookie on some, so they get past the first check.
    if (i % 6 < 2 && d.length >= 8) d.writeUInt32BE(0x2112a442, 4)
    udp.send(d, port, '127.0.0.1')
    if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve))
  }

  // Bad signalling.
  t.is(await post(port, '{"type":"offer","sdp":"v=0\\r\\nm=audio 9 x"}'), 400)
  t.is(await post(port, 'not json at all'), 400)
  t.is(await post(port, '{"type":"answer","sdp":""}'), 400)
  t.is(await post(port, 'x'.repeat(20_000)), 413)
  t.regex(await raw(port, '\x16\x03\x01\x02\x00garbage\r\n\r\n'), /^HTTP\/1\.1 400/)
  t.regex(await raw(port, `GET / HTTP/1.1\r\nx: ${'a'.repeat(9000)}\r\n\r\n`), /^HTTP\/1\.1 431/)
  t.regex(await raw(port, 'POST /.rtc/offer HTTP/1.1\r\ncontent-length: 100000000\r\n\r\n'), /^HTTP\/1\.1 413/)
  // Connections that never send a request are closed after requestTimeout.
  const started = Date.now()
  const idle = await Promise.all(Array.from({ length: 200 }, () => raw(port, '')))
  t.true(idle.every((out) => out === ''))
  t.log(`200 silent signalling connections closed by the server after ${Date.now() - started} ms`)

  // 1,000 real offers whose peers never run ICE: each is answered, then expires.
  const offer = (await pion(['-mode', 'offer'])).trim()
  const posting = Date.now()
  for (let i = 0; i < 1000; i += 50) {
    const statuses = await Promise.all(Array.from({ length: 50 }, () => post(port, offer)))
    t.true(statuses.every((s) => s === 200), String(statuses))
  }
  const postedIn = Date.now() - posting
  const held = engine.webrtcCounts()
  const rssHeld = process.memoryUsage().rss
  t.log(`1,000 half-open peers (offers answered in ${postedIn} ms): ${JSON.stringify(held)}; RSS ${mib(rssStart)} → ${mib(rssHeld)}`)
  t.is(held.peers, 1000)
  t.is(held.open, 0)
  await until(() => engine.webrtcCounts().peers === 0, 40_000)
  t.log(`all expired ${Date.now() - posting} ms after the first offer (handshakeTimeout 20 s)`)
  const after = engine.webrtcCounts()
  t.deepEqual({ ...after, congested: 0 }, { peers: 0, open: 0, addresses: 0, deadlines: 0, congested: 0 })
  const rssAfter = process.memoryUsage().rss
  t.log(`after expiry: RSS ${mib(rssAfter)}`)
  t.true(rssHeld - rssStart < 512 * (1 << 20), 'memory stays bounded')

  // Still serving: a real peer echoes on both channels.
  const result = JSON.parse(await pion(['-url', `http://127.0.0.1:${port}/.rtc/offer`, '-n', '1000'])) as Record<string, unknown>
  t.is(result.reliable_received, 1000)
  t.true(result.reliable_in_order_and_exact)
})

test('attached to an HTTP listener: bad signalling gets its 4xx with codes, unknown listeners an error, and the server keeps serving', async (t) => {
  const rtc = await serve('webrtc://127.0.0.1:0', {
    onTraffic: (conn, data) => void conn.write(data),
  }, { webrtc: { signalling: false, maxBody: 4096 } })
  t.teardown(() => rtc.stop())
  const http = await serveAttached(rtc, (conn, frame) => {
    if (parseRequest(frame).path !== '/elsewhere') return page(conn, frame)
    // A listener that is not there: the error, answered by this server.
    conn.pause()
    rtc.webrtcSignal('webrtc://127.0.0.1:1', frame, conn.remote).catch((err: RiptideError) => {
      conn.end(response({ status: 404, body: JSON.stringify({ code: err.code }) }))
    })
  })
  t.teardown(() => http.stop())
  const port = http.port
  const status = (out: string) => /^HTTP\/1\.1 (\d+)/.exec(out)?.[1]
  const offer = (body: string) => `POST /.rtc/offer HTTP/1.1\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  const badSdp = await raw(port, offer('{"type":"offer","sdp":"v=0\\r\\nm=audio 9 x"}'))
  t.is(status(badSdp), '400', badSdp)
  t.regex(badSdp, /"code":"bad_offer"/)
  t.regex(badSdp, /connection: close\r\n/)
  t.regex(await raw(port, offer('not json')), /^HTTP\/1\.1 400 [^]*"code":"bad_offer"/)
  t.regex(await raw(port, offer('x'.repeat(5000))), /^HTTP\/1\.1 413 [^]*"code":"too_large"/)
  t.regex(await raw(port, `POST /.rtc/offer HTTP/1.1\r\nx: ${'a'.repeat(9000)}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`), /^HTTP\/1\.1 431 [^]*"code":"head_too_large"/)
  t.regex(await raw(port, 'POST /.rtc/offer HTTP/1.1\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n'), /^HTTP\/1\.1 411 [^]*"code":"length_required"/)
  t.regex(await raw(port, 'PUT /.rtc/offer HTTP/1.1\r\nconnection: close\r\n\r\n'), /^HTTP\/1\.1 405 [^]*"code":"method"/)
  t.regex(await raw(port, 'GET /elsewhere HTTP/1.1\r\nconnection: close\r\n\r\n'), /^HTTP\/1\.1 404 [^]*"code":"ERR_INVALID_ADDRESS"/)
  // 500 bad offers at once, pipelined 10 a connection over 50, then the server still serves pages and peers.
  const burst = await Promise.all(Array.from({ length: 50 }, () => raw(port, offer('{"type":"offer","sdp":"x"}').replace('connection: close\r\n', '').repeat(9) + offer('{}'))))
  t.true(burst.every((out) => (out.match(/HTTP\/1\.1 400 /g) ?? []).length === 10), burst[0])
  t.regex(await raw(port, 'GET /page HTTP/1.1\r\nconnection: close\r\n\r\n'), /^HTTP\/1\.1 200 [^]*page \/page$/)
  const result = JSON.parse(await pion(['-url', `http://127.0.0.1:${port}/.rtc/offer`, '-n', '1000'])) as Record<string, unknown>
  t.is(result.reliable_received, 1000)
  t.true(result.reliable_in_order_and_exact)
})
