/**
 * The boundary format shared with `crates/riptide-napi` (`batch.rs` and `staged.rs`): numbers
 * here must match the Rust constants.
 *
 * Events arrive as `STRIDE` ints per event in an `Int32Array`:
 * `[kind, slot, generation, offset, length, extra]`, with bytes in a shared `Uint8Array`.
 * Writes made during a batch are staged as `[count, op, slot, generation, offset, length, ...]`
 * in an `Int32Array` plus their bytes, and applied natively when the batch returns.
 */

/** Ints per event descriptor. */
export const STRIDE = 6
/** A connection was accepted: bytes = peer IP text, extra = peer port. */
export const EV_OPEN = 1
/** Bytes arrived. */
export const EV_DATA = 2
/** A connection closed: bytes = error code text, empty when orderly. */
export const EV_CLOSE = 3
/** The engine stopped (always the last event). */
export const EV_SHUTDOWN = 4
/** The ticker is due; the engine answers with the next delay. */
export const EV_TICK = 5
/**
 * A datagram without a session: slot = UDP socket index, generation = length of the peer IP
 * text that starts the bytes, length = payload length after it, extra = peer port.
 */
export const EV_DATAGRAM = 6
/** Run the functions queued with `engine.execute`. */
export const EV_EXECUTE = 7
/** Crossed a water mark: extra 1 writable again, 0 unwritable. */
export const EV_WRITABILITY = 8
/** A write marker completed: extra = token; bytes = error code, empty on success. */
export const EV_WRITE_DONE = 9
/** The peer half-closed (allowHalfOpen). */
export const EV_END = 10
/** Idle: extra 0 read, 1 write, 2 all. */
export const EV_IDLE = 11
/** A connection timer fired: extra = token. */
export const EV_TIMER = 12
/** Accepting paused for lack of resources: bytes = code, extra = count so far. */
export const EV_ACCEPT_ERROR = 13
/** The codec rejected input or a write (the connection goes on): bytes = code, NUL, message. */
export const EV_ERROR = 14

/** Ints per staged op (after the leading count). */
export const OP_STRIDE = 5
/** Staged write. */
export const OP_WRITE = 1
/** Staged close. */
export const OP_CLOSE = 2
/** Staged datagram: slot = UDP socket, generation = port << 8 | IP text length; bytes = IP text + payload. */
export const OP_SEND_TO = 3
/** Staged marker: report EV_WRITE_DONE with token = offset once written bytes reach the kernel. */
export const OP_MARK = 4
/** Staged promise of a writable event: JS told a producer to wait based on its estimate. */
export const OP_EXPECT_DRAIN = 5
/** Staged retain: keep the bytes (what onTraffic did not consume) for the next delivery. */
export const OP_RETAIN = 6

/** Staged ops one engine can hold before flushing natively. */
export const STAGED_OPS = 4096
/** Staged write bytes one engine can hold before flushing natively. */
export const STAGED_BYTES = 256 * 1024
/** Writes larger than this go to the native side directly instead of being staged. */
export const STAGE_MAX_WRITE = 16 * 1024

/** Decodes ASCII bytes (addresses, error codes) without a TextDecoder. */
export function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length))
}
