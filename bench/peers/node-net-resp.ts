/**
 * The `node:net` Redis-protocol peer for D1: `net.createServer` with a RESP parser in JS (arrays
 * of bulk strings and inline commands, pipelined) in front of the same commands and keyspace as
 * examples/redis (`commands.ts`, `store.ts`), replies batched into one write per chunk read.
 * What riptide's example is compared with: the same command code, the framing in JS.
 * `node --import tsx bench/peers/node-net-resp.ts --port 6390`
 */
import net from 'node:net'
import { parseArgs } from 'node:util'
import { ArgList, execute } from '../../examples/redis/commands'
import { Store } from '../../examples/redis/store'

/** The end of the line starting at `at` (the index of its `\r\n`), or -1. */
const lineEnd = (b: Buffer, at: number): number => b.indexOf('\r\n', at, 'latin1')

/**
 * Parses whole commands from `b`; returns them and the bytes consumed, or `undefined` for a
 * protocol error (the connection is then closed).
 */
function parse(b: Buffer): { commands: Uint8Array[][]; used: number } | undefined {
  const commands: Uint8Array[][] = []
  let at = 0
  outer: while (at < b.length) {
    if (b[at] !== 42 /* '*' */) {
      const nl = b.indexOf(10, at)
      if (nl < 0) break
      const words = b.subarray(at, nl).toString('latin1').trim().split(/[ \t]+/).filter((w) => w !== '')
      if (words.length > 0) commands.push(words.map((w) => Buffer.from(w, 'latin1')))
      at = nl + 1
      continue
    }
    let end = lineEnd(b, at)
    if (end < 0) break
    const count = Number(b.subarray(at + 1, end).toString('latin1'))
    if (!Number.isSafeInteger(count) || count > 1 << 16) return undefined
    let p = end + 2
    const args: Uint8Array[] = []
    for (let i = 0; i < count; i++) {
      if (p >= b.length) break outer
      if (b[p] !== 36 /* '$' */) return undefined
      end = lineEnd(b, p)
      if (end < 0) break outer
      const n = Number(b.subarray(p + 1, end).toString('latin1'))
      if (!Number.isSafeInteger(n) || n < 0 || n > 512 * 1024 * 1024) return undefined
      if (end + 2 + n + 2 > b.length) break outer
      args.push(b.subarray(end + 2, end + 2 + n))
      p = end + 2 + n + 2
    }
    if (count > 0) commands.push(args)
    at = p
  }
  return { commands, used: at }
}

const { values } = parseArgs({ options: { port: { type: 'string', default: '6390' } } })
const db = new Store()
const args = new ArgList()
const server = net.createServer({ noDelay: true }, (s) => {
  let held: Buffer = Buffer.alloc(0)
  s.on('data', (d: Buffer) => {
    held = held.length === 0 ? d : Buffer.concat([held, d])
    const parsed = parse(held)
    if (parsed === undefined) {
      s.end('-ERR Protocol error\r\n')
      return
    }
    const now = Date.now()
    const replies: Uint8Array[] = []
    let close = false
    for (const command of parsed.commands) {
      const out = execute(db, args.of(command), now)
      if (out instanceof Uint8Array) replies.push(out)
      else {
        replies.push(out.reply)
        if (out.close === true) {
          close = true
          break
        }
      }
    }
    // Keys and values were copied by the store; the rest of the buffer waits for more bytes.
    held = held.subarray(parsed.used)
    if (replies.length > 0) s.write(replies.length === 1 ? replies[0] : Buffer.concat(replies))
    if (close) s.end()
  })
  s.on('error', () => {})
})
setInterval(() => db.sweep(Date.now()), 100).unref()
server.listen(Number(values.port), '127.0.0.1', () => {
  const addr = server.address() as net.AddressInfo
  console.log(`node:net resp listening on 127.0.0.1:${addr.port}`)
})
process.once('SIGTERM', () => server.close(() => process.exit(0)))
