// Hostile input against a tls:// server: garbage where a ClientHello belongs, on many
// connections, must close each of them and leave the server serving real clients.
import test from 'ava'
import net from 'node:net'
import tls from 'node:tls'
import { serve, type Conn } from 'riptide'
import { randomBytes, rng } from '../helpers'
import { makePki } from '../tls-certs'

/** Sends `bytes` on a fresh connection and waits until the server closes it; true if it did. */
function rejected(port: number, bytes: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes))
    const timer = setTimeout(() => {
      s.destroy()
      resolve(false)
    }, 5000)
    s.on('error', () => undefined)
    s.resume()
    s.on('close', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** Garbage number `i`: random bytes, or a TLS record header over a broken hello. */
function garbage(i: number): Buffer {
  const next = rng(i)
  const body = randomBytes(i, 5 + Math.floor(next() * 600))
  if (i % 2 === 0) return body
  // A handshake record (0x16, TLS 1.0-1.2 version) announcing a ClientHello that is not one.
  body[0] = 0x16
  body[1] = 3
  body[2] = 1 + (i % 3)
  body.writeUInt16BE(body.length - 5, 3)
  body[5] = 1
  return body
}

test('1000 garbage ClientHellos are each closed, and the server still serves TLS', async (t) => {
  const pki = makePki()
  const opened: Conn[] = []
  const engine = await serve(
    'tls://127.0.0.1:0',
    { onOpen: (c) => void opened.push(c), onTraffic: (c, d) => void c.write(d) },
    { tls: { cert: pki.cert, key: pki.key, handshakeTimeout: 2000 } },
  )
  let closed = 0
  for (let batch = 0; batch < 20; batch++) {
    const results = await Promise.all(Array.from({ length: 50 }, (_, k) => rejected(engine.port, garbage(batch * 50 + k))))
    closed += results.filter(Boolean).length
  }
  t.is(closed, 1000, 'every garbage connection was closed by the server')
  t.is(opened.length, 0, 'none of them opened')

  const s = tls.connect({ port: engine.port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca })
  await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))
  s.write('still here')
  const echoed = await new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())))
  t.is(echoed, 'still here')
  t.is(opened.length, 1)
  s.destroy()
  await engine.stop()
})
