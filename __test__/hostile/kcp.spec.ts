// Hostile peers against a real kcp:// listener, driven from raw `node:dgram` sockets (security
// issue items 3, 4 and 15). The server runs in a child process so its RSS is its own.
import test from 'ava'
import { spawn } from 'node:child_process'
import dgram from 'node:dgram'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { connect, serve, type KcpOptions } from 'riptide'
import { until } from '../helpers'

const turbo: KcpOptions = { nodelay: true, interval: 10, resend: 2, nc: true }
const MSS = 1400 - 24

interface Stats {
  rss: number
  open: number
  byIp: Record<string, number>
}

/** The echo server of fixtures/kcp-server.ts in a child process. */
async function startServer(kcp: KcpOptions) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'fixtures', 'kcp-server.ts'), JSON.stringify(kcp)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const lines = createInterface({ input: child.stdout })
  const waiting: ((line: string) => void)[] = []
  lines.on('line', (line) => waiting.shift()?.(line))
  const next = () => new Promise<string>((resolve) => waiting.push(resolve))
  const port = Number((await next()).split(' ')[1])
  const stats = async (): Promise<Stats> => {
    const line = next()
    child.stdin.write('stats\n')
    return JSON.parse((await line).slice('stats '.length)) as Stats
  }
  return { port, stats, stop: () => child.kill('SIGKILL') }
}

/** A KCP segment header and payload (little-endian, ikcp layout). */
function segment(conv: number, sn: number, payload: Buffer, len = payload.length): Buffer {
  const h = Buffer.alloc(24)
  h.writeUInt32LE(conv, 0)
  h[4] = 81 // PUSH
  h.writeUInt16LE(128, 6)
  h.writeUInt32LE(sn >>> 0, 12)
  h.writeUInt32LE(len >>> 0, 20)
  return Buffer.concat([h, payload])
}

/** Sends every datagram, yielding to the event loop now and then so the socket drains. */
async function sendAll(sock: dgram.Socket, port: number, datagrams: Iterable<Buffer>) {
  let n = 0
  for (const d of datagrams) {
    sock.send(d, port, '127.0.0.1')
    if (++n % 200 === 0) await new Promise((r) => setImmediate(r))
  }
  await new Promise((r) => setTimeout(r, 50))
}

/** A real riptide KCP client echoes `msg` through the server. */
async function echoes(port: number, msg: string): Promise<string> {
  const got: Buffer[] = []
  const conn = await connect(`kcp://127.0.0.1:${port}`, { onTraffic: (_c, d) => void got.push(Buffer.from(d)) }, { kcp: turbo })
  conn.write(msg)
  await until(() => got.length > 0, 10000)
  conn.close()
  return got[0].toString()
}

function bind(address: string): Promise<dgram.Socket> {
  const sock = dgram.createSocket('udp4')
  return new Promise((resolve) => sock.bind(0, address, () => resolve(sock)))
}

test('kcp hostile (3): oversize out-of-order segments from 50 convs keep the server RSS bounded', async (t) => {
  const server = await startServer(turbo)
  try {
    t.is(await echoes(server.port, 'warm up'), 'warm up')
    const before = (await server.stats()).rss
    const attacker = await bind('127.0.0.1')
    // 50 convs on one socket, each opened by sn 0, then 127 segments out of order (sn 1
    // never comes): before the fix each could hold ~60 KB; now segments over the MSS are
    // dropped and the rest are bounded by rcv_wnd × mss per session.
    function* attack(payload: number) {
      const body = Buffer.alloc(payload, 0xab)
      for (let conv = 1; conv <= 50; conv++) {
        yield segment(conv, 0, Buffer.from('x'))
        for (let sn = 2; sn < 129; sn++) yield segment(conv, sn, body)
      }
    }
    const start = Date.now()
    while (Date.now() - start < 3000) {
      await sendAll(attacker, server.port, attack(60_000))
      // MSS-sized ones are valid and get buffered: the bound that remains.
      await sendAll(attacker, server.port, attack(MSS))
    }
    const after = await server.stats()
    const growth = after.rss - before
    // The application reads in-order data at once, so each session buffers at most rcv_wnd
    // (128) out-of-order segments of one MSS: 50 × 128 × 1376 ≈ 8.8 MB (2 × that if it were
    // paused). Measured here: ~9 MiB with the fix, ~90 MiB without (more on a faster sender:
    // 390 MB in the report), so 40 MiB leaves room for allocator and JS heap noise.
    const bound = 40 * 1024 * 1024
    t.log(`RSS ${(before / 2 ** 20).toFixed(1)} → ${(after.rss / 2 ** 20).toFixed(1)} MiB, ${after.open} sessions open`)
    t.true(growth < bound, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`)
    t.is(await echoes(server.port, 'still echoing'), 'still echoing')
    attacker.close()
  } finally {
    server.stop()
  }
})

test('kcp hostile (4): one datagram per conv from one socket cannot fill the table', async (t) => {
  const server = await startServer(turbo)
  try {
    // The attacker is 127.0.0.2, the real client 127.0.0.1: other addresses, as on the Internet.
    const attacker = await bind('127.0.0.2')
    function* openers(from: number, count: number) {
      for (let conv = from; conv < from + count; conv++) yield segment(conv, 0, Buffer.from('!'))
    }
    let echoed = 0
    for (let round = 0; round < 3; round++) {
      await sendAll(attacker, server.port, openers(1, 20_000)) // the same convs, refreshed
      await sendAll(attacker, server.port, openers(100_000 + round * 20_000, 20_000)) // new ones
      const s = await server.stats()
      t.true((s.byIp['127.0.0.2'] ?? 0) <= 64, `attacker holds ${s.byIp['127.0.0.2']} sessions`)
      if ((await echoes(server.port, `round ${round}`)) === `round ${round}`) echoed++
    }
    t.is(echoed, 3)
    // A client from the attacker's own address still gets in: the attacker's unconfirmed
    // sessions make room for it.
    await sendAll(attacker, server.port, openers(1, 5_000))
    const sameIp = await bind('127.0.0.2')
    const got: Buffer[] = []
    sameIp.on('message', (m) => got.push(m))
    sameIp.send(segment(0xabcdef, 0, Buffer.from('me too')), server.port, '127.0.0.1')
    await until(() => got.some((m) => m.length > 24 && m[4] === 81), 5000)
    t.true((await server.stats()).byIp['127.0.0.2'] <= 64)
    sameIp.close()
    attacker.close()
  } finally {
    server.stop()
  }
})

test('kcp hostile (15): readBufferCap below kcp.mtu carries full segments (datagrams are read whole)', async (t) => {
  const server = await serve('kcp://127.0.0.1:0', { onTraffic: (conn, data) => void conn.write(data) }, { readBufferCap: 1024, kcp: { mtu: 1400 } })
  const message = Buffer.alloc(4000, 5)
  const got = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo')), 10_000)
    void connect(`kcp://127.0.0.1:${server.port}`, {
      onOpen: (conn) => void conn.write(message),
      onTraffic(conn, data) {
        clearTimeout(timer)
        resolve(data.length)
        conn.close()
      },
    }, { readBufferCap: 1024 })
  })
  t.is(got, message.length, 'three full 1400-byte segments each way, through 1 KiB read buffers')
  await server.stop()
})
