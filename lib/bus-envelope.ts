/**
 * The envelope of a cross-instance publication (docs/deploy.md, "Cross-instance pub/sub"):
 * who published it (`origin`, random per engine), on which of the origin's streams for the
 * topic, and its sequence number there. Brokers such as Redis pub/sub and core NATS deliver at
 * most once, in the order one connection published; numbering each (origin, topic) stream lets
 * a receiver tell a loss (a gap) from a duplicate and drop its own echoes, without a broker
 * that stores anything. Pure logic, no I/O: `__test__/bus-envelope.spec.ts` drives it with
 * random interleavings, duplicates and losses.
 */

/** Format version, the envelope's first byte; anything else is not ours and is dropped. */
const VERSION = 1
/** Bytes of an origin id. */
export const ORIGIN_BYTES = 16
/** Version, origin, stream (u32), sequence (u64). */
const HEADER_BYTES = 1 + ORIGIN_BYTES + 4 + 8

/** A decoded envelope. */
export interface Envelope {
  /** The publishing engine's id (hex). */
  origin: string
  /** Which of the origin's streams for this topic (a new one each time it starts numbering the topic again). */
  stream: number
  /** Sequence number in the stream, from 1. */
  seq: number
  /** The publication's bytes, as the engine publishes them locally. */
  data: Uint8Array
}

/**
 * A loss seen on one (origin, topic) stream: messages `expected` to `got - 1` never arrived
 * (the broker dropped them, a connection to it was cut, a bounded queue overflowed, or this
 * instance started listening to the topic only then). `missed` is `got - expected`.
 */
export interface BusGap {
  /** The topic. */
  topic: string
  /** The publishing engine's id. */
  origin: string
  /** The sequence number that was due. */
  expected: number
  /** The sequence number that arrived instead. */
  got: number
  /** How many messages are missing: `got - expected`. */
  missed: number
}

/** Frames `data` as message `seq` of `origin`'s `stream`. */
export function encodeEnvelope(origin: Uint8Array, stream: number, seq: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + data.length)
  out[0] = VERSION
  out.set(origin, 1)
  out.writeUInt32BE(stream, 1 + ORIGIN_BYTES)
  out.writeBigUInt64BE(BigInt(seq), 1 + ORIGIN_BYTES + 4)
  out.set(data, HEADER_BYTES)
  return out
}

/** The envelope in `bytes`, or `undefined` when they are not one (wrong version, too short, a sequence past 2⁵³). */
export function decodeEnvelope(bytes: Uint8Array): Envelope | undefined {
  if (bytes.length < HEADER_BYTES || bytes[0] !== VERSION) return undefined
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  const seq = b.readBigUInt64BE(1 + ORIGIN_BYTES + 4)
  if (seq < 1n || seq > BigInt(Number.MAX_SAFE_INTEGER)) return undefined
  return {
    origin: b.toString('hex', 1, 1 + ORIGIN_BYTES),
    stream: b.readUInt32BE(1 + ORIGIN_BYTES),
    seq: Number(seq),
    data: b.subarray(HEADER_BYTES),
  }
}

/**
 * The sending side: the next sequence number of each topic this engine publishes to. At most
 * `maxTopics` topics are numbered at once; the least recently published is forgotten past
 * that, and numbering it again starts a new stream, so receivers never mistake it for a loss.
 */
export class Sequencer {
  readonly #next = new Map<string, { stream: number, seq: number }>()
  readonly #maxTopics: number
  #streams = 0

  /** Numbers at most `maxTopics` topics at once. */
  constructor(maxTopics: number) {
    this.#maxTopics = maxTopics
  }

  /** The stream and sequence number of the next message to `topic`. */
  next(topic: string): { stream: number, seq: number } {
    let s = this.#next.get(topic)
    if (s === undefined) {
      if (this.#next.size >= this.#maxTopics) this.#next.delete(this.#next.keys().next().value!)
      this.#streams = (this.#streams + 1) >>> 0
      s = { stream: this.#streams, seq: 0 }
    } else {
      this.#next.delete(topic) // re-inserted last: the map's order is least recently used first
    }
    s.seq++
    this.#next.set(topic, s)
    return { stream: s.stream, seq: s.seq }
  }
}

/** What {@link GapTracker.accept} decided about a message. */
export type Verdict = 'deliver' | 'duplicate'

/**
 * The receiving side: per topic, per origin, the stream seen last and the sequence number due.
 * A message is delivered unless it is at or below what was seen already (a duplicate); one
 * above the due number is delivered and the skipped numbers are reported as a {@link BusGap}.
 * The first message of a stream sets the expectation (a subscriber that joins late has missed
 * nothing it asked for). Each topic tracks at most `maxOrigins` origins (least recently heard
 * forgotten first), so hostile publishers on the broker cost bounded memory.
 */
export class GapTracker {
  readonly #topics = new Map<string, Map<string, { stream: number, next: number }>>()
  readonly #maxOrigins: number

  /** Tracks at most `maxOrigins` origins per topic. */
  constructor(maxOrigins: number) {
    this.#maxOrigins = maxOrigins
  }

  /** Decides about message `e` of `topic`; `onGap` hears of the messages it shows were lost. */
  accept(topic: string, e: Pick<Envelope, 'origin' | 'stream' | 'seq'>, onGap: (gap: BusGap) => void): Verdict {
    let origins = this.#topics.get(topic)
    if (origins === undefined) {
      origins = new Map()
      this.#topics.set(topic, origins)
    }
    const s = origins.get(e.origin)
    if (s === undefined || s.stream !== e.stream) {
      if (s === undefined && origins.size >= this.#maxOrigins) origins.delete(origins.keys().next().value!)
      origins.delete(e.origin)
      origins.set(e.origin, { stream: e.stream, next: e.seq + 1 })
      return 'deliver'
    }
    if (e.seq < s.next) return 'duplicate'
    if (e.seq > s.next) onGap({ topic, origin: e.origin, expected: s.next, got: e.seq, missed: e.seq - s.next })
    s.next = e.seq + 1
    origins.delete(e.origin)
    origins.set(e.origin, s)
    return 'deliver'
  }

  /** Forgets `topic` (no longer listened to: what was published meanwhile is not a loss). */
  forget(topic: string): void {
    this.#topics.delete(topic)
  }
}
