//! Outbound byte queue of one connection: what was accepted for writing but not yet taken by
//! the kernel. Idle connections hold no memory here.

use std::io::{self, Write};

/// Bytes accepted for a connection and not yet written, in order.
#[derive(Default)]
pub struct Outbound {
    buf: Vec<u8>,
    head: usize,
}

impl Outbound {
    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.head == self.buf.len()
    }

    /// Appends bytes behind everything already queued.
    pub fn push(&mut self, data: &[u8]) {
        // Reclaim the consumed front before growing, so a queue that is drained in pieces
        // while being refilled does not grow without bound.
        if self.head > 0 && self.buf.len() + data.len() > self.buf.capacity() {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        self.buf.extend_from_slice(data);
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
            match w.write(&self.buf[self.head..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.head += n;
                    *written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.buf.clear();
        self.head = 0;
        if self.buf.capacity() > keep {
            self.buf = Vec::new();
        }
        Ok(true)
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
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    proptest! {
        #[test]
        fn partial_writes_keep_order(
            chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..40),
            mut steps in prop::collection::vec(0usize..200, 0..10),
        ) {
            steps.push(1); // the writer takes bytes eventually
            let mut q = Outbound::default();
            let mut w = Stingy { out: Vec::new(), steps, i: 0 };
            let mut expected = Vec::new();
            for c in &chunks {
                q.push(c);
                expected.extend_from_slice(c);
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
        assert_eq!(q.buf.capacity(), 0);
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
