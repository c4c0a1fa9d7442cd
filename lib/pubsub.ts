/**
 * Topic pub/sub options: what a publish does for a subscriber that does not keep up
 * (docs/pubsub.md). Subscriptions and publishes themselves are methods of `Conn` and `Engine`.
 */
import { InvalidOptionError } from './errors'
import { int, knownKeys } from './validate'

/** What a publish does for a subscriber whose queue is over `maxBackpressure` (uWS's choice). */
export type BackpressurePolicy = 'buffer' | 'drop' | 'close'

/** The `backpressure` option of {@link serve}. */
export interface BackpressureOptions {
  /**
   * `'buffer'` (default): queue the message like any write (water marks, `maxOutbound`).
   * `'drop'`: skip it for that subscriber and count it (`conn.droppedMessages`).
   * `'close'`: close that subscriber with `ERR_OUTBOUND_FULL`.
   */
  policy?: BackpressurePolicy
  /**
   * Bytes queued for a subscriber beyond which `'drop'` and `'close'` apply; a subscriber
   * then holds at most this plus one message. Default `1048576`.
   */
  maxBackpressure?: number
}

/** The defaults of {@link BackpressureOptions}. */
export const DEFAULT_BACKPRESSURE: Required<BackpressureOptions> = { policy: 'buffer', maxBackpressure: 1 << 20 }

const POLICIES: readonly BackpressurePolicy[] = ['buffer', 'drop', 'close']

/** Validates `options.backpressure` and fills its defaults; throws `ERR_INVALID_ARG_VALUE`. */
export function resolveBackpressure(value: unknown): Required<BackpressureOptions> {
  if (value === null || typeof value !== 'object') throw new InvalidOptionError('options.backpressure must be an object')
  knownKeys('options.backpressure', value, ['policy', 'maxBackpressure'])
  const o = { ...DEFAULT_BACKPRESSURE, ...Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) } as Required<BackpressureOptions>
  if (!POLICIES.includes(o.policy)) {
    throw new InvalidOptionError(`options.backpressure.policy must be one of ${POLICIES.join(', ')}, got ${String(o.policy)}`)
  }
  int('options.backpressure.maxBackpressure', o.maxBackpressure, 0, 2 ** 31 - 1)
  return o
}

/** The bytes of a published message: a `Uint8Array` as it is, a string as UTF-8. */
export function messageBytes(data: unknown): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data)
  if (data instanceof Uint8Array) return data
  throw new InvalidOptionError('a published message must be a Uint8Array or a string')
}

/** Checks that a topic is a string (its length is checked by the engine: 1 to 256 bytes). */
export function checkTopic(topic: unknown): string {
  if (typeof topic !== 'string') throw new InvalidOptionError(`a topic must be a string, got ${typeof topic}`)
  return topic
}
