// codecs.resp() options, parseCommand, RespCommands and the resp.* reply builders, without a server; the
// codec against real clients is in redis.spec.ts, against hostile input in hostile/resp.spec.ts.

import test from 'ava'
import { codecs, parseCommand, resp, RespCommands } from 'riptide'

test('codecs.resp() fills redis-server-like defaults and refuses unknown keys and out-of-range numbers', (t) => {
  t.deepEqual(codecs.resp(), {
    kind: 'resp',
    maxBulkLength: 512 * 1024 * 1024,
    maxElements: 65536,
    maxInlineLength: 65536,
    maxRequestSize: 1024 * 1024 * 1024,
    batch: false,
  })
  t.is(codecs.resp({ maxElements: 10 }).maxElements, 10)
  t.is(codecs.resp({ batch: true }).batch, true)
  for (const bad of [{ maxBulkLength: 0 }, { maxBulkLength: 2 ** 32 }, { maxElements: 1.5 }, { maxInlineLength: -1 }, { maxRequestSize: Number.NaN }, { batch: 1 as never }]) {
    t.throws(() => codecs.resp(bad), { code: 'ERR_INVALID_ARG_VALUE' }, JSON.stringify(bad))
  }
  t.throws(() => codecs.resp({ maxDepth: 3 } as never), { code: 'ERR_INVALID_ARG_VALUE' })
})

test('parseCommand reads a descriptor as views and refuses anything else', (t) => {
  const frame = Buffer.from([2, 0, 0, 0, 4, 0, 0, 0, ...Buffer.from('ECHO'), 2, 0, 0, 0, ...Buffer.from('hi')])
  const args = parseCommand(frame)
  t.deepEqual(args.map((a) => Buffer.from(a).toString()), ['ECHO', 'hi'])
  t.is(args[1].buffer, frame.buffer, 'a view, not a copy')
  for (const bad of [Buffer.alloc(0), Buffer.from([1, 0, 0, 0]), Buffer.from([1, 0, 0, 0, 9, 0, 0, 0, 1]), Buffer.from([0, 0, 0, 0, 1]), Buffer.from([255, 255, 255, 255])]) {
    t.throws(() => parseCommand(bad), { code: 'ERR_INVALID_ARG_VALUE' })
  }
})

test('RespCommands reads a batch of descriptors in place and refuses anything else', (t) => {
  const desc = (...args: string[]) => [...u32le(args.length), ...args.flatMap((a) => [...u32le(a.length), ...Buffer.from(a, 'latin1')])]
  // In a larger buffer, as frames sit in the batch arena.
  const memory = Buffer.from([9, 9, ...desc('SET', 'k\xff', ''), ...desc('PING'), 9])
  const frame = new Uint8Array(memory.buffer, memory.byteOffset + 2, memory.length - 3)
  const c = new RespCommands().read(frame)
  t.true(c.more, 'a fresh frame has a command to read')
  t.true(c.next())
  t.true(c.more, 'PING follows SET')
  t.deepEqual([c.length, c.text(0), c.text(1), c.text(2)], [3, 'SET', 'k\xff', ''])
  t.is(c.bytes(1).buffer, memory.buffer, 'a view, not a copy')
  t.deepEqual([...c.bytes(1)], [107, 255])
  t.throws(() => c.text(3), { code: 'ERR_INVALID_ARG_VALUE' })
  t.true(c.next())
  t.deepEqual([c.length, c.text(0)], [1, 'PING'])
  t.false(c.more, 'PING is the last command')
  t.false(c.next())
  t.is(c.length, 0)
  // A single-command frame is a batch of one; read() starts over.
  t.true(c.read(Buffer.from(desc('GET', 'k'))).next())
  t.is(c.text(1), 'k')
  for (const bad of [Buffer.from([1, 0, 0, 0]), Buffer.from([...desc('PING'), 1, 0, 0, 0, 9, 0, 0, 0, 1]), Buffer.from([255, 255, 255, 255])]) {
    const r = new RespCommands().read(bad)
    t.throws(() => {
      while (r.next());
    }, { code: 'ERR_INVALID_ARG_VALUE' })
  }
  t.throws(() => parseCommand(Buffer.from([...desc('PING'), ...desc('PING')])), { code: 'ERR_INVALID_ARG_VALUE' }, 'a batch is not one command')
})

/** `n` as 4 little-endian bytes. */
function u32le(n: number): number[] {
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24]
}

test('resp.* builds RESP2 replies and refuses what would split a reply', (t) => {
  const s = (b: Uint8Array) => Buffer.from(b).toString('latin1')
  t.is(s(resp.ok), '+OK\r\n')
  t.is(s(resp.nil), '$-1\r\n')
  t.is(s(resp.simple('PONG')), '+PONG\r\n')
  t.is(s(resp.error('ERR nope')), '-ERR nope\r\n')
  t.is(s(resp.integer(-42)), ':-42\r\n')
  t.is(s(resp.integer(9223372036854775807n)), ':9223372036854775807\r\n')
  t.is(s(resp.bulk('héllo')), '$6\r\nh\xc3\xa9llo\r\n')
  t.is(s(resp.bulk(new Uint8Array([0, 13, 10]))), '$3\r\n\x00\r\n\r\n')
  t.is(s(resp.bulk(null)), '$-1\r\n')
  t.is(s(resp.array([resp.integer(1), resp.bulk('a')])), '*2\r\n:1\r\n$1\r\na\r\n')
  t.is(s(resp.array(null)), '*-1\r\n')
  t.throws(() => resp.simple('a\r\n+OK'), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => resp.error('x\ny'), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => resp.integer(2 ** 53), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => resp.integer(1n << 63n), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => resp.integer(Number.NaN), { code: 'ERR_INVALID_ARG_VALUE' })
})
