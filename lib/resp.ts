/**
 * RESP2 (the Redis protocol) for servers: with `codecs.resp()`, each command arrives as one
 * frame, a compact descriptor (`u32 count, (u32 length, bytes)*`, little endian) the Rust codec
 * built; {@link parseCommand} returns its arguments as views (no copy). With
 * `codecs.resp({ batch: true })` a frame holds every whole command of one read (descriptors one
 * after another), read with {@link RespCommands} without an array or a view per argument.
 * Replies are RESP bytes built with {@link resp} and written with `conn.write` (the codec passes
 * them through).
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

const notResp = (what: string) => new InvalidOptionError(`${what} needs a frame of the resp codec`)

/**
 * Reads the descriptor at `at` in `frame` (its argument count is the u32 at `at`): the
 * arguments' offsets and lengths into the first `count` entries of `starts` and `lengths`.
 * Returns where the descriptor ends, or -1 when it is malformed or runs past the end.
 */
function descriptor(frame: Uint8Array, at: number, starts: number[], lengths: number[]): number {
  if (at + 4 > frame.length) return -1
  const count = u32(frame, at)
  at += 4
  // Each argument takes at least its 4-byte length.
  if (count > (frame.length - at) / 4) return -1
  for (let i = 0; i < count; i++) {
    if (at + 4 > frame.length) return -1
    const n = u32(frame, at)
    at += 4
    if (at + n > frame.length) return -1
    starts[i] = at
    lengths[i] = n
    at += n
  }
  return at
}

/**
 * The arguments of a command frame, as views into it (valid during the callback, like the
 * frame; copy what you keep).
 *
 * @throws {InvalidOptionError} `ERR_INVALID_ARG_VALUE` when `frame` is not a command
 * descriptor (a frame from another codec, or a batch of several).
 */
export function parseCommand(frame: Uint8Array): Uint8Array[] {
  const starts: number[] = []
  const lengths: number[] = []
  if (descriptor(frame, 0, starts, lengths) !== frame.length) throw notResp('parseCommand()')
  return starts.map((at, i) => frame.subarray(at, at + lengths[i]))
}

/**
 * A cursor over the commands of a frame of `codecs.resp({ batch: true })` (every whole command
 * of one read), or over the one command of an unbatched frame. {@link RespCommands.next} moves
 * to each command in turn; its arguments are read by index, as latin1 strings (binary-safe,
 * one character per byte) or as views, so a command costs no array and no view per argument.
 * One cursor serves every frame (`read` starts over); what it gives is valid during the
 * callback, like the frame.
 *
 * @example
 * ```ts
 * const commands = new RespCommands()
 * onTraffic(conn, frame) {
 *   for (const c = commands.read(frame); c.next(); ) {
 *     conn.write(c.text(0).toUpperCase() === 'PING' ? resp.simple('PONG') : resp.error('ERR unknown command'))
 *   }
 * }
 * ```
 */
export class RespCommands {
  #frame: Uint8Array = new Uint8Array(0)
  /**
   * A Buffer over the frame's whole memory, for latin1 decoding: frames of one batch arena
   * share it, so it is made when the memory changes, not per frame or per argument.
   */
  #memory: Buffer = Buffer.alloc(0)
  /**
   * The memory `#memory` views, kept to compare with each frame's: reading a typed array's
   * `.buffer` is a call into V8's runtime, so it is read once per frame, not twice.
   */
  #memoryOf: ArrayBufferLike = this.#memory.buffer
  /** Where the next command's descriptor starts. */
  #next = 0
  #starts: number[] = []
  #lengths: number[] = []
  /** The current command's number of arguments (0 before the first `next()`). */
  length = 0

  /** Starts reading `frame`: the first `next()` moves to its first command. */
  read(frame: Uint8Array): this {
    this.#frame = frame
    const memory = frame.buffer
    if (memory !== this.#memoryOf) {
      this.#memory = Buffer.from(memory)
      this.#memoryOf = memory
    }
    this.#next = 0
    this.length = 0
    return this
  }

  /**
   * Moves to the next command; false when the frame has no more.
   *
   * @throws {InvalidOptionError} `ERR_INVALID_ARG_VALUE` when the frame is not made of
   * command descriptors (a frame from another codec).
   */
  next(): boolean {
    this.length = 0
    if (this.#next >= this.#frame.length) return false
    const end = descriptor(this.#frame, this.#next, this.#starts, this.#lengths)
    if (end < 0) throw notResp('RespCommands')
    this.length = u32(this.#frame, this.#next)
    this.#next = end
    return true
  }

  /** True when the frame holds another command after the current one. */
  get more(): boolean {
    return this.#next < this.#frame.length
  }

  /** Argument `i` of the current command as a latin1 string (one character per byte). */
  text(i: number): string {
    this.#check(i)
    const at = this.#frame.byteOffset + this.#starts[i]
    return this.#memory.toString('latin1', at, at + this.#lengths[i])
  }

  /** Argument `i` of the current command as a view into the frame. */
  bytes(i: number): Uint8Array {
    this.#check(i)
    const at = this.#starts[i]
    return this.#frame.subarray(at, at + this.#lengths[i])
  }

  #check(i: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < this.length)) throw new InvalidOptionError(`argument index ${String(i)} is not in [0, ${this.length})`)
  }
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
    // The header's digits are written as bytes: no string is built per reply.
    let digits = 1
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++
    const start = digits + 3
    const out = Buffer.allocUnsafe(start + n + 2)
    out[0] = 36 // '$'
    for (let i = digits, m = n; i > 0; i--, m = Math.floor(m / 10)) out[i] = 48 + (m % 10)
    out[digits + 1] = 13
    out[digits + 2] = 10
    if (typeof x === 'string') out.write(x, start, 'utf8')
    else out.set(x, start)
    out[start + n] = 13
    out[start + n + 1] = 10
    return out
  },

  /** An array of replies already encoded (each a `resp.*` value), or the null array for `null`. */
  array(items: ReadonlyArray<Uint8Array> | null): Uint8Array {
    if (items === null) return Buffer.from('*-1\r\n')
    return Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items])
  },
}
