import test from 'ava'
import { codecs, serve, type Conn } from 'riptide'
import { connect, portOf, randomBytes, readExactly, rng, until, writeInRandomSplits } from './helpers'

/** Writes `data` in random small pieces with pauses, so frames split across reads. */
async function trickle(s: import('node:net').Socket, data: Buffer, seed: number): Promise<void> {
  const next = rng(seed)
  for (let off = 0; off < data.length; ) {
    const n = Math.min(data.length - off, 1 + Math.floor(next() * 7))
    s.write(data.subarray(off, off + n))
    off += n
    if (next() < 0.3) await new Promise((r) => setTimeout(r, 1))
  }
}

function lengthPrefixed(msgs: string[]): Buffer {
  return Buffer.concat(msgs.map((m) => {
    const b = Buffer.from(m)
    const h = Buffer.alloc(2)
    h.writeUInt16BE(b.length)
    return Buffer.concat([h, b])
  }))
}

test('lengthField: whole frames in under random splits, framed writes out', async (t) => {
  const frames: string[] = []
  const engine = await serve({ url: 'tcp://127.0.0.1:0', codec: codecs.lengthField({ lengthFieldLength: 2 }) }, {
    onTraffic(conn, frame) {
      frames.push(Buffer.from(frame).toString())
      conn.write(Buffer.from(frame).toString().toUpperCase())
    },
  })
  const msgs = Array.from({ length: 50 }, (_, i) => `message ${i} ${'x'.repeat(i * 7)}`)
  const s = await connect(engine.port)
  const expected = lengthPrefixed(msgs.map((m) => m.toUpperCase()))
  const echoed = readExactly(s, expected.length)
  await trickle(s, lengthPrefixed(msgs), 7)
  t.true((await echoed).equals(expected))
  t.deepEqual(frames, msgs)
  s.destroy()
  await engine.stop()
})

test('two listeners on one engine, each with its own codec', async (t) => {
  const engine = await serve(
    [
      { url: 'tcp://127.0.0.1:0', codec: codecs.line() },
      { url: 'tcp://127.0.0.1:0', codec: codecs.fixedLength({ frameLength: 4 }) },
    ],
    {
      onTraffic(conn, frame) {
        // Lines come back bracketed; 4-byte records come back reversed.
        const text = Buffer.from(frame).toString()
        conn.write(frame.length === 4 && conn.localPort === portOf(engine.addresses[1]) ? [...text].reverse().join('') : `<${text}>`)
      },
    },
  )
  const lines = await connect(portOf(engine.addresses[0]))
  await trickle(lines, Buffer.from('one\r\ntwo\nthree\n'), 3)
  t.is((await readExactly(lines, 20)).toString(), '<one>\n<two>\n<three>\n')
  const fixed = await connect(portOf(engine.addresses[1]))
  await trickle(fixed, Buffer.from('abcdefgh'), 5)
  t.is((await readExactly(fixed, 8)).toString(), 'dcbahgfe')
  lines.destroy()
  fixed.destroy()
  await engine.stop()
})

test('frame errors go to onError and the connection goes on; unencodable writes too', async (t) => {
  const errors: string[] = []
  const frames: string[] = []
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, frame) {
      const text = Buffer.from(frame).toString()
      frames.push(text)
      if (text === 'bad write') conn.write('has\na line break')
      else conn.write(text)
    },
    onError(conn, err) {
      errors.push(`${(err as { code: string }).code} ${conn !== undefined}`)
    },
  }, { codec: codecs.line({ maxLength: 16 }) })
  const s = await connect(engine.port)
  s.write(`${'y'.repeat(40)}\nshort\nbad write\n`)
  t.is((await readExactly(s, 6)).toString(), 'short\n')
  await until(() => errors.length === 2)
  t.deepEqual(errors, ['ERR_FRAME_TOO_LONG true', 'ERR_FRAME_UNENCODABLE true'])
  t.deepEqual(frames, ['short', 'bad write'])
  s.write('still here\n')
  t.is((await readExactly(s, 11)).toString(), 'still here\n')
  s.destroy()
  await engine.stop()
})

test('custom framing in JS: onTraffic returns what it consumed, the rest comes back with the next bytes', async (t) => {
  const records: string[] = []
  let sawBuffered = -1
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      const whole = data.length - (data.length % 4)
      for (let i = 0; i < whole; i += 4) records.push(Buffer.from(data.subarray(i, i + 4)).toString())
      if (data.length % 4 !== 0) setImmediate(() => (sawBuffered = conn.inboundBuffered))
      return whole
    },
  })
  const s = await connect(engine.port)
  const all = Array.from({ length: 200 }, (_, i) => String(i).padStart(4, '0')).join('')
  await trickle(s, Buffer.from(all), 11)
  await until(() => records.length === 200)
  t.is(records.join(''), all)
  t.true(sawBuffered >= 0 && sawBuffered < 4)
  s.destroy()
  await engine.stop()
})

test('custom framing in JS with large records: kept tails of any size (up to 200 kB) come back byte-exact, in order', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      // Records are a 4-byte big-endian length and that many bytes; each is echoed whole.
      let at = 0
      while (data.length - at >= 4) {
        const len = new DataView(data.buffer, data.byteOffset + at).getUint32(0)
        if (data.length - at - 4 < len) break
        conn.write(data.subarray(at + 4, at + 4 + len))
        at += 4 + len
      }
      return at
    },
  })
  const next = rng(7)
  const records = Array.from({ length: 120 }, (_, i) => randomBytes(i, Math.floor(next() ** 2 * 200_000)))
  const wire = Buffer.concat(records.flatMap((r) => {
    const head = Buffer.alloc(4)
    head.writeUInt32BE(r.length)
    return [head, r]
  }))
  const s = await connect(engine.port)
  const want = Buffer.concat(records)
  const got = readExactly(s, want.length)
  await writeInRandomSplits(s, wire, 3)
  t.true((await got).equals(want))
  s.destroy()
  await engine.stop()
})

test('frameTimeout closes a connection whose frame never completes (slowloris)', async (t) => {
  let code: string | undefined
  let conn: Conn | undefined
  const engine = await serve('tcp://127.0.0.1:0', {
    onOpen(c) {
      conn = c
    },
    onClose(_c, err) {
      code = err?.code
    },
  }, { codec: codecs.line(), frameTimeout: 150 })
  const s = await connect(engine.port)
  const started = Date.now()
  const drip = setInterval(() => s.write('.'), 30)
  await until(() => code !== undefined, 5000)
  clearInterval(drip)
  t.is(code, 'ETIMEDOUT')
  t.true(Date.now() - started >= 140)
  t.truthy(conn)
  s.destroy()
  await engine.stop()
})

test('bad codec options are rejected with ERR_INVALID_ARG_VALUE', async (t) => {
  t.throws(() => codecs.lengthField({ lengthFieldLength: 5 }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => codecs.delimiter({ delimiters: [''] }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => codecs.fixedLength({ frameLength: 0 }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => codecs.lengthField({ maxFrameLength: 3 }), { code: 'ERR_INVALID_ARG_VALUE' })
  await t.throwsAsync(serve('tcp://127.0.0.1:0', {}, { codec: { kind: 'nope' } as never }), { code: 'ERR_INVALID_ARG_VALUE' })
})

test('PROXY protocol listener: remoteAddress is the original client; TLVs exposed; bad headers close', async (t) => {
  const seen: string[] = []
  const engine = await serve({ url: 'tcp://127.0.0.1:0', proxyProtocol: 'any', proxyTimeout: 300 }, {
    onOpen(conn) {
      const p = conn.proxyHeader
      const dst = p?.destination?.family === 'unix' ? undefined : p?.destination
      seen.push(`${conn.remoteAddress}:${conn.remotePort} ${dst?.address}:${dst?.port} tlvs ${p?.tlvs.map((x) => `${x.type}=${Buffer.from(x.value)}`).join(',')}`)
    },
    onTraffic(conn, data) {
      conn.write(data)
    },
  })
  const v1 = await connect(engine.port)
  v1.write('PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\nhi')
  t.is((await readExactly(v1, 2)).toString(), 'hi')
  const header = Buffer.from('\r\n\r\n\0\r\nQUIT\n\x21\x11', 'latin1')
  const body = Buffer.from([198, 51, 100, 9, 10, 0, 0, 1, 0x30, 0x39, 0x01, 0xbb, 0x01, 0x00, 0x02, 0x68, 0x32])
  const len = Buffer.alloc(2)
  len.writeUInt16BE(body.length)
  const v2 = await connect(engine.port)
  await trickle(v2, Buffer.concat([header, len, body, Buffer.from('yo')]), 3)
  t.is((await readExactly(v2, 2)).toString(), 'yo')
  t.deepEqual(seen, ['203.0.113.7:51000 10.0.0.1:443 tlvs ', '198.51.100.9:12345 10.0.0.1:443 tlvs 1=h2'])
  const bad = await connect(engine.port)
  const closed = new Promise((r) => bad.once('close', r))
  bad.write('GET / HTTP/1.1\r\n\r\n')
  await closed
  t.is(seen.length, 2, 'no onOpen for a bad header')
  for (const s of [v1, v2]) s.destroy()
  await engine.stop()
})
