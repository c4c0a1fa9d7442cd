/**
 * Hostile clients of one port for HTTP and WebSocket (`codecs.http1({ websocket })`), over raw
 * sockets: bad handshakes on a WebSocket route are refused with their status and closed, heads
 * over the limits are refused, and bytes after a refused upgrade never reach a handler. The
 * server goes on serving after each.
 */
import test from 'ava'
import { codecs, parseRequest, response, serve, type Engine } from 'riptide'
import { exchange } from './helpers'

const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='
const upgrade = (path = '/chat', extra = '', version = '13', key = KEY) =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: ${version}\r\n${extra}\r\n`
/** A masked text frame "hi". */
const HI = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2])
const GET = 'GET /after HTTP/1.1\r\nHost: x\r\n\r\n'

/** A server that answers GETs, echoes WebSocket messages, refuses upgrades asking for `/chat?deny`, and records every call. */
async function server(): Promise<{ engine: Engine; calls: string[] }> {
  const calls: string[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, frame) {
      const req = parseRequest(frame)
      calls.push(`http ${req.path}`)
      conn.write(response({ body: 'page' }))
      if (!req.keepAlive) conn.close()
    },
    onError(conn, err) {
      calls.push(`error ${(err as { code?: string }).code}`)
      const status = (err as { code?: string }).code === 'ERR_HTTP_HEADER_TOO_LARGE' ? 431 : 400
      conn?.write(response({ status, headers: { Connection: 'close' } }))
      conn?.close()
    },
    websocket: {
      onUpgrade(_, request) {
        calls.push(`upgrade ${request.path}`)
        return request.path.endsWith('deny') ? { status: 403 } : undefined
      },
      onTraffic(ws, message) {
        calls.push(`ws ${Buffer.from(message).toString()}`)
        ws.write(message.slice())
      },
    },
  }, { codec: codecs.http1({ maxHeaderSize: 16 * 1024, websocket: { routes: ['/chat'] } }) })
  return { engine, calls }
}

/** A GET on a fresh connection is answered: the server still serves. */
async function stillServes(t: { true(v: boolean, m?: string): void }, engine: Engine): Promise<void> {
  const r = await exchange(engine.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 2000)
  t.true(r.reply.toString('latin1').startsWith('HTTP/1.1 200 '), 'a GET after the hostile client')
}

const refusals: Array<[string, string, number]> = [
  ['a key that is not 16 bytes', upgrade('/chat', '', '13', 'c2hvcnQ='), 400],
  ['no key', upgrade('/chat').replace(`Sec-WebSocket-Key: ${KEY}\r\n`, ''), 400],
  ['version 8', upgrade('/chat', '', '8'), 426],
  ['no version', upgrade('/chat').replace('Sec-WebSocket-Version: 13\r\n', ''), 426],
  ['a POST', upgrade('/chat').replace('GET', 'POST'), 405],
  ['a body', upgrade('/chat', 'Content-Length: 2\r\n') + 'ab', 400],
  ['a route not listed', upgrade('/elsewhere'), 404],
  ['a head over the handshake\'s 8 KiB (under HTTP\'s 16 KiB)', upgrade('/chat', `X-Big: ${'a'.repeat(9000)}\r\n`), 431],
]

for (const [name, request, status] of refusals) {
  test(`an upgrade with ${name} is refused with ${status} and closed; the bytes after it never reach a handler`, async (t) => {
    const { engine, calls } = await server()
    try {
      const r = await exchange(engine.port, Buffer.concat([Buffer.from(request), HI, Buffer.from(GET)]))
      t.true(r.closed)
      const reply = r.reply.toString('latin1')
      t.true(reply.startsWith(`HTTP/1.1 ${status} `), reply)
      t.is(reply.indexOf('HTTP/1.1', 1), -1, 'one response, nothing after it')
      if (status === 426) t.regex(reply, /Sec-WebSocket-Version: 13/)
      t.deepEqual(calls, [])
      await stillServes(t, engine)
    } finally {
      await engine.stop()
    }
  })
}

test('an upgrade refused by onUpgrade: the frames and requests after it never reach a handler', async (t) => {
  const { engine, calls } = await server()
  try {
    const r = await exchange(engine.port, Buffer.concat([Buffer.from('GET /before HTTP/1.1\r\nHost: x\r\n\r\n' + upgrade('/chat?deny')), HI, Buffer.from(GET)]))
    t.true(r.closed)
    const reply = r.reply.toString('latin1')
    t.true(reply.startsWith('HTTP/1.1 200 '), 'the request before the upgrade is answered first')
    const second = reply.indexOf('HTTP/1.1', 1)
    t.true(reply.slice(second).startsWith('HTTP/1.1 403 '), reply)
    t.is(reply.indexOf('HTTP/1.1', second + 1), -1)
    t.deepEqual(calls, ['http /before', 'upgrade /chat?deny'])
    await stillServes(t, engine)
  } finally {
    await engine.stop()
  }
})

test('a head over maxHeaderSize is refused before the upgrade: onError, then the handler\'s 431 and a close', async (t) => {
  const { engine, calls } = await server()
  try {
    const r = await exchange(engine.port, Buffer.concat([Buffer.from(upgrade('/chat', `X-Big: ${'a'.repeat(20_000)}\r\n`)), HI]))
    t.true(r.closed)
    t.true(r.reply.toString('latin1').startsWith('HTTP/1.1 431 '))
    t.deepEqual(calls, ['error ERR_HTTP_HEADER_TOO_LARGE'])
    // Sent without an end, in a head that never ends: refused as it passes the limit.
    const endless = await exchange(engine.port, `GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nX: ${'b'.repeat(17_000)}`)
    t.true(endless.closed)
    t.true(endless.reply.toString('latin1').startsWith('HTTP/1.1 431 '))
    await stillServes(t, engine)
  } finally {
    await engine.stop()
  }
})

test('malformed HTTP before an upgrade goes to onError, and nothing after it is read', async (t) => {
  const { engine, calls } = await server()
  try {
    const r = await exchange(engine.port, Buffer.concat([Buffer.from('GET / HTTP/1.1\nHost: x\r\n\r\n' + upgrade('/chat')), HI]))
    t.true(r.closed)
    t.true(r.reply.toString('latin1').startsWith('HTTP/1.1 400 '))
    t.deepEqual(calls, ['error ERR_HTTP_PARSE'])
    await stillServes(t, engine)
  } finally {
    await engine.stop()
  }
})
