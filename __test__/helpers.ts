import { spawnSync } from 'node:child_process'
import net from 'node:net'
import { join } from 'node:path'
import { codecs, parseRequest, response, serve, type Conn, type Engine, type HttpWebSocketHandler, type PeerAddr } from 'riptide'

/** tests/interop/webrtc's pion/webrtc v4 peer, as {@link buildPionPeer} builds it. */
export const PION_PEER = join(__dirname, '..', 'target', 'webrtc-peer')

/** Whether a Go toolchain is on PATH: the pion tests are skipped without one. */
export const haveGo = spawnSync('go', ['version']).status === 0

/**
 * Builds {@link PION_PEER} (a no-op when it is up to date; always run, since a stale one may
 * lack a mode). Does nothing without Go; throws when the build fails.
 */
export function buildPionPeer(): void {
  if (!haveGo) return
  const built = spawnSync('go', ['build', '-o', PION_PEER, '.'], { cwd: join(__dirname, '..', 'tests', 'interop', 'webrtc'), stdio: 'inherit' })
  if (built.status !== 0) throw new Error('go build of tests/interop/webrtc failed (needs Go and the module proxy)')
}

/** The port of an IP address (listener addresses of a test are IP ones unless it says so). */
export function portOf(a: PeerAddr | undefined): number {
  if (a === undefined || a.family === 'unix') throw new Error(`not an IP address: ${JSON.stringify(a)}`)
  return a.port
}

/** mulberry32: a small seeded PRNG so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `len` seeded random bytes. */
export function randomBytes(seed: number, len: number): Buffer {
  const next = rng(seed)
  const out = Buffer.allocUnsafe(len)
  for (let i = 0; i < len; i++) out[i] = (next() * 256) | 0
  return out
}

/** Connects to 127.0.0.1:port. */
export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
  })
}

/** Reads until `len` bytes arrived. */
export function readExactly(s: net.Socket, len: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let got = 0
    // Every listener comes off once the read settles, so a loop of reads on one socket does
    // not pile them up (MaxListenersExceededWarning).
    const settle = (outcome: () => void) => {
      s.off('data', onData)
      s.off('error', onError)
      s.off('end', onEnd)
      outcome()
    }
    const onData = (d: Buffer) => {
      chunks.push(d)
      got += d.length
      if (got >= len) settle(() => resolve(Buffer.concat(chunks)))
    }
    const onError = (err: Error) => settle(() => reject(err))
    const onEnd = () => {
      if (got < len) settle(() => reject(new Error(`ended after ${got} of ${len} bytes`)))
    }
    s.on('data', onData)
    s.on('error', onError)
    s.on('end', onEnd)
  })
}

/** Writes `data` in pieces of 1 byte to 100 kB (most small, seeded by `seed`), waiting for `drain`. */
export async function writeInRandomSplits(s: net.Socket, data: Buffer, seed: number): Promise<void> {
  const next = rng(seed)
  for (let off = 0; off < data.length; ) {
    const n = Math.min(data.length - off, 1 + Math.floor(next() ** 3 * 100_000))
    if (!s.write(data.subarray(off, off + n))) await new Promise((r) => s.once('drain', r))
    off += n
  }
}

/** Reads until the peer ends the stream. */
export function readToEnd(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    s.on('data', (d: Buffer) => chunks.push(d))
    s.once('end', () => resolve(Buffer.concat(chunks)))
    s.once('error', reject)
  })
}

/** Resolves when `cond()` holds, polling; rejects after `ms`. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Connects, then stops reading at once (the kernel buffers fill, the peer's writes stall). */
export function pausedClient(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = new net.Socket()
    s.once('error', reject)
    s.connect({ port, host: '127.0.0.1' }, () => {
      s.pause()
      resolve(s)
    })
  })
}

/** A running `riptide-relay` (crate riptide-netsim): a lossy UDP hop on loopback. */
export interface Relay {
  /** The relay's own port: point clients here. */
  port: number
  /** Stops the relay and resolves with its closing statistics line. */
  stop(): Promise<string>
}

/**
 * Starts the lossy UDP relay in front of `upstream` (127.0.0.1), building it first when it
 * is missing. `args` are extra relay flags such as `['--loss', '0.1', '--seed', '7']`.
 */
export async function startRelay(upstream: number, args: string[]): Promise<Relay> {
  const { spawn, spawnSync } = await import('node:child_process')
  const { existsSync } = await import('node:fs')
  const { join } = await import('node:path')
  const root = join(__dirname, '..')
  const bin = join(root, 'target', 'debug', 'riptide-relay')
  if (!existsSync(bin)) {
    const built = spawnSync('cargo', ['build', '-q', '-p', 'riptide-net-netsim', '--bin', 'riptide-relay'], { cwd: root, stdio: 'inherit' })
    if (built.status !== 0) throw new Error('could not build riptide-relay')
  }
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${upstream}`, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  let port = 0
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}`)))
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (port === 0 && nl >= 0) {
        const { listen } = JSON.parse(out.slice(0, nl)) as { listen: string }
        out = out.slice(nl + 1)
        port = Number(listen.split(':').pop())
        resolve()
      }
    })
  })
  child.removeAllListeners('exit')
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve(out.trim()))
        child.kill('SIGTERM')
      }),
  }
}

/** Answers an `http1` request `200 page <path>`, ending the connection when the request asks to. */
export function page(conn: Conn, frame: Uint8Array): void {
  const { path, keepAlive } = parseRequest(frame)
  const bytes = response({ body: `page ${path}` })
  if (keepAlive) conn.write(bytes)
  else conn.end(bytes)
}

/**
 * A `codecs.http1()` server on 127.0.0.1 that serves the signalling of `rtc`'s `webrtc://`
 * listener (`engine.webrtcAttachment()`) and hands every other request to `other` (default:
 * {@link page}); with `tls`, a `tls://` server with that certificate; with `websocket`,
 * `codecs.http1({ websocket })` whose `/ws` route upgrades to a WebSocket echo.
 */
export function serveAttached(
  rtc: Engine,
  other: (conn: Conn, frame: Uint8Array) => void = page,
  options: { tls?: { cert: string; key: string }; websocket?: boolean } = {},
): Promise<Engine> {
  const routes = rtc.webrtcAttachment()
  const onTraffic = (conn: Conn, frame: Uint8Array) => {
    if (routes.handles(frame)) return routes.answer(conn, frame)
    other(conn, frame)
  }
  const url = options.tls === undefined ? 'tcp://127.0.0.1:0' : 'tls://127.0.0.1:0'
  if (options.websocket === true) {
    // One port for HTTP and WebSocket: `/ws` upgrades and echoes.
    const handler: HttpWebSocketHandler = { onTraffic, websocket: { onTraffic: (ws, message) => void ws.write(message.slice()) } }
    return serve(url, handler, { codec: codecs.http1({ websocket: { routes: ['/ws'] } }), tls: options.tls })
  }
  return serve(url, { onTraffic }, { codec: codecs.http1(), tls: options.tls })
}
