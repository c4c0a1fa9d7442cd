// WebSocket servers (`codecs.websocket()`) against clients riptide did not write: the `ws` npm
// package in this process, and the crate's interop peers (`ws` and Python `websockets`, in
// crates/riptide-ws/tests/peers/) as child processes: text and binary of 1 B to 16 MiB, whole
// and fragmented, with and without permessage-deflate, a subprotocol, pings, close codes; also
// over tls://.

import test from 'ava'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import WebSocket from 'ws'
import { codecs, serve, WebSocketCloseError, type RiptideError, type WebSocketHandler } from 'riptide'
import { until } from './helpers'
import { closed, next, open } from './ws-clients'
import { makePki } from './tls-certs'
import { wsPython } from './ws-python'

const pki = makePki()
const peers = join(__dirname, '..', 'crates', 'riptide-ws', 'tests', 'peers')

/** An echo handler: text back as text, binary as binary; closes are collected. */
function echo(closes: Array<RiptideError | undefined> = []): WebSocketHandler {
  return {
    onTraffic: (conn, message, { binary }) => void conn.write(binary ? message.slice() : Buffer.from(message).toString()),
    onClose: (_, err) => void closes.push(err),
  }
}

/** Runs a peer script to its end; resolves with its exit code and stderr. */
function run(program: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
  })
}

for (const [peer, program, script] of [
  ['ws', process.execPath, 'ws_client.cjs'],
  ['Python websockets', '', 'py_client.py'],
] as const) {
  for (const mode of ['plain', 'deflate'] as const) {
    test.serial(`${peer} client (${mode}): 1 B to 16 MiB, text and binary, whole and fragmented, echoed byte for byte; subprotocol, ping, close 4002`, async (t) => {
      const closes: Array<RiptideError | undefined> = []
      const engine = await serve('tcp://127.0.0.1:0', echo(closes), {
        codec: codecs.websocket({ compression: mode === 'deflate', subprotocols: ['chat'], maxPayload: 32 << 20 }),
      })
      try {
        const exe = program === '' ? await wsPython() : program
        const { code, stderr } = await run(exe, [join(peers, script), `ws://127.0.0.1:${engine.port}/`, mode])
        t.is(code, 0, stderr)
        await until(() => closes.length === 1)
        const err = closes[0]
        t.true(err instanceof WebSocketCloseError)
        t.is((err as WebSocketCloseError).closeCode, 4002)
        t.is((err as WebSocketCloseError).reason, 'done')
      } finally {
        await engine.stop()
      }
    })
  }
}

test('ws client: onUpgrade sees the request, picks a subprotocol and adds a header; messages keep their type', async (t) => {
  const seen: string[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onUpgrade(_, request) {
      seen.push(request.method, request.path, request.header('x-token') ?? '', request.protocols.join(','))
      return { protocol: 'b', headers: { 'x-served-by': 'riptide' } }
    },
    onOpen: (conn) => void conn.write('hello ☃'),
    onTraffic: (conn, message, { binary }) => void conn.write(binary ? Uint8Array.from([...message, 0xff]) : `${Buffer.from(message).toString()}!`),
  }, { codec: codecs.websocket({ subprotocols: ['a'] }) })
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${engine.port}/chat?room=1`, ['a', 'b'], { headers: { 'x-token': 'secret' } })
    const served = new Promise<string | undefined>((resolve) => ws.once('upgrade', (res) => resolve(res.headers['x-served-by'] as string | undefined)))
    const first = next(ws)
    await new Promise<void>((resolve) => ws.once('open', () => resolve()))
    t.is(ws.protocol, 'b')
    t.is(await served, 'riptide')
    t.deepEqual(seen, ['GET', '/chat?room=1', 'secret', 'a,b'])
    const hello = await first
    t.is(hello.data.toString(), 'hello ☃')
    t.false(hello.binary)
    ws.send('ping?')
    const text = await next(ws)
    t.is(text.data.toString(), 'ping?!')
    t.false(text.binary)
    ws.send(Buffer.from([1, 2, 3]))
    const bin = await next(ws)
    t.deepEqual([...bin.data], [1, 2, 3, 0xff])
    t.true(bin.binary)
    ws.close()
    await closed(ws)
  } finally {
    await engine.stop()
  }
})

test('ws client: a refused upgrade gets its status and no onOpen; an async refusal too', async (t) => {
  let opened = 0
  const engine = await serve('tcp://127.0.0.1:0', {
    onUpgrade: (_, request) => (request.path === '/later' ? Promise.resolve({ status: 401 }) : { status: 403, headers: [['x-why', 'no']] }),
    onOpen: () => void opened++,
  }, { codec: codecs.websocket() })
  try {
    for (const [path, status] of [['/now', 403], ['/later', 401]] as const) {
      const ws = new WebSocket(`ws://127.0.0.1:${engine.port}${path}`)
      const res = await new Promise<{ statusCode?: number }>((resolve) => ws.once('unexpected-response', (_, r) => resolve(r)))
      t.is(res.statusCode, status)
      ws.on('error', () => undefined)
    }
    t.is(opened, 0)
  } finally {
    await engine.stop()
  }
})

test('ws client: the server closes with a code and reason; the client answers and onClose has the echo', async (t) => {
  const closes: Array<RiptideError | undefined> = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic: (conn) => conn.close(4001, 'bye ☃'),
    onClose: (_, err) => void closes.push(err),
  }, { codec: codecs.websocket() })
  try {
    const ws = await open(`ws://127.0.0.1:${engine.port}/`)
    const done = closed(ws)
    ws.send('close me')
    t.deepEqual(await done, { code: 4001, reason: 'bye ☃' })
    await until(() => closes.length === 1)
    t.true(closes[0] instanceof WebSocketCloseError)
    t.is((closes[0] as WebSocketCloseError).closeCode, 4001)
    t.is((closes[0] as WebSocketCloseError).reason, 'bye ☃')
  } finally {
    await engine.stop()
  }
})

test('ws client: conn.ping reaches the client; the idle timeout pings a silent client, which stays open by answering', async (t) => {
  // The client must answer each idle ping within idleTimeout or the server drops it, so the
  // timeout leaves room for a loaded machine (400 ms was too short with a load average of 12);
  // a drop fails the test instead of hanging it.
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen: (conn) => conn.ping('hi'),
  }, { codec: codecs.websocket({ idleTimeout: 1500 }) })
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${engine.port}/`)
    const pings: string[] = []
    const three = new Promise<void>((resolve, reject) => {
      ws.on('ping', (data: Buffer) => {
        pings.push(data.toString())
        if (pings.length === 3) resolve()
      })
      ws.once('close', (code: number) => reject(new Error(`closed with ${code} after ${pings.length} pings`)))
    })
    await three
    t.is(pings[0], 'hi')
    t.deepEqual(pings.slice(1), ['', ''])
    t.is(ws.readyState, WebSocket.OPEN)
    ws.close(1000)
    await closed(ws)
  } finally {
    await engine.stop()
  }
})

test('ws client over tls://: 1 MiB text and binary compressed, echoed byte for byte', async (t) => {
  const engine = await serve('tls://127.0.0.1:0', echo(), {
    codec: codecs.websocket({ compression: true }),
    tls: { cert: pki.cert, key: pki.key },
  })
  try {
    const ws = await open(`wss://127.0.0.1:${engine.port}/`, { ca: pki.ca, perMessageDeflate: true, host: '127.0.0.1', servername: 'localhost' } as WebSocket.ClientOptions)
    t.truthy(ws.extensions.includes('permessage-deflate'))
    const text = 'é'.repeat(1 << 19)
    ws.send(text)
    t.is((await next(ws)).data.toString(), text)
    const bin = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 7) & 255))
    ws.send(bin)
    t.true((await next(ws)).data.equals(bin))
    ws.close(1000)
    t.is((await closed(ws)).code, 1000)
  } finally {
    await engine.stop()
  }
})

test('worker reactors run the WebSocket codec and the handler module too', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', { onTraffic: (conn, message) => void conn.write(`0:${Buffer.from(message).toString()}`) }, {
    codec: codecs.websocket(),
    reactors: 2,
    workerModule: join(__dirname, 'fixtures', 'ws-echo-handler.ts'),
  })
  try {
    const reactors = new Set<string>()
    for (let i = 0; i < 16 && reactors.size < 2; i++) {
      const ws = await open(`ws://127.0.0.1:${engine.port}/`)
      ws.send(`m${i}`)
      const [reactor, text] = (await next(ws)).data.toString().split(':')
      t.is(text, `m${i}`)
      reactors.add(reactor)
      ws.close()
      await closed(ws)
    }
    t.deepEqual([...reactors].sort(), ['0', '1'])
  } finally {
    await engine.stop()
  }
})

test('publish to WebSocket subscribers: a string as text, bytes as binary, compressed or not', async (t) => {
  let joined = 0
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen: (conn) => void (conn.subscribe('room') && joined++),
    onTraffic: (conn, message) => void conn.publish('room', message.slice()),
  }, { codec: codecs.websocket({ compression: true }) })
  try {
    const a = await open(`ws://127.0.0.1:${engine.port}/`, { perMessageDeflate: true })
    const b = await open(`ws://127.0.0.1:${engine.port}/`)
    await until(() => joined === 2)
    const [ta, tb] = [next(a), next(b)]
    t.is(engine.publish('room', 'héllo'), 2)
    for (const m of await Promise.all([ta, tb])) t.deepEqual([m.data.toString(), m.binary], ['héllo', false])
    const [ba, bb] = [next(a), next(b)]
    a.send(Buffer.from([9, 8, 7]))
    for (const m of await Promise.all([ba, bb])) t.deepEqual([[...m.data], m.binary], [[9, 8, 7], true])
    a.close()
    b.close()
    await Promise.all([closed(a), closed(b)])
  } finally {
    await engine.stop()
  }
})

test('codecs.websocket() checks its options; it is serve-wide', async (t) => {
  t.throws(() => codecs.websocket({ maxPayload: 0 }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => codecs.websocket({ idleTimeout: -1 }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => codecs.websocket({ subprotocols: ['a b'] }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => codecs.websocket({ bogus: 1 } as never), { code: 'ERR_INVALID_ARG_VALUE' })
  await t.throwsAsync(serve({ url: 'tcp://127.0.0.1:0', codec: codecs.websocket() }, {}), { code: 'ERR_INVALID_ARG_VALUE' })
})
