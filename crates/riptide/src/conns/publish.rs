//! Topics on the connection table: subscribing, publishing to every reactor, and delivering a
//! publication to this reactor's subscribers under the backpressure policy.

use super::connection::Transport;
use super::{Conns, Notice};
use crate::publication::{check_topic, Frame, Publication};
use crate::pubsub::Backpressure;
use crate::slab::ConnId;
use crate::topics::Subscribed;
use crate::Error;
use riptide_codec::CodecFactory;
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
        // Publications held from before the subscription are not for it.
        self.settle();
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
        // Publications held from before the unsubscribe are still for it.
        self.settle();
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

    /// Messages the `drop` backpressure policy skipped for this connection (publications held
    /// until now included).
    pub fn dropped_messages(&mut self, id: ConnId) -> Result<u64, Error> {
        self.get(id)?;
        self.settle();
        Ok(self.topics.dropped(id))
    }

    /// Sends `data` once on the unreliable channel of each subscriber of `topic` on this
    /// reactor that has one (WebRTC peers, which all live on their listener's reactor; KCP
    /// sessions with such a channel), after what was published before. Unreliable: no codec,
    /// no queue, no other reactor. Returns how many took it; a congested channel's drop and
    /// a subscriber without the channel are not counted.
    pub fn publish_unreliable(&mut self, topic: &str, data: &[u8]) -> Result<usize, Error> {
        let topic = check_topic(topic)?;
        self.settle();
        let mut ids = std::mem::take(&mut self.subscriber_scratch);
        ids.clear();
        self.topics.subscribers_into(topic, &mut ids);
        let sent = ids
            .iter()
            .filter(|&&id| matches!(self.send_unreliable(id, data), Ok(true)))
            .count();
        self.subscriber_scratch = ids;
        Ok(sent)
    }

    /// Subscribers of `topic` on every reactor of the engine.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.pubsub.subscriber_count(topic)
    }

    /// Publishes `data` to every subscriber of `topic`: this reactor's when the table settles
    /// (at the end of the turn, or before anything else touches a connection's output or
    /// subscriptions, so it stays in the order of the writes around it), the other reactors'
    /// through their inboxes (in the order published). What a subscriber was published
    /// meanwhile leaves in one write. Each connection's codec frames it (once per codec and
    /// variant for all subscribers; for a WebSocket, once per kind of session, see
    /// `ws_codec.rs`). Returns how many subscribers this reactor has for it plus how many the
    /// other reactors had when it was sent: a count now rather than a promise, since waiting
    /// for every reactor to answer would cost a round trip per message at fan-out rates.
    pub fn publish(&mut self, topic: &str, data: &[u8]) -> Result<usize, Error> {
        let publication = Arc::new(Publication::new(check_topic(topic)?, data));
        let here = self.topics.count(topic);
        self.pubsub.send(&publication, Some(self.reactor_serial));
        let elsewhere = self.pubsub.subscriber_count(topic).saturating_sub(here);
        self.hold(publication);
        Ok(here.saturating_add(elsewhere))
    }

    /// Holds `publication` for this reactor's subscribers until the table settles, or until
    /// what is held passes one buffer's worth (`write_buffer_cap`): a burst without a turn
    /// between (a loop of publishes in one callback) is bounded by that, not by its length.
    pub(crate) fn hold(&mut self, publication: Arc<Publication>) {
        self.held_bytes = self.held_bytes.saturating_add(publication.len());
        self.held.push(publication);
        if self.held_bytes > self.write_buffer_cap {
            self.settle();
        }
    }

    /// Delivers the held publications, in order, under the backpressure policy: each run of
    /// publications to one topic is framed once per kind of subscriber and queued to each
    /// subscriber as one write, held until the end of the turn. The table does this itself
    /// (at the end of a turn, before anything that touches a connection's output); a driver
    /// that publishes from another thread than the reactor's calls it when its call returns,
    /// so what it published does not wait for the reactor thread's next turn.
    pub fn settle(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let mut held = std::mem::take(&mut self.held);
        self.held_bytes = 0;
        let mut rest = &held[..];
        while let Some(first) = rest.first() {
            let n = rest.iter().take_while(|p| p.topic == first.topic).count();
            let (run, after) = rest.split_at(n);
            self.deliver(run);
            rest = after;
        }
        held.clear();
        // Delivery calls no handler, so nothing was published meanwhile.
        if self.held.is_empty() {
            self.held = held;
        }
    }

    /// Queues `run`, publications to one topic, to this reactor's subscribers of it.
    fn deliver(&mut self, run: &[Arc<Publication>]) {
        let Some(topic) = run.first().map(|p| &p.topic) else {
            return;
        };
        let mut ids = std::mem::take(&mut self.subscriber_scratch);
        ids.clear();
        self.topics.subscribers_into(topic, &mut ids);
        // The frames of this run met so far, per kind of subscriber.
        let mut batches: Vec<Batch> = Vec::new();
        // Held, not written: the end of the turn writes each subscriber's messages at once.
        let corked = std::mem::replace(&mut self.corked, true);
        let now = Instant::now();
        for &id in &ids {
            let Ok(conn) = self.live(id) else {
                continue;
            };
            let backlog = conn.queued();
            // One write carries several messages only on a byte stream (a datagram is one).
            let stream = matches!(&conn.transport, Transport::Plain(s) if !s.is_datagram());
            // The top stream layer decides when it negotiated the framing (a WebSocket).
            let variant = match conn.layers.as_mut().and_then(|l| l.shared_variant()) {
                Some(variant) => variant,
                None => conn
                    .framing
                    .as_ref()
                    .map_or(0, |f| f.encoder.shared_variant()),
            };
            let codec = conn.framing.as_ref().map(|f| &f.codec);
            let key = codec.map_or(0, |c| Arc::as_ptr(c) as *const () as usize);
            let at = match batches
                .iter()
                .position(|b| b.key == key && b.variant == variant)
            {
                Some(at) => at,
                None => {
                    batches.push(Batch::new(run, codec, key, variant));
                    batches.len() - 1
                }
            };
            let Some(batch) = batches.get(at) else {
                continue;
            };
            for e in batch.frames.iter().filter_map(|f| f.as_ref().err()) {
                self.notices.push_back(Notice::Error(id, e.clone().into()));
            }
            let whole = match self.pubsub.backpressure() {
                Backpressure::Buffer => true,
                Backpressure::Drop { max } | Backpressure::Close { max } => {
                    backlog.saturating_add(batch.before_last) <= max
                }
            };
            match &batch.joined {
                Some((joined, count)) if stream && whole => {
                    self.deliver_frame(id, joined, *count, backlog, key != 0, now);
                }
                _ => self.deliver_each(id, batch, key != 0, now),
            }
        }
        self.corked = corked;
        self.subscriber_scratch = ids;
    }

    /// Queues `batch`'s frames to `id` one by one, each under the backpressure policy with
    /// the subscriber's backlog before it.
    fn deliver_each(&mut self, id: ConnId, batch: &Batch, counted: bool, now: Instant) {
        for frame in batch.frames.iter().filter_map(|f| f.as_ref().ok()) {
            let Ok(conn) = self.live(id) else {
                return;
            };
            let backlog = conn.queued();
            match self.pubsub.backpressure() {
                Backpressure::Drop { max } if backlog > max => {
                    self.topics.record_drop(id);
                    continue;
                }
                Backpressure::Close { max } if backlog > max => {
                    self.doom(id, Some(Error::OutboundFull));
                    return;
                }
                _ => {}
            }
            self.deliver_frame(id, frame, 1, backlog, counted, now);
        }
    }

    /// Queues `frame` (`messages` messages) to `id`, whose backlog was `backlog`; counts the
    /// messages a codec framed.
    fn deliver_frame(
        &mut self,
        id: ConnId,
        frame: &Arc<[u8]>,
        messages: u64,
        backlog: usize,
        counted: bool,
        now: Instant,
    ) {
        if self.write_shared(id, frame, now).is_err() {
            return;
        }
        if counted {
            self.count_messages_out(id, messages);
        }
        // What is held between turns is written as it grows past one buffer's worth, so it
        // never counts much toward a fast subscriber's backlog.
        if backlog.saturating_add(frame.len()) > self.write_buffer_cap {
            self.flush(id);
        }
    }

    /// Takes a closing connection out of every topic.
    pub(super) fn leave_topics(&mut self, id: ConnId) {
        for topic in self.topics.remove(id) {
            self.pubsub.remove(&topic);
        }
    }
}

/// The frames of a run of publications for one kind of subscriber (codec and variant).
struct Batch {
    key: usize,
    variant: u32,
    /// Each publication's frame, or why the codec could not frame it.
    frames: Vec<Frame>,
    /// The frames joined for one write ([`riptide_codec::CodecFactory::join_shared`]) and
    /// how many there are; `None` when none could be framed.
    joined: Option<(Arc<[u8]>, u64)>,
    /// The bytes of every frame but the last: a subscriber whose backlog plus these is
    /// within a `drop` or `close` limit takes them all.
    before_last: usize,
}

impl Batch {
    /// Frames `run` for subscribers with `codec` (`key` names it, 0 for none) and `variant`.
    fn new(
        run: &[Arc<Publication>],
        codec: Option<&Arc<dyn CodecFactory>>,
        key: usize,
        variant: u32,
    ) -> Batch {
        let frames: Vec<Frame> = run.iter().map(|p| p.frame(codec, variant)).collect();
        let ok: Vec<&Arc<[u8]>> = frames.iter().filter_map(|f| f.as_ref().ok()).collect();
        let before_last = ok.iter().rev().skip(1).map(|f| f.len()).sum();
        let joined = match ok.as_slice() {
            [] => None,
            [one] => Some(Arc::clone(one)),
            many => {
                let parts: Vec<&[u8]> = many.iter().map(|f| &f[..]).collect();
                let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
                match codec {
                    Some(codec) => codec.join_shared(variant, &parts, &mut out),
                    None => parts.iter().for_each(|p| out.extend_from_slice(p)),
                }
                Some(Arc::from(out))
            }
        };
        Batch {
            key,
            variant,
            joined: joined.map(|j| (j, ok.len() as u64)),
            frames,
            before_last,
        }
    }
}
