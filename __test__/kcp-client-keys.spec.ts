// Secure mode with per-client keys from TypeScript (`secure.allowedClients` on a kcp://
// listener, `secure.clientKey` on a dial, `engine.setAllowedClients`): listed clients echo
// byte-exact, unlisted ones never open a session, a removal refuses new sessions and keeps live
// ones, and bad keys are refused with ERR_INVALID_ARG_VALUE. The engine's own tests are in
// crates/riptide/tests/kcp_modes.rs; the raw-socket attacks in hostile/kcp-secure.spec.ts.
import anyTest from 'ava'
import { join } from 'node:path'
import { connect, generateKeyPair, InvalidOptionError, serve, type Conn, type EventHandler, type KcpOptions, type RiptideError, type ServeOptions } from 'riptide'
import { randomBytes, until } from './helpers'

// Serial: sessions that must stay silent are judged by what arrives while others run.
const test = anyTest.serial

const turbo: KcpOptions = { nodelay: true, interval: 10, resend: 2, nc: true, sndWnd: 128, rcvWnd: 128 }
/**
 * A refused client hears nothing, so its session ends by KCP's idle timeout (ETIMEDOUT), well
 * before the handshake's own 31 s schedule gives up. Dials expected to succeed keep the default
 * (90 s): nothing is sent on an idle session while other dials are being refused.
 */
const refusedIdle = 2000

const b64 = (key: Uint8Array) => Buffer.from(key).toString('base64')

/** A kcp:// echo server counting the sessions it opened. */
async function echoServer(secure: ServeOptions['secure']) {
  const opened: Conn[] = []
  const engine = await serve(
    'kcp://127.0.0.1:0',
    {
      onOpen: (conn) => void opened.push(conn),
      onTraffic: (conn, data) => void conn.write(data),
    },
    { kcp: turbo, secure },
  )
  return { engine, opened, url: `kcp://127.0.0.1:${engine.port}` }
}

/** A dial that collects what it receives and how it closed; `idleTimeout` for one expected to be refused. */
async function dial(url: string, serverPublicKey: Uint8Array | string, clientKey?: Uint8Array | string, idleTimeout?: number) {
  const got: Buffer[] = []
  const state: { closed: boolean; err: RiptideError | undefined } = { closed: false, err: undefined }
  const handler: EventHandler = {
    onTraffic: (_c, data) => void got.push(Buffer.from(data)),
    onClose: (_c, err) => {
      state.closed = true
      state.err = err as RiptideError | undefined
    },
  }
  const conn = await connect(url, handler, {
    kcp: { ...turbo, idleTimeout },
    secure: clientKey === undefined ? { serverPublicKey } : { serverPublicKey, clientKey },
  })
  const received = () => Buffer.concat(got)
  return { conn, handler, state, received }
}

/** Writes `payload` as the window allows and resolves with the echo once it is all back. */
async function echo(c: Awaited<ReturnType<typeof dial>>, payload: Buffer): Promise<Buffer> {
  const start = c.received().length
  let offset = 0
  const pump = () => {
    while (offset < payload.length) {
      const ok = c.conn.write(payload.subarray(offset, offset + 4096))
      offset += 4096
      if (!ok) return
    }
  }
  c.handler.onWritability = (_c, writable) => {
    if (writable) pump()
  }
  pump()
  await until(() => c.received().length >= start + payload.length, 60_000)
  return c.received().subarray(start)
}

/** Whether `size` patterned bytes (from `seed`) come back byte-exact. */
async function echoes(c: Awaited<ReturnType<typeof dial>>, seed: number, size: number): Promise<boolean> {
  const payload = randomBytes(seed, size)
  return (await echo(c, payload)).equals(payload)
}

/** A server key pair, a client's (Alice's), and an echo server that lets only Alice in. */
async function aliceOnly() {
  const server = generateKeyPair()
  const alice = generateKeyPair()
  const s = await echoServer({ privateKey: server.privateKey, allowedClients: [alice.publicKey] })
  return { server, alice, s }
}

/** Waits for a refused dial to end by its idle timeout, and checks nothing came through. */
async function refused(t: { is: (a: unknown, b: unknown, m?: string) => void }, c: Awaited<ReturnType<typeof dial>>) {
  c.conn.write('let me in')
  await until(() => c.state.closed, refusedIdle + 10_000)
  t.is(c.state.err?.code, 'ETIMEDOUT', 'the refused dial ends by its idle timeout')
  t.is(c.received().length, 0, 'nothing came back')
}

test('a listed client echoes 256 KiB byte-exact; keys work as bytes and as base64', async (t) => {
  const server = generateKeyPair()
  const alice = generateKeyPair()
  const bob = generateKeyPair()
  // Bob is listed as base64 and dials with base64 keys; Alice uses bytes throughout.
  const s = await echoServer({ privateKey: b64(server.privateKey), allowedClients: [alice.publicKey, b64(bob.publicKey)] })
  const a = await dial(s.url, server.publicKey, alice.privateKey)
  const b = await dial(s.url, b64(server.publicKey), b64(bob.privateKey))
  const pa = randomBytes(1, 256 * 1024)
  const pb = randomBytes(2, 256 * 1024)
  const [ea, eb] = await Promise.all([echo(a, pa), echo(b, pb)])
  t.true(ea.equals(pa), "Alice's echo is byte-exact")
  t.true(eb.equals(pb), "Bob's echo is byte-exact")
  t.is(s.opened.length, 2)
  const layers = a.conn.kcpStats().layers
  t.true(layers.secureOpened > 0 && layers.secureUnauthenticated === 0, JSON.stringify(layers))
  a.conn.close()
  b.conn.close()
  await s.engine.stop()
})

test('an unlisted client, and an anonymous one, never open a session; the listed one still does', async (t) => {
  const { server, alice, s } = await aliceOnly()
  const mallory = generateKeyPair()
  const m = await dial(s.url, server.publicKey, mallory.privateKey, refusedIdle)
  // No client key: a Noise NK init, which a server with allowedClients drops.
  const anon = await dial(s.url, server.publicKey, undefined, refusedIdle)
  await Promise.all([refused(t, m), refused(t, anon)])
  t.is(s.opened.length, 0, 'onOpen never fired on the server')
  const a = await dial(s.url, server.publicKey, alice.privateKey)
  t.true(await echoes(a, 3, 4096))
  t.is(s.opened.length, 1)
  a.conn.close()
  await s.engine.stop()
})

test('setAllowedClients: a removed key gets no new session while its live one keeps working; an added key gets in', async (t) => {
  const { server, alice, s } = await aliceOnly()
  const bob = generateKeyPair()
  const live = await dial(s.url, server.publicKey, alice.privateKey)
  t.true(await echoes(live, 4, 64 * 1024))
  t.is(s.opened.length, 1)

  s.engine.setAllowedClients([b64(bob.publicKey)])
  const again = await dial(s.url, server.publicKey, alice.privateKey, refusedIdle)
  const b = await dial(s.url, server.publicKey, bob.privateKey)
  t.true(await echoes(b, 5, 64 * 1024), 'Bob, added, gets in')
  await refused(t, again)
  t.true(await echoes(live, 6, 64 * 1024), "Alice's live session still echoes")
  t.false(live.state.closed)
  t.is(s.opened.length, 2, "Alice's new dial opened no session; Bob's did")

  // An empty list refuses every new client; Bob's live session stays too.
  s.engine.setAllowedClients([])
  const late = await dial(s.url, server.publicKey, bob.privateKey, refusedIdle)
  await refused(t, late)
  t.true(await echoes(b, 7, 64 * 1024))
  t.is(s.opened.length, 2)
  live.conn.close()
  b.conn.close()
  await s.engine.stop()
})

test('setAllowedClients reaches worker reactors (handed over and reusePort)', async (t) => {
  const server = generateKeyPair()
  const alice = generateKeyPair()
  for (const reusePort of [false, true]) {
    const engine = await serve('kcp://127.0.0.1:0', { onTraffic: (c, d) => void c.write(d) }, {
      reactors: 2,
      reusePort,
      workerModule: join(__dirname, 'fixtures', 'echo-handler.ts'),
      kcp: turbo,
      secure: { privateKey: server.privateKey, allowedClients: [alice.publicKey] },
    })
    const url = `kcp://127.0.0.1:${engine.port}`
    // Reactor 0 runs this test's echo; the worker answers "who" with its index.
    const seen = new Set<string>()
    for (let i = 0; i < 12; i++) {
      const c = await dial(url, server.publicKey, alice.privateKey)
      c.conn.write('who')
      await until(() => c.received().length > 0, 10_000)
      const answer = c.received().toString()
      seen.add(answer === 'who' ? '0' : answer.trim())
      c.conn.close()
    }
    if (reusePort) t.true(seen.has('1'), `a worker served a client (${[...seen].join(',')})`)
    engine.setAllowedClients([])
    const late = await Promise.all(Array.from({ length: 12 }, () => dial(url, server.publicKey, alice.privateKey, refusedIdle)))
    await Promise.all(late.map((c) => refused(t, c)))
    await engine.stop()
  }
})

test('bad keys and misplaced options reject with InvalidOptionError (ERR_INVALID_ARG_VALUE), naming the field, never the key', async (t) => {
  const { publicKey, privateKey } = generateKeyPair()
  const pub64 = b64(publicKey)
  // A small-order point: 32 bytes, but no X25519 public key (only the native check knows).
  const smallOrder = new Uint8Array(32)
  smallOrder[0] = 1
  // 44 characters, but not canonical base64 of 32 bytes (the last character has low bits set).
  const sloppy = pub64.slice(0, 42) + (pub64[42] === 'B' ? 'C' : 'B') + '='
  const bad: Array<[unknown, RegExp]> = [
    [{ privateKey, allowedClients: publicKey }, /secure\.allowedClients must be an array of keys, got object/],
    [{ privateKey, allowedClients: 'abc' }, /secure\.allowedClients must be an array of keys, got string/],
    [{ privateKey, allowedClients: [publicKey, new Uint8Array(31)] }, /secure\.allowedClients\[1\] must be a 32-byte Uint8Array or its base64 \(44 characters\), got 31 bytes/],
    [{ privateKey, allowedClients: [publicKey, new Uint8Array(33)] }, /allowedClients\[1\] .* got 33 bytes/],
    [{ privateKey, allowedClients: [7] }, /allowedClients\[0\] .* got number/],
    [{ privateKey, allowedClients: [null] }, /allowedClients\[0\] .* got null/],
    [{ privateKey, allowedClients: [pub64.slice(1)] }, /allowedClients\[0\] .* got a string of 43 characters/],
    [{ privateKey, allowedClients: [sloppy] }, /allowedClients\[0\] .* got a 44-character string that is not canonical base64/],
    [{ privateKey, allowedClients: ['@'.repeat(44)] }, /allowedClients\[0\] .* not canonical base64/],
    [{ privateKey, allowedClients: [publicKey, smallOrder] }, /secure\.allowedClients\[1\] must be a valid X25519 public key/],
    [{ privateKey: b64(privateKey).slice(0, 40) }, /secure\.privateKey must be .* got a string of 40 characters/],
    [{ privateKey, clientKey: privateKey }, /secure\.clientKey is for dials/],
    [{ privateKey, allowedClient: [] }, /has no option 'allowedClient' \(did you mean 'allowedClients'\?\)/],
  ]
  for (const [secure, message] of bad) {
    const err = await t.throwsAsync(serve('kcp://127.0.0.1:0', {}, { secure } as ServeOptions), { instanceOf: InvalidOptionError, message }, String(message))
    t.is(err?.code, 'ERR_INVALID_ARG_VALUE')
    t.false(err!.message.includes(pub64) || err!.message.includes(b64(privateKey)), 'no key in the message')
  }
  const url = 'kcp://127.0.0.1:9'
  const badDials: Array<[unknown, RegExp]> = [
    [{ serverPublicKey: publicKey, clientKey: new Uint8Array(16) }, /secure\.clientKey must be a 32-byte Uint8Array or its base64 \(44 characters\), got 16 bytes/],
    [{ serverPublicKey: publicKey, clientKey: 42 }, /secure\.clientKey .* got number/],
    [{ serverPublicKey: publicKey, clientKey: 'not base64!' }, /secure\.clientKey .* got a string of 11 characters/],
    [{ serverPublicKey: publicKey, allowedClients: [publicKey] }, /secure\.allowedClients is for listeners/],
    [{ serverPublicKey: 'AAAA' }, /secure\.serverPublicKey .* got a string of 4 characters/],
  ]
  for (const [secure, message] of badDials) {
    await t.throwsAsync(connect(url, {}, { secure } as never), { instanceOf: InvalidOptionError, code: 'ERR_INVALID_ARG_VALUE', message }, String(message))
  }

  // setAllowedClients checks every key before changing anything, and needs a listener with a list.
  const { server, alice, s } = await aliceOnly()
  t.throws(() => s.engine.setAllowedClients([alice.publicKey, new Uint8Array(5)]), { instanceOf: InvalidOptionError, code: 'ERR_INVALID_ARG_VALUE', message: /setAllowedClients\(keys\)\[1\] .* got 5 bytes/ })
  t.throws(() => s.engine.setAllowedClients([smallOrder]), { instanceOf: InvalidOptionError, code: 'ERR_INVALID_ARG_VALUE', message: /allowedClients\[0\] must be a valid X25519 public key/ })
  t.throws(() => s.engine.setAllowedClients('x' as never), { instanceOf: InvalidOptionError, message: /must be an array of keys/ })
  const a = await dial(s.url, server.publicKey, alice.privateKey)
  t.true(await echoes(a, 8, 1024), 'the failed calls left Alice listed')
  a.conn.close()
  await s.engine.stop()
  const anonymous = await echoServer({ privateKey })
  t.throws(() => anonymous.engine.setAllowedClients([alice.publicKey]), { instanceOf: InvalidOptionError, code: 'ERR_INVALID_ARG_VALUE', message: /no kcp:\/\/ listener with secure\.allowedClients/ })
  await anonymous.engine.stop()
})
