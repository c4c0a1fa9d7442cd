// Hostile RESP against examples/redis/server.ts from a raw socket: a 2^31 bulk length, a
// 10^6-element array header, arrays nested 10^5 deep, and a 512 MiB bulk declared but never
// sent are each refused with redis-server's protocol error and a close (or, for the bulk
// within limits, held without allocating its declared size); the server's memory stays
// bounded and it keeps serving. Runs under the driver RIPTIDE_DRIVER names.

import test from 'ava'
import net from 'node:net'
import { startExample, stop, rss, type RedisServer } from '../redis-servers'
import { exchange } from './helpers'

let server: RedisServer

test.before(async () => {
  server = await startExample()
})

test.after.always(async () => {
  if (server !== undefined) await stop(server)
})

/** PING on a fresh connection answers PONG. */
async function serving(t: { is(a: unknown, b: unknown, m?: string): void }): Promise<void> {
  const { reply } = await exchange(server.port, '*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n')
  t.is(reply.toString(), '+PONG\r\n+OK\r\n', 'the server keeps serving')
}

const cases: Array<[string, () => Buffer, string]> = [
  ['a 2^31 bulk length', () => Buffer.from('*1\r\n$2147483648\r\n'), '-ERR Protocol error: invalid bulk length\r\n'],
  ['a 2^63-1 bulk length', () => Buffer.from('*1\r\n$9223372036854775807\r\n'), '-ERR Protocol error: invalid bulk length\r\n'],
  ['a 10^6-element array header', () => Buffer.from('*1000000\r\n'), '-ERR Protocol error: invalid multibulk length\r\n'],
  ['arrays nested 10^5 deep', () => Buffer.from('*1\r\n'.repeat(100_000)), "-ERR Protocol error: expected '$', got '*'\r\n"],
  ['an inline command over 64 KiB', () => Buffer.alloc(70_000, 'a'), '-ERR Protocol error: too big inline request\r\n'],
]

for (const [name, bytes, error] of cases) {
  test.serial(`${name} is refused with redis-server's protocol error and a close, memory bounded`, async (t) => {
    const before = rss(server.child.pid!)
    const { reply, closed } = await exchange(server.port, bytes())
    t.is(reply.toString(), error)
    t.true(closed, 'the connection is closed')
    const grown = rss(server.child.pid!) - before
    t.true(grown < 32 * 1024 * 1024, `RSS grew by ${grown} bytes`)
    await serving(t)
  })
}

test.serial('a 512 MiB bulk declared and never sent is not allocated: RSS stays bounded while 1,000 connections hold one each', async (t) => {
  const before = rss(server.child.pid!)
  const sockets = await Promise.all(
    Array.from({ length: 1000 }, () => new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(server.port, '127.0.0.1', () => s.write('*2\r\n$3\r\nGET\r\n$536870912\r\nxxxx', () => resolve(s)))
      s.once('error', reject)
    })),
  )
  // A PING round trip on another connection: by then the server has read the headers above.
  await serving(t)
  const grown = rss(server.child.pid!) - before
  t.true(grown < 64 * 1024 * 1024, `RSS grew by ${grown} bytes for 1,000 declared 512 MiB bulks`)
  for (const s of sockets) s.destroy()
})
