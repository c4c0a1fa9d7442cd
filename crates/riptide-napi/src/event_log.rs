//! Events a reactor thread collected for JS, in plain Rust memory and the boundary layout of
//! [`crate::batch`]. The thread driver fills one while no JS can see it, swaps it out under its
//! lock, and copies it into the JS-visible [`crate::js_batch::Batch`] on the JS thread.

use crate::batch::{Sink, STRIDE_LEN};
use riptide::ConnId;

/// Encoded events waiting for JS.
#[derive(Default)]
pub struct EventLog {
    meta: Vec<i32>,
    arena: Vec<u8>,
}

impl EventLog {
    /// Events waiting.
    pub fn len(&self) -> usize {
        self.meta.len() / STRIDE_LEN
    }

    /// Payload bytes waiting.
    pub fn bytes(&self) -> usize {
        self.arena.len()
    }

    /// `(meta, arena)`: the descriptors and the bytes their offsets index.
    pub fn parts(&self) -> (&[i32], &[u8]) {
        (&self.meta, &self.arena)
    }

    /// Forgets the events, keeping the memory for the next ones.
    pub fn clear(&mut self) {
        self.meta.clear();
        self.arena.clear();
    }
}

impl Sink for EventLog {
    fn push_parts(&mut self, kind: i32, id: ConnId, parts: &[&[u8]], length: usize, extra: i32) {
        self.meta.extend_from_slice(&[
            kind,
            id.slot as i32,
            id.generation as i32,
            self.arena.len() as i32,
            length as i32,
            extra,
        ]);
        for p in parts {
            self.arena.extend_from_slice(p);
        }
    }
}
