/**
 * The commands of the Redis example, with redis-server 7's replies and error texts: PING,
 * ECHO, SET (EX, PX, NX, XX, KEEPTTL), GET, DEL, EXISTS, INCR, EXPIRE (NX, XX, GT, LT), TTL,
 * FLUSHDB, DBSIZE, QUIT. Transport-free: the riptide server and the node:net benchmark peer
 * both run them.
 */
import { resp } from 'riptide'
import { Store } from './store'

/** What a command asks of the connection besides its reply. */
export interface Outcome {
  reply: Uint8Array
  /** Close after the reply (QUIT). */
  close?: boolean
}

type Handler = (db: Store, args: Uint8Array[], now: number) => Uint8Array | Outcome

const LLONG_MAX = (1n << 63n) - 1n
const LLONG_MIN = -(1n << 63n)

/** The Buffer over the whole memory of the last argument read (a batch's arena, a read's chunk). */
let whole: { memory: ArrayBufferLike; bytes: Buffer } | undefined

/**
 * An argument's bytes as a latin1 string (binary-safe: one character per byte). Arguments are
 * views into one batch's or chunk's memory, so one Buffer over that memory serves them all;
 * a Buffer per argument costs more than the string.
 */
function text(b: Uint8Array): string {
  if (whole?.memory !== b.buffer) whole = { memory: b.buffer, bytes: Buffer.from(b.buffer) }
  return whole.bytes.toString('latin1', b.byteOffset, b.byteOffset + b.length)
}
const err = (s: string): Uint8Array => resp.error(`ERR ${s}`)
const notInteger = err('value is not an integer or out of range')
const syntax = err('syntax error')
const pong = resp.simple('PONG')
const zero = resp.integer(0)
const one = resp.integer(1)

/** A signed 64-bit integer as redis-server's `string2ll` reads it (no sign but `-`, no leading zeros, no spaces). */
function int64(b: Uint8Array): bigint | undefined {
  const s = text(b)
  if (!/^(0|-?[1-9][0-9]{0,19})$/.test(s)) return undefined
  const n = BigInt(s)
  return n > LLONG_MAX || n < LLONG_MIN ? undefined : n
}

/** The expire time of SET's EX/PX option in ms since the epoch, or the error reply. */
function setExpiry(value: Uint8Array, unit: 1n | 1000n, now: number): number | Uint8Array {
  const n = int64(value)
  if (n === undefined) return notInteger
  if (n <= 0n || (unit === 1000n && n > LLONG_MAX / 1000n)) return err("invalid expire time in 'set' command")
  const at = n * unit + BigInt(now)
  if (at > LLONG_MAX) return err("invalid expire time in 'set' command")
  return Number(at)
}

function set(db: Store, args: Uint8Array[], now: number): Uint8Array {
  let nx = false
  let xx = false
  let keep = false
  let expiry: { value: Uint8Array; unit: 1n | 1000n } | undefined
  for (let i = 3; i < args.length; i++) {
    const opt = text(args[i]).toLowerCase()
    const next = i + 1 < args.length ? args[i + 1] : undefined
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
  const key = text(args[1])
  const exists = db.get(key, now) !== undefined
  if ((nx && exists) || (xx && !exists)) return resp.nil
  db.set(key, Buffer.from(args[2]), keep ? 'keep' : at === undefined ? undefined : at - now, now)
  return resp.ok
}

function incr(db: Store, args: Uint8Array[], now: number): Uint8Array {
  const key = text(args[1])
  const old = db.get(key, now)
  const n = old === undefined ? 0n : int64(old)
  if (n === undefined) return notInteger
  if (n === LLONG_MAX) return err('increment or decrement would overflow')
  db.set(key, Buffer.from(String(n + 1n)), 'keep', now)
  return resp.integer(n + 1n)
}

function expire(db: Store, args: Uint8Array[], now: number): Uint8Array {
  const flags = new Set<string>()
  for (const a of args.slice(3)) {
    const opt = text(a).toLowerCase()
    if (!['nx', 'xx', 'gt', 'lt'].includes(opt)) return err(`Unsupported option ${text(a)}`)
    flags.add(opt)
  }
  if (flags.has('nx') && (flags.has('xx') || flags.has('gt') || flags.has('lt'))) {
    return err('NX and XX, GT or LT options at the same time are not compatible')
  }
  if (flags.has('gt') && flags.has('lt')) return err('GT and LT options at the same time are not compatible')
  const seconds = int64(args[2])
  if (seconds === undefined) return notInteger
  if (seconds > LLONG_MAX / 1000n || seconds < LLONG_MIN / 1000n) return err("invalid expire time in 'expire' command")
  const ms = seconds * 1000n
  if (ms > LLONG_MAX - BigInt(now)) return err("invalid expire time in 'expire' command")
  const at = ms + BigInt(now)
  const key = text(args[1])
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

function ttl(db: Store, args: Uint8Array[], now: number): Uint8Array {
  const key = text(args[1])
  if (db.get(key, now) === undefined) return resp.integer(-2)
  const at = db.expires.get(key)
  if (at === undefined) return resp.integer(-1)
  return resp.integer(Math.floor((Math.max(0, at - now) + 500) / 1000))
}

/** Arity as redis-server declares it: n exactly, or at least -n when negative. */
const TABLE: Record<string, [number, Handler]> = {
  ping: [-1, (_db, a) => (a.length === 1 ? pong : a.length === 2 ? resp.bulk(a[1]) : wrongArity('ping'))],
  echo: [2, (_db, a) => resp.bulk(a[1])],
  set: [-3, set],
  get: [2, (db, a, now) => resp.bulk(db.get(text(a[1]), now) ?? null)],
  del: [-2, (db, a, now) => resp.integer(a.slice(1).filter((k) => db.get(text(k), now) !== undefined && db.delete(text(k))).length)],
  exists: [-2, (db, a, now) => resp.integer(a.slice(1).filter((k) => db.get(text(k), now) !== undefined).length)],
  incr: [2, incr],
  expire: [-3, expire],
  ttl: [2, ttl],
  flushdb: [
    -1,
    (db, a) => {
      if (a.length > 2 || (a.length === 2 && !['sync', 'async'].includes(text(a[1]).toLowerCase()))) return syntax
      db.clear()
      return resp.ok
    },
  ],
  dbsize: [1, (db) => resp.integer(db.values.size)],
  quit: [-1, () => ({ reply: resp.ok, close: true })],
}

/** The commands by name, in lower and in upper case (clients send either; others are lowered first). */
const COMMANDS = new Map(Object.entries(TABLE).flatMap(([name, entry]) => [[name, entry] as const, [name.toUpperCase(), entry] as const]))

function wrongArity(name: string): Uint8Array {
  return err(`wrong number of arguments for '${name}' command`)
}

/** redis-server's reply to an unknown command: its name and its first arguments, up to 128 characters. */
function unknown(args: Uint8Array[]): Uint8Array {
  let list = ''
  for (let i = 1; i < args.length && list.length < 128; i++) list += `'${text(args[i]).slice(0, 128 - list.length)}' `
  const name = text(args[0]).slice(0, 128)
  return err(`unknown command '${name}', with args beginning with: ${list}`.replace(/[\r\n]/g, ' '))
}

/** Runs one command (`args[0]` is its name, any case) against `db` at time `now` (ms). */
export function execute(db: Store, args: Uint8Array[], now: number): Uint8Array | Outcome {
  const given = text(args[0])
  const entry = COMMANDS.get(given) ?? COMMANDS.get(given.toLowerCase())
  if (entry === undefined) return unknown(args)
  const [arity, run] = entry
  if ((arity > 0 && args.length !== arity) || args.length < -arity) return wrongArity(given.toLowerCase())
  return run(db, args, now)
}
