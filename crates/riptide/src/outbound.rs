//! Outbound byte queue of one connection: what was accepted for writing but not yet taken by
//! the kernel. Written bytes are copied into owned segments; a published frame shared by many
//! subscribers is queued as a reference to the one buffer, not copied. Idle connections hold
//! no memory here.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::sync::Arc;

/// Most segments one vectored write hands the kernel.
const MAX_IOV: usize = 64;

/// A run of queued bytes.
enum Segment {
    /// Bytes copied from writes (consecutive writes share one segment).
    Owned(Vec<u8>),
    /// A frame shared with other connections, from `.1` on.
    Shared(Arc<[u8]>, usize),
}

impl Segment {
    fn bytes(&self) -> &[u8] {
        match self {
            Segment::Owned(v) => v,
            Segment::Shared(b, from) => b.get(*from..).unwrap_or_default(),
        }
    }
}

/// Bytes accepted for a connection and not yet written, in order.
#[derive(Default)]
pub struct Outbound {
    segments: VecDeque<Segment>,
    /// Bytes of the front segment already written.
    head: usize,
    /// Bytes waiting (all segments, less `head`).
    len: usize,
}

impl Outbound {
    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a copy of `data` behind everything already queued.
    pub fn push(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.len += data.len();
        let single = self.segments.len() == 1;
        if let Some(Segment::Owned(buf)) = self.segments.back_mut() {
            // Reclaim the consumed front before growing, so a queue that is drained in pieces
            // while being refilled does not grow without bound.
            if single && self.head > 0 && buf.len() + data.len() > buf.capacity() {
                buf.drain(..self.head);
                self.head = 0;
            }
            buf.extend_from_slice(data);
            return;
        }
        self.segments.push_back(Segment::Owned(data.to_vec()));
    }

    /// Appends `frame[from..]` by reference: the buffer is shared, not copied.
    pub fn push_shared(&mut self, frame: &Arc<[u8]>, from: usize) {
        let n = frame.len().saturating_sub(from);
        if n == 0 {
            return;
        }
        self.len += n;
        self.segments
            .push_back(Segment::Shared(frame.clone(), from));
    }

    /// Writes as much as the writer takes, adding the bytes written to `*written`. Returns
    /// `Ok(true)` when the queue is empty afterwards, `Ok(false)` when the writer would block
    /// with bytes left. A drained queue keeps at most `keep` bytes of capacity for reuse and
    /// gives the rest back.
    pub fn write_to<W: Write>(
        &mut self,
        w: &mut W,
        keep: usize,
        written: &mut u64,
    ) -> io::Result<bool> {
        while !self.is_empty() {
            let result = if self.segments.len() == 1 {
                let front = self.segments.front().map_or(&[][..], Segment::bytes);
                w.write(front.get(self.head..).unwrap_or_default())
            } else {
                let slices: Vec<IoSlice<'_>> = self
                    .segments
                    .iter()
                    .take(MAX_IOV)
                    .enumerate()
                    .map(|(i, s)| {
                        let skip = if i == 0 { self.head } else { 0 };
                        IoSlice::new(s.bytes().get(skip..).unwrap_or_default())
                    })
                    .collect();
                w.write_vectored(&slices)
            };
            match result {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.consume(n, keep);
                    *written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Drops `n` written bytes from the front. The last owned buffer is kept for reuse when
    /// its capacity is at most `keep`.
    fn consume(&mut self, mut n: usize, keep: usize) {
        self.len = self.len.saturating_sub(n);
        while n > 0 {
            let Some(front) = self.segments.front() else {
                break;
            };
            let left = front.bytes().len().saturating_sub(self.head);
            if n < left {
                self.head += n;
                return;
            }
            n -= left;
            self.head = 0;
            if let Some(Segment::Owned(mut buf)) = self.segments.pop_front() {
                if self.segments.is_empty() && buf.capacity() <= keep {
                    buf.clear();
                    self.segments.push_back(Segment::Owned(buf));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A writer that takes at most `take[i]` bytes on its i-th call, then would block once
    /// when the step is zero.
    struct Stingy {
        out: Vec<u8>,
        steps: Vec<usize>,
        i: usize,
    }

    impl Write for Stingy {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let step = self.steps[self.i % self.steps.len()];
            self.i += 1;
            if step == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = step.min(data.len());
            self.out.extend_from_slice(&data[..n]);
            Ok(n)
        }
        /// Takes up to the step's bytes across the slices, as `writev` does.
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let step = self.steps[self.i % self.steps.len()];
            self.i += 1;
            if step == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut n = 0;
            for b in bufs {
                let take = (step - n).min(b.len());
                self.out.extend_from_slice(&b[..take]);
                n += take;
                if n == step {
                    break;
                }
            }
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    proptest! {
        #[test]
        fn partial_writes_keep_order(
            chunks in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..300), any::<bool>(), 0usize..8), 1..40),
            mut steps in prop::collection::vec(0usize..200, 0..10),
        ) {
            steps.push(1); // the writer takes bytes eventually
            let mut q = Outbound::default();
            let mut w = Stingy { out: Vec::new(), steps, i: 0 };
            let mut expected = Vec::new();
            for (c, shared, from) in &chunks {
                if *shared {
                    let frame: Arc<[u8]> = Arc::from(c.as_slice());
                    q.push_shared(&frame, *from);
                    expected.extend_from_slice(c.get(*from..).unwrap_or_default());
                } else {
                    q.push(c);
                    expected.extend_from_slice(c);
                }
                let _ = q.write_to(&mut w, 64, &mut 0).unwrap();
                prop_assert_eq!(q.len() + w.out.len(), expected.len());
            }
            let mut guard = 0;
            while !q.write_to(&mut w, 64, &mut 0).unwrap() {
                guard += 1;
                prop_assert!(guard < 100_000);
            }
            prop_assert_eq!(&w.out, &expected);
            prop_assert!(q.is_empty());
        }
    }

    #[test]
    fn large_drained_queue_releases_memory() {
        let mut q = Outbound::default();
        q.push(&vec![7u8; 4096]);
        let mut sink = Vec::new();
        assert!(q.write_to(&mut sink, 1024, &mut 0).unwrap());
        assert!(q.segments.is_empty());
    }

    #[test]
    fn write_zero_is_an_error() {
        struct Zero;
        impl Write for Zero {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Ok(0)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut q = Outbound::default();
        q.push(b"x");
        assert_eq!(
            q.write_to(&mut Zero, 0, &mut 0).unwrap_err().kind(),
            io::ErrorKind::WriteZero
        );
    }
}
