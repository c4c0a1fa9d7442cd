// The cross-instance bus's envelope and its gap logic (lib/bus-envelope.ts), property-style:
// random interleavings of several origins' streams, with duplicates and losses injected, must
// deliver every message that survived exactly once and in per-origin order, and report every
// lost one in exactly one gap, none of it silently.
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { rng } from './helpers'
import { type BusGap, decodeEnvelope, encodeEnvelope, GapTracker, ORIGIN_BYTES, Sequencer } from '../lib/bus-envelope'

test('an envelope round-trips origin, stream, sequence and bytes; foreign bytes are refused', (t) => {
  const origin = randomBytes(ORIGIN_BYTES)
  const data = randomBytes(100)
  const e = decodeEnvelope(encodeEnvelope(origin, 7, 2 ** 40 + 3, data))!
  t.deepEqual(e, { origin: origin.toString('hex'), stream: 7, seq: 2 ** 40 + 3, data: e.data })
  t.deepEqual(Buffer.from(e.data), data)
  t.is(decodeEnvelope(Buffer.from('hello')), undefined, 'too short')
  const wrongVersion = encodeEnvelope(origin, 1, 1, data)
  wrongVersion[0] = 9
  t.is(decodeEnvelope(wrongVersion), undefined, 'unknown version')
  const zero = encodeEnvelope(origin, 1, 1, data)
  zero.writeBigUInt64BE(0n, 1 + ORIGIN_BYTES + 4)
  t.is(decodeEnvelope(zero), undefined, 'sequence 0')
  const huge = encodeEnvelope(origin, 1, 1, data)
  huge.writeBigUInt64BE(2n ** 60n, 1 + ORIGIN_BYTES + 4)
  t.is(decodeEnvelope(huge), undefined, 'sequence past 2^53')
})

test('the sequencer numbers each topic from 1 and starts a new stream for a topic it forgot', (t) => {
  const s = new Sequencer(2)
  t.deepEqual([s.next('a'), s.next('a'), s.next('b')], [{ stream: 1, seq: 1 }, { stream: 1, seq: 2 }, { stream: 2, seq: 1 }])
  s.next('a') // a is now the most recently used: c evicts b
  t.deepEqual(s.next('c'), { stream: 3, seq: 1 })
  t.deepEqual(s.next('a'), { stream: 1, seq: 4 })
  t.deepEqual(s.next('b'), { stream: 4, seq: 1 }, 'b was forgotten: a new stream')
})

test('random interleavings with duplicates and losses: survivors once, in order; every loss in one gap', (t) => {
  for (let seed = 1; seed <= 300; seed++) {
    const random = rng(seed)
    const origins = 1 + Math.floor(random() * 5)
    const perOrigin = 1 + Math.floor(random() * 200)
    const lossRate = random() * 0.3
    const dupRate = random() * 0.3
    // The broker keeps each origin's order and may lose or (after a reconnect) repeat messages.
    const queues = Array.from({ length: origins }, (_, o) => Array.from({ length: perOrigin }, (_, i) => ({ origin: `o${o}`, stream: 1, seq: i + 1 })))
    const lost = new Set<string>()
    const wire: Array<{ origin: string, stream: number, seq: number }> = []
    const lastSent = new Map<string, { origin: string, stream: number, seq: number }>()
    while (queues.some((q) => q.length > 0)) {
      const q = queues[Math.floor(random() * origins)]
      const m = q.shift()
      if (m === undefined) continue
      // Never lose the first message of a stream: nothing before it could show the loss of it
      // (a receiver that hears a stream first at n treats 1..n-1 as before its time).
      if (m.seq > 1 && random() < lossRate) {
        lost.add(`${m.origin}:${m.seq}`)
      } else {
        wire.push(m)
        lastSent.set(m.origin, m)
      }
      const prev = lastSent.get(m.origin)
      if (prev !== undefined && random() < dupRate) wire.push(prev)
    }
    const tracker = new GapTracker(16)
    const gaps: BusGap[] = []
    const delivered = new Map<string, number[]>()
    let duplicates = 0
    for (const m of wire) {
      if (tracker.accept('room', m, (g) => gaps.push(g)) === 'duplicate') duplicates++
      else delivered.set(m.origin, [...(delivered.get(m.origin) ?? []), m.seq])
    }
    for (let o = 0; o < origins; o++) {
      const got = delivered.get(`o${o}`) ?? []
      const survivors = Array.from({ length: perOrigin }, (_, i) => i + 1).filter((s) => !lost.has(`o${o}:${s}`))
      // Losses after the last survivor cannot show (no later message): those are the broker's
      // at-most-once tail, the one loss a sequence cannot reveal.
      const last = survivors.at(-1) ?? 0
      if (!t.deepEqual(got, survivors, `seed ${seed}: origin o${o} survivors once, in order`)) return
      const reported = gaps.filter((g) => g.origin === `o${o}`).flatMap((g) => Array.from({ length: g.missed }, (_, i) => g.expected + i))
      const shown = [...lost].filter((k) => k.startsWith(`o${o}:`)).map((k) => Number(k.split(':')[1])).filter((s) => s < last).sort((a, b) => a - b)
      if (!t.deepEqual(reported, shown, `seed ${seed}: origin o${o} losses reported once each`)) return
    }
    t.is(duplicates, wire.length - [...delivered.values()].reduce((n, l) => n + l.length, 0))
  }
})

test('a new stream of an origin restarts its numbering without a false gap; forget() drops the topic', (t) => {
  const tracker = new GapTracker(4)
  const gaps: BusGap[] = []
  const onGap = (g: BusGap) => gaps.push(g)
  t.is(tracker.accept('room', { origin: 'a', stream: 1, seq: 5 }, onGap), 'deliver', 'a late joiner starts where it joins')
  t.is(tracker.accept('room', { origin: 'a', stream: 1, seq: 6 }, onGap), 'deliver')
  t.is(tracker.accept('room', { origin: 'a', stream: 2, seq: 1 }, onGap), 'deliver', 'the origin renumbered the topic')
  t.is(tracker.accept('room', { origin: 'a', stream: 2, seq: 1 }, onGap), 'duplicate')
  t.is(tracker.accept('room', { origin: 'a', stream: 2, seq: 4 }, onGap), 'deliver')
  t.deepEqual(gaps, [{ topic: 'room', origin: 'a', expected: 2, got: 4, missed: 2 }])
  tracker.forget('room')
  t.is(tracker.accept('room', { origin: 'a', stream: 2, seq: 9 }, onGap), 'deliver')
  t.is(gaps.length, 1, 'after forget, what was published meanwhile is not a gap')
})

test('origins per topic are bounded: the least recently heard is forgotten', (t) => {
  const tracker = new GapTracker(2)
  const gaps: BusGap[] = []
  const onGap = (g: BusGap) => gaps.push(g)
  tracker.accept('room', { origin: 'a', stream: 1, seq: 1 }, onGap)
  tracker.accept('room', { origin: 'b', stream: 1, seq: 1 }, onGap)
  tracker.accept('room', { origin: 'a', stream: 1, seq: 2 }, onGap)
  tracker.accept('room', { origin: 'c', stream: 1, seq: 1 }, onGap) // evicts b
  t.is(tracker.accept('room', { origin: 'a', stream: 1, seq: 2 }, onGap), 'duplicate', 'a is still tracked')
  t.is(tracker.accept('room', { origin: 'b', stream: 1, seq: 1 }, onGap), 'deliver', 'b was forgotten (a duplicate no longer recognised)')
  t.is(gaps.length, 0)
})
