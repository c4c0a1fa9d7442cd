/**
 * The commands of the Redis example, with redis-server 7's replies and error texts: PING,
 * ECHO, SET (EX, PX, NX, XX, KEEPTTL), GET, DEL, EXISTS, INCR, EXPIRE (NX, XX, GT, LT), TTL,
 * FLUSHDB, DBSIZE, QUIT. Transport-free: the riptide server (arguments read in place with
 * `RespCommands`) and the node:net benchmark peer (arguments in an array, {@link ArgList})
 * both run them.
 */
import { resp } from 'riptide'
import { Store } from './store'

/**
 * A command's arguments, read by index: as latin1 strings (binary-safe, one character per
 * byte; keys are held so) or as bytes. `RespCommands` is one, reading a frame in place.
 */
export interface Args {
  /** The number of arguments, the command's name included. */
  readonly length: number
  /** Argument `i` as a latin1 string. */
  text(i: number): string
  /** Argument `i`'s bytes (valid while the command runs; copy what you keep). */
  bytes(i: number): Uint8Array
}

/** {@link Args} over an array of byte arrays (one reused adapter: `of` points it at a command). */
export class ArgList implements Args {
  #list: Uint8Array[] = []

  /** Points the adapter at `list`. */
  of(list: Uint8Array[]): this {
    this.#list = list
    return this
  }

  get length(): number {
    return this.#list.length
  }

  text(i: number): string {
    const b = this.#list[i]
    return Buffer.isBuffer(b) ? b.toString('latin1') : Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1')
  }

  bytes(i: number): Uint8Array {
    return this.#list[i]
  }
}

/** What a command asks of the connection besides its reply. */
export interface Outcome {
  reply: Uint8Array
  /** Close after the reply (QUIT). */
  close?: boolean
}

type Handler = (db: Store, args: Args, now: number) => Uint8Array | Outcome

const LLONG_MAX = (1n << 63n) - 1n
const LLONG_MIN = -(1n << 63n)

// The hot replies read once: `resp` is an export of the package, read through a getter.
const { bulk, nil, ok } = resp
const err = (s: string): Uint8Array => resp.error(`ERR ${s}`)
const notInteger = err('value is not an integer or out of range')
const syntax = err('syntax error')
const pong = resp.simple('PONG')
const zero = resp.integer(0)
const one = resp.integer(1)

/** The value inside a bulk reply (`$<n>\r\n<bytes>\r\n`, as the store holds values), as latin1. */
function bulkText(reply: Uint8Array): string {
  const b = Buffer.from(reply.buffer, reply.byteOffset, reply.length)
  return b.toString('latin1', b.indexOf(10) + 1, b.length - 2)
}

/** A signed 64-bit integer as redis-server's `string2ll` reads it (no sign but `-`, no leading zeros, no spaces). */
function int64(s: string): bigint | undefined {
  if (!/^(0|-?[1-9][0-9]{0,19})$/.test(s)) return undefined
  const n = BigInt(s)
  return n > LLONG_MAX || n < LLONG_MIN ? undefined : n
}

/** The expire time of SET's EX/PX option in ms since the epoch, or the error reply. */
function setExpiry(value: string, unit: 1n | 1000n, now: number): number | Uint8Array {
  const n = int64(value)
  if (n === undefined) return notInteger
  if (n <= 0n || (unit === 1000n && n > LLONG_MAX / 1000n)) return err("invalid expire time in 'set' command")
  const at = n * unit + BigInt(now)
  if (at > LLONG_MAX) return err("invalid expire time in 'set' command")
  return Number(at)
}

function set(db: Store, args: Args, now: number): Uint8Array {
  let nx = false
  let xx = false
  let keep = false
  let expiry: { value: string; unit: 1n | 1000n } | undefined
  for (let i = 3; i < args.length; i++) {
    const opt = args.text(i).toLowerCase()
    const next = i + 1 < args.length ? args.text(i + 1) : undefined
    if (opt === 'nx' && !xx) nx = true
    else if (opt === 'xx' && !nx) xx = true
    else if (opt === 'keepttl' && expiry === undefined) keep = true
    else if ((opt === 'ex' || opt === 'px') && !keep && (expiry === undefined || expiry.unit === (opt === 'ex' ? 1000n : 1n)) && next !== undefined) {
      expiry = { value: next, unit: opt === 'ex' ? 1000n : 1n }
      i++
    } else return syntax
  }
  let at: number | undefined
  if (expiry !== undefined) {
    const e = setExpiry(expiry.value, expiry.unit, now)
    if (typeof e !== 'number') return e
    at = e
  }
  const key = args.text(1)
  // Reading the key drops it if expired, so KEEPTTL does not keep a past expiry.
  if (nx || xx || keep) {
    const exists = db.get(key, now) !== undefined
    if ((nx && exists) || (xx && !exists)) return nil
  }
  db.set(key, bulk(args.bytes(2)), keep ? 'keep' : at === undefined ? undefined : at - now, now)
  return ok
}

function incr(db: Store, args: Args, now: number): Uint8Array {
  const key = args.text(1)
  const old = db.get(key, now)
  const n = old === undefined ? 0n : int64(bulkText(old))
  if (n === undefined) return notInteger
  if (n === LLONG_MAX) return err('increment or decrement would overflow')
  db.set(key, resp.bulk(String(n + 1n)), 'keep', now)
  return resp.integer(n + 1n)
}

function expire(db: Store, args: Args, now: number): Uint8Array {
  const flags = new Set<string>()
  for (let i = 3; i < args.length; i++) {
    const opt = args.text(i).toLowerCase()
    if (!['nx', 'xx', 'gt', 'lt'].includes(opt)) return err(`Unsupported option ${args.text(i)}`)
    flags.add(opt)
  }
  if (flags.has('nx') && (flags.has('xx') || flags.has('gt') || flags.has('lt'))) {
    return err('NX and XX, GT or LT options at the same time are not compatible')
  }
  if (flags.has('gt') && flags.has('lt')) return err('GT and LT options at the same time are not compatible')
  const seconds = int64(args.text(2))
  if (seconds === undefined) return notInteger
  if (seconds > LLONG_MAX / 1000n || seconds < LLONG_MIN / 1000n) return err("invalid expire time in 'expire' command")
  const ms = seconds * 1000n
  if (ms > LLONG_MAX - BigInt(now)) return err("invalid expire time in 'expire' command")
  const at = ms + BigInt(now)
  const key = args.text(1)
  if (db.get(key, now) === undefined) return zero
  const current = db.expires.get(key)
  if (flags.has('nx') && current !== undefined) return zero
  if (flags.has('xx') && current === undefined) return zero
  if (flags.has('gt') && (current === undefined || at <= BigInt(current))) return zero
  if (flags.has('lt') && current !== undefined && at >= BigInt(current)) return zero
  if (at <= BigInt(now)) db.delete(key)
  else db.expires.set(key, Number(at))
  return one
}

function ttl(db: Store, args: Args, now: number): Uint8Array {
  const key = args.text(1)
  if (db.get(key, now) === undefined) return resp.integer(-2)
  const at = db.expires.get(key)
  if (at === undefined) return resp.integer(-1)
  return resp.integer(Math.floor((Math.max(0, at - now) + 500) / 1000))
}

/** Arity as redis-server declares it: n exactly, or at least -n when negative. */
const TABLE: Record<string, [number, Handler]> = {
  ping: [-1, (_db, a) => (a.length === 1 ? pong : a.length === 2 ? resp.bulk(a.bytes(1)) : wrongArity('ping'))],
  echo: [2, (_db, a) => resp.bulk(a.bytes(1))],
  set: [-3, set],
  // The value is held as its bulk reply: GET answers with it, no copy.
  get: [2, (db, a, now) => db.get(a.text(1), now) ?? nil],
  del: [-2, (db, a, now) => resp.integer(count(a, (k) => db.get(k, now) !== undefined && db.delete(k)))],
  exists: [-2, (db, a, now) => resp.integer(count(a, (k) => db.get(k, now) !== undefined))],
  incr: [2, incr],
  expire: [-3, expire],
  ttl: [2, ttl],
  flushdb: [
    -1,
    (db, a) => {
      if (a.length > 2 || (a.length === 2 && !['sync', 'async'].includes(a.text(1).toLowerCase()))) return syntax
      db.clear()
      return resp.ok
    },
  ],
  dbsize: [1, (db) => resp.integer(db.values.size)],
  quit: [-1, () => ({ reply: resp.ok, close: true })],
}

/** How many of the arguments after the name (keys) `test` holds for. */
function count(args: Args, test: (key: string) => boolean): number {
  let n = 0
  for (let i = 1; i < args.length; i++) if (test(args.text(i))) n++
  return n
}

/** The commands by name, in lower and in upper case (clients send either; others are lowered first). */
const COMMANDS = new Map(Object.entries(TABLE).flatMap(([name, entry]) => [[name, entry] as const, [name.toUpperCase(), entry] as const]))

function wrongArity(name: string): Uint8Array {
  return err(`wrong number of arguments for '${name}' command`)
}

/** redis-server's reply to an unknown command: its name and its first arguments, up to 128 characters. */
function unknown(args: Args): Uint8Array {
  let list = ''
  for (let i = 1; i < args.length && list.length < 128; i++) list += `'${args.text(i).slice(0, 128 - list.length)}' `
  const name = args.text(0).slice(0, 128)
  return err(`unknown command '${name}', with args beginning with: ${list}`.replace(/[\r\n]/g, ' '))
}

/** Runs one command (`args[0]` is its name, any case) against `db` at time `now` (ms). */
export function execute(db: Store, args: Args, now: number): Uint8Array | Outcome {
  const given = args.text(0)
  const entry = COMMANDS.get(given) ?? COMMANDS.get(given.toLowerCase())
  if (entry === undefined) return unknown(args)
  const [arity, run] = entry
  if ((arity > 0 && args.length !== arity) || args.length < -arity) return wrongArity(given.toLowerCase())
  return run(db, args, now)
}
