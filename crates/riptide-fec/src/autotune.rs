//! Infers the sender's data/parity shard counts from the last 258 shards received, as
//! kcp-go v5.7's `autotune.go` does: sort them by seqid, find a run of consecutive seqids
//! that enters the wanted type and leaves it, and take the run's length as the count.

/// How many recent shards are kept (kcp-go's `maxAutoTuneSamples`: 256 + 2 edges).
const SAMPLES: usize = 258;

#[derive(Clone, Copy, Default)]
struct Pulse {
    data: bool,
    seq: u32,
}

/// A ring of the last [`SAMPLES`] (type, seqid) pairs.
pub(crate) struct AutoTune {
    ring: Box<[Pulse; SAMPLES]>,
    sorted: Box<[Pulse; SAMPLES]>,
    /// Next write position.
    tail: usize,
    len: usize,
}

impl AutoTune {
    pub fn new() -> AutoTune {
        AutoTune {
            ring: Box::new([Pulse::default(); SAMPLES]),
            sorted: Box::new([Pulse::default(); SAMPLES]),
            tail: 0,
            len: 0,
        }
    }

    /// Records one received data (`true`) or parity shard.
    pub fn sample(&mut self, data: bool, seq: u32) {
        if let Some(slot) = self.ring.get_mut(self.tail) {
            *slot = Pulse { data, seq };
        }
        self.tail = self
            .tail
            .saturating_add(1)
            .checked_rem(SAMPLES)
            .unwrap_or(0);
        self.len = self.len.saturating_add(1).min(SAMPLES);
    }

    /// The width of the first complete run of `data`-typed shards among the samples, or
    /// `None`. A run counts only when its seqids are consecutive from the shard before it
    /// (of the other type) to the shard after it (of the other type): a gap could hide a
    /// change of type. Samples with the same seqid collapse to one; if they disagree on
    /// the type, none is used.
    pub fn find_period(&mut self, data: bool) -> Option<usize> {
        if self.len < 3 {
            return None;
        }
        // The samples are the whole ring once full, else its first `len` slots.
        let n = self.len;
        let (Some(dst), Some(src)) = (self.sorted.get_mut(..n), self.ring.get(..n)) else {
            return None;
        };
        dst.copy_from_slice(src);
        // kcp-go sorts with `_itimediff(a, b) < 0`, which is not a total order over the
        // whole circle (and Rust's sort may panic on one). Sorting by the distance from a
        // point half a circle behind the newest sample gives the same order whenever the
        // samples span less than 2³¹, which a real stream always does.
        let newest = self
            .tail
            .checked_sub(1)
            .unwrap_or(SAMPLES - 1)
            .min(SAMPLES - 1);
        let anchor = self
            .ring
            .get(newest)
            .map_or(0, |p| p.seq.wrapping_sub(1 << 31));
        dst.sort_unstable_by_key(|p| p.seq.wrapping_sub(anchor));

        // Collapse equal seqids; drop the ones whose samples disagree.
        let mut unique = 0usize;
        let mut i = 0usize;
        while let Some(&first) = dst.get(i) {
            let mut end = i.saturating_add(1);
            let mut conflict = false;
            while let Some(p) = dst.get(end).filter(|p| p.seq == first.seq) {
                conflict |= p.data != first.data;
                end = end.saturating_add(1);
            }
            if !conflict {
                if let Some(slot) = dst.get_mut(unique) {
                    *slot = first;
                }
                unique = unique.saturating_add(1);
            }
            i = end;
        }
        let run = dst.get(..unique)?;

        let consecutive = |a: &Pulse, b: &Pulse| a.seq.wrapping_add(1) == b.seq;
        // A rising edge starts a run; the scan from it stops at the falling edge (the
        // answer) or at a gap. No rising edge lies inside a scanned stretch, so the next
        // candidate is found by continuing past it: linear overall.
        let mut left = 1usize;
        while left < run.len() {
            let (Some(before), Some(start)) = (run.get(left.wrapping_sub(1)), run.get(left)) else {
                break;
            };
            if before.data == data || start.data != data || !consecutive(before, start) {
                left = left.saturating_add(1);
                continue;
            }
            let mut right = left.saturating_add(1);
            while let (Some(prev), Some(cur)) = (run.get(right.wrapping_sub(1)), run.get(right)) {
                if !consecutive(prev, cur) {
                    break;
                }
                if cur.data != data {
                    // Consecutive seqids: the width is the seqid distance, as in kcp-go.
                    return usize::try_from(cur.seq.wrapping_sub(start.seq)).ok();
                }
                right = right.saturating_add(1);
            }
            left = right;
        }
        None
    }
}

impl AutoTune {
    /// Whether sets of `data` + `parity` shards give every sample its type. Not in kcp-go:
    /// right after a sender changes counts, old and new samples mix and the first pulses
    /// found may belong to neither; adopting such counts decodes sets with the wrong
    /// geometry, which yields datagrams that were never sent.
    pub fn explains_all(&self, data: usize, parity: usize) -> bool {
        let Ok(total) = u32::try_from(data.saturating_add(parity)) else {
            return false;
        };
        let data = data as u32;
        self.ring
            .get(..self.len)
            .unwrap_or_default()
            .iter()
            .all(|p| (p.seq.checked_rem(total).unwrap_or(0) < data) == p.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(t: &mut AutoTune, ds: u32, ps: u32, from: u32, count: u32) {
        for seq in from..from + count {
            t.sample(seq % (ds + ps) < ds, seq);
        }
    }

    #[test]
    fn finds_both_periods() {
        for (ds, ps) in [(10, 3), (1, 1), (3, 2), (1, 5), (200, 56)] {
            let mut t = AutoTune::new();
            // From the last data shard of a set: a whole parity run, then a whole data
            // run, fit in 258 samples even for 256-shard sets.
            feed(&mut t, ds, ps, ds - 1, 258);
            assert_eq!(t.find_period(true), Some(ds as usize), "{ds}/{ps}");
            assert_eq!(t.find_period(false), Some(ps as usize), "{ds}/{ps}");
        }
    }

    #[test]
    fn needs_a_complete_pulse() {
        let mut t = AutoTune::new();
        feed(&mut t, 10, 3, 0, 2);
        assert_eq!(t.find_period(true), None);
        let mut t = AutoTune::new();
        // Only data shards: no edge.
        feed(&mut t, 300, 3, 0, 200);
        assert_eq!(t.find_period(true), None);
    }

    #[test]
    fn a_gap_hides_the_edge() {
        let mut t = AutoTune::new();
        // Data 0..=9, parity 10..=12, data 13, then 15.. (14 missing): the data run that
        // starts at 13 has no proven end, and the one at 0 no proven start.
        feed(&mut t, 10, 3, 0, 14);
        feed(&mut t, 10, 3, 15, 5);
        assert_eq!(t.find_period(false), Some(3));
        assert_eq!(t.find_period(true), None);
    }

    #[test]
    fn unordered_duplicated_and_wrapping() {
        let mut t = AutoTune::new();
        let start = u32::MAX - 20;
        let mut seqs: Vec<u32> = (0..60).map(|i| start.wrapping_add(i)).collect();
        seqs.reverse();
        for &s in seqs.iter().chain(seqs.iter().take(5)) {
            let pos = s.wrapping_sub(start) % 5;
            t.sample(pos < 3, s);
        }
        assert_eq!(t.find_period(true), Some(3));
        assert_eq!(t.find_period(false), Some(2));
    }

    #[test]
    fn explains_all() {
        let mut t = AutoTune::new();
        feed(&mut t, 3, 2, 0, 40);
        assert!(t.explains_all(3, 2));
        assert!(!t.explains_all(3, 1));
        feed(&mut t, 5, 1, 40, 10);
        assert!(!t.explains_all(3, 2));
        assert!(!t.explains_all(5, 1));
        feed(&mut t, 5, 1, 50, 258);
        assert!(t.explains_all(5, 1));
    }

    #[test]
    fn conflicting_samples_are_dropped() {
        let mut t = AutoTune::new();
        feed(&mut t, 2, 1, 0, 9);
        // seq 4 seen as both types: unusable, which breaks every run through it.
        t.sample(false, 4);
        assert_eq!(t.find_period(true), Some(2), "the run 6..=7 is still whole");
    }
}
