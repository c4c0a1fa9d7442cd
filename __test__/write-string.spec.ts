import test from 'ava'
import { serve } from 'riptide'
import { connect, readExactly } from './helpers'

/**
 * Strings written in a batch are encoded straight into the staging area when their UTF-8
 * bound fits, and through a Buffer when it does not (too long to stage, or the area is full):
 * the bytes on the wire must be the UTF-8 of each string, in write order, either way.
 */
const STRINGS = [
  'ascii',
  '',
  'é ü ß',
  'emoji 😀 pair',
  'lone \ud800 surrogate',
  'x'.repeat(5461), // 3 × 5461 = 16,383: the last length whose bound is within one staged write
  'y'.repeat(5462), // bound above 16 KiB: encoded aside, staged as bytes
  'é'.repeat(9000), // 18,000 bytes: written past the staging limit
  ...Array.from({ length: 40 }, (_, i) => `${i}:${'€'.repeat(2500)}`), // ~300 KiB: fills the 256 KiB area mid-batch
]
const EXPECTED = Buffer.concat(STRINGS.map((s) => Buffer.from(s)))

test('string writes reach the peer as their UTF-8, in order, staged or not', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn) {
      for (const s of STRINGS) conn.write(s)
      // And outside a batch, after what the batch staged.
      setTimeout(() => conn.write('after ✓'), 5)
    },
  })
  const s = await connect(engine.port)
  s.write('go')
  const got = await readExactly(s, EXPECTED.length + Buffer.byteLength('after ✓'))
  t.true(got.subarray(0, EXPECTED.length).equals(EXPECTED))
  t.is(got.subarray(EXPECTED.length).toString(), 'after ✓')
  s.destroy()
  await engine.stop()
})

test('string writes to many connections in one batch each reach their own peer', async (t) => {
  const engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      const name = Buffer.from(data).toString()
      conn.write(`hello ${name} ü`)
      conn.write('😀')
    },
  })
  const names = Array.from({ length: 20 }, (_, i) => `peer${String(i).padStart(2, '0')}`)
  const sockets = await Promise.all(names.map(() => connect(engine.port)))
  const replies = sockets.map((s, i) => readExactly(s, Buffer.byteLength(`hello ${names[i]} ü😀`)))
  sockets.forEach((s, i) => s.write(names[i]))
  const got = (await Promise.all(replies)).map((b) => b.toString())
  t.deepEqual(
    got,
    names.map((n) => `hello ${n} ü😀`),
  )
  for (const s of sockets) s.destroy()
  await engine.stop()
})
