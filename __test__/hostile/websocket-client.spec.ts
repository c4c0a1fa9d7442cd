/**
 * Hostile WebSocket servers against a real riptide client (`connect('ws://…')`), over raw
 * sockets: after a valid 101 each protocol violation gets the close code RFC 6455 names (in a
 * masked close frame), `onClose` reports the violation; a response head that never ends or
 * grows past the limit fails the dial. The client's engine goes on working after each.
 */
import { createHash } from 'node:crypto'
import net, { type AddressInfo } from 'node:net'
import test from 'ava'
import { connect, WebSocketError, type RiptideError } from 'riptide'
import { until } from '../helpers'

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

/** A server frame (unmasked unless `mask` is given): `first` is FIN, RSV and opcode. */
function frame(first: number, payload: Buffer, { declared = payload.length, mask }: { declared?: number; mask?: Buffer } = {}): Buffer {
  const len = declared < 126 ? Buffer.from([declared]) : declared < 65536 ? Buffer.from([126, declared >> 8, declared & 0xff]) : Buffer.concat([Buffer.from([127]), Buffer.alloc(8)])
  if (declared >= 65536) len.writeBigUInt64BE(BigInt(declared), 1)
  if (mask === undefined) return Buffer.concat([Buffer.from([first]), len, payload])
  len[0] |= 0x80
  return Buffer.concat([Buffer.from([first]), len, mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]))])
}

/** The close code in the client's first close frame (client frames are masked), if any. */
function closeCode(bytes: Buffer): number | undefined {
  for (let at = 0; at + 2 <= bytes.length; ) {
    const masked = (bytes[at + 1] & 0x80) !== 0
    const len = bytes[at + 1] & 0x7f
    if (len > 125 || !masked) return undefined // the client sends only small frames here
    const mask = bytes.subarray(at + 2, at + 6)
    const payload = Buffer.from(bytes.subarray(at + 6, at + 6 + len).map((b, i) => b ^ mask[i % 4]))
    if ((bytes[at] & 0x0f) === 8) return payload.length >= 2 ? payload.readUInt16BE(0) : 1005
    at += 6 + len
  }
  return undefined
}

/**
 * A raw server: answers the upgrade with `head(key)` and then `after`, and records what the
 * client sends after its request (until the client ends).
 */
async function hostileServer(head: (key: string) => string, after: Buffer) {
  const sent: Buffer[] = []
  const server = net.createServer((socket) => {
    let got = Buffer.alloc(0)
    let answered = false
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d])
      const end = got.indexOf('\r\n\r\n')
      if (!answered && end >= 0) {
        answered = true
        const key = /sec-websocket-key: *(\S+)/i.exec(got.toString('latin1'))?.[1] ?? ''
        socket.write(Buffer.concat([Buffer.from(head(key), 'latin1'), after]))
        got = got.subarray(end + 4)
      }
    })
    socket.on('error', () => undefined)
    socket.on('close', () => sent.push(got))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port, sent }
}

const ok = (key: string) =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${createHash('sha1').update(key + GUID).digest('base64')}\r\n\r\n`

for (const [what, after, code, errCode] of [
  ['a masked frame', frame(0x81, Buffer.from('hi'), { mask: Buffer.from([1, 2, 3, 4]) }), 1002, 'ERR_WS_PROTOCOL'],
  ['a reserved opcode', frame(0x83, Buffer.from('x')), 1002, 'ERR_WS_PROTOCOL'],
  ['RSV1 without an extension', frame(0xc1, Buffer.from('x')), 1002, 'ERR_WS_PROTOCOL'],
  ['a 126-byte ping', frame(0x89, Buffer.alloc(126)), 1002, 'ERR_WS_PROTOCOL'],
  ['invalid UTF-8 split across fragments', Buffer.concat([frame(0x01, Buffer.from([0x61, 0xf0, 0x9f])), frame(0x80, Buffer.from([0x41]))]), 1007, 'ERR_WS_INVALID_UTF8'],
  ['a message declared at 2^53 bytes', frame(0x82, Buffer.alloc(0), { declared: 2 ** 53 }), 1009, 'ERR_WS_MESSAGE_TOO_BIG'],
  ['a close code that may not be sent', frame(0x88, Buffer.from([0x03, 0xed])), 1002, 'ERR_WS_BAD_CLOSE'],
] as const) {
  test(`a server sending ${what} after its 101 gets close ${code}; onClose has ${errCode}`, async (t) => {
    const { server, port, sent } = await hostileServer(ok, after)
    const closes: Array<RiptideError | undefined> = []
    try {
      await connect(`ws://127.0.0.1:${port}/`, { onClose: (_, err) => void closes.push(err) }, { maxPayload: 1000 })
      await until(() => closes.length === 1 && sent.length === 1)
      t.is(closes[0]?.code, errCode, String(closes[0]))
      t.is(closeCode(sent[0]), code)
    } finally {
      server.close()
    }
  })
}

for (const [what, head] of [
  ['a head past 8 KiB', () => `HTTP/1.1 101 Switching Protocols\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`],
  ['a head without line breaks', () => 'x'.repeat(20_000)],
  ['a head of many short lines', () => 'HTTP/1.1 101 OK\r\n' + 'A: b\r\n'.repeat(2000)],
] as const) {
  test(`${what} fails the dial with ERR_WS_HANDSHAKE, and the next dial works`, async (t) => {
    const bad = await hostileServer(head, Buffer.alloc(0))
    const good = await hostileServer(ok, frame(0x81, Buffer.from('fine')))
    try {
      const err = await t.throwsAsync(connect(`ws://127.0.0.1:${bad.port}/`, {}), { instanceOf: WebSocketError })
      t.is(err!.code, 'ERR_WS_HANDSHAKE')
      const messages: string[] = []
      const ws = await connect(`ws://127.0.0.1:${good.port}/`, { onTraffic: (_, m) => void messages.push(Buffer.from(m).toString()) })
      await until(() => messages.length === 1)
      t.deepEqual(messages, ['fine'])
      ws.terminate()
    } finally {
      bad.server.close()
      good.server.close()
    }
  })
}
