/**
 * Hostile WebSocket peers against a real riptide server (`codecs.websocket()`), over raw
 * sockets: each protocol violation gets the close code RFC 6455 names, the connection ends,
 * `onClose` reports the violation, and the server keeps serving.
 */
import net from 'node:net'
import test from 'ava'
import { codecs, serve, WebSocketCloseError, type Engine } from 'riptide'
import { exchange } from './helpers'

const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='
const UPGRADE = `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d])

/** A client frame: `first` (FIN, RSV, opcode), masked unless `masked` is false. */
function frame(first: number, payload: Buffer, { masked = true, declared = payload.length } = {}): Buffer {
  const len = declared < 126 ? Buffer.from([declared]) : declared < 65536 ? Buffer.from([126, declared >> 8, declared & 0xff]) : Buffer.concat([Buffer.from([127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(declared)); return b })()])
  if (!masked) return Buffer.concat([Buffer.from([first]), len, payload])
  len[0] |= 0x80
  const body = Buffer.from(payload.map((b, i) => b ^ MASK[i % 4]))
  return Buffer.concat([Buffer.from([first]), len, MASK, body])
}

/** The server's close frame after its 101: the code it carries. */
function closeCode(reply: Buffer): number | undefined {
  const head = reply.indexOf('\r\n\r\n')
  if (!reply.subarray(0, head).toString('latin1').startsWith('HTTP/1.1 101')) return undefined
  const f = reply.subarray(head + 4)
  return f[0] === 0x88 && f.length >= 4 ? f.readUInt16BE(2) : undefined
}

/** An echo server recording the codes of the errors its connections closed with. */
async function server(): Promise<{ engine: Engine; codes: string[] }> {
  const codes: string[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic: (conn, message, { binary }) => void conn.write(binary ? message.slice() : Buffer.from(message).toString()),
    onClose: (_, err) => void codes.push(err?.code ?? 'none'),
  }, { codec: codecs.websocket({ maxPayload: 1000 }) })
  return { engine, codes }
}

/** A masked "hi" round trip on a fresh connection: the server still serves. */
async function stillServes(t: { true(v: boolean, m?: string): void }, engine: Engine): Promise<void> {
  const echo = Buffer.from([0x81, 0x02, 0x68, 0x69])
  const reply = await new Promise<Buffer>((resolve, reject) => {
    let got = Buffer.alloc(0)
    const s = net.connect(engine.port, '127.0.0.1', () => s.write(Buffer.concat([Buffer.from(UPGRADE), frame(0x81, Buffer.from('hi'))])))
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d])
      const head = got.indexOf('\r\n\r\n')
      if (head >= 0 && got.length >= head + 4 + echo.length) {
        s.destroy()
        resolve(got.subarray(head + 4, head + 4 + echo.length))
      }
    })
    s.once('error', reject)
    s.once('close', () => resolve(got))
  })
  t.true(reply.equals(echo), 'echo after a hostile peer')
}

const cases: Array<[string, Buffer, number, string]> = [
  ['an unmasked client frame', frame(0x81, Buffer.from('hello'), { masked: false }), 1002, 'ERR_WS_PROTOCOL'],
  ['a reserved opcode', frame(0x83, Buffer.alloc(0)), 1002, 'ERR_WS_PROTOCOL'],
  ['RSV1 without an extension', frame(0xc1, Buffer.from('x')), 1002, 'ERR_WS_PROTOCOL'],
  ['a control frame over 125 bytes', frame(0x89, Buffer.alloc(126)), 1002, 'ERR_WS_PROTOCOL'],
  ['a fragmented control frame', frame(0x09, Buffer.from('x')), 1002, 'ERR_WS_PROTOCOL'],
  ['invalid UTF-8 split across fragments', Buffer.concat([frame(0x01, Buffer.from([0x61, 0xf0, 0x9f])), frame(0x80, Buffer.from([0x41]))]), 1007, 'ERR_WS_INVALID_UTF8'],
  ['a message over maxPayload (declared, not sent)', frame(0x82, Buffer.alloc(0), { declared: 1001 }), 1009, 'ERR_WS_MESSAGE_TOO_BIG'],
  ['a fragmented message over maxPayload', Buffer.concat([frame(0x02, Buffer.alloc(600)), frame(0x80, Buffer.alloc(600))]), 1009, 'ERR_WS_MESSAGE_TOO_BIG'],
  ['a 2^53 length', frame(0x82, Buffer.alloc(0), { declared: 2 ** 53 }), 1009, 'ERR_WS_MESSAGE_TOO_BIG'],
]

for (const [name, bytes, code, error] of cases) {
  test(`${name}: close code ${code}, onClose ${error}, and the server keeps serving`, async (t) => {
    const { engine, codes } = await server()
    try {
      const r = await exchange(engine.port, Buffer.concat([Buffer.from(UPGRADE), bytes]))
      t.true(r.closed)
      t.is(closeCode(r.reply), code)
      await stillServes(t, engine)
      t.is(codes[0], error)
    } finally {
      await engine.stop()
    }
  })
}

test('a close frame with a code no peer may send: 1002; with a bad UTF-8 reason: 1007', async (t) => {
  const { engine, codes } = await server()
  try {
    const r1 = await exchange(engine.port, Buffer.concat([Buffer.from(UPGRADE), frame(0x88, Buffer.from([0x03, 0xed]))]))
    t.is(closeCode(r1.reply), 1002)
    const r2 = await exchange(engine.port, Buffer.concat([Buffer.from(UPGRADE), frame(0x88, Buffer.from([0x03, 0xe8, 0xff]))]))
    t.is(closeCode(r2.reply), 1007)
    await stillServes(t, engine)
    t.deepEqual(codes.slice(0, 2), ['ERR_WS_BAD_CLOSE', 'ERR_WS_INVALID_UTF8'])
  } finally {
    await engine.stop()
  }
})

test('a peer closing normally gets its close echoed; onClose has its code and reason', async (t) => {
  const closes: unknown[] = []
  const engine = await serve('tcp://127.0.0.1:0', { onClose: (_, err) => void closes.push(err) }, { codec: codecs.websocket() })
  try {
    const r = await exchange(engine.port, Buffer.concat([Buffer.from(UPGRADE), frame(0x88, Buffer.concat([Buffer.from([0x0f, 0xa2]), Buffer.from('done')]))]))
    t.true(r.closed)
    t.is(closeCode(r.reply), 4002)
    t.true(closes[0] instanceof WebSocketCloseError)
    t.is((closes[0] as WebSocketCloseError).closeCode, 4002)
    t.is((closes[0] as WebSocketCloseError).reason, 'done')
  } finally {
    await engine.stop()
  }
})

test('a bad handshake gets 400 without onOpen; junk past the head before the answer is bounded', async (t) => {
  let opened = 0
  const engine = await serve('tcp://127.0.0.1:0', { onOpen: () => void opened++ }, { codec: codecs.websocket() })
  try {
    const bad = await exchange(engine.port, UPGRADE.replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 8'))
    t.true(bad.closed)
    t.regex(bad.reply.toString('latin1'), /^HTTP\/1\.1 4\d\d /)
    const post = await exchange(engine.port, UPGRADE.replace('GET', 'POST'))
    t.regex(post.reply.toString('latin1'), /^HTTP\/1\.1 4\d\d /)
    const huge = await exchange(engine.port, `GET / HTTP/1.1\r\nX: ${'a'.repeat(20000)}\r\n\r\n`)
    t.true(huge.closed)
    t.regex(huge.reply.toString('latin1'), /^HTTP\/1\.1 431 /)
    t.is(opened, 0)
  } finally {
    await engine.stop()
  }
})
