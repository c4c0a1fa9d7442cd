//! Events a reactor thread collected for JS, in plain Rust memory and the boundary layout of
//! [`crate::batch`]. The thread driver fills one while no JS can see it, swaps it out under its
//! lock, and copies it into the JS-visible [`crate::js_batch::Batch`] on the JS thread.

use crate::batch::{Sink, EV_DATA, STRIDE_LEN};
use riptide::ConnId;
use std::collections::{HashMap, HashSet};

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

    /// Puts each tail (bytes JS handed back, see `OP_RETAIN`) in front of its connection's
    /// first data event here, which the reactor thread read ahead of the batch JS just
    /// handled: that is where the bytes belong, ahead of everything read later. Returns the
    /// connections whose tail went into the log; the others have no data waiting here. One
    /// pass over the log, however many tails.
    pub fn prepend(&mut self, tails: Vec<(ConnId, Vec<u8>)>) -> Vec<ConnId> {
        let with_data: HashSet<ConnId> = self
            .meta
            .chunks_exact(STRIDE_LEN)
            .filter(|d| d[0] == EV_DATA)
            .map(|d| ConnId {
                slot: d[1] as u32,
                generation: d[2] as u32,
            })
            .collect();
        let mut pending: HashMap<ConnId, Vec<u8>> = tails
            .into_iter()
            .filter(|(id, _)| with_data.contains(id))
            .collect();
        let placed: Vec<ConnId> = pending.keys().copied().collect();
        if placed.is_empty() {
            return placed;
        }
        let old = std::mem::take(self);
        let total = old.arena.len();
        let events: Vec<&[i32]> = old.meta.chunks_exact(STRIDE_LEN).collect();
        for (i, d) in events.iter().enumerate() {
            // An event's bytes run to the next event's offset (a datagram's are longer than
            // its length field says).
            let start = d[3] as usize;
            let end = events.get(i + 1).map_or(total, |n| n[3] as usize);
            let bytes = &old.arena[start..end];
            let id = ConnId {
                slot: d[1] as u32,
                generation: d[2] as u32,
            };
            let tail = if d[0] == EV_DATA {
                pending.remove(&id)
            } else {
                None
            };
            match tail {
                Some(tail) => {
                    let len = tail.len() + bytes.len();
                    self.push_parts(d[0], id, &[&tail, bytes], len, d[5]);
                }
                None => self.push_parts(d[0], id, &[bytes], d[4] as usize, d[5]),
            }
        }
        placed
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
