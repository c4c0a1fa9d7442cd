/**
 * The boundary format shared with `crates/riptide-napi`. Event kinds and op codes are defined
 * once, in Rust (`batch.rs` and `staged.rs`), and exported by the native binding; this module
 * re-exports them so the dispatcher reads them from one place.
 *
 * Events arrive as `STRIDE` ints per event in an `Int32Array`:
 * `[kind, slot, generation, offset, length, extra]`, with bytes in a shared `Uint8Array`; each
 * kind's meaning is documented on its Rust constant. Writes made during a batch are staged as
 * `[count, op, slot, generation, offset, length, ...]` in an `Int32Array` plus their bytes,
 * and applied natively when the batch returns.
 */
import { native } from './native'

export const {
  STRIDE,
  EV_OPEN,
  EV_DATA,
  EV_CLOSE,
  EV_SHUTDOWN,
  EV_TICK,
  EV_DATAGRAM,
  EV_EXECUTE,
  EV_WRITABILITY,
  EV_WRITE_DONE,
  EV_END,
  EV_IDLE,
  EV_TIMER,
  EV_ACCEPT_ERROR,
  EV_ERROR,
  EV_UNRELIABLE,
  EV_HANDSHAKE_ERROR,
  EV_CARRIER,
  EV_DRAIN,
  EV_WEBRTC_OFFER,
  OP_STRIDE,
  OP_WRITE,
  OP_CLOSE,
  OP_SEND_TO,
  OP_MARK,
  OP_EXPECT_DRAIN,
  OP_RETAIN,
  OP_KEEP,
  OP_END,
  OP_DESTROY,
} = native

/** Staged ops one engine can hold before flushing natively (JS allocates the staging arrays). */
export const STAGED_OPS = 4096
/** Staged write bytes one engine can hold before flushing natively. */
export const STAGED_BYTES = 256 * 1024
/** Writes larger than this go to the native side directly instead of being staged. */
export const STAGE_MAX_WRITE = 16 * 1024

/** Decodes ASCII bytes (addresses, error codes) without a TextDecoder. */
export function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length))
}
