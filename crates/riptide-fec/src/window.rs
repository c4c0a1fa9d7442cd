//! Which data seqids were already handed out, over the last [`SPAN`] seqids: the decoder's
//! guard against handing a datagram out twice, whether it arrived twice, was rebuilt after
//! arriving (or the reverse), or crossed a change of shard counts.

/// Seqids remembered behind the highest one seen. Live sets span at most
/// `MAX_LIVE_SETS × 256` = 1024 seqids, so this covers them with room for reordering.
pub(crate) const SPAN: u32 = 2048;

const WORDS: usize = (SPAN / 64) as usize;

/// A bitmap ring indexed by `seqid mod SPAN`, valid for `(highest − SPAN, highest]`. Since
/// 2³² is a multiple of `SPAN`, the ring stays consistent across the u32 wrap (and the
/// jump from `paws − 1` to 0 is just a short step forward).
pub(crate) struct Window {
    bits: [u64; WORDS],
    highest: Option<u32>,
}

impl Window {
    pub fn new() -> Window {
        Window {
            bits: [0; WORDS],
            highest: None,
        }
    }

    /// Records `seqid` as handed out; `false` if it already was. A seqid older than the
    /// window is not remembered and counts as new.
    pub fn insert(&mut self, seqid: u32) -> bool {
        let highest = *self.highest.get_or_insert(seqid);
        let ahead = seqid.wrapping_sub(highest) as i32;
        if ahead > 0 {
            // Forget the slots the window moves over.
            if ahead.unsigned_abs() >= SPAN {
                self.bits = [0; WORDS];
            } else {
                let mut s = highest;
                while s != seqid {
                    s = s.wrapping_add(1);
                    self.set(s, false);
                }
            }
            self.highest = Some(seqid);
        } else if ahead.unsigned_abs() >= SPAN {
            return true;
        }
        let new = !self.get(seqid);
        self.set(seqid, true);
        new
    }

    fn slot(seqid: u32) -> (usize, u64) {
        let bit = seqid.checked_rem(SPAN).unwrap_or(0);
        ((bit / 64) as usize, 1u64 << (bit % 64))
    }

    fn get(&self, seqid: u32) -> bool {
        let (word, mask) = Self::slot(seqid);
        self.bits.get(word).is_some_and(|w| w & mask != 0)
    }

    fn set(&mut self, seqid: u32, on: bool) {
        let (word, mask) = Self::slot(seqid);
        if let Some(w) = self.bits.get_mut(word) {
            if on {
                *w |= mask;
            } else {
                *w &= !mask;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_last_span() {
        let mut w = Window::new();
        assert!(w.insert(100));
        assert!(!w.insert(100));
        assert!(w.insert(99));
        assert!(w.insert(100 + SPAN - 1));
        assert!(!w.insert(100), "still inside");
        assert!(w.insert(100 + SPAN));
        assert!(w.insert(100), "fell out: unknown, counts as new");
        assert!(w.insert(100), "and is not remembered");
    }

    #[test]
    fn across_the_wrap() {
        let mut w = Window::new();
        for s in u32::MAX - 10..=u32::MAX {
            assert!(w.insert(s));
        }
        for s in 0..10 {
            assert!(w.insert(s));
        }
        for s in (u32::MAX - 10..=u32::MAX).chain(0..10) {
            assert!(!w.insert(s), "{s}");
        }
        // A jump of half the circle forgets everything.
        assert!(w.insert(1 << 31));
        assert!(w.insert(5));
    }
}
