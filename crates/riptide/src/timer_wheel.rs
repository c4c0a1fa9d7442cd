//! Hierarchical timing wheel with 1 ms ticks: O(1) insert, amortised O(1) expiry, no per-timer
//! allocation beyond its slot entry. Four levels of 256 slots cover about 49 days; later
//! deadlines wait in the top level and cascade down. Cancelling is lazy: owners put a
//! generation in `T` and ignore stale entries when they fire, so cancel costs nothing.
//!
//! Written here because the reactor needs one tied to its own clock and token types; the
//! general-purpose crates either own a thread or allocate per timer.

use std::time::{Duration, Instant};

const LEVELS: usize = 4;
const BITS: u32 = 8;
const SLOTS: usize = 1 << BITS;
const MASK: u64 = SLOTS as u64 - 1;

/// Timers of type `T`, each due at a millisecond tick.
pub struct TimerWheel<T> {
    origin: Instant,
    /// The last tick processed: every entry due at or before it has been returned.
    now: u64,
    levels: Vec<Vec<Vec<(u64, T)>>>,
    len: usize,
}

impl<T> TimerWheel<T> {
    /// An empty wheel whose tick 0 is `origin`.
    pub fn new(origin: Instant) -> Self {
        TimerWheel {
            origin,
            now: 0,
            levels: (0..LEVELS)
                .map(|_| (0..SLOTS).map(|_| Vec::new()).collect())
                .collect(),
            len: 0,
        }
    }

    /// True when no timer waits.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tick of an instant, rounded up so a timer never fires early.
    fn tick_of(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.origin);
        let ms = d.as_millis() as u64;
        if d > Duration::from_millis(ms) {
            ms + 1
        } else {
            ms
        }
    }

    /// The instant of a tick.
    fn instant_of(&self, tick: u64) -> Instant {
        self.origin + Duration::from_millis(tick)
    }

    /// Adds a timer due at `at` (a time already past fires at the next [`TimerWheel::advance`]).
    pub fn insert(&mut self, at: Instant, item: T) {
        let due = self.tick_of(at).max(self.now + 1);
        self.place(due, item);
        self.len += 1;
    }

    fn place(&mut self, due: u64, item: T) {
        let delta = due - self.now;
        let mut level = 0;
        while level < LEVELS - 1 && delta >= 1 << (BITS * (level as u32 + 1)) {
            level += 1;
        }
        let slot = ((due >> (BITS * level as u32)) & MASK) as usize;
        self.levels[level][slot].push((due, item));
    }

    /// Moves time to `now`, pushing every timer due by then onto `out` (in tick order).
    pub fn advance(&mut self, now: Instant, out: &mut Vec<T>) {
        let target = self.tick_of(now).saturating_sub(1).max(self.now);
        if self.len == 0 {
            self.now = target;
            return;
        }
        while self.now < target {
            self.now += 1;
            let t = self.now;
            // Cascade: when a lower level wraps, the next higher slot's entries move down.
            for level in 1..LEVELS {
                if t & ((1 << (BITS * level as u32)) - 1) != 0 {
                    break;
                }
                let slot = ((t >> (BITS * level as u32)) & MASK) as usize;
                for (due, item) in std::mem::take(&mut self.levels[level][slot]) {
                    if due <= t {
                        out.push(item);
                        self.len -= 1;
                    } else {
                        self.place(due, item);
                    }
                }
            }
            let slot = (t & MASK) as usize;
            let entries = std::mem::take(&mut self.levels[0][slot]);
            for (due, item) in entries {
                if due <= t {
                    out.push(item);
                    self.len -= 1;
                } else {
                    self.place(due, item);
                }
            }
            if self.len == 0 {
                self.now = target;
                return;
            }
        }
    }

    /// When the next timer may be due: the exact deadline when one waits in the lowest level,
    /// otherwise the next cascade, which is never later than any timer. `None` when empty.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        for i in 1..=SLOTS as u64 {
            let t = self.now + i;
            // Every entry of a lowest-level slot within the next SLOTS ticks is due exactly at
            // that tick, so the slot's tick is the deadline: no scan of its entries.
            if !self.levels[0][(t & MASK) as usize].is_empty() {
                return Some(self.instant_of(t));
            }
            if t & MASK == 0 {
                // A cascade happens at this tick; wake for it.
                return Some(self.instant_of(t));
            }
        }
        Some(self.instant_of(self.now + SLOTS as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fires_in_order_and_never_early() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        for (i, d) in [5u64, 1, 300, 70_000, 2].iter().enumerate() {
            w.insert(t0 + ms(*d), i);
        }
        let mut out = Vec::new();
        w.advance(t0 + ms(1), &mut out);
        assert!(
            out.is_empty(),
            "a timer due at 1 ms is not due at exactly 1 ms - 1 tick"
        );
        w.advance(t0 + ms(3), &mut out);
        assert_eq!(out, vec![1, 4]);
        out.clear();
        w.advance(t0 + ms(299), &mut out);
        assert_eq!(out, vec![0]);
        out.clear();
        w.advance(t0 + ms(69_999), &mut out);
        assert_eq!(out, vec![2]);
        out.clear();
        w.advance(t0 + ms(70_001), &mut out);
        assert_eq!(out, vec![3]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn next_deadline_is_never_after_the_first_timer() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        w.insert(t0 + ms(1000), ());
        let d = w.next_deadline().unwrap();
        assert!(d <= t0 + ms(1000));
        w.insert(t0 + ms(10), ());
        assert_eq!(w.next_deadline().unwrap(), t0 + ms(10));
    }

    proptest! {
        /// Against a sorted list: every timer fires, none before its deadline, none more than
        /// one tick after the advance that passes it.
        #[test]
        // Millions of wheel ticks per case: hours under Miri, where the test above covers the
        // wheel's memory accesses.
        #[cfg_attr(miri, ignore)]
        fn matches_a_sorted_list(
            delays in prop::collection::vec(0u64..200_000, 1..200),
            steps in prop::collection::vec(1u64..5_000, 1..200),
        ) {
            let t0 = Instant::now();
            let mut w = TimerWheel::new(t0);
            for (i, d) in delays.iter().enumerate() {
                w.insert(t0 + ms(*d), i);
            }
            let mut now = 0u64;
            let mut fired = vec![false; delays.len()];
            let mut out = Vec::new();
            for s in steps.iter().cycle().take(400) {
                now += s;
                out.clear();
                w.advance(t0 + ms(now), &mut out);
                for &i in &out {
                    prop_assert!(delays[i] <= now, "timer {} due {} fired at {}", i, delays[i], now);
                    prop_assert!(!fired[i]);
                    fired[i] = true;
                }
                for (i, d) in delays.iter().enumerate() {
                    if *d < now {
                        prop_assert!(fired[i], "timer {} due {} not fired by {}", i, d, now);
                    }
                }
                if w.is_empty() { break; }
                prop_assert!(w.next_deadline().unwrap() <= t0 + ms(
                    delays.iter().enumerate().filter(|(i, _)| !fired[*i]).map(|(_, d)| *d).min().unwrap().max(now + 1)
                ));
            }
        }
    }
}
