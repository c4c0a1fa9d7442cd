// codecs.resp() options, parseCommand and the resp.* reply builders, without a server; the
// codec against real clients is in redis.spec.ts, against hostile input in hostile/resp.spec.ts.

import test from 'ava'
import { codecs, parseCommand, resp } from 'riptide'

test('codecs.resp() fills redis-server-like defaults and refuses unknown keys and out-of-range numbers', (t) => {
  t.deepEqual(codecs.resp(), {
    kind: 'resp',
    maxBulkLength: 512 * 1024 * 1024,
    maxElements: 65536,
    maxInlineLength: 65536,
    maxRequestSize: 1024 * 1024 * 1024,
  })
  t.is(codecs.resp({ maxElements: 10 }).maxElements, 10)
  for (const bad of [{ maxBulkLength: 0 }, { maxBulkLength: 2 ** 32 }, { maxElements: 1.5 }, { maxInlineLength: -1 }, { maxRequestSize: Number.NaN }]) {
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
