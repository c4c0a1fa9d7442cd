/**
 * Interop with unmodified kcp-go (v5.7.x, tests/interop/kcp-go) in compat mode: every kcptun
 * cipher × FEC {off, 10/3, 3/2} × both directions, 1 MiB byte-exact through the lossy relay at
 * 10 % loss. With FEC on, each side must rebuild lost datagrams from the other's parity:
 * kcp-go's own `DefaultSnmp.FECRecovered` and riptide's `fecRecovered` counter are both > 0.
 */
import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { connect, serve, type Conn, type CryptOptions, type FecOptions, type KcpOptions } from 'riptide'
import { randomBytes, startRelay, until } from '../helpers'

const ROOT = join(__dirname, '..', '..')
const PEER = join(ROOT, 'target', 'kcpgo-peer-modes')
const PASS = 'riptide interop passphrase'

/** kcp-go's "fast3" profile on both sides, stream mode on ours (kcp-go cuts writes at the MSS). */
const fast: KcpOptions = { nodelay: true, interval: 10, resend: 2, nc: true, sndWnd: 128, rcvWnd: 128, stream: true }
const goFast = ['--nodelay', '1', '--interval', '10', '--resend', '2', '--nc', '1', '--sndwnd', '128', '--rcvwnd', '128']

const CIPHERS = ['null', 'none', 'aes', 'aes-128', 'aes-192', 'salsa20', 'xor', 'aes-128-gcm'] as const
const FEC: [number, number][] = [
  [0, 0],
  [10, 3],
  [3, 2],
]

type Snmp = Record<string, number>

test.before(() => {
  // Always rebuilt: the flags this suite needs (--crypt, --ds) are newer than older builds.
  const built = spawnSync('go', ['build', '-o', PEER, '.'], { cwd: join(ROOT, 'tests', 'interop', 'kcp-go'), stdio: 'inherit' })
  if (built.status !== 0) throw new Error('go build of tests/interop/kcp-go failed (needs Go ≥ 1.26.2 and the module proxy)')
})

/** kcp-go's flags and riptide's options for one case. */
function mode(cipher: string, [ds, ps]: [number, number]): { go: string[]; crypt: CryptOptions; fec?: FecOptions } {
  const go = ['--crypt', cipher, '--key', PASS, '--ds', String(ds), '--ps', String(ps)]
  const crypt = { cipher, key: PASS } as CryptOptions
  return ds > 0 ? { go, crypt, fec: { dataShards: ds, parityShards: ps } } : { go, crypt }
}

/** Runs the kcp-go client to completion; resolves with its JSON result line. */
function goClient(args: string[]): Promise<{ ok: boolean; bytes: number; error?: string; snmp?: Snmp }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PEER, ['client', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.once('error', reject)
    child.once('exit', () => resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}')))
  })
}

/** Starts a kcp-go echo server; `stop` resolves with its final stats line. */
async function goServer(args: string[]): Promise<{ port: number; stop: () => Promise<{ snmp?: Snmp }> }> {
  const child = spawn(PEER, ['server', '--listen', '127.0.0.1:0', '--mode', 'echo', ...goFast, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  await until(() => out.includes('\n'), 10000)
  const { listen } = JSON.parse(out.split('\n')[0]) as { listen: string }
  const stop = () =>
    new Promise<{ snmp?: Snmp }>((resolve) => {
      child.once('exit', () => resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}')))
      child.kill('SIGTERM')
    })
  return { port: Number(listen.split(':').pop()), stop }
}

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex')

for (const cipher of CIPHERS) {
  for (const fec of FEC) {
    const label = `${cipher}, FEC ${fec[0]}/${fec[1]}`
    const m = mode(cipher, fec)

    test.serial(`kcp-go client → riptide server (${label}): 1 MiB byte-exact at 10 % loss`, async (t) => {
      let server: Conn | undefined
      const engine = await serve(
        'kcp://127.0.0.1:0',
        {
          onTraffic: (conn, data) => {
            server = conn
            conn.write(data)
          },
        },
        { kcp: fast, crypt: m.crypt, fec: m.fec },
      )
      const relay = await startRelay(engine.port, ['--loss', '0.1', '--seed', '5'])
      const result = await goClient(['--addr', `127.0.0.1:${relay.port}`, '--mode', 'echo', '--bytes', String(1 << 20), '--size', '4096', '--timeout', '90', ...goFast, ...m.go])
      t.true(result.ok, result.error)
      t.is(result.bytes, 1 << 20)
      if (fec[0] > 0) {
        t.true((result.snmp?.FECRecovered ?? 0) > 0, 'kcp-go rebuilt datagrams from riptide parity')
        t.true((server?.kcpStats().layers.fecRecovered ?? 0) > 0, 'riptide rebuilt datagrams from kcp-go parity')
      }
      await relay.stop()
      await engine.stop()
    })

    test.serial(`riptide client → kcp-go server (${label}): 1 MiB byte-exact at 10 % loss`, async (t) => {
      const go = await goServer(m.go)
      const relay = await startRelay(go.port, ['--loss', '0.1', '--seed', '6'])
      const payload = randomBytes(22, 1 << 20)
      const got: Buffer[] = []
      let received = 0
      let offset = 0
      let conn: Conn | undefined
      const pump = () => {
        while (conn !== undefined && offset < payload.length) {
          const ok = conn.write(payload.subarray(offset, offset + 4096))
          offset += 4096
          if (!ok) return
        }
      }
      conn = await connect(
        `kcp://127.0.0.1:${relay.port}`,
        {
          onTraffic(_c, data) {
            got.push(Buffer.from(data))
            received += data.length
          },
          onWritability: (_c, writable) => {
            if (writable) pump()
          },
        },
        { kcp: fast, crypt: m.crypt, fec: m.fec },
      )
      pump()
      await until(() => received >= payload.length, 90000)
      t.is(digest(Buffer.concat(got)), digest(payload))
      const recovered = conn.kcpStats().layers.fecRecovered ?? 0
      conn.close()
      await relay.stop()
      const stats = await go.stop()
      if (fec[0] > 0) {
        t.true(recovered > 0, 'riptide rebuilt datagrams from kcp-go parity')
        t.true((stats.snmp?.FECRecovered ?? 0) > 0, 'kcp-go rebuilt datagrams from riptide parity')
      }
    })
  }
}

test.serial("kcp-go's out-of-band datagrams are riptide's unreliable channel, both ways", async (t) => {
  const m = mode('salsa20', [10, 3])
  let oob = 0
  const engine = await serve(
    'kcp://127.0.0.1:0',
    {
      onTraffic: (conn, data) => void conn.write(data),
      onUnreliable: (conn, data) => {
        oob++
        conn.send(data, { reliable: false })
      },
    },
    { kcp: fast, crypt: m.crypt, fec: m.fec },
  )
  const result = await goClient(['--addr', `127.0.0.1:${engine.port}`, '--mode', 'echo', '--bytes', String(64 << 10), '--size', '4096', '--oob', '200', '--timeout', '30', ...goFast, ...m.go])
  t.true(result.ok, result.error)
  t.true(oob >= 190, `riptide got ${oob} of kcp-go's 200 out-of-band datagrams`)
  const back = (result as { oob_received?: number }).oob_received ?? 0
  t.true(back >= 190, `kcp-go got ${back} of 200 back`)
  await engine.stop()
})
