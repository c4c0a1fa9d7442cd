// Hostile peers against a real secure kcp:// listener (secure mode: Noise NK handshake, or
// IK with per-client keys; cookies under load, sessions only after the client proved its
// address), driven from raw `node:dgram` sockets. The server runs in a child process so its
// RSS is its own.
import anyTest from 'ava'
import { spawn } from 'node:child_process'
import dgram from 'node:dgram'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Client, connect, generateKeyPair, type KcpOptions } from 'riptide'
import { rng, until } from '../helpers'

// Serial: each test floods loopback; together they would measure each other.
const test = anyTest.serial

const turbo: KcpOptions = { nodelay: true, interval: 10, resend: 2, nc: true }
/** Secure mode's packet types and lengths (crates/riptide-secure/src/packet.rs). */
const INIT = 1
const INIT_LEN = 128
const RESPONSE = 2
const COOKIE_REPLY = 3
const INIT_IK = 7
const INIT_IK_LEN = 144

interface Stats {
  rss: number
  open: number
  opened: number
}

/**
 * The secure echo server of fixtures/kcp-secure-server.ts in a child process; with
 * `allowedClients` (public keys), only those clients get in (Noise IK).
 */
async function startServer(allowedClients?: Uint8Array[]) {
  const keys = generateKeyPair()
  const setup = {
    kcp: turbo,
    privateKey: Buffer.from(keys.privateKey).toString('hex'),
    allowedClients: allowedClients?.map((k) => Buffer.from(k).toString('base64')),
  }
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'fixtures', 'kcp-secure-server.ts'), JSON.stringify(setup)],
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
  let exited: number | null | undefined
  child.once('exit', (code) => (exited = code))
  return { port, publicKey: keys.publicKey, stats, alive: () => exited === undefined, stop: () => child.kill('SIGKILL') }
}

/** A raw UDP socket that counts what it sends and what it gets back. */
async function rawSocket(address = '127.0.0.1') {
  const sock = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => sock.bind(0, address, () => resolve()))
  const counts = { sent: 0, sentBytes: 0, received: 0, receivedBytes: 0 }
  /** Datagrams received by their first byte (the secure packet type). */
  const types = new Map<number, number>()
  sock.on('message', (m) => {
    counts.received++
    counts.receivedBytes += m.length
    types.set(m[0], (types.get(m[0]) ?? 0) + 1)
  })
  return {
    sock,
    counts,
    types,
    /** Sends every datagram to `port`, yielding now and then so the socket drains. */
    async sendAll(port: number, datagrams: Iterable<Buffer>) {
      let n = 0
      for (const d of datagrams) {
        sock.send(d, port, '127.0.0.1')
        counts.sent++
        counts.sentBytes += d.length
        if (++n % 100 === 0) await new Promise((r) => setImmediate(r))
      }
    },
    close: () => sock.close(),
  }
}

/**
 * Real handshake inits for `publicKey`: secure clients dial a raw socket that plays the
 * server, which keeps the first datagram from each (a 128-byte init with valid mac1; with
 * `clientKey`, a 144-byte IK init carrying the key each dial gets from it).
 */
async function captureInits(publicKey: Uint8Array, count: number, clientKey?: () => Uint8Array): Promise<Buffer[]> {
  const trap = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => trap.bind(0, '127.0.0.1', () => resolve()))
  const byPort = new Map<number, Buffer>()
  trap.on('message', (m, from) => {
    if (!byPort.has(from.port)) byPort.set(from.port, m)
  })
  const client = new Client({ onClose() {} }, { kcp: turbo, secure: { serverPublicKey: publicKey } })
  // The handshake starts with the first datagram KCP sends.
  for (let i = 0; i < count; i++) {
    const secure = clientKey === undefined ? undefined : { serverPublicKey: publicKey, clientKey: clientKey() }
    ;(await client.dial(`kcp://127.0.0.1:${trap.address().port}`, { secure })).write('x')
  }
  await until(() => byPort.size >= count, 10_000)
  await client.stop()
  trap.close()
  return [...byPort.values()]
}

/** A legit secure client (with `clientKey`, a listed one) echoes `msg` through the server. */
async function echoes(port: number, publicKey: Uint8Array, msg: string, ms = 10_000, clientKey?: Uint8Array): Promise<string> {
  const got: Buffer[] = []
  const secure = clientKey === undefined ? { serverPublicKey: publicKey } : { serverPublicKey: publicKey, clientKey }
  const conn = await connect(`kcp://127.0.0.1:${port}`, { onTraffic: (_c, d) => void got.push(Buffer.from(d)) }, { kcp: turbo, secure })
  try {
    conn.write(msg)
    await until(() => got.length > 0, ms)
    return got[0].toString()
  } finally {
    conn.close()
  }
}

test('kcp secure hostile (a): garbage, truncated, bit-flipped and forged datagrams crash nothing and open no session', async (t) => {
  const server = await startServer()
  try {
    const [init] = await captureInits(server.publicKey, 1)
    t.is(init.length, INIT_LEN)
    t.is(init[0], INIT)
    const next = rng(42)
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => (next() * 256) | 0))
    function* garbage() {
      // Random bytes of every size class, including empty and jumbo datagrams.
      for (let i = 0; i < 2000; i++) yield bytes([0, 1, 15, 16, 31, 32, 33, 127, 128, 129, 500, 1400, 9000][i % 13])
      // Every truncation of a real init.
      for (let n = 0; n < INIT_LEN; n++) yield init.subarray(0, n)
      // A real init with one bit flipped, at every bit.
      for (let bit = 0; bit < INIT_LEN * 8; bit++) {
        const d = Buffer.from(init)
        d[bit >> 3] ^= 1 << (bit & 7)
        yield d
      }
      // Forged transport packets (data, unreliable, keepalive) and server-only types, with
      // random receiver ids, counters and bodies; and each packet type with a random body.
      for (let i = 0; i < 3000; i++) {
        const d = bytes(16 + Math.floor(next() * 300))
        d[0] = [2, 3, 4, 5, 6, 0, 7, 255][i % 8]
        d[1] = i % 3
        d[2] = d[3] = 0
        yield d
      }
    }
    const attacker = await rawSocket('127.0.0.2')
    await attacker.sendAll(server.port, garbage())
    await new Promise((r) => setTimeout(r, 500))
    t.true(server.alive(), 'the server process survived')
    const s = await server.stats()
    t.is(s.opened, 0, 'no session opened')
    t.log(`sent ${attacker.counts.sent} datagrams (${attacker.counts.sentBytes} B), got back ${attacker.counts.received} (${attacker.counts.receivedBytes} B)`)
    // Bit flips in mac2 (unchecked when not under load) still make a valid init: the answer is a
    // 68-byte response, never more than the init it answers.
    t.true(attacker.counts.receivedBytes <= attacker.counts.sentBytes)
    t.is(await echoes(server.port, server.publicKey, 'still serving'), 'still serving')
    t.is((await server.stats()).opened, 1, 'only the legit client opened a session')
    attacker.close()
  } finally {
    server.stop()
  }
})

test('kcp secure hostile (b, c): a flood of real handshake inits keeps RSS bounded, never amplifies, and a legit client still gets in', async (t) => {
  const server = await startServer()
  try {
    const inits = await captureInits(server.publicKey, 20)
    t.is(inits.length, 20)
    t.is(await echoes(server.port, server.publicKey, 'warm up'), 'warm up')
    const before = (await server.stats()).rss
    // 64 attacker sockets (other ports, addresses 127.0.0.2 and .3) replay the 20 real inits
    // for 3 s: every init is valid (mac1 binds the server key, not the address), so the server
    // answers them and keeps pending handshakes until its table fills, then sends cookies.
    const attackers = await Promise.all(Array.from({ length: 64 }, (_, i) => rawSocket(i % 2 === 0 ? '127.0.0.2' : '127.0.0.3')))
    const start = Date.now()
    let legit = 0
    while (Date.now() - start < 3000) {
      await Promise.all(attackers.map((a) => a.sendAll(server.port, inits)))
      await new Promise((r) => setTimeout(r, 10))
    }
    // A real client during the flood's aftermath (the server is under load: cookies).
    const during = echoes(server.port, server.publicKey, 'legit', 20_000)
    await Promise.all(attackers.map((a) => a.sendAll(server.port, inits)))
    if ((await during) === 'legit') legit++
    await new Promise((r) => setTimeout(r, 500))
    const after = await server.stats()
    const growth = after.rss - before
    const sent = attackers.reduce((n, a) => n + a.counts.sentBytes, 0)
    const received = attackers.reduce((n, a) => n + a.counts.receivedBytes, 0)
    const datagrams = attackers.reduce((n, a) => n + a.counts.sent, 0)
    t.log(`${datagrams} inits (${sent} B) → ${received} B back; RSS ${(before / 2 ** 20).toFixed(1)} → ${(after.rss / 2 ** 20).toFixed(1)} MiB; ${after.opened} sessions opened`)
    // (b) The pending table holds at most 2048 handshakes of ≈ 1.15 KiB (≈ 2.3 MiB) plus a
    // per-IP rate table: 24 MiB leaves room for allocator and JS heap noise.
    t.true(growth < 24 * 2 ** 20, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`)
    t.true(server.alive())
    t.is(legit, 1, 'the legit client echoed during the flood')
    t.is(after.opened, 2, 'inits alone open no session (the warm-up and the legit client did)')
    // (c) No amplification towards addresses that never completed a handshake: per socket,
    // bytes back ≤ bytes sent (responses are 68 B, cookie replies 72 B, inits 128 B).
    for (const a of attackers) t.true(a.counts.receivedBytes <= a.counts.sentBytes, JSON.stringify(a.counts))
    t.true(received > 0, 'the server did answer (responses or cookies)')
    t.is(await echoes(server.port, server.publicKey, 'after'), 'after')
    for (const a of attackers) a.close()
  } finally {
    server.stop()
  }
})

test('kcp secure hostile (d): with per-client keys, forged, garbled and unlisted-key IK inits get zero replies and open no session', async (t) => {
  const alice = generateKeyPair()
  const server = await startServer([alice.publicKey])
  try {
    // Valid-shape inits (mac1 right, Noise message right) from 100 random, unlisted keys.
    const unlisted = await captureInits(server.publicKey, 100, () => generateKeyPair().privateKey)
    t.is(unlisted.length, 100)
    t.true(unlisted.every((d) => d.length === INIT_IK_LEN && d[0] === INIT_IK))
    t.is(await echoes(server.port, server.publicKey, 'warm up', 10_000, alice.privateKey), 'warm up')
    const before = (await server.stats()).rss
    const next = rng(7)
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => (next() * 256) | 0))
    function* forged() {
      // Random 144-byte IK inits: header right (type 7, a non-zero tag), body and macs random.
      for (let i = 0; i < 3000; i++) {
        const d = bytes(INIT_IK_LEN)
        d[0] = INIT_IK
        d[1] = d[2] = d[3] = 0
        d[4] |= 1
        yield d
      }
      // Every bit of an unlisted init flipped (flips in mac2 leave a valid init: still unlisted).
      for (const init of unlisted.slice(0, 2)) {
        for (let bit = 0; bit < INIT_IK_LEN * 8; bit++) {
          const d = Buffer.from(init)
          d[bit >> 3] ^= 1 << (bit & 7)
          yield d
        }
      }
      // Every truncation and a few extensions of an unlisted init, and NK inits (128 bytes).
      for (let n = 0; n < INIT_IK_LEN + 8; n++) yield Buffer.concat([unlisted[0], Buffer.alloc(8)]).subarray(0, n)
      for (let i = 0; i < 500; i++) {
        const d = bytes(INIT_LEN)
        d[0] = INIT
        yield d
      }
    }
    const attacker = await rawSocket('127.0.0.2')
    await attacker.sendAll(server.port, forged())
    // The unlisted inits, 20 rounds, paced under the server's load threshold (1000
    // handshakes a second): each costs a Diffie-Hellman, and above it the server answers
    // inits with stateless cookies before it can know the key (as WireGuard; see below).
    for (let round = 0; round < 20; round++) {
      await attacker.sendAll(server.port, unlisted)
      await new Promise((r) => setTimeout(r, 250))
    }
    await new Promise((r) => setTimeout(r, 500))
    t.true(server.alive(), 'the server process survived')
    const after = await server.stats()
    const growth = after.rss - before
    t.log(`sent ${attacker.counts.sent} datagrams (${attacker.counts.sentBytes} B), got back ${attacker.counts.received}; RSS ${(before / 2 ** 20).toFixed(1)} → ${(after.rss / 2 ** 20).toFixed(1)} MiB`)
    t.is(attacker.counts.received, 0, 'not one reply')
    t.is(after.opened, 1, 'no session but the warm-up')
    t.true(growth < 16 * 2 ** 20, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`)

    // Above the load threshold: a flood of unlisted inits from 16 sockets gets stateless cookie
    // replies at most (72 bytes, smaller than the init), never a handshake response or a session.
    const flooders = await Promise.all(Array.from({ length: 16 }, () => rawSocket('127.0.0.3')))
    const start = Date.now()
    while (Date.now() - start < 2000) await Promise.all(flooders.map((f) => f.sendAll(server.port, unlisted)))
    await new Promise((r) => setTimeout(r, 500))
    for (const f of flooders) {
      t.is(f.types.get(RESPONSE), undefined, 'no handshake response to an unlisted key')
      t.true([...f.types.keys()].every((type) => type === COOKIE_REPLY), JSON.stringify([...f.types]))
      t.true(f.counts.receivedBytes <= f.counts.sentBytes)
      f.close()
    }
    t.log(`flood: ${flooders.reduce((n, f) => n + f.counts.sent, 0)} unlisted inits → ${flooders.reduce((n, f) => n + f.counts.received, 0)} cookie replies`)
    t.is((await server.stats()).opened, 1)
    t.is(await echoes(server.port, server.publicKey, 'still serving', 20_000, alice.privateKey), 'still serving')
    t.is((await server.stats()).opened, 2, 'only the listed client opened sessions')
    attacker.close()
  } finally {
    server.stop()
  }
})
