// examples/redis/server.ts against real clients no one here wrote: redis-cli runs a script of
// every command the example serves and must print exactly what it prints for Debian's
// redis-server; the same script sent pipelined in one write must get byte-identical replies;
// redis-benchmark (-P 16) must finish without errors. Needs Debian's redis-server and
// redis-tools (.ci/run installs them); skipped without them. The example runs under the
// driver RIPTIDE_DRIVER names (`npm run test:thread` for the thread driver).

import test from 'ava'
import { spawn } from 'node:child_process'
import net from 'node:net'
import { hasRedis, startExample, startRedisServer, stop, type RedisServer } from './redis-servers'

const redisTest = hasRedis ? test.serial : test.skip
const skipped = hasRedis ? '' : ' (SKIPPED: redis-server or redis-tools is not installed)'

/** Every command the example serves, with its options, edge cases and errors; QUIT last. */
const SCRIPT = [
  'PING',
  'PING hello',
  'PING a b',
  'ECHO "hello world"',
  'ECHO',
  'GET missing',
  'SET k1 v1',
  'GET k1',
  'SET k1 v2 XX',
  'GET k1',
  'SET k1 v3 NX',
  'SET k2 v2 XX',
  'SET k2 v2 NX',
  'SET k3 v3 EX 100',
  'TTL k3',
  'SET k3 v3 PX 100000',
  'TTL k3',
  'SET k3 v4 KEEPTTL',
  'TTL k3',
  'SET k3 v5',
  'TTL k3',
  'SET k4 v EX 0',
  'SET k4 v EX -5',
  'SET k4 v EX abc',
  'SET k4 v PX 10 EX 10',
  'SET k4 v NX XX',
  'SET k4 v EX',
  'SET k4 v BOGUS',
  'SET k4 v EX 9223372036854775807',
  'SET k4',
  'EXISTS k1 k2 k1 nothere',
  'EXISTS',
  'DEL k1 k1 nothere',
  'DEL',
  'EXISTS k1',
  'INCR counter',
  'INCR counter',
  'GET counter',
  'SET notnum abc',
  'INCR notnum',
  'SET big 9223372036854775807',
  'INCR big',
  'SET neg -5',
  'INCR neg',
  'SET lead 007',
  'INCR lead',
  'INCR',
  'SET e v',
  'TTL e',
  'TTL nothere',
  'EXPIRE e 100',
  'TTL e',
  'EXPIRE e 200 NX',
  'EXPIRE e 200 XX',
  'TTL e',
  'EXPIRE e 100 GT',
  'EXPIRE e 300 GT',
  'TTL e',
  'EXPIRE e 50 LT',
  'TTL e',
  'EXPIRE e 10 NX XX',
  'EXPIRE e 10 GT LT',
  'EXPIRE e 10 FOO',
  'EXPIRE e abc',
  'EXPIRE e 9223372036854775807',
  'EXPIRE nothere 10',
  'EXPIRE e 0',
  'GET e',
  'EXISTS e',
  'SET e2 v',
  'EXPIRE e2 -1',
  'GET e2',
  'EXPIRE',
  'TTL',
  'DBSIZE',
  'DBSIZE extra',
  'NOSUCHCOMMAND a b',
  'nosuchcommand',
  'set MixedCase Value',
  'get MixedCase',
  'SeT mixed v',
  'gEt mixed',
  'GeT',
  'hasOwnProperty a',
  '__proto__',
  'constructor x',
  'FLUSHDB BOGUS',
  'FLUSHDB',
  'DBSIZE',
  'SET after flush',
  'FLUSHDB ASYNC',
  'DBSIZE',
  'QUIT',
]

/** Runs `redis-cli` with `args`, `stdin` as its input; resolves with its exit code and output. */
function run(cmd: string, args: string[], stdin = ''): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    child.once('error', reject)
    child.once('exit', (code) => resolve({ code, out }))
    child.stdin.end(stdin)
  })
}

/** The script as RESP arrays, as a client pipelines it (quotes are redis-cli's; none here but ECHO's). */
function pipelined(): Buffer {
  const parts: string[] = []
  for (const line of SCRIPT) {
    const words = line.includes('"') ? [line.split(' ')[0], line.slice(line.indexOf('"') + 1, -1)] : line.split(' ')
    parts.push(`*${words.length}\r\n`, ...words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`))
  }
  return Buffer.from(parts.join(''))
}

/** Sends `bytes` in one write and collects every reply until the server closes (QUIT). */
function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes))
    s.on('data', (d: Buffer) => chunks.push(d))
    s.once('close', () => resolve(Buffer.concat(chunks)))
    s.once('error', reject)
  })
}

let example: RedisServer | undefined
let redis: RedisServer | undefined

test.before(async () => {
  if (!hasRedis) return
  example = await startExample()
  redis = await startRedisServer()
})

test.after.always(async () => {
  for (const s of [example, redis]) if (s !== undefined) await stop(s)
})

redisTest(`redis-cli prints the same for every command against the example and redis-server${skipped}`, async (t) => {
  const script = SCRIPT.join('\n') + '\n'
  const ours = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(example!.port)], script)
  const theirs = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(redis!.port)], script)
  t.is(theirs.code, 0, theirs.out)
  t.is(ours.code, theirs.code)
  t.deepEqual(ours.out.split('\n'), theirs.out.split('\n'))
  t.true(ours.out.includes('PONG') && ours.out.includes('value is not an integer or out of range'), ours.out)
})

redisTest(`the script pipelined in one write gets byte-identical replies, in order${skipped}`, async (t) => {
  const ours = await exchange(example!.port, pipelined())
  const theirs = await exchange(redis!.port, pipelined())
  t.is(ours.toString('latin1'), theirs.toString('latin1'))
  t.true(ours.toString().endsWith('+OK\r\n'), 'QUIT answered last, then the connection closed')
})

redisTest(`redis-benchmark -t ping,set,get -P 16 finishes without errors${skipped}`, async (t) => {
  const args = ['-h', '127.0.0.1', '-p', String(example!.port), '-t', 'ping,set,get', '-P', '16', '-q', '-n', '20000']
  const { code, out } = await run('redis-benchmark', args)
  t.is(code, 0, out)
  t.false(/error/i.test(out), out)
  // One line per test: PING_INLINE, PING_MBULK (PING_INLINE goes through the inline parser), SET, GET.
  for (const name of ['PING_INLINE', 'PING_MBULK', 'SET', 'GET']) t.regex(out, new RegExp(`${name}: [\\d.]+ requests per second`))
})
