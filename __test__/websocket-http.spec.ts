// One port for HTTP and WebSocket (`codecs.http1({ websocket: { routes } })`), against
// clients riptide did not write: node's http client and the `ws` npm package on the same port,
// and raw sockets where the order of bytes on the wire is the point (pipelining).

import test from 'ava'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { join } from 'node:path'
import WebSocket from 'ws'
import {
  Client,
  codecs,
  parseRequest,
  response,
  serve,
  WebSocketCloseError,
  type Conn,
  type HttpWebSocketHandler,
  type RiptideError,
  type ServeOptions,
  type UpgradeAnswer,
} from 'riptide'
import { handler as workerHandler } from './fixtures/http-ws-handler'
import { until } from './helpers'
import { closed, next, open } from './ws-clients'
import { makePki } from './tls-certs'

const pki = makePki()
const PAGE = '<!doctype html><title>one port</title>'

/** Serves PAGE on every GET (the path in a header), echoes WebSocket messages; records what happened. */
function handler(log: string[] = []): HttpWebSocketHandler {
  return {
    onOpen: () => void log.push('open'),
    onTraffic(conn, frame) {
      const req = parseRequest(frame)
      conn.write(response({ body: PAGE, headers: { 'content-type': 'text/html', 'x-path': req.path } }))
    },
    onClose: () => void log.push('close'),
    websocket: {
      onOpen: () => void log.push('ws open'),
      onTraffic: (ws, message, { binary }) => void ws.write(binary ? message.slice() : Buffer.from(message).toString()),
      onClose: (_, err) => void log.push(`ws close ${err instanceof WebSocketCloseError ? err.closeCode : String(err?.code)}`),
    },
  }
}

async function server(h: HttpWebSocketHandler, websocket: { compression?: boolean } = {}, options: ServeOptions = {}) {
  return serve('tcp://127.0.0.1:0', h, { codec: codecs.http1({ websocket: { routes: ['/chat', '/rooms/*'], maxPayload: 32 << 20, ...websocket } }), ...options })
}

/** A GET with node's http client: status, headers and body. */
function get(port: number, path: string, agent?: http.Agent): Promise<{ status?: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }))
      })
      .on('error', reject)
  })
}

/** The status of a refused `ws` upgrade. */
function refusedWith(url: string): Promise<number | undefined> {
  const ws = new WebSocket(url)
  ws.on('error', () => undefined)
  return new Promise((resolve) => ws.once('unexpected-response', (_, res) => resolve(res.statusCode)))
}

const SIZES = [1, 125, 126, 65535, 65536, 1 << 20]

for (const compression of [false, true]) {
  test(`one port: GETs get their responses and ws echoes text and binary of 1 B to 1 MiB byte for byte (${compression ? 'compressed' : 'not compressed'})`, async (t) => {
    const log: string[] = []
    const engine = await server(handler(log), { compression })
    try {
      const agent = new http.Agent({ keepAlive: true })
      for (const path of ['/', '/chat', '/x?y=1']) {
        const res = await get(engine.port, path, agent)
        t.deepEqual([res.status, res.headers['x-path'], res.body], [200, path, PAGE], 'a plain GET, on a WebSocket route too')
      }
      agent.destroy()
      const ws = await open(`ws://127.0.0.1:${engine.port}/chat?room=1`, { perMessageDeflate: compression })
      t.is(ws.extensions.includes('permessage-deflate'), compression)
      for (const size of SIZES) {
        const text = 'é☃x'.repeat(Math.ceil(size / 3)).slice(0, size)
        ws.send(text)
        const got = await next(ws)
        t.deepEqual([got.data.toString(), got.binary], [text, false], `text of ${size}`)
        const bin = Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + size) & 255))
        ws.send(bin)
        const back = await next(ws)
        t.true(back.binary && back.data.equals(bin), `binary of ${size}`)
      }
      ws.close(4000)
      t.is((await closed(ws)).code, 4000)
      await until(() => log.includes('ws close 4000') && log.filter((e) => e === 'close').length === 2)
      // The transport's callbacks see every connection; the WebSocket's the upgraded one.
      t.deepEqual(log.filter((e) => e.startsWith('ws')), ['ws open', 'ws close 4000'])
      t.is(log.filter((e) => e === 'open').length, 2)
    } finally {
      await engine.stop()
    }
  })
}

test('one port: an upgrade on a route not listed is refused with 404, and prefixes route', async (t) => {
  const engine = await server(handler())
  try {
    t.is(await refusedWith(`ws://127.0.0.1:${engine.port}/other`), 404)
    t.is(await refusedWith(`ws://127.0.0.1:${engine.port}/rooms`), 404)
    const ws = await open(`ws://127.0.0.1:${engine.port}/rooms/7`)
    ws.send('in a room')
    t.is((await next(ws)).data.toString(), 'in a room')
    ws.close()
    await closed(ws)
    t.is((await get(engine.port, '/after')).status, 200, 'the server goes on')
  } finally {
    await engine.stop()
  }
})

test('one port: a request pipelined before the upgrade is answered first, and frames after the upgrade are the WebSocket\'s', async (t) => {
  const engine = await server(handler())
  try {
    const key = 'dGhlIHNhbXBsZSBub25jZQ=='
    const upgrade = `GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`
    const mask = [1, 2, 3, 4]
    const hi = Buffer.from([0x81, 0x82, ...mask, ...Buffer.from('hi').map((b, i) => b ^ mask[i % 4])])
    const socket = net.connect(engine.port, '127.0.0.1')
    let got = Buffer.alloc(0)
    socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])))
    // One write: a GET, the upgrade, and a message sent before the 101 came.
    socket.write(Buffer.concat([Buffer.from('GET /first HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from(upgrade), hi]))
    const first = response({ body: PAGE, headers: { 'content-type': 'text/html', 'x-path': '/first' } })
    // The response, then the 101's head and the 4 bytes of the echo.
    const after = () => got.subarray(first.length)
    await until(() => after().indexOf('\r\n\r\n') >= 0 && after().length >= after().indexOf('\r\n\r\n') + 8)
    t.true(got.subarray(0, first.length).equals(first), 'the response to the GET comes first')
    const rest = after()
    const head = rest.indexOf('\r\n\r\n')
    t.regex(rest.subarray(0, head).toString('latin1'), /^HTTP\/1\.1 101 /)
    t.true(rest.subarray(0, head).toString('latin1').includes('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo='))
    t.deepEqual([...rest.subarray(head + 4, head + 8)], [0x81, 0x02, 0x68, 0x69], 'the echo of the early message')
    socket.destroy()
  } finally {
    await engine.stop()
  }
})

test('one port: onUpgrade accepts with a subprotocol, headers and context, or refuses with a status; async too', async (t) => {
  const seen: string[] = []
  const engine = await serve<string>('tcp://127.0.0.1:0', {
    onTraffic: (conn) => void conn.write(response({ status: 404 })),
    websocket: {
      onUpgrade(ws, request): UpgradeAnswer | Promise<UpgradeAnswer> {
        seen.push(request.path, request.header('x-token') ?? '')
        if (request.path.endsWith('later')) return Promise.resolve({ status: 401 })
        if (request.header('x-token') !== 'secret') return { status: 403, headers: { 'x-why': 'token' } }
        ws.context = 'ada'
        return { protocol: 'b', headers: { 'x-served-by': 'riptide' } }
      },
      onOpen: (ws) => void ws.write(`hello ${ws.context} ${ws.protocol}`),
    },
  }, { codec: codecs.http1({ websocket: { routes: ['/chat', '/chat/later'], subprotocols: ['a', 'b'] } }) })
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${engine.port}/chat`, ['a', 'b'], { headers: { 'x-token': 'secret' } })
    const served = new Promise<string | undefined>((resolve) => ws.once('upgrade', (res) => resolve(res.headers['x-served-by'] as string)))
    const hello = next(ws)
    t.is(await served, 'riptide')
    t.is((await hello).data.toString(), 'hello ada b')
    t.is(ws.protocol, 'b')
    ws.close()
    await closed(ws)
    t.is(await refusedWith(`ws://127.0.0.1:${engine.port}/chat`), 403)
    t.is(await refusedWith(`ws://127.0.0.1:${engine.port}/chat/later`), 401)
    t.deepEqual(seen, ['/chat', 'secret', '/chat', '', '/chat/later', ''])
  } finally {
    await engine.stop()
  }
})

test('one port: publish reaches WebSocket subscribers as messages, and an HTTP subscriber as bytes (server-sent events)', async (t) => {
  const events: Conn[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, frame) {
      if (parseRequest(frame).path !== '/events') return void conn.write(response({ status: 404 }))
      conn.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n')
      conn.subscribe('news')
      events.push(conn)
    },
    websocket: { onOpen: (ws) => void ws.subscribe('news') },
  }, { codec: codecs.http1({ websocket: { routes: ['/chat'], compression: true } }) })
  try {
    const a = await open(`ws://127.0.0.1:${engine.port}/chat`, { perMessageDeflate: true })
    const b = await open(`ws://127.0.0.1:${engine.port}/chat`)
    let stream = ''
    const req = http.get({ host: '127.0.0.1', port: engine.port, path: '/events' }, (res) => res.on('data', (d: Buffer) => (stream += d.toString())))
    req.on('error', () => undefined)
    await until(() => engine.subscriberCount('news') === 3)
    const [ma, mb] = [next(a), next(b)]
    t.is(engine.publish('news', 'data: héllo\n\n'), 3)
    for (const m of await Promise.all([ma, mb])) t.deepEqual([m.data.toString(), m.binary], ['data: héllo\n\n', false])
    await until(() => stream === 'data: héllo\n\n')
    // From an HTTP connection's `publish` too: the same records, bytes as binary.
    const [ba, bb] = [next(a), next(b)]
    t.is(events[0].publish('news', Buffer.from([1, 2, 3])), 3)
    for (const m of await Promise.all([ba, bb])) t.deepEqual([[...m.data], m.binary], [[1, 2, 3], true])
    await until(() => stream === 'data: héllo\n\n\x01\x02\x03')
    req.destroy()
    a.close()
    b.close()
    await Promise.all([closed(a), closed(b)])
  } finally {
    await engine.stop()
  }
})

test('one port: a WebSocket that stops reading turns unwritable, and writable again once read (water marks)', async (t) => {
  const writability: boolean[] = []
  let ws: import('riptide').WebSocketConn | undefined
  const engine = await serve('tcp://127.0.0.1:0', {
    onWritability: () => t.fail('the HTTP side hears nothing of an upgraded connection'),
    websocket: {
      onOpen: (c) => void (ws = c),
      onWritability: (_, writable) => void writability.push(writable),
    },
  }, { codec: codecs.http1({ websocket: { routes: ['/chat'] } }), writeHighWaterMark: 64 * 1024, writeLowWaterMark: 16 * 1024 })
  try {
    const client = await open(`ws://127.0.0.1:${engine.port}/chat`)
    await until(() => ws !== undefined)
    const raw = (client as unknown as { _socket: net.Socket })._socket
    raw.pause()
    const chunk = 'x'.repeat(64 * 1024)
    let sent = 0
    while (ws!.write(chunk)) sent++
    sent++
    await until(() => writability[0] === false)
    let received = 0
    client.on('message', () => void received++)
    raw.resume()
    await until(() => writability.includes(true) && received === sent, 10_000)
    t.deepEqual(writability, [false, true])
    client.close()
    await closed(client)
  } finally {
    await engine.stop()
  }
})

test('one port over tls://: https GET and wss with compression, 1 MiB byte for byte', async (t) => {
  const engine = await serve('tls://127.0.0.1:0', handler(), {
    codec: codecs.http1({ websocket: { routes: ['/chat'], compression: true } }),
    tls: { cert: pki.cert, key: pki.key },
  })
  try {
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: engine.port, path: '/', ca: pki.ca, servername: 'localhost' }, (res) => {
          let b = ''
          res.on('data', (d: Buffer) => (b += d.toString()))
          res.on('end', () => resolve(b))
        })
        .on('error', reject)
    })
    t.is(body, PAGE)
    const ws = await open(`wss://127.0.0.1:${engine.port}/chat`, { ca: pki.ca, perMessageDeflate: true, servername: 'localhost' } as WebSocket.ClientOptions)
    t.true(ws.extensions.includes('permessage-deflate'))
    const bin = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 7) & 255))
    ws.send(bin)
    t.true((await next(ws)).data.equals(bin))
    ws.close(1000)
    t.is((await closed(ws)).code, 1000)
  } finally {
    await engine.stop()
  }
})

test('one port: worker reactors run it with the handler module', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', workerHandler, {
    codec: codecs.http1({ websocket: { routes: ['/chat'] } }),
    reactors: 2,
    workerModule: join(__dirname, 'fixtures', 'http-ws-handler.ts'),
  })
  try {
    const pages = new Set<string>()
    const sockets = new Set<string>()
    // A page and two WebSockets a round, so neither kind keeps to one reactor.
    for (let i = 0; i < 16 && (pages.size < 2 || sockets.size < 2); i++) {
      const page = await get(engine.port, '/', new http.Agent())
      t.regex(page.body, /^[01]:page$/)
      pages.add(page.body[0])
      for (const j of [0, 1]) {
        const ws = await open(`ws://127.0.0.1:${engine.port}/chat`)
        ws.send(`m${i}.${j}`)
        const [reactor, text] = (await next(ws)).data.toString().split(':')
        t.is(text, `m${i}.${j}`)
        sockets.add(reactor)
        ws.close()
        await closed(ws)
      }
    }
    t.deepEqual([[...pages].sort(), [...sockets].sort()], [['0', '1'], ['0', '1']])
  } finally {
    await engine.stop()
  }
})

test('one port: the options are checked', async (t) => {
  for (const websocket of [{}, { routes: [] }, { routes: ['chat'] }, { routes: ['/a?b'] }, { routes: ['/a*b'] }, { routes: ['/a'], maxPayload: 0 }, { routes: ['/a'], compresion: true }, null]) {
    t.throws(() => codecs.http1({ websocket } as never), { code: 'ERR_INVALID_ARG_VALUE' }, JSON.stringify(websocket))
  }
  const codec = codecs.http1({ websocket: { routes: ['/chat'] } })
  t.deepEqual(codec.websocket, { routes: ['/chat'], maxPayload: 16 << 20, compression: false, idleTimeout: 0, closeTimeout: 5000, subprotocols: [] })
  await t.throwsAsync(serve([{ url: 'tcp://127.0.0.1:0', codec }], handler()), { code: 'ERR_INVALID_ARG_VALUE' })
  await t.throwsAsync(serve('tcp://127.0.0.1:0', { onTraffic() {} } as never, { codec }), { code: 'ERR_INVALID_ARG_VALUE' }, 'a handler without websocket')
  t.throws(() => new Client({}, { codec }), { code: 'ERR_INVALID_ARG_VALUE' })
})

test('one port: an error in a WebSocket callback goes to its onError, an HTTP one to the outer onError', async (t) => {
  const errors: Array<[string, unknown]> = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic() {
      throw new Error('http')
    },
    onError: (conn, err) => {
      errors.push(['outer', (err as Error).message])
      conn?.close()
    },
    websocket: {
      onTraffic() {
        throw new Error('ws')
      },
      onError: (ws, err) => void errors.push([ws === undefined ? 'none' : 'ws', (err as Error).message]),
    },
  }, { codec: codecs.http1({ websocket: { routes: ['/chat'] } }) })
  try {
    await get(engine.port, '/').catch(() => undefined)
    const ws = await open(`ws://127.0.0.1:${engine.port}/chat`)
    ws.send('x')
    await until(() => errors.length === 2)
    t.deepEqual(errors, [['outer', 'http'], ['ws', 'ws']])
    ws.close()
    await closed(ws)
  } finally {
    await engine.stop()
  }
})

test('one port: closes report the peer\'s close code to the WebSocket side and the error to both', async (t) => {
  const closes: Array<[string, RiptideError | undefined]> = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onClose: (_, err) => void closes.push(['outer', err]),
    websocket: { onClose: (_, err) => void closes.push(['ws', err]) },
  }, { codec: codecs.http1({ websocket: { routes: ['/chat'] } }) })
  try {
    const ws = await open(`ws://127.0.0.1:${engine.port}/chat`)
    ws.close(4002, 'done')
    await closed(ws)
    await until(() => closes.length === 2)
    t.deepEqual(closes.map(([side]) => side), ['ws', 'outer'])
    for (const [, err] of closes) t.true(err instanceof WebSocketCloseError && err.closeCode === 4002 && err.reason === 'done')
  } finally {
    await engine.stop()
  }
})
