// KCP part 2 from TypeScript: secure mode, kcp-go's compat crypt, FEC, the unreliable
// channel, layer counters and option validation, on real servers over loopback (through the
// lossy relay where loss matters). The engine's own tests are crates/riptide/tests/kcp_modes.rs.
import anyTest from 'ava'
import {
  CIPHER_KEY_LENGTHS,
  connect,
  generateKeyPair,
  HandshakeError,
  InvalidOptionError,
  MessageTooLargeError,
  serve,
  type Conn,
  type EventHandler,
  type KcpCipher,
  type KcpOptions,
  type ServeOptions,
} from 'riptide'
import { errorFromCode } from '../dist/lib/errors'
import { randomBytes, startRelay, until } from './helpers'

// Serial: the relay transfers are heavy for a shared 2-core machine.
const test = anyTest.serial

const turbo: KcpOptions = { nodelay: true, interval: 10, resend: 2, nc: true, sndWnd: 128, rcvWnd: 128 }
const fec = { dataShards: 10, parityShards: 3 }

/** A kcp:// server echoing both channels. */
function echoServer(options: ServeOptions, extra: EventHandler = {}) {
  return serve(
    'kcp://127.0.0.1:0',
    {
      onTraffic(conn, data) {
        conn.write(data)
      },
      onUnreliable(conn, data) {
        conn.send(data, { reliable: false })
      },
      ...extra,
    },
    { kcp: turbo, ...options },
  )
}

/** Collects what a client connection receives on each channel. */
function collector() {
  const reliable: Buffer[] = []
  const unreliable: Buffer[] = []
  const handler: EventHandler = {
    onTraffic(_conn, data) {
      reliable.push(Buffer.from(data))
    },
    onUnreliable(_conn, data) {
      unreliable.push(Buffer.from(data))
    },
  }
  const total = () => reliable.reduce((n, b) => n + b.length, 0)
  return { reliable, unreliable, handler, total }
}

/** Writes `payload` as the send window allows and waits for its echo. */
async function pumpEcho(conn: Conn, handler: EventHandler, payload: Buffer, total: () => number, ms = 90_000) {
  const chunk = 4096
  let offset = 0
  const pump = () => {
    while (offset < payload.length) {
      const ok = conn.write(payload.subarray(offset, offset + chunk))
      offset += chunk
      if (!ok) return
    }
  }
  handler.onWritability = (_conn, writable) => {
    if (writable) pump()
  }
  pump()
  await until(() => total() >= payload.length, ms)
}

for (const withFec of [false, true]) {
  test(`kcp secure${withFec ? ' + FEC 10/3' : ''}: 1 MiB echoes byte-exact through a relay losing 10 % each way`, async (t) => {
    const { publicKey, privateKey } = generateKeyPair()
    const engine = await echoServer({ secure: { privateKey }, fec: withFec ? fec : undefined })
    const relay = await startRelay(engine.port, ['--loss', '0.1', '--seed', withFec ? '21' : '12'])
    const c = collector()
    const conn = await connect(`kcp://127.0.0.1:${relay.port}`, c.handler, {
      kcp: turbo,
      secure: { serverPublicKey: publicKey },
      fec: withFec ? fec : undefined,
    })
    const payload = randomBytes(withFec ? 5 : 6, 1 << 20)
    await pumpEcho(conn, c.handler, payload, c.total)
    t.true(Buffer.concat(c.reliable).equals(payload), 'byte-exact')
    const { layers, retransmits, fastRetransmits } = conn.kcpStats()
    t.true(layers.secureOpened > 0 && layers.secureSealed > 0, JSON.stringify(layers))
    t.is(layers.secureUnauthenticated, 0)
    if (withFec) {
      t.true(layers.fecParitySent > 0, 'parity was sent')
      t.true(layers.fecRecovered > 0, `FEC rebuilt lost datagrams: ${JSON.stringify(layers)}`)
    } else {
      t.false('fecRecovered' in layers, 'no FEC counters without FEC')
    }
    t.log(`retransmits ${retransmits + fastRetransmits}, layers ${JSON.stringify(layers)}`)
    t.regex(await relay.stop(), /lost/)
    conn.close()
    await engine.stop()
  })
}

test('kcp compat: salsa20 + FEC 10/3 riptide ↔ riptide (passphrase and raw key)', async (t) => {
  for (const key of ['it is a secret', randomBytes(3, 32)]) {
    const crypt = { cipher: 'salsa20' as const, key }
    const engine = await echoServer({ crypt, fec })
    const relay = await startRelay(engine.port, ['--loss', '0.05', '--seed', '3'])
    const c = collector()
    const conn = await connect(`kcp://127.0.0.1:${relay.port}`, c.handler, { kcp: turbo, crypt, fec })
    const payload = randomBytes(8, 256 * 1024)
    await pumpEcho(conn, c.handler, payload, c.total, 60_000)
    t.true(Buffer.concat(c.reliable).equals(payload))
    t.true(conn.kcpStats().layers.fecDataShards > 0)
    await relay.stop()
    conn.close()
    await engine.stop()
  }
})

test('kcp compat: a different passphrase delivers nothing', async (t) => {
  const engine = await echoServer({ crypt: { cipher: 'aes', key: 'right' } })
  const c = collector()
  const conn = await connect(`kcp://127.0.0.1:${engine.port}`, c.handler, { kcp: turbo, crypt: { cipher: 'aes', key: 'wrong' } })
  conn.write('hello?')
  await new Promise((r) => setTimeout(r, 1000))
  t.is(c.reliable.length, 0)
  conn.destroy()
  await engine.stop()
})

test('kcp secure: a client pinning another key gets nothing through and the server opens no session', async (t) => {
  const server = generateKeyPair()
  const other = generateKeyPair()
  let opened = 0
  const engine = await echoServer({ secure: { privateKey: server.privateKey } }, { onOpen: () => void opened++ })
  const c = collector()
  let closed: unknown
  // Dials of KCP open at once (UDP has no connect handshake); the secure handshake runs under it.
  const conn = await connect(`kcp://127.0.0.1:${engine.port}`, { ...c.handler, onClose: (_conn, err) => void (closed = err) }, {
    kcp: turbo,
    secure: { serverPublicKey: other.publicKey },
  })
  conn.write('secret')
  conn.send('typing', { reliable: false })
  // The handshake gives up after ~31 s (ERR_HANDSHAKE_FAILED); two seconds show nothing passes.
  await new Promise((r) => setTimeout(r, 2000))
  t.is(c.reliable.length, 0)
  t.is(c.unreliable.length, 0)
  t.is(opened, 0, 'no session on the server')
  t.true(closed === undefined || closed instanceof HandshakeError)
  conn.destroy()
  await engine.stop()
})

for (const mode of ['secure', 'fec'] as const) {
  test(`kcp ${mode}: the unreliable channel works both ways and arrives at onUnreliable, not onTraffic`, async (t) => {
    const { publicKey, privateKey } = generateKeyPair()
    const serverGot: string[] = []
    const engine = await echoServer(mode === 'secure' ? { secure: { privateKey } } : { fec }, {
      onUnreliable(conn, data) {
        serverGot.push(Buffer.from(data).toString())
        conn.send(Buffer.concat([Buffer.from('echo:'), data]), { reliable: false })
      },
    })
    const c = collector()
    const conn = await connect(`kcp://127.0.0.1:${engine.port}`, c.handler, {
      kcp: turbo,
      ...(mode === 'secure' ? { secure: { serverPublicKey: publicKey } } : { fec }),
    })
    // The reliable channel first (for secure mode, this waits out the handshake).
    conn.send('reliable', { reliable: true })
    await until(() => c.reliable.length > 0, 5000)
    // Loopback loses nothing, but the channel may: send a few and expect most.
    for (let i = 0; i < 10; i++) t.true(conn.send(`u${i}`, { reliable: false }))
    await until(() => c.unreliable.length >= 8, 5000)
    t.deepEqual(
      c.reliable.map((b) => b.toString()),
      ['reliable'],
      'unreliable messages never reach onTraffic',
    )
    t.true(c.unreliable.every((b) => /^echo:u\d$/.test(b.toString())))
    t.true(serverGot.every((s) => /^u\d$/.test(s)))
    if (mode === 'fec') t.true(conn.kcpStats().layers.fecOob >= 8)
    // One datagram at most: one KCP segment's worth.
    t.throws(() => conn.send(Buffer.alloc(70_000), { reliable: false }), { instanceOf: MessageTooLargeError, code: 'ERR_MESSAGE_TOO_LARGE' })
    t.throws(() => conn.send('x', { reliable: 'no' } as never), { code: 'ERR_INVALID_ARG_VALUE' })
    t.throws(() => conn.send('x', { unreliable: true } as never), { code: 'ERR_INVALID_ARG_VALUE' })
    conn.close()
    t.throws(() => conn.send('late', { reliable: false }), { code: 'ERR_CONN_CLOSED' })
    await engine.stop()
  })
}

test('the unreliable channel needs a KCP session with FEC or secure mode', async (t) => {
  const plain = await echoServer({})
  const conn = await connect(`kcp://127.0.0.1:${plain.port}`, {}, { kcp: turbo })
  t.throws(() => conn.send('x', { reliable: false }), { instanceOf: InvalidOptionError, message: /FEC or secure/ })
  conn.close()
  await plain.stop()
  const tcp = await serve('tcp://127.0.0.1:0', { onTraffic: (c, d) => void c.write(d) })
  const tconn = await connect(`tcp://127.0.0.1:${tcp.port}`, {})
  t.throws(() => tconn.send('x', { reliable: false }), { code: 'ERR_INVALID_ARG_VALUE', message: /KCP/ })
  t.true(tconn.send('reliable is a write'))
  tconn.close()
  await tcp.stop()
})

test('generateKeyPair returns 32-byte keys, different each time', (t) => {
  const a = generateKeyPair()
  const b = generateKeyPair()
  for (const k of [a.publicKey, a.privateKey, b.publicKey, b.privateKey]) {
    t.true(k instanceof Uint8Array)
    t.is(k.byteLength, 32)
  }
  t.false(Buffer.from(a.privateKey).equals(Buffer.from(b.privateKey)))
  t.false(Buffer.from(a.publicKey).equals(Buffer.from(b.publicKey)))
  t.false(Buffer.from(a.publicKey).equals(Buffer.from(a.privateKey)))
})

test('every cipher name with its key length works end to end, and TS agrees with Rust on lengths', async (t) => {
  for (const [cipher, len] of Object.entries(CIPHER_KEY_LENGTHS) as Array<[KcpCipher, number]>) {
    const crypt = { cipher, key: randomBytes(len + 1, len) }
    const engine = await echoServer({ crypt })
    const c = collector()
    const conn = await connect(`kcp://127.0.0.1:${engine.port}`, c.handler, { kcp: turbo, crypt })
    conn.write(cipher)
    await until(() => c.reliable.length > 0, 10_000).catch(() => t.fail(`${cipher}: no echo`))
    t.is(c.reliable[0]?.toString(), cipher)
    conn.close()
    await engine.stop()
  }
})

test('HandshakeError is ERR_HANDSHAKE_FAILED', (t) => {
  const err = errorFromCode('ERR_HANDSHAKE_FAILED', 'no')
  t.true(err instanceof HandshakeError)
  t.is(err.code, 'ERR_HANDSHAKE_FAILED')
})

test('bad fec, crypt and secure options reject with ERR_INVALID_ARG_VALUE and clear messages', async (t) => {
  const { publicKey, privateKey } = generateKeyPair()
  const bad: Array<[unknown, RegExp]> = [
    [{ fec: { dataShards: 0, parityShards: 3 } }, /fec\.dataShards must be an integer in \[1, 255\]/],
    [{ fec: { dataShards: 10, parityShards: 0 } }, /fec\.parityShards/],
    [{ fec: { dataShards: 10.5, parityShards: 3 } }, /fec\.dataShards/],
    [{ fec: { dataShards: NaN, parityShards: 3 } }, /fec\.dataShards/],
    [{ fec: { dataShards: Infinity, parityShards: 3 } }, /fec\.dataShards/],
    [{ fec: { dataShards: 200, parityShards: 100 } }, /at most 256/],
    [{ fec: { dataShards: 10 } }, /fec\.parityShards/],
    [{ fec: { dataShards: 10, parityShards: 3, shards: 1 } }, /has no option 'shards'/],
    [{ fec: 10 }, /fec must be an object/],
    [{ crypt: { cipher: 'rot13', key: 'k' } }, /crypt\.cipher must be one of .*salsa20/],
    [{ crypt: { cipher: 'AES', key: 'k' } }, /crypt\.cipher/],
    [{ crypt: { cipher: 'salsa20', key: new Uint8Array(16) } }, /must be 32 bytes for salsa20, got 16/],
    [{ crypt: { cipher: 'aes-128', key: new Uint8Array(32) } }, /must be 16 bytes for aes-128/],
    [{ crypt: { cipher: 'aes', key: '' } }, /empty passphrase/],
    [{ crypt: { cipher: 'aes' } }, /crypt\.key must be/],
    [{ crypt: { cipher: 'aes', key: 42 } }, /crypt\.key must be/],
    [{ crypt: { cipher: 'aes', key: 'k', mode: 'x' } }, /has no option 'mode'/],
    [{ secure: { privateKey }, crypt: { cipher: 'aes', key: 'k' } }, /do not combine/],
    [{ secure: { privateKey: new Uint8Array(31) } }, /privateKey must be a 32-byte Uint8Array or its base64 \(44 characters\), got 31 bytes/],
    [{ secure: { privateKey: 'hex' } }, /privateKey must be a 32-byte Uint8Array or its base64 \(44 characters\), got a string of 3 characters/],
    [{ secure: {} }, /needs privateKey/],
    [{ secure: { privateKey, serverPublicKey: publicKey } }, /not both/],
    [{ secure: { privateKey, key: 1 } }, /has no option 'key'/],
    [{ secure: { serverPublicKey: publicKey } }, /of a server takes privateKey/],
    [{ secur: { privateKey } }, /did you mean 'secure'/],
  ]
  for (const [options, message] of bad) {
    const err = await t.throwsAsync(serve('kcp://127.0.0.1:0', {}, options as ServeOptions), { instanceOf: InvalidOptionError, message }, JSON.stringify(options))
    t.is(err?.code, 'ERR_INVALID_ARG_VALUE')
    // Key material never appears in a message.
    t.false(err!.message.includes('it is a secret'))
  }
  // Clients: the mirror role, and dial options.
  const url = 'kcp://127.0.0.1:9'
  await t.throwsAsync(connect(url, {}, { secure: { privateKey } as never }), { code: 'ERR_INVALID_ARG_VALUE', message: /of a client takes serverPublicKey/ })
  await t.throwsAsync(connect(url, {}, { secure: { serverPublicKey: new Uint8Array(32).fill(0) } }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /serverPublicKey/,
  })
  await t.throwsAsync(connect(url, {}, { secure: { serverPublicKey: publicKey }, crypt: { cipher: 'aes', key: 'k' } }), { code: 'ERR_INVALID_ARG_VALUE', message: /do not combine/ })
  await t.throwsAsync(connect(url, {}, { fec: { dataShards: 1, parityShards: 256 } }), { code: 'ERR_INVALID_ARG_VALUE', message: /fec\.parityShards/ })
  // Only for kcp:// addresses.
  await t.throwsAsync(serve('tcp://127.0.0.1:0', {}, { fec }), { code: 'ERR_INVALID_ARG_VALUE', message: /only apply to kcp:\/\/ addresses/ })
  await t.throwsAsync(serve(['kcp://127.0.0.1:0', 'udp://127.0.0.1:0'], {}, { secure: { privateKey } }), { code: 'ERR_INVALID_ARG_VALUE', message: /secure only apply to kcp/ })
  await t.throwsAsync(connect('tcp://127.0.0.1:9', {}, { secure: { serverPublicKey: publicKey } }), { code: 'ERR_INVALID_ARG_VALUE', message: /kcp:\/\// })
  // The message of a bad passphrase type or key never echoes the key.
  const err = await t.throwsAsync(serve('kcp://127.0.0.1:0', {}, { crypt: { cipher: 'rot13' as never, key: 'it is a secret' } }))
  t.false(err!.message.includes('it is a secret'))
})

test('kcp: FEC and secure mode need the MTU room for their headers', async (t) => {
  const { privateKey } = generateKeyPair()
  // 50 bytes of MTU leave no room for secure mode's 32-byte header and tag plus KCP's 24.
  await t.throwsAsync(serve('kcp://127.0.0.1:0', {}, { kcp: { mtu: 50 }, secure: { privateKey } }), { code: 'ERR_INVALID_ARG_VALUE' })
})
