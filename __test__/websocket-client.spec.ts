// The WebSocket client (`connect('ws://…' | 'wss://…')`, `Client` with `codecs.websocket()`)
// against servers riptide did not write: the crate's interop echo servers on the `ws` npm
// package and Python `websockets` (crates/riptide-ws/tests/peers/, child processes), and `ws`
// servers in this process (subprotocols, headers, closes from the server, wss:// on
// node:https, restarts for reconnect); refusals from plain HTTP and raw socket servers.

import test from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { WebSocketServer } from 'ws'
import {
  Client,
  codecs,
  connect,
  InvalidOptionError,
  serve,
  WebSocketCloseError,
  WebSocketError,
  type RiptideError,
  type WebSocketClientHandler,
  type WebSocketConn,
} from 'riptide'
import { randomBytes, until } from './helpers'
import { makePki } from './tls-certs'
import { wsPython } from './ws-python'

const pki = makePki()
const peers = join(__dirname, '..', 'crates', 'riptide-ws', 'tests', 'peers')

/** What a client handler saw, in order, and a way to wait for the next message. */
class Seen {
  readonly messages: Array<{ data: Buffer; binary: boolean }> = []
  readonly pings: string[] = []
  readonly pongs: string[] = []
  readonly closes: Array<RiptideError | undefined> = []
  opens = 0
  reconnecting = 0

  handler(): WebSocketClientHandler {
    return {
      onOpen: () => void this.opens++,
      onTraffic: (_, message, { binary }) => void this.messages.push({ data: Buffer.from(message), binary }),
      onPing: (_, data) => void this.pings.push(Buffer.from(data).toString()),
      onPong: (_, data) => void this.pongs.push(Buffer.from(data).toString()),
      onClose: (_, err) => void this.closes.push(err),
      onReconnecting: () => void this.reconnecting++,
    }
  }

  /** The next message not yet taken. */
  async next(): Promise<{ data: Buffer; binary: boolean }> {
    await until(() => this.messages.length > 0, 60_000)
    return this.messages.shift()!
  }
}

/** Starts one of the crate's echo servers; resolves with the process and its port. */
function echoServer(program: string, script: string, mode: 'plain' | 'deflate'): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, [join(peers, script), mode], { stdio: ['ignore', 'pipe', 'inherit'] })
    child.once('error', reject)
    child.stdout!.once('data', (d: Buffer) => resolve({ child, port: Number(d.toString().trim()) }))
  })
}

/** Text of `n` bytes mixing 1- to 4-byte characters (whole characters, so valid UTF-8). */
function text(n: number): string {
  const chars = ['a', 'é', '€', '𝄞']
  let out = ''
  let len = 0
  for (let i = 0; len < n; i++) {
    const c = chars[i % chars.length]
    const size = Buffer.byteLength(c)
    if (len + size > n) {
      out += 'z'.repeat(n - len)
      break
    }
    out += c
    len += size
  }
  return out
}

const SIZES = [1, 125, 126, 65535, 65536, 1 << 20, 16 << 20]

for (const [peer, program, script] of [
  ['ws', process.execPath, 'ws_echo_server.cjs'],
  ['Python websockets', '', 'py_echo_server.py'],
] as const) {
  for (const mode of ['plain', 'deflate'] as const) {
    test.serial(`${peer} server (${mode}): 1 B to 16 MiB, text and binary, whole and fragmented, byte for byte; pings both ways; close 4001`, async (t) => {
      const { child, port } = await echoServer(program === '' ? await wsPython() : program, script, mode)
      const seen = new Seen()
      try {
        const ws = await connect(`ws://127.0.0.1:${port}/echo?x=1`, seen.handler(), { compression: mode === 'deflate', maxPayload: 32 << 20 })
        t.is(seen.opens, 1)
        t.true(ws.open)
        t.is(ws.header('upgrade')?.toLowerCase(), 'websocket')
        t.is(ws.header('sec-websocket-extensions') !== undefined, mode === 'deflate')
        for (const size of SIZES) {
          const s = text(size)
          ws.write(s)
          const echoed = await seen.next()
          t.false(echoed.binary)
          t.true(echoed.data.equals(Buffer.from(s)), `text of ${size} B`)
          const b = randomBytes(size, size)
          ws.write(b)
          const back = await seen.next()
          t.true(back.binary)
          t.true(back.data.equals(b), `binary of ${size} B`)
        }
        // The server pings (`ping-me`) and says `ponged` once our automatic pong came.
        ws.write('ping-me')
        t.is((await seen.next()).data.toString(), 'ponged')
        t.deepEqual(seen.pings, ['hi'])
        ws.ping('are you there')
        await until(() => seen.pongs.length === 1)
        t.deepEqual(seen.pongs, ['are you there'])
        ws.close(4001, 'bye é')
        await until(() => seen.closes.length === 1)
        const err = seen.closes[0]
        t.true(err instanceof WebSocketCloseError, String(err))
        t.is((err as WebSocketCloseError).closeCode, 4001)
        t.is((err as WebSocketCloseError).reason, 'bye é')
      } finally {
        child.kill()
      }
    })
  }
}

/** A `ws` server in this process on `port` (0 for any); resolves once listening. */
async function wsServer(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  return wss
}

function portOf(server: { address(): AddressInfo | string | null }): number {
  return (server.address() as AddressInfo).port
}

test('subprotocol choice, request and response headers, a close from the server with its code', async (t) => {
  const requests: Array<Record<string, string | string[] | undefined>> = []
  const wss = await wsServer({ handleProtocols: (offered) => (offered.has('v2') ? 'v2' : false) })
  wss.on('headers', (headers) => headers.push('X-Server: hello'))
  wss.on('connection', (socket, request) => {
    requests.push(request.headers)
    socket.on('message', (data, binary) => {
      if (!binary && data.toString() === 'close me') socket.close(4003, 'server bye')
      else socket.send(data, { binary })
    })
  })
  const seen = new Seen()
  try {
    const ws = await connect(`ws://127.0.0.1:${portOf(wss)}/room/7?a=b`, seen.handler(), {
      subprotocols: ['v1', 'v2'],
      headers: { 'X-Token': 'secret', Origin: 'http://example.test' },
    })
    t.is(ws.protocol, 'v2')
    t.is(ws.header('x-server'), 'hello')
    t.is(requests[0]['x-token'], 'secret')
    t.is(requests[0].origin, 'http://example.test')
    t.is(requests[0]['sec-websocket-protocol'], 'v1, v2')
    t.is(requests[0].host, `127.0.0.1:${portOf(wss)}`)
    ws.write('close me')
    await until(() => seen.closes.length === 1)
    const err = seen.closes[0] as WebSocketCloseError
    t.true(err instanceof WebSocketCloseError)
    t.is(err.closeCode, 4003)
    t.is(err.reason, 'server bye')
    t.false(ws.open)
  } finally {
    wss.close()
  }
})

test('wss:// to a node:https server with ws, the test CA, compression: 1 MiB both ways', async (t) => {
  const https = createHttpsServer({ cert: pki.cert, key: pki.key })
  const wss = new WebSocketServer({ server: https, perMessageDeflate: true })
  wss.on('connection', (socket) => socket.on('message', (data, binary) => socket.send(data, { binary })))
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve))
  const seen = new Seen()
  try {
    const ws = await connect(`wss://localhost:${portOf(https)}/`, seen.handler(), { tls: { ca: pki.ca }, compression: true })
    t.truthy(ws.header('sec-websocket-extensions'))
    t.truthy(ws.conn.peerCertificate)
    const s = text(1 << 20)
    ws.write(s)
    t.true((await seen.next()).data.equals(Buffer.from(s)))
    const b = randomBytes(3, 1 << 20)
    ws.write(b)
    t.true((await seen.next()).data.equals(b))
    ws.close()
    await until(() => seen.closes.length === 1)
    t.is((seen.closes[0] as WebSocketCloseError).closeCode, 1000)
  } finally {
    wss.close()
    https.close()
  }
})

test('Client reconnects after the server restarts, with a new handshake; a refused one counts as a failed dial', async (t) => {
  let wss = await wsServer()
  const port = portOf(wss)
  const keys: string[] = []
  const serveEcho = (server: WebSocketServer) =>
    server.on('connection', (socket, request) => {
      keys.push(String(request.headers['sec-websocket-key']))
      socket.on('message', (data, binary) => socket.send(data, { binary }))
    })
  serveEcho(wss)
  const seen = new Seen()
  const client = new Client(seen.handler(), { codec: codecs.websocket(), reconnect: { initialDelay: 20, maxDelay: 50, jitter: 'none', maxAttempts: 40 } })
  try {
    const ws = await client.dial(`ws://127.0.0.1:${port}/`)
    ws.write('one')
    t.is((await seen.next()).data.toString(), 'one')
    for (const c of wss.clients) c.terminate()
    await new Promise<void>((resolve) => wss.close(() => resolve()))
    await until(() => seen.reconnecting > 0)
    wss = await wsServer({ port })
    serveEcho(wss)
    await until(() => seen.opens === 2, 10_000)
    t.true(ws.open)
    ws.write('two')
    t.is((await seen.next()).data.toString(), 'two')
    t.is(keys.length, 2)
    t.not(keys[0], keys[1])
    t.is(seen.closes.length, 0)
    // Now the port answers 404: every attempt fails its handshake until they run out.
    for (const c of wss.clients) c.terminate()
    await new Promise<void>((resolve) => wss.close(() => resolve()))
    const http = await refusingServer(404, port)
    try {
      await until(() => seen.closes.length === 1, 20_000)
      const err = seen.closes[0] as WebSocketError
      t.true(err instanceof WebSocketError, String(err))
      t.is(err.code, 'ERR_WS_UPGRADE_REFUSED')
      t.is(err.status, 404)
      t.is(seen.opens, 2)
    } finally {
      http.close()
    }
  } finally {
    await client.stop()
    wss.close()
  }
})

test('a client that closes does not reconnect; one reconnecting stops when closed', async (t) => {
  let connections = 0
  const wss = await wsServer()
  wss.on('connection', () => void connections++)
  const seen = new Seen()
  const client = new Client(seen.handler(), { codec: codecs.websocket(), reconnect: { initialDelay: 10, jitter: 'none' } })
  try {
    const ws = await client.dial(`ws://127.0.0.1:${portOf(wss)}/`)
    ws.close(1000, 'done')
    // With reconnect on, onClose comes only for a connection that will not be dialled again.
    await until(() => seen.closes.length === 1)
    t.is((seen.closes[0] as WebSocketCloseError).closeCode, 1000)
    t.is(seen.reconnecting, 0)
    t.is(connections, 1)

  } finally {
    await client.stop()
  }
  // The next attempt waits a minute: close() comes while the connection is reconnecting.
  const patient = new Client(seen.handler(), { codec: codecs.websocket(), reconnect: { initialDelay: 60_000, jitter: 'none' } })
  try {
    const again = await patient.dial(`ws://127.0.0.1:${portOf(wss)}/`)
    for (const c of wss.clients) c.terminate()
    await until(() => seen.reconnecting > 0)
    t.false(again.open)
    again.close()
    await until(() => seen.closes.length === 2)
    t.is(seen.closes[1], undefined)
  } finally {
    await patient.stop()
    wss.close()
  }
})

/** A plain HTTP server answering every request with `status`. */
async function refusingServer(status: number, port = 0): Promise<HttpServer> {
  const server = createHttpServer((_, res) => {
    res.writeHead(status, { 'content-type': 'text/plain' })
    res.end('no WebSocket here')
  })
  // A server that speaks no WebSocket still sees an upgrade request: answer it the same way.
  server.on('upgrade', (_, socket) => {
    socket.on('error', () => undefined) // the client resets once it has read the refusal
    socket.end(`HTTP/1.1 ${status} No\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return server
}

for (const status of [404, 426]) {
  test(`a plain HTTP server answering ${status} refuses the handshake: ERR_WS_UPGRADE_REFUSED with the status`, async (t) => {
    const server = await refusingServer(status)
    const seen = new Seen()
    try {
      const err = await t.throwsAsync(connect(`ws://127.0.0.1:${portOf(server)}/`, seen.handler()), { instanceOf: WebSocketError })
      t.is(err!.code, 'ERR_WS_UPGRADE_REFUSED')
      t.is((err as WebSocketError).status, status)
      t.is(seen.opens, 0)
      t.is(seen.closes.length, 0)
    } finally {
      server.close()
    }
  })
}

/** A raw socket server answering the upgrade request with `answer(key)`. */
async function rawServer(answer: (key: string) => string) {
  const server = createNetServer((socket) => {
    let head = ''
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? ''
      socket.write(answer(key))
    })
    socket.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

const accept = (key: string) => createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
const upgraded = (acceptValue: string, extra = '') => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptValue}\r\n${extra}\r\n`

for (const [what, answer] of [
  ['a bad Sec-WebSocket-Accept', () => upgraded(accept('not the key'))],
  ['a subprotocol it was not offered', (key: string) => upgraded(accept(key), 'Sec-WebSocket-Protocol: other\r\n')],
  ['an extension it was not offered', (key: string) => upgraded(accept(key), 'Sec-WebSocket-Extensions: permessage-deflate\r\n')],
] as const) {
  test(`a 101 with ${what} fails the handshake: ERR_WS_HANDSHAKE`, async (t) => {
    const server = await rawServer(answer)
    try {
      const err = await t.throwsAsync(connect(`ws://127.0.0.1:${portOf(server)}/`, {}, { subprotocols: ['chat'] }), { instanceOf: WebSocketError })
      t.is(err!.code, 'ERR_WS_HANDSHAKE')
      t.is((err as WebSocketError).status, undefined)
    } finally {
      server.close()
    }
  })
}

test('a server that never answers the upgrade: the connect timeout covers the handshake (ETIMEDOUT)', async (t) => {
  const server = await rawServer(() => '')
  try {
    const err = await t.throwsAsync(connect(`ws://127.0.0.1:${portOf(server)}/`, {}, { connectTimeout: 200 }))
    t.is((err as RiptideError).code, 'ETIMEDOUT')
  } finally {
    server.close()
  }
})

test('riptide client and server: onPing and onPong on both sides, the subprotocol, messages both ways', async (t) => {
  const server = { pings: [] as string[], pongs: [] as string[], conn: undefined as WebSocketConn | undefined }
  const engine = await serve(
    'tcp://127.0.0.1:0',
    {
      onOpen: (conn) => void (server.conn = conn),
      onTraffic: (conn, message, { binary }) => void conn.write(binary ? message.slice() : Buffer.from(message).toString()),
      onPing: (_, data) => void server.pings.push(Buffer.from(data).toString()),
      onPong: (_, data) => void server.pongs.push(Buffer.from(data).toString()),
    },
    { codec: codecs.websocket({ subprotocols: ['b', 'a'] }) },
  )
  const seen = new Seen()
  try {
    const ws = await connect(`ws://127.0.0.1:${engine.port}/`, seen.handler(), { subprotocols: ['a', 'b'] })
    t.is(ws.protocol, 'a', "the server's default: the client's first choice it speaks")
    ws.ping('from client')
    await until(() => seen.pongs.length === 1 && server.pings.length === 1)
    t.deepEqual(seen.pongs, ['from client'])
    t.deepEqual(server.pings, ['from client'])
    server.conn!.ping('from server')
    await until(() => seen.pings.length === 1 && server.pongs.length === 1)
    t.deepEqual(seen.pings, ['from server'])
    t.deepEqual(server.pongs, ['from server'])
    ws.write(new Uint8Array([1, 2, 3]))
    const back = await seen.next()
    t.true(back.binary)
    t.deepEqual([...back.data], [1, 2, 3])
  } finally {
    await engine.stop()
  }
})

test('options are checked at the boundary', async (t) => {
  const bad: Array<[string, () => Promise<unknown>]> = [
    ['unknown key', () => connect('ws://127.0.0.1:1/', {}, { nope: 1 } as never)],
    ['CR/LF in a header value', () => connect('ws://127.0.0.1:1/', {}, { headers: { 'X-A': 'a\r\nB: c' } })],
    ['a header name that is not a token', () => connect('ws://127.0.0.1:1/', {}, { headers: [['X A', 'b']] })],
    ['a header the handshake sets', () => connect('ws://127.0.0.1:1/', {}, { headers: { host: 'other' } })],
    ['maxPayload 0', () => connect('ws://127.0.0.1:1/', {}, { maxPayload: 0 })],
    ['idleTimeout NaN', () => connect('ws://127.0.0.1:1/', {}, { idleTimeout: Number.NaN })],
    ['a subprotocol that is not a token', () => connect('ws://127.0.0.1:1/', {}, { subprotocols: ['a b'] })],
    ['tls on ws://', () => connect('ws://127.0.0.1:1/', {}, { tls: { ca: pki.ca } })],
    ['a codec', () => connect('ws://127.0.0.1:1/', {}, { codec: codecs.line() } as never)],
  ]
  for (const [what, call] of bad) await t.throwsAsync(call(), { instanceOf: InvalidOptionError }, what)
  const client = new Client({}, { codec: codecs.websocket() })
  try {
    await t.throwsAsync(client.dial('tcp://127.0.0.1:1'), { instanceOf: InvalidOptionError })
    await t.throwsAsync(client.dial('ws://127.0.0.1:1/', { codec: codecs.line() }), { instanceOf: InvalidOptionError })
  } finally {
    await client.stop()
  }
  const plain = new Client({})
  try {
    await t.throwsAsync(plain.dial('ws://127.0.0.1:1/'), { instanceOf: InvalidOptionError })
    await t.throwsAsync(plain.dial('tcp://127.0.0.1:1', { headers: { a: 'b' } }), { instanceOf: InvalidOptionError })
  } finally {
    await plain.stop()
  }
  t.throws(() => new Client({}, { codec: codecs.websocket(), maxQueuedWhileReconnecting: 10 }), { instanceOf: InvalidOptionError })
})
