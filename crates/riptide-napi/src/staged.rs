//! Writes, closes, half-closes and resets JS queued during a batch, in two arrays JS owns: `ops` (an `Int32Array`:
//! `[count, op, slot, generation, offset, length, op, ...]`) and `data` (a `Uint8Array` holding
//! the write payloads). Applying them natively after the batch costs no JS→native call per
//! write. This file is the one definition of the layout: the constants are exported to JS
//! (`#[napi]`), and `lib/boundary.ts` takes them from the binding.

use crate::gather::Gather;
use crate::raw::SharedArray;
use napi::sys;
use napi_derive::napi;
use riptide::{ConnId, Conns};

/// Ints per op after the leading count.
#[napi]
pub const OP_STRIDE: u32 = 5;
/// Ints per op, as an index step.
const OP_LEN: usize = OP_STRIDE as usize;
/// Write `length` bytes at `offset` of `data`.
#[napi]
pub const OP_WRITE: i32 = 1;
/// Close after pending writes.
#[napi]
pub const OP_CLOSE: i32 = 2;
/// Send a datagram: `slot` is the UDP socket, `generation` is `port << 8 | ip_len`, and the
/// bytes at `offset` are the peer IP text followed by `length` payload bytes.
#[napi]
pub const OP_SEND_TO: i32 = 3;
/// Report (`EV_WRITE_DONE`) when everything written so far has reached the kernel: `offset` is
/// the token.
#[napi]
pub const OP_MARK: i32 = 4;
/// JS told a producer to wait (its estimate of the batch's writes passed the high water
/// mark): make sure a writable event follows.
#[napi]
pub const OP_EXPECT_DRAIN: i32 = 5;
/// Keep `length` bytes at `offset` (what `onTraffic` did not consume) for the next delivery.
#[napi]
pub const OP_RETAIN: i32 = 6;
/// Keep `length` bytes at `offset` of the event arena of the batch JS was last given, for the
/// next delivery: what `onTraffic` did not consume of an event's bytes, kept from where the
/// reactor put them rather than copied into `data` first (custom framing reports a count).
#[napi]
pub const OP_KEEP: i32 = 9;
/// Half-close after pending writes (`Conns::end`).
#[napi]
pub const OP_END: i32 = 7;
/// Reset now, dropping what is queued (`Conns::destroy`).
#[napi]
pub const OP_DESTROY: i32 = 8;

/// The plain `OP_RETAIN` and `OP_KEEP`: the bytes wait in the connection's own buffer for its
/// next read.
/// Only the same-thread driver (Unix only, like the libuv poll handles it uses) applies it
/// this way; the thread driver first hands the bytes back to events it read ahead.
#[cfg(unix)]
pub fn retain_now(conns: &mut Conns, id: ConnId, bytes: &[u8]) {
    // A stale id (JS raced a close) or a codec connection: nothing to keep.
    let _ = conns.retain(id, bytes);
}

/// The staging arrays JS shares with this engine.
pub struct Staged {
    ops: SharedArray,
    data: SharedArray,
    /// Reused across batches.
    gather: Gather,
}

impl Staged {
    /// Adopts the arrays JS allocated.
    pub fn adopt(
        env: sys::napi_env,
        ops: sys::napi_value,
        data: sys::napi_value,
    ) -> napi::Result<Staged> {
        Ok(Staged {
            ops: SharedArray::adopt(env, ops)?,
            data: SharedArray::adopt(env, data)?,
            gather: Gather::default(),
        })
    }

    /// Applies and clears the queued ops, in order. Each connection's writes of the batch go
    /// to the socket together: a byte stream's as one `writev` straight from the staging
    /// array ([`Gather`]); a codec's frames, datagrams and KCP messages (each write one
    /// message) corked, as one write after the batch.
    /// `arena` is the event arena of the batch JS was last given (`OP_KEEP` indexes it).
    /// `retain` receives the bytes of each `OP_RETAIN` and `OP_KEEP` (the same-thread driver
    /// hands them to [`Conns::retain`]; the thread driver first tries the events it read
    /// ahead).
    pub fn apply(
        &mut self,
        env: sys::napi_env,
        conns: &mut Conns,
        arena: &[u8],
        retain: &mut dyn FnMut(&mut Conns, ConnId, &[u8]),
    ) {
        if !self.ops.attached(env) || !self.data.attached(env) {
            // JS detached its staging arrays (they are marked untransferable, so only by a
            // path that ignores the mark): their memory is gone, and so are the ops.
            return;
        }
        // SAFETY: called between JS calls; JS never holds Rust references to these arrays,
        // and both are still attached (checked above).
        let (ops, data) = unsafe { (self.ops.ints(), self.data.bytes()) };
        let count = (ops[0].max(0) as usize).min((ops.len() - 1) / OP_LEN);
        let gather = &mut self.gather;
        conns.cork();
        for op in ops[1..].chunks_exact(OP_LEN).take(count) {
            let id = ConnId {
                slot: op[1] as u32,
                generation: op[2] as u32,
            };
            let start = op[3].max(0) as usize;
            let end = start.saturating_add(op[4].max(0) as usize);
            if matches!(
                op[0],
                OP_CLOSE | OP_END | OP_DESTROY | OP_MARK | OP_EXPECT_DRAIN
            ) {
                // These follow the connection's writes so far.
                gather.flush_one(conns, data, id);
            }
            match op[0] {
                OP_WRITE if !conns.keeps_boundaries(id) => gather.push(id, start, end),
                OP_WRITE => {
                    if let Some(bytes) = data.get(start..end) {
                        // A stale id means JS raced a close it had not yet seen; nothing to do.
                        conns.write_or_report(id, bytes);
                    }
                }
                // A stale id (JS raced a close it had not yet seen): its close event follows.
                OP_CLOSE => {
                    let _ = conns.close(id);
                }
                OP_END => {
                    let _ = conns.end(id);
                }
                OP_DESTROY => {
                    let _ = conns.destroy(id, None);
                }
                OP_RETAIN => {
                    if let Some(bytes) = data.get(start..end) {
                        retain(conns, id, bytes);
                    }
                }
                OP_KEEP => {
                    if let Some(bytes) = arena.get(start..end) {
                        retain(conns, id, bytes);
                    }
                }
                OP_EXPECT_DRAIN => {
                    let _ = conns.expect_drain(id);
                }
                OP_MARK => {
                    // A stale id: the write before it failed the same way, and the reactor
                    // reports the marker as closed when JS asks again; nothing to do here.
                    let _ = conns.mark(id, op[3] as u64);
                }
                OP_SEND_TO => {
                    let ip_len = (op[2] & 0xff) as usize;
                    let port = (op[2] >> 8) as u16;
                    let Some(bytes) = data.get(start..end.saturating_add(ip_len)) else {
                        continue;
                    };
                    let ip = std::str::from_utf8(&bytes[..ip_len])
                        .ok()
                        .and_then(|t| t.parse().ok());
                    if let Some(ip) = ip {
                        // UDP is lossy; a send error is not reported per datagram.
                        let _ = conns.send_to(
                            op[1] as usize,
                            std::net::SocketAddr::new(ip, port),
                            &bytes[ip_len..],
                        );
                    }
                }
                _ => {}
            }
        }
        gather.flush(conns, data);
        conns.uncork();
        ops[0] = 0;
    }

    /// Releases the arrays.
    pub fn delete(self, env: sys::napi_env) {
        self.ops.delete(env);
        self.data.delete(env);
    }
}
