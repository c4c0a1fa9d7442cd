/**
 * The task function of examples/tasks.ts, run on the task pool's threads: password hashing
 * with PBKDF2-SHA512, deliberately slow (as bcrypt is), so it must not run on a reactor.
 * `hash` makes a new salted hash; `verify` checks a password against one.
 */
import { pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto'

/** What a task asks for. */
export type HashJob = { op: 'hash'; password: string } | { op: 'verify'; password: string; stored: string }

const ITERATIONS = 600_000

/** `pbkdf2$<iterations>$<salt hex>$<hash hex>` for `hash`; `'ok'` or `'bad'` for `verify`. */
export default function hashTask(j: HashJob): string {
  if (j.op === 'hash') {
    const salt = randomBytes(16)
    return `pbkdf2$${ITERATIONS}$${salt.toString('hex')}$${pbkdf2Sync(j.password, salt, ITERATIONS, 32, 'sha512').toString('hex')}`
  }
  const [scheme, rounds, salt, hash] = j.stored.split('$')
  if (scheme !== 'pbkdf2' || salt === undefined || hash === undefined) {
    throw Object.assign(new Error('not a pbkdf2$ hash'), { code: 'ERR_BAD_HASH' })
  }
  const expected = Buffer.from(hash, 'hex')
  const got = pbkdf2Sync(j.password, Buffer.from(salt, 'hex'), Number(rounds), expected.length, 'sha512')
  return got.length === expected.length && timingSafeEqual(got, expected) ? 'ok' : 'bad'
}
