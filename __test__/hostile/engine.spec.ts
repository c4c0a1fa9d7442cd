// Hostile input and API misuse against the engine: each test drives a real server (from a raw
// socket where the attack is on the wire) and names the item of the security issue it covers.
import test from 'ava'
import { spawn } from 'node:child_process'
import dgram from 'node:dgram'
import net from 'node:net'
import { join } from 'node:path'
import { codecs, connect as dial, serve, type Conn, type Engine } from 'riptide'
import { connect, readExactly, until } from '../helpers'

/** An echo server. */
function echo(options = {}): Promise<Engine> {
  return serve('tcp://127.0.0.1:0', { onTraffic: (conn, data) => void conn.write(data) }, options)
}

/** Waits until the socket is closed by the server. */
function closed(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed || s.readableEnded) return resolve()
    s.on('close', () => resolve())
    s.on('error', () => undefined)
    s.resume()
  })
}

test('item 2: a panic inside a reactor turn leaves microtasks, nextTick and stop() working', async (t) => {
  process.env.RIPTIDE_TEST_HOOKS = '1'
  const engine = await echo()
  getNative(engine).injectPanic()
  // The next wake panics in the middle of its batch; the engine must go on.
  const s = await connect(engine.port)
  s.write('after the panic')
  t.is((await readExactly(s, 15)).toString(), 'after the panic')
  await new Promise<void>((resolve) => process.nextTick(resolve))
  await Promise.resolve()
  s.destroy()
  await engine.stop()
  t.false(engine.running)
})

test('item 2: a panic while stderr is full (non-blocking, EAGAIN) neither aborts nor stops the engine', async (t) => {
  // The child fills its stderr pipe; this side reads it only after the child exits.
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'panic-full-stderr.ts')], {
    env: { ...process.env, RIPTIDE_TEST_HOOKS: '1', RUST_BACKTRACE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stderr.pause()
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  const stdoutEnded = new Promise((resolve) => child.stdout.once('end', resolve))
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])))
  await stdoutEnded
  child.stderr.destroy()
  t.is(signal, null, stdout)
  t.is(code, 0, stdout)
  t.is(stdout.trim(), 'echoed after the panic')
})

test('item 2: the test hook is refused without RIPTIDE_TEST_HOOKS=1', async (t) => {
  const engine = await echo()
  const saved = process.env.RIPTIDE_TEST_HOOKS
  delete process.env.RIPTIDE_TEST_HOOKS
  try {
    t.throws(() => getNative(engine).injectPanic(), { message: /test hook/ })
  } finally {
    if (saved !== undefined) process.env.RIPTIDE_TEST_HOOKS = saved
  }
  await engine.stop()
})

test('item 6: a 4 MiB line in 1 KiB writes arrives whole through the line codec', async (t) => {
  const size = 4 << 20
  let got = -1
  const engine = await serve('tcp://127.0.0.1:0', { onTraffic: (_c, frame) => void (got = frame.length) }, { codec: codecs.line({ maxLength: size }) })
  const s = await connect(engine.port)
  const chunk = Buffer.alloc(1024, 'x')
  for (let i = 0; i < size / chunk.length; i++) {
    if (!s.write(chunk)) await new Promise((r) => s.once('drain', r))
  }
  s.write('\n')
  await until(() => got >= 0, 60_000)
  t.is(got, size)
  s.destroy()
  await engine.stop()
})

test('item 7: behind a PROXY balancer, maxConnectionsPerIp counts the real clients and gives places back', async (t) => {
  const engine = await serve({ url: 'tcp://127.0.0.1:0', proxyProtocol: 'v1' }, { onTraffic: (conn, data) => void conn.write(data) }, { maxConnectionsPerIp: 1 })
  const viaProxy = async (client: string) => {
    const s = await connect(engine.port)
    s.write(`PROXY TCP4 ${client} 127.0.0.1 5000 80\r\nping`)
    return s
  }
  // One client after another, many times: each place is given back to the IP it was taken for.
  for (let i = 0; i < 5; i++) {
    const s = await viaProxy('192.0.2.1')
    t.is((await readExactly(s, 4)).toString(), 'ping', `round ${i}`)
    s.destroy()
    await until(() => engine.countConnections() === 0)
  }
  // Two at once from one client: the second is refused; another client is not.
  const first = await viaProxy('192.0.2.1')
  t.is((await readExactly(first, 4)).toString(), 'ping')
  const second = await viaProxy('192.0.2.1')
  await closed(second)
  const other = await viaProxy('192.0.2.2')
  t.is((await readExactly(other, 4)).toString(), 'ping')
  first.destroy()
  other.destroy()
  await engine.stop()
})

test('item 8: transferring the data view inside onTraffic cannot detach the shared arena', async (t) => {
  const outcomes: string[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      const buffer = data.buffer as ArrayBuffer
      for (const transfer of [
        () => structuredClone(buffer, { transfer: [buffer] }),
        () => new MessageChannel().port1.postMessage(buffer, [buffer]),
      ]) {
        try {
          transfer()
        } catch (err) {
          outcomes.push((err as Error).name)
        }
      }
      outcomes.push(`attached ${buffer.byteLength > 0}`)
      conn.write(data)
    },
  })
  const s = await connect(engine.port)
  for (let i = 0; i < 20; i++) {
    s.write(`m${String(i).padStart(2, '0')}`)
    t.is((await readExactly(s, 3)).toString(), `m${String(i).padStart(2, '0')}`)
  }
  t.true(outcomes.includes('attached true'))
  t.false(outcomes.includes('attached false'))
  s.destroy()
  await engine.stop()
})

test('item 9: Infinity, NaN and huge numbers as durations are refused with ERR_INVALID_ARG_VALUE', async (t) => {
  const code = { code: 'ERR_INVALID_ARG_VALUE' }
  for (const bad of [Infinity, -Infinity, NaN, 2 ** 53, 1e300, -1]) {
    await t.throwsAsync(serve('tcp://127.0.0.1:0', {}, { closeTimeout: bad }), code)
    await t.throwsAsync(serve({ url: 'tcp://127.0.0.1:0', proxyProtocol: 'v1', proxyTimeout: bad }, {}), code)
    await t.throwsAsync(dial('tcp://127.0.0.1:1', {}, { connectTimeout: bad }), code)
  }
  let conn: Conn | undefined
  const errors: unknown[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen: (c) => void (conn = c),
    onTick: () => Infinity,
    onError: (_conn, err) => void errors.push(err),
  }, { ticker: true })
  const s = await connect(engine.port)
  await until(() => conn !== undefined && errors.length > 0)
  t.is((errors[0] as { code?: string }).code, 'ERR_INVALID_ARG_VALUE', 'a bad onTick delay is reported, the ticker stops')
  for (const bad of [Infinity, NaN, 1e300]) {
    t.throws(() => conn!.setTimeout(bad, () => undefined), code)
    t.throws(() => engine.stop({ drainTimeout: bad }), code)
  }
  s.destroy()
  await engine.stop()
})

test('item 10: an onError that throws is logged and the process goes on', async (t) => {
  const logged: string[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      if (Buffer.from(data).toString() === 'boom') throw new Error('handler bug')
      conn.write(data)
    },
    onError() {
      throw new Error('error handler bug')
    },
  }, { logger: (level, msg) => void logged.push(`${level} ${msg}`) })
  const s = await connect(engine.port)
  s.write('boom')
  await until(() => logged.length >= 2)
  t.regex(logged[0], /onError threw/)
  s.write('fine')
  t.is((await readExactly(s, 4)).toString(), 'fine')
  s.destroy()
  await engine.stop()
})

test('item 14: custom framing keeps retained tails of any size (600 KiB here)', async (t) => {
  const size = 600 * 1024
  const records: number[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(_conn, data) {
      // One record: a 4-byte length, then that many bytes.
      let at = 0
      while (data.length - at >= 4) {
        const n = Buffer.from(data.buffer, data.byteOffset + at, 4).readUInt32BE(0)
        if (data.length - at - 4 < n) break
        records.push(n)
        at += 4 + n
      }
      return at
    },
  })
  const s = await connect(engine.port)
  const head = Buffer.alloc(4)
  head.writeUInt32BE(size)
  s.write(Buffer.concat([head, Buffer.alloc(size, 7), head.subarray(0, 4), Buffer.alloc(size, 8)]))
  await until(() => records.length === 2, 30_000)
  t.deepEqual(records, [size, size])
  s.destroy()
  await engine.stop()
})

test('item 15: a UDP datagram longer than readBufferCap arrives whole', async (t) => {
  let got = -1
  const engine = await serve('udp://127.0.0.1:0', { onTraffic: (_c, data) => void (got = data.length) }, { readBufferCap: 1024 })
  const s = dgram.createSocket('udp4')
  s.send(Buffer.alloc(9000, 1), engine.port, '127.0.0.1')
  await until(() => got >= 0)
  t.is(got, 9000)
  s.close()
  await engine.stop()
})

test('item 16: stop({ drainTimeout }) called inside a callback still gives every onClose', async (t) => {
  const closes: number[] = []
  let stopping: Promise<unknown> | undefined
  const engine: Engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(_conn, data) {
      if (Buffer.from(data).toString() === 'stop') stopping = engine.stop({ drainTimeout: 2000 })
    },
    onClose: (conn) => void closes.push(conn.id),
  })
  const clients = await Promise.all([connect(engine.port), connect(engine.port), connect(engine.port)])
  await until(() => engine.countConnections() === 3)
  clients[0].write('stop')
  await until(() => stopping !== undefined)
  const counts = await stopping
  t.is(closes.length, 3)
  t.deepEqual(counts, { drained: 3, reset: 0 })
  for (const c of clients) c.destroy()
})

test('item 16: engine.execute + stop({ drainTimeout }) gives every onClose', async (t) => {
  let closes = 0
  const engine = await serve('tcp://127.0.0.1:0', { onClose: () => void closes++ })
  const clients = await Promise.all([connect(engine.port), connect(engine.port)])
  await until(() => engine.countConnections() === 2)
  const stopped = new Promise((resolve) => engine.execute(() => resolve(engine.stop({ drainTimeout: 1000 }))))
  await (await stopped)
  t.is(closes, 2)
  for (const c of clients) c.destroy()
})

test('item 17: sendTo checks the port and the address, inside a batch too', async (t) => {
  const errors: string[] = []
  const engine = await serve('udp://127.0.0.1:0', {
    onTraffic(conn) {
      for (const [address, port] of [['127.0.0.1', 65536], ['127.0.0.1', -1], ['127.0.0.1', 1.5], ['not an ip', 9], ['127.0.0.1', NaN]] as const) {
        try {
          conn.sendTo({ family: 'IPv4', address, port }, 'x')
        } catch (err) {
          errors.push((err as { code: string }).code)
        }
      }
    },
  })
  const s = dgram.createSocket('udp4')
  s.send('go', engine.port, '127.0.0.1')
  await until(() => errors.length === 5)
  t.deepEqual(errors, ['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ADDRESS', 'ERR_INVALID_ARG_VALUE'])
  s.close()
  await engine.stop()
})

test('item 18: unknown option keys fail loudly, naming the key and the nearest valid one', async (t) => {
  await t.throwsAsync(serve('tcp://127.0.0.1:0', {}, { proxyProtocol: 'v1' } as never), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /'proxyProtocol' is a listener option/,
  })
  await t.throwsAsync(serve('tcp://127.0.0.1:0', {}, { readBuferCap: 4096 } as never), { code: 'ERR_INVALID_ARG_VALUE', message: /did you mean 'readBufferCap'/ })
  await t.throwsAsync(serve('tcp://127.0.0.1:0', {}, { kcp: { sndwnd: 64 } } as never), { message: /did you mean 'sndWnd'/ })
  await t.throwsAsync(serve('tcp://127.0.0.1:0', {}, { idleTimeout: { reed: 5 } } as never), { message: /did you mean 'read'/ })
  await t.throwsAsync(serve({ url: 'tcp://127.0.0.1:0', proxyProtocl: 'v1' } as never, {}), { message: /did you mean 'proxyProtocol'/ })
  t.throws(() => codecs.line({ maxLenght: 10 } as never), { message: /did you mean 'maxLength'/ })
  await t.throwsAsync(dial('tcp://127.0.0.1:1', {}, { conectTimeout: 5 } as never), { message: /did you mean 'connectTimeout'/ })
  const engine = await echo()
  t.throws(() => engine.stop({ drainTimeot: 5 } as never), { message: /did you mean 'drainTimeout'/ })
  await engine.stop()
})

/** The native reactor behind an engine (for the test hook only). */
function getNative(engine: Engine): { injectPanic(): void } {
  return (engine as unknown as Record<symbol, { injectPanic(): void }>)[Symbol.for('riptide.native')]
}
