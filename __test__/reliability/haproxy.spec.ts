// A real HAProxy (Debian's package, installed by .ci/run) in front of a riptide server with
// `send-proxy-v2`: the handler must see the client's own address, not HAProxy's, over plain TCP
// and in front of a TLS listener.
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serve } from 'riptide'
import { readExactly } from '../helpers'
import { makePki } from '../tls-certs'

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => resolve(p))
    })
  })
}


/** HAProxy in TCP mode on a free port, forwarding to `backend` with `send` (its PROXY option). */
async function startHaproxy(backend: number, send: 'send-proxy' | 'send-proxy-v2') {
  const front = await freePort()
  const cfg = join(mkdtempSync(join(tmpdir(), 'riptide-haproxy-')), 'haproxy.cfg')
  writeFileSync(
    cfg,
    ['global', '  maxconn 100', 'defaults', '  mode tcp', '  timeout connect 2s', '  timeout client 10s', '  timeout server 10s', 'frontend f', `  bind 127.0.0.1:${front}`, '  default_backend b', 'backend b', `  server riptide 127.0.0.1:${backend} ${send}`, ''].join('\n'),
  )
  const haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] })
  const log: string[] = []
  haproxy.stderr.on('data', (d: Buffer) => log.push(d.toString()))
  return { front, haproxy, stderr: () => log.join('') }
}

/**
 * Dials through HAProxy until it forwards, one attempt at a time: HAProxy may not be listening
 * yet, and a second dial while the first is still handshaking would open a second backend
 * connection (a TLS handshake takes longer than a polling interval).
 */
async function dialThrough<S extends net.Socket>(dial: () => S, ready: 'connect' | 'secureConnect'): Promise<S> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const socket = dial()
    const up = await new Promise<boolean>((resolve) => {
      socket.once(ready, () => resolve(true))
      socket.once('error', () => resolve(false))
    })
    if (up) return socket
    socket.destroy()
    if (Date.now() > deadline) throw new Error('HAProxy never forwarded a connection')
    await new Promise((r) => setTimeout(r, 20))
  }
}

for (const [mode, send] of [['v2', 'send-proxy-v2'], ['v1', 'send-proxy']] as const) {
  test.serial(`HAProxy ${send} in front: onOpen sees the client's address (${mode})`, async (t) => {
    const seen: string[] = []
    const engine = await serve({ url: 'tcp://127.0.0.1:0', proxyProtocol: mode }, {
      onOpen(conn) {
        seen.push(`${conn.remoteAddress}:${conn.remotePort}`)
      },
      onTraffic(conn, data) {
        conn.write(data)
      },
    })
    const { front, haproxy, stderr } = await startHaproxy(engine.port, send)
    try {
      const client = await dialThrough(() => net.connect(front, '127.0.0.1'), 'connect')
      client.write('through haproxy')
      t.is((await readExactly(client, 15)).toString(), 'through haproxy', stderr())
      t.deepEqual(seen, [`127.0.0.1:${client.localPort}`])
      client.destroy()
    } finally {
      haproxy.kill()
      await engine.stop()
    }
  })
}

test.serial("HAProxy send-proxy-v2 in front of a TLS listener: the handshake passes through, onOpen sees the client's address", async (t) => {
  const pki = makePki()
  const seen: string[] = []
  const engine = await serve(
    { url: 'tls://127.0.0.1:0', proxyProtocol: 'v2' },
    {
      onOpen(conn) {
        seen.push(`${conn.remoteAddress}:${conn.remotePort}`)
      },
      onTraffic(conn, data) {
        conn.write(data)
      },
    },
    { tls: { cert: pki.cert, key: pki.key } },
  )
  const { front, haproxy, stderr } = await startHaproxy(engine.port, 'send-proxy-v2')
  try {
    const client = await dialThrough(() => tls.connect({ port: front, host: '127.0.0.1', ca: pki.ca, servername: 'localhost' }), 'secureConnect')
    client.write('tls through haproxy')
    t.is((await readExactly(client, 19)).toString(), 'tls through haproxy', stderr())
    t.true(client.authorized, 'the chain verified against the test CA')
    t.deepEqual(seen, [`127.0.0.1:${client.localPort}`])
    client.destroy()
  } finally {
    haproxy.kill()
    await engine.stop()
  }
})
