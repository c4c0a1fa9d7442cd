// The boundary constants are defined once, in Rust (crates/riptide-napi/src/batch.rs and
// staged.rs), and exported by the binding; these tests fail when the TS dispatcher and the
// native side drift apart: a kind TS switches on that Rust no longer has, or one Rust sends
// that TS does not handle.
import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(__dirname, '..')
const binding = require(join(root, 'binding.js')) as Record<string, unknown>
const reactor = readFileSync(join(root, 'lib', 'reactor.ts'), 'utf8')
// The dispatcher and staging code, without the import list.
const body = reactor.slice(reactor.indexOf("from './boundary'"))

const nativeConstants = (prefix: string) =>
  Object.entries(binding).filter(([name, value]) => name.startsWith(prefix) && typeof value === 'number') as Array<[string, number]>

for (const prefix of ['EV_', 'OP_']) {
  test(`${prefix}* constants: distinct positive integers, exported natively`, (t) => {
    const constants = nativeConstants(prefix).filter(([name]) => name !== 'OP_STRIDE')
    t.true(constants.length >= (prefix === 'EV_' ? 15 : 6), `${constants.length} native ${prefix} constants`)
    const values = constants.map(([, v]) => v)
    t.true(values.every((v) => Number.isInteger(v) && v > 0))
    t.is(new Set(values).size, values.length, 'no two share a value')
  })
}

test('every event kind Rust sends is handled by the TS dispatcher', (t) => {
  for (const [name] of nativeConstants('EV_')) {
    t.regex(body, new RegExp(`(case ${name}:|kind === ${name}\\b)`), `${name} is not handled in lib/reactor.ts`)
  }
})

test('the unreliable channel has its event kind, handled by the dispatcher', (t) => {
  t.is(typeof binding.EV_UNRELIABLE, 'number')
  t.regex(body, /kind === EV_UNRELIABLE\b/)
})

test('every staged op Rust applies is staged by the TS reactor', (t) => {
  for (const [name] of nativeConstants('OP_')) {
    if (name === 'OP_STRIDE') continue
    t.regex(body, new RegExp(`\\b${name}\\b`), `${name} is never staged in lib/reactor.ts`)
  }
})

test('every EV_/OP_ name the TS side uses exists natively', (t) => {
  const boundary = readFileSync(join(root, 'lib', 'boundary.ts'), 'utf8')
  const used = new Set([...reactor.matchAll(/\b(EV|OP)_[A-Z_]+\b/g), ...boundary.matchAll(/\b(EV|OP)_[A-Z_]+\b/g)].map((m) => m[0]))
  t.true(used.size > 0)
  for (const name of used) t.is(typeof binding[name], 'number', `${name} is not exported by the binding`)
  t.is(binding.STRIDE, 6)
  t.is(binding.OP_STRIDE, 5)
})
