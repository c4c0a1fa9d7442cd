/**
 * LTV (length, type, value) messages: Cellnet's packet `size | msgId | body`, framed in Rust
 * by `codecs.ltv()`. The codec hands this file *records*, the message id field then the body
 * (the size field stripped), and frames the records written; this file turns them into
 * `onTraffic(conn, body, { msgId })` and `conn.write(body, { msgId })`.
 *
 * @example
 * ```ts
 * await serve('tcp://127.0.0.1:9000', {
 *   onTraffic(conn, body, { msgId }) { conn.write(body, { msgId }) }, // echo, same id
 * }, { codec: codecs.ltv() })
 * ```
 */
import type { LtvCodec } from './codecs'
import type { Conn } from './conn'
import type { ClientHandler } from './client'
import type { EventHandler } from './handler'
import { InvalidOptionError } from './errors'
import { int, knownKeys } from './validate'

/** What `onTraffic` learns of an LTV message besides its body. */
export interface LtvInfo {
  /** The message id (the type field). */
  msgId: number
}

/** Options of `conn.write` and `publish`: the message id of an LTV message. */
export interface WriteOptions {
  /** The message id, an integer that fits the codec's `idBytes` (required with `codecs.ltv()`). */
  msgId?: number
}

/** A handler's `onTraffic` for LTV messages: the body (a view valid during the call) and its id. */
export interface LtvTraffic<Context> {
  /** A whole message: `body` is a view valid only during the call (copy it to keep it). */
  onTraffic?(conn: Conn<Context>, body: Uint8Array, info: LtvInfo): void
}

/** The callbacks of a server with `codec: codecs.ltv()`: an {@link EventHandler} whose `onTraffic` gets messages. */
export type LtvHandler<Context = unknown> = Omit<EventHandler<Context>, 'onTraffic'> & LtvTraffic<Context>

/** The callbacks of a client with `codec: codecs.ltv()`: a {@link ClientHandler} whose `onTraffic` gets messages. */
export type LtvClientHandler<Context = unknown> = Omit<ClientHandler<Context>, 'onTraffic'> & LtvTraffic<Context>

/** The largest id the codec's id field holds. */
function maxMsgId(codec: LtvCodec): number {
  return codec.idBytes === 2 ? 0xffff : 0xffffffff
}

/** The message id of `options` (`conn.write`'s, `publish`'s), checked against the codec. */
export function msgIdOf(codec: LtvCodec, options: WriteOptions | undefined): number {
  if (options === undefined) throw new InvalidOptionError('a message on an LTV connection needs { msgId }')
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('write options must be an object')
  knownKeys('write options', options, ['msgId'])
  return int('msgId', options.msgId, 0, maxMsgId(codec))
}

/**
 * The bytes a codec frames for a message: on an LTV connection (`ltv` set) its record, with
 * the id `options` names; else `data` itself, a string left for the writer to encode (and
 * `options` must not name an id).
 */
export function messageOf<T extends Uint8Array | string>(ltv: LtvCodec | undefined, data: T, options: WriteOptions | undefined): T | Uint8Array {
  if (ltv !== undefined) return ltvRecord(ltv, msgIdOf(ltv, options), data)
  if (options !== undefined) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('write options must be an object')
    if ('msgId' in options) throw new InvalidOptionError('msgId is for connections with codecs.ltv()')
    knownKeys('write options', options, [])
  }
  return data
}

/**
 * The record of message `msgId` with `body` (what the LTV codec frames: the id field, then
 * the body), as Rust's `LtvConfig::record` builds it. `conn.write(body, { msgId })` uses it;
 * `asyncWrite` and `writev` on an LTV connection take records.
 */
export function ltvRecord(codec: LtvCodec, msgId: number, body: Uint8Array | string): Uint8Array {
  const id = int('msgId', msgId, 0, maxMsgId(codec))
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  const n = codec.idBytes
  const out = Buffer.allocUnsafe(n + bytes.length)
  if (codec.byteOrder === 'big') out.writeUIntBE(id, 0, n)
  else out.writeUIntLE(id, 0, n)
  out.set(bytes, n)
  return out
}

/**
 * The engine-level handler of an {@link LtvHandler}: records in, `onTraffic(conn, body, {
 * msgId })` out. Every other callback is the handler's own (it is the prototype, so `this`
 * in them still reaches the handler's fields).
 */
export function ltvHandler<Context>(h: LtvHandler<Context>, codec: LtvCodec): EventHandler<Context> {
  const onTraffic = h.onTraffic
  const n = codec.idBytes
  const big = codec.byteOrder === 'big'
  const wrapped = Object.create(h) as EventHandler<Context>
  // Without onTraffic the reactor skips data events (and no wrapper is needed).
  wrapped.onTraffic =
    onTraffic &&
    function (this: EventHandler<Context>, conn: Conn<Context>, record: Uint8Array): void {
      // The codec delivers only records holding their whole id field.
      const view = Buffer.from(record.buffer, record.byteOffset, record.byteLength)
      const msgId = big ? view.readUIntBE(0, n) : view.readUIntLE(0, n)
      onTraffic.call(this, conn, record.subarray(n), { msgId })
    }
  return wrapped
}
