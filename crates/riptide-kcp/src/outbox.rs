//! Datagrams produced by a flush and not yet taken by `poll_transmit`.
//!
//! One byte buffer holds the datagrams back to back and a list holds their bounds; both are
//! cleared (keeping their capacity) once everything was taken, so a session in steady state
//! flushes without allocating. This replaces the `output` callback and the per-kcpcb
//! `(mtu + 24) * 3` buffer of `ikcp.c`.

use std::collections::VecDeque;

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Finished datagrams, then the one being built from `open`.
    bytes: Vec<u8>,
    /// `(start, end)` of each finished datagram in `bytes`, oldest first.
    frames: VecDeque<(usize, usize)>,
    /// Start of the datagram being built.
    open: usize,
}

impl Outbox {
    /// The buffer to append segments to.
    pub(crate) fn bytes(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Bytes in the datagram being built.
    pub(crate) fn open_len(&self) -> usize {
        // `open <= bytes.len()` always.
        self.bytes.len().saturating_sub(self.open)
    }

    /// Closes the datagram being built (`ikcp_output`); an empty one is not a datagram.
    pub(crate) fn finish(&mut self) {
        let end = self.bytes.len();
        if end > self.open {
            self.frames.push_back((self.open, end));
            self.open = end;
        }
    }

    /// Copies the oldest datagram to `buf[headroom..]`; `None` (the datagram stays) when
    /// there is none or `buf` is too short.
    pub(crate) fn pop(&mut self, headroom: usize, buf: &mut [u8]) -> Option<usize> {
        let &(start, end) = self.frames.front()?;
        let src = self.bytes.get(start..end)?;
        let total = headroom.checked_add(src.len())?;
        buf.get_mut(headroom..total)?.copy_from_slice(src);
        self.frames.pop_front();
        if self.frames.is_empty() && self.open == self.bytes.len() {
            self.bytes.clear();
            self.open = 0;
        }
        Some(total)
    }

    /// Releases spare capacity.
    pub(crate) fn shrink(&mut self) {
        self.bytes.shrink_to_fit();
        self.frames.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_in_order_with_headroom() {
        let mut o = Outbox::default();
        o.finish();
        assert!(o.frames.is_empty(), "an empty datagram is not a datagram");
        o.bytes().extend_from_slice(b"abc");
        o.finish();
        o.bytes().extend_from_slice(b"de");
        o.finish();
        let mut buf = [0u8; 8];
        assert_eq!(o.pop(2, &mut buf[..4]), None, "too short: stays queued");
        assert_eq!(o.pop(2, &mut buf), Some(5));
        assert_eq!(&buf[2..5], b"abc");
        assert_eq!(o.pop(0, &mut buf), Some(2));
        assert_eq!(&buf[..2], b"de");
        assert_eq!(o.pop(0, &mut buf), None);
        assert_eq!(o.bytes().len(), 0, "reset once drained");
    }
}
