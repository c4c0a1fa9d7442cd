//! The receiver's sliding replay window (the WireGuard / boringtun shape): a ring of bitmap
//! words indexed by counter, so checking and marking are O(1) and a jump forward clears at
//! most the whole ring.

/// Counters at or above this are refused by sender and receiver (WireGuard's
/// `REJECT_AFTER_MESSAGES`): the space just below 2^64 is never used, so a counter never
/// wraps and `u64::MAX` stays free as the rekey nonce.
pub(crate) const REJECT_AFTER: u64 = u64::MAX - (1 << 13);

/// Words in the ring (a power of two: the slot of word `w` is `w & (WORDS - 1)`).
const WORDS: usize = 64;
/// `WORDS - 1`, the slot mask.
const SLOT_MASK: u64 = 63;
/// Bits in the window.
pub const WINDOW_BITS: usize = WORDS * 64;

/// Which counters were seen. `next` is one past the highest counter marked (0: none yet).
/// A counter below `next` is accepted once if its word is still in the ring: at least
/// `WINDOW_BITS - 64` (4032) counters behind the newest.
#[derive(Clone, Debug)]
pub(crate) struct ReplayWindow {
    next: u64,
    ring: [u64; WORDS],
}

impl ReplayWindow {
    pub fn new() -> Self {
        Self {
            next: 0,
            ring: [0; WORDS],
        }
    }

    fn slot(word: u64) -> usize {
        // Masked to 0..WORDS: the cast cannot truncate anything that matters.
        (word & SLOT_MASK) as usize
    }

    /// Whether `counter` may be accepted (not seen, not too old, not at the end of the
    /// space). Changes nothing: mark only after the AEAD verified.
    pub fn check(&self, counter: u64) -> bool {
        if counter >= REJECT_AFTER {
            return false;
        }
        let Some(highest) = self.next.checked_sub(1) else {
            return true; // nothing seen yet
        };
        if counter > highest {
            return true;
        }
        let (top, word) = (highest >> 6, counter >> 6);
        if top.saturating_sub(word) >= WORDS as u64 {
            return false; // fell off the back of the ring
        }
        let bit = 1u64 << (counter & 63);
        self.ring
            .get(Self::slot(word))
            .is_some_and(|w| w & bit == 0)
    }

    /// Records `counter` (which [`check`](Self::check) accepted). Returns true when it is
    /// above every counter marked before: the packet is the newest so far.
    pub fn mark(&mut self, counter: u64) -> bool {
        let newest = counter >= self.next;
        let word = counter >> 6;
        if newest {
            if let Some(highest) = self.next.checked_sub(1) {
                // Clear the words between the old top and the new one (at most the ring).
                let top = highest >> 6;
                let gap = word.saturating_sub(top).min(WORDS as u64);
                let mut w = word;
                for _ in 0..gap {
                    if let Some(slot) = self.ring.get_mut(Self::slot(w)) {
                        *slot = 0;
                    }
                    w = w.wrapping_sub(1);
                }
            }
            // counter < REJECT_AFTER < u64::MAX, so this cannot overflow.
            self.next = counter.saturating_add(1);
        }
        if let Some(slot) = self.ring.get_mut(Self::slot(word)) {
            *slot |= 1u64 << (counter & 63);
        }
        newest
    }

    /// The highest counter marked, if any.
    #[cfg(test)]
    pub fn highest(&self) -> Option<u64> {
        self.next.checked_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn accept(w: &mut ReplayWindow, c: u64) -> bool {
        if w.check(c) {
            w.mark(c);
            true
        } else {
            false
        }
    }

    #[test]
    fn in_order_duplicates_and_out_of_order() {
        let mut w = ReplayWindow::new();
        assert!(accept(&mut w, 0));
        assert!(!accept(&mut w, 0));
        assert!(accept(&mut w, 5));
        assert!(accept(&mut w, 3));
        assert!(!accept(&mut w, 3));
        assert!(accept(&mut w, 1));
        assert!(!w.mark(2) || w.highest() != Some(5));
    }

    #[test]
    fn window_edges_and_far_jumps() {
        let mut w = ReplayWindow::new();
        assert!(accept(&mut w, 10_000));
        // Everything within WINDOW_BITS - 64 behind the newest is still accepted once.
        let oldest_kept = 10_000 - (WINDOW_BITS as u64 - 64);
        assert!(accept(&mut w, oldest_kept));
        assert!(!accept(&mut w, oldest_kept));
        assert!(!accept(&mut w, 10_000 - WINDOW_BITS as u64 - 1), "too old");
        assert!(!accept(&mut w, 0), "too old");
        // A far jump forgets everything behind the new window.
        assert!(accept(&mut w, 1 << 40));
        assert!(!accept(&mut w, 10_000));
        assert!(accept(&mut w, (1 << 40) - 1));
        assert!(!accept(&mut w, (1 << 40) - 1));
    }

    #[test]
    fn end_of_counter_space_is_refused() {
        let mut w = ReplayWindow::new();
        assert!(!w.check(REJECT_AFTER));
        assert!(!w.check(u64::MAX));
        assert!(accept(&mut w, REJECT_AFTER - 1));
        assert!(!accept(&mut w, REJECT_AFTER - 1));
        assert!(accept(&mut w, REJECT_AFTER - 2));
    }

    proptest! {
        /// Against a model (a set of seen counters and a lower bound): any accepted counter was
        /// never accepted before, and every fresh counter inside the guaranteed window is
        /// accepted.
        #[test]
        fn matches_a_model(base in 0u64..(1 << 50), steps in prop::collection::vec((0u64..6000, any::<bool>()), 1..400)) {
            let mut w = ReplayWindow::new();
            let mut seen = BTreeSet::new();
            let mut highest: Option<u64> = None;
            for (delta, back) in steps {
                let c = match highest {
                    Some(h) if back => h.saturating_sub(delta),
                    Some(h) => h + delta,
                    None => base + delta,
                };
                let fresh = !seen.contains(&c);
                let in_window = highest.is_none_or(|h| c > h || h - c < WINDOW_BITS as u64 - 64);
                let accepted = accept(&mut w, c);
                if accepted {
                    prop_assert!(fresh, "counter {} accepted twice", c);
                    seen.insert(c);
                    highest = Some(highest.map_or(c, |h| h.max(c)));
                } else {
                    prop_assert!(!(fresh && in_window), "fresh counter {} in window refused", c);
                }
            }
        }
    }
}
