//! geckos.io's `reliable: true`: the sender repeats a message (`runs` times, `interval`
//! apart, the first at once) under one random id, and the receiver delivers the first copy
//! and drops the others for 15 seconds.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::endpoint::PeerId;

/// How long a received id is remembered (geckos: 15 s).
pub const DEDUP_TTL: Duration = Duration::from_secs(15);

/// Ids a peer's reliable messages came with recently, bounded by count and age. An id is
/// kept as its 64-bit keyed hash (the key is the caller's, random per process), about 40
/// bytes per id however long the id.
#[derive(Debug)]
pub(crate) struct Dedup {
    order: VecDeque<(Instant, u64)>,
    seen: HashSet<u64>,
    capacity: usize,
}

impl Dedup {
    pub(crate) fn new(capacity: usize) -> Self {
        Dedup {
            order: VecDeque::new(),
            seen: HashSet::new(),
            capacity,
        }
    }

    /// Whether the id hashed to `id` is new (and remembers it); false for a repeat within
    /// [`DEDUP_TTL`]. At capacity the oldest id is forgotten first.
    pub(crate) fn first_time(&mut self, now: Instant, id: u64) -> bool {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < DEDUP_TTL {
                break;
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        if self.seen.contains(&id) {
            return false;
        }
        if self.order.len() >= self.capacity {
            if let Some((_, old)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.order.push_back((now, id));
        self.seen.insert(id);
        true
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

/// How a reliable emit is repeated: geckos's `{ interval, runs }` emit options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat {
    /// Time between runs (geckos: 150 ms). 1 ms to 10 s.
    pub interval: Duration,
    /// How many times the message is sent in all (geckos: 10). 1 to 100.
    pub runs: u8,
}

impl Default for Repeat {
    fn default() -> Self {
        Repeat {
            interval: Duration::from_millis(150),
            runs: 10,
        }
    }
}

impl Repeat {
    pub(crate) fn valid(&self) -> bool {
        (1..=100).contains(&self.runs)
            && self.interval >= Duration::from_millis(1)
            && self.interval <= Duration::from_secs(10)
    }
}

/// One message still to be repeated.
#[derive(Debug)]
pub(crate) struct Resend {
    pub peer: PeerId,
    pub text: std::sync::Arc<[u8]>,
    pub runs_left: u8,
    pub interval: Duration,
}

/// Every pending repeat of all peers, by due time (then insertion order).
#[derive(Debug, Default)]
pub(crate) struct Resends {
    due: BTreeMap<(Instant, u64), Resend>,
    next_seq: u64,
}

impl Resends {
    pub(crate) fn push(&mut self, at: Instant, resend: Resend) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.due.insert((at, seq), resend);
    }

    /// The earliest due time.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.due.keys().next().map(|(at, _)| *at)
    }

    /// Takes the next repeat due at `now` or earlier.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, Resend)> {
        let (&(at, seq), _) = self.due.iter().next()?;
        if at > now {
            return None;
        }
        self.due.remove(&(at, seq)).map(|r| (at, r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_by_id_age_and_capacity() {
        let t0 = Instant::now();
        let mut d = Dedup::new(3);
        let (a, b, c, e) = (1, 2, 3, 4);
        assert!(d.first_time(t0, a));
        assert!(!d.first_time(t0 + Duration::from_secs(1), a));
        assert!(d.first_time(t0, b));
        assert!(d.first_time(t0, c));
        assert!(d.first_time(t0, e)); // evicts a
        assert_eq!(d.len(), 3);
        assert!(d.first_time(t0, a));
        // After the TTL every id is new again and the window empties.
        let later = t0 + DEDUP_TTL;
        assert!(d.first_time(later, b));
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn resends_come_out_in_time_order() {
        let t0 = Instant::now();
        let mut r = Resends::default();
        let mk = |p| Resend {
            peer: PeerId(p),
            text: b"x".to_vec().into(),
            runs_left: 1,
            interval: Duration::from_millis(1),
        };
        r.push(t0 + Duration::from_millis(20), mk(1));
        r.push(t0 + Duration::from_millis(10), mk(2));
        r.push(t0 + Duration::from_millis(10), mk(3));
        assert_eq!(r.deadline(), Some(t0 + Duration::from_millis(10)));
        assert!(r.pop_due(t0).is_none());
        let order: Vec<u64> = std::iter::from_fn(|| r.pop_due(t0 + Duration::from_secs(1)))
            .map(|(_, x)| x.peer.0)
            .collect();
        assert_eq!(order, [2, 3, 1]);
        assert_eq!(r.deadline(), None);
    }
}
