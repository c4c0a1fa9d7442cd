// codecs.ltv(): Cellnet's `size | msgId | body` packets, framed in Rust. Bytes on the wire are
// checked against Cellnet's layout (util/packet.go) written by hand here; riptide's own
// servers and clients talk to each other over tcp://, unix:// and TLS.
import test from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, codecs, connect, ltvRecord, serve, type Conn, type LtvCodec } from 'riptide'
import { connect as rawConnect, portOf, readExactly, randomBytes, rng, until, writeInRandomSplits } from './helpers'
import { makePki } from './tls-certs'

const dir = mkdtempSync(join(tmpdir(), 'riptide-ltv-'))
test.after.always(() => rmSync(dir, { recursive: true, force: true }))

/** A Cellnet packet: u16 LE size of (id + body), u16 LE id, body. */
function cellnet(msgId: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4)
  head.writeUInt16LE(2 + body.length, 0)
  head.writeUInt16LE(msgId, 2)
  return Buffer.concat([head, body])
}

/** An echo that adds 1 to the id, so ids are seen to cross in both directions. */
const echo = {
  onTraffic(conn: Conn, body: Uint8Array, { msgId }: { msgId: number }) {
    conn.write(body, { msgId: (msgId + 1) & 0xffff })
  },
}

test('Cellnet packets in under random splits, one onTraffic per message with its id; writes framed as Cellnet does', async (t) => {
  const seen: Array<[number, string]> = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, body, { msgId }) {
      seen.push([msgId, Buffer.from(body).toString()])
      echo.onTraffic(conn, body, { msgId })
    },
  }, { codec: codecs.ltv() })
  const next = rng(3)
  const msgs = Array.from({ length: 60 }, (_, i) => [Math.floor(next() * 0x10000), `m${i}-${'y'.repeat(i * 11)}`] as [number, string])
  msgs.push([0xffff, ''], [0, 'zero'])
  const s = await rawConnect(engine.port)
  const expected = Buffer.concat(msgs.map(([id, m]) => cellnet((id + 1) & 0xffff, Buffer.from(m))))
  const echoed = readExactly(s, expected.length)
  await writeInRandomSplits(s, Buffer.concat(msgs.map(([id, m]) => cellnet(id, Buffer.from(m)))), 9)
  t.true((await echoed).equals(expected), 'the bytes out are Cellnet packets')
  t.deepEqual(seen, msgs)
  s.destroy()
  await engine.stop()
})

test('every layout: 4-byte size and id, big-endian, size counting the whole frame; a riptide client and server agree', async (t) => {
  const codec = codecs.ltv({ sizeBytes: 4, idBytes: 4, byteOrder: 'big', sizeIncludesHeader: true, maxFrameLength: 1 << 20 })
  const wire: Buffer[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, body, { msgId }) {
      conn.write(body, { msgId })
    },
  }, { codec })
  const got: Array<[number, Buffer]> = []
  const conn = await connect(`tcp://127.0.0.1:${engine.port}`, {
    onTraffic(_c, body, { msgId }) {
      got.push([msgId, Buffer.from(body)])
    },
  }, { codec })
  const sent: Array<[number, Buffer]> = [
    [0xffffffff, randomBytes(1, 100_000)],
    [0, Buffer.alloc(0)],
    [0x01020304, Buffer.from('abc')],
  ]
  for (const [msgId, body] of sent) conn.write(body, { msgId })
  await until(() => got.length === sent.length)
  t.deepEqual(got, sent)
  // The record and the frame, byte for byte: size 4+4+3 = 11 counts itself.
  const record = ltvRecord(codec, 0x01020304, 'abc')
  t.deepEqual([...record], [1, 2, 3, 4, 0x61, 0x62, 0x63])
  const raw = await rawConnect(engine.port)
  raw.write(Buffer.from([0, 0, 0, 11, 1, 2, 3, 4, 0x61, 0x62, 0x63]))
  wire.push(await readExactly(raw, 11))
  t.deepEqual([...wire[0]], [0, 0, 0, 11, 1, 2, 3, 4, 0x61, 0x62, 0x63])
  raw.destroy()
  conn.close()
  await engine.stop()
})

test('over unix:// and over TLS (tls:// and a TLS unix:// listener), with a riptide client', async (t) => {
  const pki = makePki()
  const path = join(dir, 'ltv.sock')
  const tlsPath = join(dir, 'ltv-tls.sock')
  const codec = codecs.ltv()
  const engine = await serve(
    [`unix://${path}`, 'tls://127.0.0.1:0', { url: `unix://${tlsPath}`, tls: true }],
    echo,
    { codec, tls: { cert: pki.cert, key: pki.key } },
  )
  const targets: Array<[string, object]> = [
    [`unix://${path}`, {}],
    [`tls://127.0.0.1:${portOf(engine.addresses[1])}`, { tls: { ca: Buffer.from(pki.ca), servername: 'localhost' } }],
    [`unix://${tlsPath}`, { tls: { ca: Buffer.from(pki.ca), servername: 'localhost' } }],
  ]
  for (const [url, extra] of targets) {
    const got: Array<[number, Buffer]> = []
    const conn = await connect(url, { onTraffic: (_c, body, { msgId }) => void got.push([msgId, Buffer.from(body)]) }, { codec, ...extra })
    conn.write('one', { msgId: 10 })
    conn.write(randomBytes(2, 60_000), { msgId: 0xfffe })
    conn.write('three', { msgId: 12 })
    await until(() => got.length === 3)
    t.deepEqual(got.map(([id]) => id), [11, 0xffff, 13], url)
    t.is(got[0][1].toString(), 'one')
    t.true(got[1][1].equals(randomBytes(2, 60_000)))
    conn.close()
  }
  await engine.stop()
})

test('msgId is checked at the boundary; options are checked; writes without an id throw', async (t) => {
  let serverConn: Conn | undefined
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      serverConn = conn
    },
  }, { codec: codecs.ltv() })
  const s = await rawConnect(engine.port)
  await until(() => serverConn !== undefined)
  const conn = serverConn!
  for (const bad of [-1, 0x10000, 1.5, NaN, Infinity, '1', undefined]) {
    const err = t.throws(() => conn.write('x', { msgId: bad as number }))
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARG_VALUE', String(bad))
  }
  t.is((t.throws(() => conn.write('x')) as { code?: string }).code, 'ERR_INVALID_ARG_VALUE')
  t.is((t.throws(() => conn.write('x', { msgId: 1, id: 2 } as object)) as { code?: string }).code, 'ERR_INVALID_ARG_VALUE')
  t.is((t.throws(() => engine.publish('t', 'x')) as { code?: string }).code, 'ERR_INVALID_ARG_VALUE')
  // A body the 2-byte size cannot declare: the encoder refuses it, nothing is sent.
  const unencodable = t.throws(() => conn.write(Buffer.alloc(65534), { msgId: 1 }))
  t.is((unencodable as { code?: string }).code, 'ERR_FRAME_UNENCODABLE')
  // The largest one that fits: 2 + 65533 = 65535.
  conn.write(Buffer.alloc(65533, 7), { msgId: 1 })
  const frame = await readExactly(s, 65537)
  t.is(frame.readUInt16LE(0), 65535)
  t.is(frame.length, 65537)
  for (const bad of [{ sizeBytes: 3 }, { idBytes: 8 }, { byteOrder: 'be' }, { maxFrameLength: 3 }, { sizeIncludesHeader: 1 }, { maxFrame: 10 }]) {
    const err = t.throws(() => codecs.ltv(bad as Partial<LtvCodec>))
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARG_VALUE', JSON.stringify(bad))
  }
  // Listener and dial codecs cannot be LTV: the handler's onTraffic shape is server-wide.
  await t.throwsAsync(serve({ url: 'tcp://127.0.0.1:0', codec: codecs.ltv() }, {}), { message: /server-wide/ })
  const client = new Client({})
  await t.throwsAsync(client.dial(`tcp://127.0.0.1:${engine.port}`, { codec: codecs.ltv() }), { message: /client-wide/ })
  await client.stop()
  // A plain connection refuses a msgId.
  const plain = await serve('tcp://127.0.0.1:0', { onOpen: (c) => void t.throws(() => c.write('x', { msgId: 1 }), { message: /codecs\.ltv/ }) })
  const p = await rawConnect(plain.port)
  await until(() => plain.countConnections() === 1)
  p.destroy()
  s.destroy()
  await plain.stop()
  await engine.stop()
})

test('publish frames one message with its id for every subscriber', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(conn) {
      conn.subscribe('room')
    },
  }, { codec: codecs.ltv() })
  const a = await rawConnect(engine.port)
  const b = await rawConnect(engine.port)
  await until(() => engine.subscriberCount('room') === 2)
  t.is(engine.publish('room', 'state', { msgId: 77 }), 2)
  const want = cellnet(77, Buffer.from('state'))
  t.true((await readExactly(a, want.length)).equals(want))
  t.true((await readExactly(b, want.length)).equals(want))
  a.destroy()
  b.destroy()
  await engine.stop()
})
