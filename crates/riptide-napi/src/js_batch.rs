//! The event batch as JS sees it: `meta` and `arena` (see [`crate::batch`] for the layout) in
//! two V8-owned typed arrays that Rust fills while no JS runs, so one JS call delivers all of a
//! wake's events with no JS object per event.

use crate::batch::{Sink, STRIDE_LEN};
use crate::raw::SharedArray;
use napi::sys;
use riptide::ConnId;

/// Events collected for the next JS call. Written only while no JS runs.
pub struct Batch {
    env: sys::napi_env,
    meta: SharedArray,
    arena: SharedArray,
    count: usize,
    used: usize,
    /// The last `clear` replaced a detached arena: the bytes JS was given are gone.
    arena_lost: bool,
}

impl Batch {
    /// Allocates room for `events` events and `bytes` payload bytes; both grow on demand.
    pub fn new(env: sys::napi_env, events: usize, bytes: usize) -> napi::Result<Batch> {
        Ok(Batch {
            env,
            meta: SharedArray::new(
                env,
                events * STRIDE_LEN * 4,
                sys::TypedarrayType::int32_array,
                4,
            )?,
            arena: SharedArray::new(env, bytes, sys::TypedarrayType::uint8_array, 1)?,
            count: 0,
            used: 0,
            arena_lost: false,
        })
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.count
    }

    /// `(meta, arena)` views for the JS call.
    pub fn views(&self) -> (sys::napi_value, sys::napi_value) {
        (self.meta.value(self.env), self.arena.value(self.env))
    }

    /// The event arena's bytes as JS was last given them (a cleared batch keeps them until
    /// it is filled again); empty if JS detached the array.
    pub fn arena(&mut self) -> &[u8] {
        if self.arena_lost || !self.arena.attached(self.env) {
            return &[];
        }
        // SAFETY: called between JS calls, while the reactor does not fill the batch; the
        // array is attached (checked above).
        unsafe { self.arena.bytes() }
    }

    /// Forgets delivered events; the memory is reused, unless JS detached it (a transfer
    /// that the untransferable mark did not stop), in which case fresh arrays replace it.
    pub fn clear(&mut self) {
        self.count = 0;
        self.used = 0;
        // Asked once per array: a wake clears once, and JS does not run inside `clear`.
        self.arena_lost = !self.arena.attached(self.env);
        let lost = [!self.meta.attached(self.env), self.arena_lost];
        for ((array, kind, elem), lost) in [
            (&mut self.meta, sys::TypedarrayType::int32_array, 4),
            (&mut self.arena, sys::TypedarrayType::uint8_array, 1),
        ]
        .into_iter()
        .zip(lost)
        {
            if lost {
                let fresh = SharedArray::new(self.env, array.len(), kind, elem)
                    .expect("replacing a detached event array");
                std::mem::replace(array, fresh).delete(self.env);
            }
        }
    }

    /// Appends events encoded elsewhere (a reactor thread's [`crate::event_log::EventLog`]):
    /// `meta` holds `count` descriptors whose offsets index `arena`.
    pub fn extend(&mut self, meta: &[i32], arena: &[u8], count: usize) {
        self.reserve(count, arena.len());
        let base = self.used;
        // SAFETY: no JS runs while a batch is filled (the caller runs between JS calls), and
        // `reserve` made room for `count` more descriptors and `arena.len()` more bytes.
        unsafe {
            self.arena.bytes()[base..base + arena.len()].copy_from_slice(arena);
            let ints = &mut self.meta.ints()[self.count * STRIDE_LEN..][..count * STRIDE_LEN];
            ints.copy_from_slice(&meta[..count * STRIDE_LEN]);
            for d in ints.chunks_exact_mut(STRIDE_LEN) {
                d[3] += base as i32;
            }
        }
        self.count += count;
        self.used += arena.len();
    }

    /// Grows the arrays (by replacing them) so `events` more events with `bytes` more bytes fit.
    fn reserve(&mut self, events: usize, bytes: usize) {
        let need = (self.count + events) * STRIDE_LEN * 4;
        if need > self.meta.len() {
            let len = (self.meta.len() * 2).max(need);
            let keep = self.count * STRIDE_LEN * 4;
            grow(
                self.env,
                &mut self.meta,
                len,
                keep,
                sys::TypedarrayType::int32_array,
                4,
            );
        }
        if self.used + bytes > self.arena.len() {
            let len = (self.arena.len() * 2).max(self.used + bytes);
            grow(
                self.env,
                &mut self.arena,
                len,
                self.used,
                sys::TypedarrayType::uint8_array,
                1,
            );
        }
    }

    /// Releases the JS arrays.
    pub fn delete(self) {
        self.meta.delete(self.env);
        self.arena.delete(self.env);
    }
}

impl Sink for Batch {
    /// The arena's free tail, grown (by replacement) to hold `want` more bytes.
    fn read_space(&mut self, want: usize) -> Option<&mut [u8]> {
        self.reserve(1, want);
        // SAFETY: as in `push_parts`: no JS runs while the reactor fills a batch, the arena
        // is attached, and it holds `used + want` bytes (reserved above). The slice lives only
        // until the reactor's read into it returns.
        let arena = unsafe { self.arena.bytes() };
        arena.get_mut(self.used..self.used + want)
    }

    /// Describes the `length` bytes a read placed at the arena's free tail.
    fn push_placed(&mut self, kind: i32, id: ConnId, length: usize, extra: i32) {
        self.reserve(1, length);
        self.describe(kind, id, length, extra);
        self.used += length;
    }

    /// Appends one event, growing the arrays (by replacing them) when full.
    fn push_parts(&mut self, kind: i32, id: ConnId, parts: &[&[u8]], length: usize, extra: i32) {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        self.reserve(1, total);
        // SAFETY: no JS runs while the reactor fills a batch, so nothing else reads or writes
        // the arena while this slice lives; it is attached (untransferable in JS, and `clear`
        // replaced it after the last JS call had it detached) and holds `used + total` bytes.
        let arena = unsafe { self.arena.bytes() };
        let mut at = self.used;
        for p in parts {
            arena[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        self.describe(kind, id, length, extra);
        self.used += total;
    }
}

impl Batch {
    /// Writes the next event's descriptor, its bytes starting at `used`.
    fn describe(&mut self, kind: i32, id: ConnId, length: usize, extra: i32) {
        // SAFETY: as for the arena: no JS runs while the batch is filled, and `meta` holds
        // room for this event (the caller reserved it).
        let meta = unsafe { self.meta.ints() };
        let at = self.count * STRIDE_LEN;
        meta[at..at + STRIDE_LEN].copy_from_slice(&[
            kind,
            id.slot as i32,
            id.generation as i32,
            self.used as i32,
            length as i32,
            extra,
        ]);
        self.count += 1;
    }
}

/// Replaces `array` with a larger one holding the same first `keep` bytes. Allocation failure
/// here means V8 is out of memory, which Node treats as fatal anyway.
fn grow(
    env: sys::napi_env,
    array: &mut SharedArray,
    len: usize,
    keep: usize,
    kind: i32,
    elem: usize,
) {
    let mut new = SharedArray::new(env, len, kind, elem).expect("growing the event batch");
    // SAFETY: no JS runs while the reactor fills a batch.
    unsafe { new.bytes()[..keep].copy_from_slice(&array.bytes()[..keep]) };
    std::mem::replace(array, new).delete(env);
}
