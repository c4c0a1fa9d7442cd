// Hostile LTV from a raw socket against an in-process codecs.ltv() echo server: sizes declared
// over the limit (up to 2^16-1 and 2^32-1) are refused as soon as the header is read and
// skipped without being held; sizes below the id field are corrupt; an endless trickle of a
// frame is closed by frameTimeout. Each gives its error code, memory stays bounded, and the
// server keeps serving. Runs under the driver RIPTIDE_DRIVER names.

import test from 'ava'
import net from 'node:net'
import { codecs, serve, type Engine } from 'riptide'
import { readExactly, until } from '../helpers'
import { exchange } from './helpers'

let engine: Engine
const errors: string[] = []

test.before(async () => {
  engine = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, body, { msgId }) {
      conn.write(body, { msgId })
    },
    onError(_conn, err) {
      errors.push((err as { code: string }).code)
    },
  }, { codec: codecs.ltv({ sizeBytes: 4, maxFrameLength: 4096 }), frameTimeout: 300 })
})

test.after.always(async () => {
  if (engine !== undefined) await engine.stop()
})

/** A frame of this test's layout (u32 LE size of id + body, u16 LE id). */
function frame(msgId: number, body: Buffer): Buffer {
  const head = Buffer.alloc(6)
  head.writeUInt32LE(2 + body.length, 0)
  head.writeUInt16LE(msgId, 4)
  return Buffer.concat([head, body])
}

/** A good frame on a fresh connection comes back. */
async function serving(t: { true(v: boolean, m?: string): void }): Promise<void> {
  const good = frame(9, Buffer.from('still here'))
  const { reply } = await exchange(engine.port, good, 500)
  t.true(reply.equals(good), 'the server keeps serving')
}

/** Bytes of RSS; the codec lives in this process. */
const rss = () => process.memoryUsage().rss

const sizes: Array<[string, number, string]> = [
  ['max + 1 (4093 declared: a 4097-byte frame)', 4093, 'ERR_FRAME_TOO_LONG'],
  ['2^16 - 1', 0xffff, 'ERR_FRAME_TOO_LONG'],
  ['2^32 - 1', 0xffffffff, 'ERR_FRAME_TOO_LONG'],
  ['0 (no room for the id)', 0, 'ERR_FRAME_CORRUPT'],
  ['1 (no room for the id)', 1, 'ERR_FRAME_CORRUPT'],
]

for (const [name, size, code] of sizes) {
  test.serial(`a declared size of ${name} gives ${code}; what follows is skipped, not held, and the connection goes on`, async (t) => {
    errors.length = 0
    const before = rss()
    const s = await new Promise<net.Socket>((resolve, reject) => {
      const c = net.connect(engine.port, '127.0.0.1', () => resolve(c))
      c.once('error', reject)
    })
    const head = Buffer.alloc(4)
    head.writeUInt32LE(size)
    // The header, then 8 MiB: an oversized frame swallows it all (it is discarded as it
    // comes); a corrupt one swallows only its declared bytes.
    s.write(head)
    const junk = Buffer.alloc(1 << 20, 0x5a)
    for (let i = 0; i < 8; i++) await new Promise<void>((resolve) => s.write(junk, () => resolve()))
    await until(() => errors.length > 0)
    t.is(errors[0], code)
    const grown = rss() - before
    t.true(grown < 32 * 1024 * 1024, `RSS grew by ${grown} bytes`)
    s.destroy()
    await serving(t)
  })
}

test.serial('a corrupt size is skipped and the next frame on the same connection is echoed', async (t) => {
  errors.length = 0
  const s = await new Promise<net.Socket>((resolve, reject) => {
    const c = net.connect(engine.port, '127.0.0.1', () => resolve(c))
    c.once('error', reject)
  })
  const good = frame(3, Buffer.from('after'))
  const echoed = readExactly(s, good.length)
  // Size 1: one byte follows (no room for a 2-byte id), then a good frame.
  s.write(Buffer.concat([Buffer.from([1, 0, 0, 0, 0xee]), good]))
  t.true((await echoed).equals(good))
  t.deepEqual(errors, ['ERR_FRAME_CORRUPT'])
  s.destroy()
})

test.serial('an endless trickle of one frame is closed by frameTimeout (ETIMEDOUT), memory bounded', async (t) => {
  const before = rss()
  const s = await new Promise<net.Socket>((resolve, reject) => {
    const c = net.connect(engine.port, '127.0.0.1', () => resolve(c))
    c.once('error', reject)
  })
  let closed = false
  s.on('close', () => (closed = true))
  s.on('error', () => {})
  const head = Buffer.alloc(6)
  head.writeUInt32LE(4000)
  s.write(head)
  // A byte every 20 ms, forever (until the server closes).
  const timer = setInterval(() => {
    if (!s.destroyed) s.write(Buffer.from([0x61]))
  }, 20)
  try {
    await until(() => closed, 5000)
  } finally {
    clearInterval(timer)
  }
  t.true(closed, 'the server closed the trickling connection')
  const grown = rss() - before
  t.true(grown < 16 * 1024 * 1024, `RSS grew by ${grown} bytes`)
  await serving(t)
})
