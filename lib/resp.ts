/**
 * RESP2 (the Redis protocol) for servers: with `codecs.resp()`, each command arrives as one
 * frame, a compact descriptor (`u32 count, (u32 length, bytes)*`, little endian) the Rust codec
 * built; {@link parseCommand} returns its arguments as views (no copy). Replies are RESP bytes
 * built with {@link resp} and written with `conn.write` (the codec passes them through).
 *
 * @example
 * ```ts
 * await serve('tcp://127.0.0.1:6380', {
 *   onTraffic(conn, frame) {
 *     const [name] = parseCommand(frame)
 *     const ping = Buffer.from(name).toString('latin1').toUpperCase() === 'PING'
 *     conn.write(ping ? resp.simple('PONG') : resp.error('ERR unknown command'))
 *   },
 *   onError(conn, err) { conn.write(resp.error(`ERR ${err.message}`)); conn.close() },
 * }, { codec: codecs.resp() })
 * ```
 */

import { InvalidOptionError } from './errors'

const u32 = (b: Uint8Array, at: number) => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0

/**
 * The arguments of a command frame, as views into it (valid during the callback, like the
 * frame; copy what you keep).
 *
 * @throws {InvalidOptionError} `ERR_INVALID_ARG_VALUE` when `frame` is not a command
 * descriptor (a frame from another codec).
 */
export function parseCommand(frame: Uint8Array): Uint8Array[] {
  const bad = () => new InvalidOptionError('parseCommand() needs a frame of the resp codec')
  if (frame.length < 4) throw bad()
  const count = u32(frame, 0)
  // Each argument takes at least its 4-byte length.
  if (count > (frame.length - 4) / 4) throw bad()
  const args = new Array<Uint8Array>(count)
  let at = 4
  for (let i = 0; i < count; i++) {
    if (at + 4 > frame.length) throw bad()
    const n = u32(frame, at)
    at += 4
    if (at + n > frame.length) throw bad()
    args[i] = frame.subarray(at, at + n)
    at += n
  }
  if (at !== frame.length) throw bad()
  return args
}

const CRLF = /[\r\n]/

/** A simple string or error line: CR and LF would end the reply early (reply injection). */
function line(prefix: string, s: string): Buffer {
  if (typeof s !== 'string' || CRLF.test(s)) throw new InvalidOptionError(`a RESP ${prefix === '+' ? 'simple string' : 'error'} must be a string without CR or LF`)
  return Buffer.from(`${prefix}${s}\r\n`)
}

/** Replies, as the RESP2 bytes to pass to `conn.write`. */
export const resp = {
  /** `+OK`. */
  ok: Buffer.from('+OK\r\n') as Uint8Array,
  /** The null bulk string (`$-1`), redis-server's answer for a missing key. */
  nil: Buffer.from('$-1\r\n') as Uint8Array,

  /** A simple string (`+PONG`). */
  simple(s: string): Uint8Array {
    return line('+', s)
  },

  /** An error (`-ERR unknown command`): the first word is its kind, as redis-server writes them. */
  error(s: string): Uint8Array {
    return line('-', s)
  },

  /** An integer (`:1`): a safe integer or a bigint within a signed 64-bit range. */
  integer(n: number | bigint): Uint8Array {
    const ok = typeof n === 'bigint' ? BigInt.asIntN(64, n) === n : Number.isSafeInteger(n)
    if (!ok) throw new InvalidOptionError(`a RESP integer must be a safe integer or a 64-bit bigint, got ${String(n)}`)
    return Buffer.from(`:${n}\r\n`)
  },

  /** A bulk string (strings are UTF-8), or the null bulk string for `null`. */
  bulk(x: Uint8Array | string | null): Uint8Array {
    if (x === null) return resp.nil
    const n = typeof x === 'string' ? Buffer.byteLength(x) : x.length
    const head = `$${n}\r\n`
    const out = Buffer.allocUnsafe(head.length + n + 2)
    out.write(head, 0, 'latin1')
    if (typeof x === 'string') out.write(x, head.length, 'utf8')
    else out.set(x, head.length)
    out[head.length + n] = 13
    out[head.length + n + 1] = 10
    return out
  },

  /** An array of replies already encoded (each a `resp.*` value), or the null array for `null`. */
  array(items: ReadonlyArray<Uint8Array> | null): Uint8Array {
    if (items === null) return Buffer.from('*-1\r\n')
    return Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items])
  },
}
