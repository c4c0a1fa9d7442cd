//! Topics on the connection table: subscribing, publishing to every reactor, and delivering a
//! publication to this reactor's subscribers under the backpressure policy.

use super::{Conns, Notice};
use crate::publication::{check_topic, Frame, Publication};
use crate::pubsub::Backpressure;
use crate::slab::ConnId;
use crate::topics::Subscribed;
use crate::Error;
use std::sync::Arc;
use std::time::Instant;

impl Conns {
    /// Subscribes the connection to `topic` (1 to [`crate::MAX_TOPIC_LEN`] bytes): it then
    /// receives every message published to it, on any reactor, until it unsubscribes or
    /// closes. Returns false when it was subscribed already. A connection holds at most
    /// [`crate::MAX_SUBSCRIPTIONS`] topics (`ERR_INVALID_ARG_VALUE` past that).
    pub fn subscribe(&mut self, id: ConnId, topic: &str) -> Result<bool, Error> {
        let topic = check_topic(topic)?;
        self.live(id)?;
        match self.topics.subscribe(id, topic) {
            Subscribed::Added(name) => {
                self.pubsub.add(&name);
                Ok(true)
            }
            Subscribed::Already => Ok(false),
            Subscribed::Full => Err(Error::InvalidOption(format!(
                "a connection may subscribe to at most {} topics",
                crate::MAX_SUBSCRIPTIONS
            ))),
        }
    }

    /// Unsubscribes the connection from `topic`; false when it was not subscribed.
    pub fn unsubscribe(&mut self, id: ConnId, topic: &str) -> Result<bool, Error> {
        self.get(id)?;
        let left = self.topics.unsubscribe(id, topic);
        if left {
            self.pubsub.remove(topic);
        }
        Ok(left)
    }

    /// True when the connection subscribes to `topic`.
    pub fn is_subscribed(&self, id: ConnId, topic: &str) -> Result<bool, Error> {
        self.get(id)?;
        Ok(self.topics.is_subscribed(id, topic))
    }

    /// Messages the `drop` backpressure policy skipped for this connection.
    pub fn dropped_messages(&self, id: ConnId) -> Result<u64, Error> {
        self.get(id)?;
        Ok(self.topics.dropped(id))
    }

    /// Subscribers of `topic` on every reactor of the engine.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.pubsub.subscriber_count(topic)
    }

    /// Publishes `data` to every subscriber of `topic`: this reactor's now (in the order of
    /// its writes; the bytes leave at the end of the turn, with the other messages published
    /// to the subscriber meanwhile, in one syscall), the other reactors' through their inboxes
    /// (in the order published). Each
    /// connection's codec frames it (once per codec and variant for all subscribers; for a
    /// WebSocket, once per kind of session, see `ws_codec.rs`). Returns how many
    /// subscribers it was queued for here plus how many the other reactors had when it was
    /// sent: a count now rather than a promise, since waiting for every reactor to answer
    /// would cost a round trip per message at fan-out rates.
    pub fn publish(&mut self, topic: &str, data: &[u8]) -> Result<usize, Error> {
        let publication = Arc::new(Publication::new(check_topic(topic)?, data));
        let here = self.topics.count(topic);
        self.pubsub.send(&publication, Some(self.reactor_serial));
        let elsewhere = self.pubsub.subscriber_count(topic).saturating_sub(here);
        Ok(self.deliver(&publication).saturating_add(elsewhere))
    }

    /// Queues `publication` to this reactor's subscribers of its topic under the
    /// backpressure policy; returns how many it was queued for.
    pub(crate) fn deliver(&mut self, publication: &Publication) -> usize {
        let mut ids = std::mem::take(&mut self.subscriber_scratch);
        ids.clear();
        self.topics.subscribers_into(&publication.topic, &mut ids);
        let policy = self.pubsub.backpressure();
        // The frames of this publication met so far, to take the shared cache's lock once per
        // codec rather than once per subscriber.
        let mut frames: Vec<(usize, u32, Frame)> = Vec::new();
        let mut queued = 0;
        // Held, not written: the end of the turn writes each subscriber's messages at once.
        let corked = std::mem::replace(&mut self.corked, true);
        let now = Instant::now();
        for &id in &ids {
            let Ok(conn) = self.live(id) else {
                continue;
            };
            let backlog = conn.queued();
            // The top stream layer decides when it negotiated the framing (a WebSocket).
            let variant = match conn.layers.as_mut().and_then(|l| l.shared_variant()) {
                Some(variant) => variant,
                None => conn.encoder.as_ref().map_or(0, |e| e.shared_variant()),
            };
            let key = conn
                .codec
                .as_ref()
                .map_or(0, |c| Arc::as_ptr(c) as *const () as usize);
            // Borrowed, not cloned: a reference count touched twice per subscriber costs more
            // than the rest of a small message's delivery.
            let at = match frames
                .iter()
                .position(|(k, v, _)| *k == key && *v == variant)
            {
                Some(at) => at,
                None => {
                    let frame = publication.frame(conn.codec.as_ref(), variant);
                    frames.push((key, variant, frame));
                    frames.len() - 1
                }
            };
            let frame = match frames.get(at).map(|(_, _, f)| f) {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => {
                    self.notices.push_back(Notice::Error(id, e.clone().into()));
                    continue;
                }
                None => continue,
            };
            match policy {
                Backpressure::Drop { max } if backlog > max => {
                    self.topics.record_drop(id);
                    continue;
                }
                Backpressure::Close { max } if backlog > max => {
                    self.doom(id, Some(Error::OutboundFull));
                    continue;
                }
                _ => {}
            }
            if self.write_shared(id, frame, now).is_ok() {
                queued += 1;
                if key != 0 {
                    self.count_message(id, false);
                }
                // A burst between turns is written as it grows past one buffer's worth, so
                // what is held never counts much toward a fast subscriber's backlog.
                if backlog.saturating_add(frame.len()) > self.write_buffer_cap {
                    self.flush(id);
                }
            }
        }
        self.corked = corked;
        self.subscriber_scratch = ids;
        queued
    }

    /// Takes a closing connection out of every topic.
    pub(super) fn leave_topics(&mut self, id: ConnId) {
        for topic in self.topics.remove(id) {
            self.pubsub.remove(&topic);
        }
    }
}
