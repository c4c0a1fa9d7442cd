//! Reused payload buffers for segments, so steady-state traffic does not allocate.
//!
//! Every queued segment (send queue, send buffer, receive buffer, receive queue) owns a
//! `Vec<u8>`; when it is acknowledged or read its buffer comes back here. The pool keeps at
//! most `limit` buffers (the two windows' worth), so a burst does not pin memory forever, and
//! `clear` lets an idle session give everything back.

#[derive(Debug)]
pub(crate) struct Pool {
    free: Vec<Vec<u8>>,
    limit: usize,
    capacity: usize,
}

impl Pool {
    /// A pool keeping up to `limit` buffers of `capacity` bytes (the MSS).
    pub(crate) fn new(limit: usize, capacity: usize) -> Pool {
        Pool {
            free: Vec::new(),
            limit,
            capacity,
        }
    }

    /// An empty buffer, reused when possible.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.capacity))
    }

    /// Returns a buffer for reuse.
    pub(crate) fn give(&mut self, mut buf: Vec<u8>) {
        if self.free.len() < self.limit {
            buf.clear();
            self.free.push(buf);
        }
    }

    /// Drops every pooled buffer.
    pub(crate) fn clear(&mut self) {
        self.free = Vec::new();
    }
}
