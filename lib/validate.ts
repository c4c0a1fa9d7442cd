/**
 * Checks of values crossing from JS into riptide. Every number is finite and in a stated
 * range (integer where it must be) before it reaches Rust, where an `Infinity` or a NaN would
 * otherwise turn into a panic or a silent wrap; every options object names only keys riptide
 * knows, so a misspelt option fails loudly instead of being ignored.
 */
import { InvalidOptionError } from './errors'

/** The longest duration riptide takes, in ms (2³¹ − 1, about 24.8 days, as Node's timers). */
export const MAX_MS = 2 ** 31 - 1

/** `value` if it is an integer in `[min, max]`; else throws `ERR_INVALID_ARG_VALUE` naming `name`. */
export function int(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

/** `value` if it is a finite number of ms in `[min, MAX_MS]` (fractions allowed, as in Node's timers). */
export function ms(name: string, value: unknown, min = 0): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > MAX_MS) {
    throw new InvalidOptionError(`${name} must be a number of ms in [${min}, ${MAX_MS}], got ${String(value)}`)
  }
  return value
}

/** `value` if it is a boolean. */
export function bool(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidOptionError(`${name} must be a boolean, got ${String(value)}`)
  return value
}

/**
 * Throws `ERR_INVALID_ARG_VALUE` when `value` (an options object) has a key not in `known`,
 * naming the key and the nearest known one. `hint` may explain where a key belongs instead.
 */
export function knownKeys(name: string, value: object, known: readonly string[], hint: (key: string) => string | undefined = () => undefined): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const extra = hint(key)
    const near = nearest(key, known)
    const advice = extra ?? (near === undefined ? `valid keys: ${known.join(', ')}` : `did you mean '${near}'?`)
    throw new InvalidOptionError(`${name} has no option '${key}' (${advice})`)
  }
}

/** The known key closest to `key` by edit distance, if it is close enough to be a typo. */
function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase())
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined
}

/** Levenshtein distance (the keys are short: one row suffices). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length]
}
