/**
 * Interop with an independent KCP: kcp-go (Go module, plain KCP: no block cipher, no FEC)
 * against riptide's `kcp://` server and client, directly and through the lossy relay. The Go
 * program is ours (tests/interop/kcp-go) and is built here with `go build`.
 */
import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { connect, serve, type Conn, type KcpOptions } from 'riptide'
import { randomBytes, startRelay, until } from '../helpers'

const ROOT = join(__dirname, '..', '..')
const PEER = join(ROOT, 'target', 'kcpgo-peer')

/** kcp-go's "fast3" profile on both sides (nodelay, 10 ms, resend 2, no cwnd). */
const fast: KcpOptions = { nodelay: true, interval: 10, resend: 2, nc: true, sndWnd: 128, rcvWnd: 128 }
const goFast = ['--nodelay', '1', '--interval', '10', '--resend', '2', '--nc', '1', '--sndwnd', '128', '--rcvwnd', '128']

test.before(() => {
  if (existsSync(PEER)) return
  const built = spawnSync('go', ['build', '-o', PEER, '.'], { cwd: join(ROOT, 'tests', 'interop', 'kcp-go'), stdio: 'inherit' })
  if (built.status !== 0) throw new Error('go build of tests/interop/kcp-go failed (needs Go and the module proxy)')
})

/** Runs the kcp-go client to completion; resolves with its JSON result line. */
function goClient(args: string[]): Promise<{ ok: boolean; bytes: number; error?: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PEER, ['client', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.once('error', reject)
    child.once('exit', () => resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}')))
  })
}

/** Starts a kcp-go server; resolves with its port and a stop function. */
async function goServer(mode: 'echo' | 'sink'): Promise<{ port: number; stop: () => void }> {
  const child = spawn(PEER, ['server', '--listen', '127.0.0.1:0', '--mode', mode, ...goFast], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    child.once('error', reject)
    child.stdout.once('data', (d: Buffer) => resolve(d.toString()))
  })
  const { listen } = JSON.parse(line.split('\n')[0]) as { listen: string }
  return { port: Number(listen.split(':').pop()), stop: () => child.kill('SIGTERM') }
}

for (const loss of [0, 0.1]) {
  test.serial(`kcp-go client → riptide kcp:// echo server, 1 MiB byte-exact, ${loss * 100} % loss`, async (t) => {
    const engine = await serve('kcp://127.0.0.1:0', { onTraffic: (conn, data) => void conn.write(data) }, { kcp: fast })
    const relay = loss > 0 ? await startRelay(engine.port, ['--loss', String(loss), '--seed', '3']) : undefined
    const port = relay?.port ?? engine.port
    const result = await goClient(['--addr', `127.0.0.1:${port}`, '--mode', 'echo', '--bytes', String(1 << 20), '--size', '4096', '--timeout', '60', ...goFast])
    t.true(result.ok, result.error)
    t.is(result.bytes, 1 << 20)
    await relay?.stop()
    await engine.stop()
  })

  test.serial(`riptide kcp:// client → kcp-go echo server, 1 MiB byte-exact, ${loss * 100} % loss`, async (t) => {
    const server = await goServer('echo')
    const relay = loss > 0 ? await startRelay(server.port, ['--loss', String(loss), '--seed', '4']) : undefined
    const port = relay?.port ?? server.port
    const got: Buffer[] = []
    let received = 0
    const payload = randomBytes(21, 1 << 20)
    let offset = 0
    let conn: Conn | undefined
    // Write as the send window allows: write() → false, then onWritability true.
    const pump = () => {
      while (conn !== undefined && offset < payload.length) {
        const ok = conn.write(payload.subarray(offset, offset + 4096))
        offset += 4096
        if (!ok) return
      }
    }
    conn = await connect(
      `kcp://127.0.0.1:${port}`,
      {
        onTraffic(_c, data) {
          got.push(Buffer.from(data))
          received += data.length
        },
        onWritability: (_conn, writable) => {
          if (writable) pump()
        },
      },
      // kcp-go delivers a byte stream (it cuts writes at the MSS): stream mode on our side too.
      { kcp: { ...fast, stream: true } },
    )
    pump()
    await until(() => received >= payload.length, 60000)
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex')
    t.is(digest(Buffer.concat(got)), digest(payload))
    conn.close()
    await relay?.stop()
    server.stop()
  })
}
