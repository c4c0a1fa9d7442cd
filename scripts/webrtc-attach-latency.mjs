// What attaching a webrtc:// listener's signalling to an HTTP listener costs a request: 2,000
// sequential CORS preflights (`OPTIONS <path>`) on one keep-alive connection to a
// codecs.http1() server that hands them to the listener (engine.webrtcAttachment()), against
// the same server answering 204 itself. Run after `npm run build`:
// `node scripts/webrtc-attach-latency.mjs` (loopback only; about 2 s).
import net from 'node:net'
import { codecs, response, serve } from '../dist/index.js'

const N = 2000

/** Sends N preflights one after another on one connection; returns µs per round trip. */
async function roundTrips(port) {
  const s = net.connect(port, '127.0.0.1')
  await new Promise((resolve) => s.once('connect', resolve))
  let seen = 0
  let waiting
  s.on('data', (d) => {
    seen += (d.toString('latin1').match(/HTTP\/1\.1 204/g) ?? []).length
    waiting?.()
  })
  const t0 = process.hrtime.bigint()
  for (let i = 1; i <= N; i++) {
    await new Promise((resolve) => {
      waiting = () => seen >= i && resolve()
      s.write('OPTIONS /.rtc/offer HTTP/1.1\r\n\r\n')
    })
  }
  s.destroy()
  return Number(process.hrtime.bigint() - t0) / 1e3 / N
}

const rtc = await serve('webrtc://127.0.0.1:0', {}, { webrtc: { signalling: false } })
const routes = rtc.webrtcAttachment()
const attached = await serve('tcp://127.0.0.1:0', {
  onTraffic(conn, frame) {
    if (routes.handles(frame)) return routes.answer(conn, frame)
    conn.write(response({ status: 404 }))
  },
}, { codec: codecs.http1() })
const plain = await serve('tcp://127.0.0.1:0', { onTraffic: (conn) => void conn.write(response({ status: 204 })) }, { codec: codecs.http1() })
console.log(`attached: ${(await roundTrips(attached.port)).toFixed(0)} µs a preflight; answered by onTraffic itself: ${(await roundTrips(plain.port)).toFixed(0)} µs (${N} sequential, one connection)`)
await attached.stop()
await plain.stop()
await rtc.stop()
