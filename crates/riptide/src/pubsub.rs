//! Topic pub/sub across the reactors of an engine: what they share (the subscriber count of
//! every topic, the inbox of every reactor, the backpressure policy); the message a publish
//! carries to each of them is a [`crate::publication::Publication`]. Each reactor keeps its
//! own topic → connections index
//! ([`crate::Conns::subscribe`]); a publish is delivered on the publishing reactor at once and
//! reaches the others through their inboxes, where it is queued in the order sent.
//!
//! The frame is encoded once per codec (and encoding variant, see
//! [`riptide_codec::Encoder::shared_variant`]) for all reactors, and every subscriber is
//! handed the same reference-counted bytes.

use crate::publication::{check_topic, Publication, PublicationSink};
use crate::Error;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Most topics one connection may be subscribed to at once; bounds what a peer that asks for
/// subscriptions can make a reactor hold.
pub const MAX_SUBSCRIPTIONS: usize = 1024;

/// What a publish does for a subscriber whose queue is already over the limit (uWS's
/// `maxBackpressure` choice). The limit compares the bytes queued for the connection before
/// the message ([`crate::Conns::outbound_len`]), so under `Drop` and `Close` a subscriber
/// holds at most `max` bytes plus one message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backpressure {
    /// Queue it like any write: the water marks signal, `max_outbound` still closes.
    #[default]
    Buffer,
    /// Skip the message for this subscriber and count it ([`crate::Conns::dropped_messages`]).
    Drop {
        /// Bytes queued beyond which messages are dropped.
        max: usize,
    },
    /// Close the subscriber with [`Error::OutboundFull`].
    Close {
        /// Bytes queued beyond which the subscriber is closed.
        max: usize,
    },
}

/// The pub/sub state every reactor of an engine shares (through
/// [`crate::ReactorConfig::pubsub`]): topic counts, reactor inboxes and the policy.
#[derive(Default)]
pub struct PubSub {
    backpressure: Backpressure,
    counts: Mutex<HashMap<Arc<str>, usize>>,
    reactors: Mutex<Vec<(u64, Box<dyn PublicationSink>)>>,
    next_serial: AtomicU64,
    interest: Mutex<Interest>,
}

/// Told once that the set of topics with local subscribers changed
/// ([`PubSub::watch_interest`]); called from whichever thread made the change.
pub type InterestWatcher = Box<dyn FnOnce() + Send>;

/// Topics whose subscriber count went from 0 to more, or back to 0, since they were last
/// taken, and who to tell: what a cross-instance bus needs to hold one broker subscription
/// per topic with local subscribers.
#[derive(Default)]
struct Interest {
    changed: HashSet<Arc<str>>,
    watcher: Option<InterestWatcher>,
}

impl std::fmt::Debug for PubSub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSub")
            .field("backpressure", &self.backpressure)
            .field("topics", &lock(&self.counts).len())
            .field("reactors", &lock(&self.reactors).len())
            .finish()
    }
}

impl PubSub {
    /// Shared state with the given policy for slow subscribers.
    pub fn new(backpressure: Backpressure) -> PubSub {
        PubSub {
            backpressure,
            ..PubSub::default()
        }
    }

    /// The policy for slow subscribers.
    pub fn backpressure(&self) -> Backpressure {
        self.backpressure
    }

    /// Subscribers of `topic` over every reactor.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        lock(&self.counts).get(topic).copied().unwrap_or(0)
    }

    /// Publishes `data` to every subscriber of `topic` on every reactor, from any thread:
    /// each reactor gets it through its inbox. Returns the number of subscribers when it was
    /// sent. Fails with `ERR_INVALID_ARG_VALUE` for an empty or overlong topic.
    pub fn publish(&self, topic: &str, data: &[u8]) -> Result<usize, Error> {
        let publication = Arc::new(Publication::new(check_topic(topic)?, data));
        self.send(&publication, None);
        Ok(self.subscriber_count(topic))
    }

    /// Sends `publication` to every reactor but the one with serial `except`.
    pub(crate) fn send(&self, publication: &Arc<Publication>, except: Option<u64>) {
        for (serial, sink) in lock(&self.reactors).iter() {
            if Some(*serial) != except {
                sink.send_publication(publication.clone());
            }
        }
    }

    /// Records a reactor's inbox; returns the serial it leaves with.
    pub(crate) fn join(&self, sink: Box<dyn PublicationSink>) -> u64 {
        let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
        lock(&self.reactors).push((serial, sink));
        serial
    }

    /// Forgets the reactor with `serial` (it is gone).
    pub(crate) fn leave(&self, serial: u64) {
        lock(&self.reactors).retain(|(s, _)| *s != serial);
    }

    /// One more subscriber of `topic`.
    pub(crate) fn add(&self, topic: &Arc<str>) {
        let mut counts = lock(&self.counts);
        let n = counts.entry(topic.clone()).or_insert(0);
        *n += 1;
        if *n == 1 {
            self.interest_changed(topic.clone());
        }
    }

    /// One subscriber of `topic` fewer.
    pub(crate) fn remove(&self, topic: &str) {
        let mut counts = lock(&self.counts);
        if let Some((name, n)) = counts.get_key_value(topic).map(|(k, n)| (k.clone(), *n)) {
            if n <= 1 {
                counts.remove(topic);
                self.interest_changed(name);
            } else {
                counts.insert(name, n - 1);
            }
        }
    }

    /// Calls `watcher` once some topic's subscriber count has gone from 0 to more or back to
    /// 0 since the last [`PubSub::take_interest_changes`] (at once if one has), from whichever
    /// thread made the change. It replaces an earlier watcher, which is dropped uncalled.
    pub fn watch_interest(&self, watcher: InterestWatcher) {
        let mut interest = lock(&self.interest);
        if interest.changed.is_empty() {
            interest.watcher = Some(watcher);
        } else {
            drop(interest);
            watcher();
        }
    }

    /// The topics whose subscriber count crossed 0 since the last call, each once: the bus
    /// reads [`PubSub::subscriber_count`] of each to learn whether it is wanted now.
    pub fn take_interest_changes(&self) -> Vec<Arc<str>> {
        lock(&self.interest).changed.drain().collect()
    }

    /// Records that `topic` crossed 0 and wakes the watcher, if any. Called under the counts
    /// lock, so the order of changes is the order of the counts.
    fn interest_changed(&self, topic: Arc<str>) {
        let mut interest = lock(&self.interest);
        interest.changed.insert(topic);
        let watcher = interest.watcher.take();
        drop(interest);
        if let Some(watcher) = watcher {
            watcher();
        }
    }
}

/// A mutex whose holder panicked still guards consistent data here (counts and a list).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn counter() -> (Arc<AtomicUsize>, impl Fn() -> InterestWatcher) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        (calls, move || {
            let c = c.clone();
            Box::new(move || {
                c.fetch_add(1, Ordering::SeqCst);
            })
        })
    }

    #[test]
    fn interest_reports_crossings_of_zero_only() {
        let pubsub = PubSub::default();
        let (calls, watcher) = counter();
        let room: Arc<str> = Arc::from("room");
        pubsub.watch_interest(watcher());
        pubsub.add(&room);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        pubsub.add(&room); // 1 → 2: no crossing, and the watcher was used up anyway
        assert_eq!(pubsub.take_interest_changes(), vec![room.clone()]);
        assert!(pubsub.take_interest_changes().is_empty());
        pubsub.watch_interest(watcher());
        pubsub.remove("room"); // 2 → 1
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        pubsub.remove("room"); // 1 → 0
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(pubsub.subscriber_count("room"), 0);
        // A change pending when the watch starts calls it at once.
        pubsub.add(&room);
        pubsub.watch_interest(watcher());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(pubsub.take_interest_changes(), vec![room]);
    }
}
