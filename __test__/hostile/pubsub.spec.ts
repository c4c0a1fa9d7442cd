import test from 'ava'
import { codecs, serve } from 'riptide'
import { handler } from '../fixtures/pubsub-handler'
import { connect, readExactly } from '../helpers'

/** `body` in 4-byte big-endian length-field framing. */
function frame(body: string): Buffer {
  const b = Buffer.from(body)
  const head = Buffer.alloc(4)
  head.writeUInt32BE(b.length)
  return Buffer.concat([head, b])
}

test('a peer asking for 3,000 long topics gets 1,024 and refusals; names over 256 bytes are refused; the server keeps serving', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', handler, { codec: codecs.lengthField() })
  t.teardown(() => engine.stop())
  const hostile = await connect(engine.port)
  const requests = Array.from({ length: 3000 }, (_, i) => frame(`S${String(i).padStart(250, 'x')}`))
  const oversize = frame(`S${'y'.repeat(257)}`)
  hostile.write(Buffer.concat([...requests, oversize]))
  // "ok0" (7 bytes framed) for the first 1,024, then "no" (6 bytes framed).
  const replies = await readExactly(hostile, 1024 * 7 + (3000 - 1024 + 1) * 6)
  let ok = 0
  let no = 0
  for (let at = 0; at < replies.length; ) {
    const len = replies.readUInt32BE(at)
    const body = replies.subarray(at + 4, at + 4 + len).toString()
    if (body === 'ok0') ok++
    else if (body === 'no') no++
    at += 4 + len
  }
  t.is(ok, 1024)
  t.is(no, 3000 - 1024 + 1)
  t.is(engine.subscriberCount('x'.repeat(250)), 0)
  t.is(engine.subscriberCount(`${'x'.repeat(249)}0`), 1)
  // Another client still subscribes and receives.
  const other = await connect(engine.port)
  other.write(frame('Sroom'))
  await readExactly(other, 7)
  const got = readExactly(other, 4 + 2)
  t.is(engine.publish('room', 'hi'), 1)
  t.deepEqual(await got, frame('hi'))
  hostile.destroy()
  other.destroy()
})
