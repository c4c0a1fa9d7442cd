//! One direction of a simulated path: a priority queue of datagrams keyed by delivery time.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::config::LinkConfig;
use crate::rng::SplitMix64;
use crate::stats::LinkStats;

/// One direction of a lossy path, driven by the caller's clock in milliseconds.
///
/// Randomness comes from a SplitMix64 generator seeded by `seed`, so the same configuration,
/// seed and sequence of calls always produce the same deliveries.
///
/// ```
/// use riptide_netsim::{Link, LinkConfig};
///
/// let mut link = Link::new(LinkConfig { loss: 1.0, ..LinkConfig::default() }, 1);
/// link.send(0, b"gone");
/// assert_eq!(link.next_delivery(), None);
/// assert_eq!(link.stats().lost, 1);
/// ```
#[derive(Debug)]
pub struct Link {
    config: LinkConfig,
    rng: SplitMix64,
    queue: BinaryHeap<Reverse<Pending>>,
    next_seq: u64,
    /// Latest delivery time scheduled so far; FIFO links never schedule earlier than this.
    last_due_ms: u64,
    /// When the bottleneck finishes serializing what it already holds, in microseconds.
    tx_free_at_us: u64,
    stats: LinkStats,
}

/// A datagram waiting for its delivery time; ties go to the one sent first.
#[derive(Debug)]
struct Pending {
    due_ms: u64,
    seq: u64,
    data: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due_ms, self.seq).cmp(&(other.due_ms, other.seq))
    }
}

impl Link {
    /// A link with the given impairments and random seed.
    pub fn new(mut config: LinkConfig, seed: u64) -> Link {
        config.loss = clamp_probability(config.loss);
        config.duplicate = clamp_probability(config.duplicate);
        config.delay_max_ms = config.delay_max_ms.max(config.delay_min_ms);
        if config.bandwidth_bytes_per_sec == Some(0) {
            config.bandwidth_bytes_per_sec = None;
        }
        let capacity = config.queue_limit.min(1024);
        Link {
            config,
            rng: SplitMix64::new(seed),
            queue: BinaryHeap::with_capacity(capacity),
            next_seq: 0,
            last_due_ms: 0,
            tx_free_at_us: 0,
            stats: LinkStats::default(),
        }
    }

    /// Offers a datagram to the link at time `now_ms`.
    ///
    /// It is dropped (random loss, or the queue is full), or scheduled for delivery after its
    /// serialization time under a bandwidth limit plus a delay drawn from
    /// `delay_min_ms..=delay_max_ms`. A duplicated datagram gets a second copy with its own
    /// delay.
    pub fn send(&mut self, now_ms: u64, datagram: &[u8]) {
        self.stats.sent += 1;
        if self.rng.chance(self.config.loss) {
            self.stats.lost += 1;
            return;
        }
        if self.queue.len() >= self.config.queue_limit {
            self.stats.overflowed += 1;
            return;
        }
        let departs_ms = self.serialize(now_ms, datagram.len());
        self.schedule(departs_ms, datagram.to_vec());
        if self.rng.chance(self.config.duplicate) {
            self.stats.duplicated += 1;
            if self.queue.len() >= self.config.queue_limit {
                self.stats.overflowed += 1;
            } else {
                self.schedule(departs_ms, datagram.to_vec());
            }
        }
    }

    /// The earliest time at which [`poll`](Link::poll) returns a datagram, if any is held.
    pub fn next_delivery(&self) -> Option<u64> {
        self.queue.peek().map(|Reverse(p)| p.due_ms)
    }

    /// A datagram due at or before `now_ms`, earliest first.
    pub fn poll(&mut self, now_ms: u64) -> Option<Vec<u8>> {
        if self.next_delivery()? > now_ms {
            return None;
        }
        let Reverse(pending) = self.queue.pop()?;
        self.stats.delivered += 1;
        Some(pending.data)
    }

    /// Number of datagrams held (scheduled and not yet polled).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// What the link has done so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// When a datagram of `len` bytes offered at `now_ms` leaves the bottleneck, in ms.
    fn serialize(&mut self, now_ms: u64, len: usize) -> u64 {
        let Some(rate) = self.config.bandwidth_bytes_per_sec else {
            return now_ms;
        };
        let start_us = self.tx_free_at_us.max(now_ms.saturating_mul(1000));
        let byte_us = (len as u64).saturating_mul(1_000_000);
        let done_us = start_us.saturating_add(byte_us.div_ceil(rate));
        self.tx_free_at_us = done_us;
        done_us.div_ceil(1000)
    }

    fn schedule(&mut self, departs_ms: u64, data: Vec<u8>) {
        let delay = self
            .rng
            .range_inclusive(self.config.delay_min_ms, self.config.delay_max_ms);
        let mut due_ms = departs_ms.saturating_add(u64::from(delay));
        if self.config.fifo {
            due_ms = due_ms.max(self.last_due_ms);
        }
        self.last_due_ms = self.last_due_ms.max(due_ms);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(Reverse(Pending { due_ms, seq, data }));
    }
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;

fn clamp_probability(p: f64) -> f64 {
    if p.is_nan() {
        0.0
    } else {
        p.clamp(0.0, 1.0)
    }
}
