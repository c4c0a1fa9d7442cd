//! Topic pub/sub across the reactors of an engine: what they share (the subscriber count of
//! every topic, the inbox of every reactor, the backpressure policy) and the message a publish
//! carries to each of them. Each reactor keeps its own topic → connections index
//! ([`crate::Conns::subscribe`]); a publish is delivered on the publishing reactor at once and
//! reaches the others through their inboxes, where it is queued in the order sent.
//!
//! The frame is encoded once per codec (and encoding variant, see
//! [`riptide_codec::Encoder::shared_variant`]) for all reactors, and every subscriber is
//! handed the same reference-counted bytes.

use crate::config::SharedCodec;
use crate::remote::{Command, Remote};
use crate::Error;
use riptide_codec::FrameError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Longest topic name, in bytes (UTF-8).
pub const MAX_TOPIC_LEN: usize = 256;

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
#[derive(Debug, Default)]
pub struct PubSub {
    backpressure: Backpressure,
    counts: Mutex<HashMap<Arc<str>, usize>>,
    reactors: Mutex<Vec<(u64, Remote)>>,
    next_serial: AtomicU64,
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
        for (serial, remote) in lock(&self.reactors).iter() {
            if Some(*serial) != except {
                // A reactor that stopped has no subscribers left to deliver to.
                let _ = remote.try_send(Command::Publish(publication.clone()));
            }
        }
    }

    /// Records a reactor's inbox; returns the serial it leaves with.
    pub(crate) fn join(&self, remote: Remote) -> u64 {
        let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
        lock(&self.reactors).push((serial, remote));
        serial
    }

    /// Forgets the reactor with `serial` (it is gone).
    pub(crate) fn leave(&self, serial: u64) {
        lock(&self.reactors).retain(|(s, _)| *s != serial);
    }

    /// One more subscriber of `topic`.
    pub(crate) fn add(&self, topic: &Arc<str>) {
        *lock(&self.counts).entry(topic.clone()).or_insert(0) += 1;
    }

    /// One subscriber of `topic` fewer.
    pub(crate) fn remove(&self, topic: &str) {
        let mut counts = lock(&self.counts);
        if let Some(n) = counts.get_mut(topic) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(topic);
            }
        }
    }
}

/// A mutex whose holder panicked still guards consistent data here (counts and a list).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `topic` if it is a valid topic name: 1 to [`MAX_TOPIC_LEN`] bytes.
pub(crate) fn check_topic(topic: &str) -> Result<&str, Error> {
    if topic.is_empty() || topic.len() > MAX_TOPIC_LEN {
        return Err(Error::InvalidOption(format!(
            "a topic must be 1 to {MAX_TOPIC_LEN} bytes long, not {}",
            topic.len()
        )));
    }
    Ok(topic)
}

/// The frame of one codec variant: the bytes, or why the codec cannot express the message.
pub(crate) type Frame = Result<Arc<[u8]>, FrameError>;

/// One published message on its way to the reactors, with its frames encoded so far.
pub(crate) struct Publication {
    pub(crate) topic: Box<str>,
    body: Arc<[u8]>,
    frames: Mutex<Vec<(SharedCodec, u32, Frame)>>,
}

impl Publication {
    /// A message for `topic`, not yet framed.
    pub(crate) fn new(topic: &str, body: &[u8]) -> Publication {
        Publication {
            topic: topic.into(),
            body: body.into(),
            frames: Mutex::new(Vec::new()),
        }
    }

    /// The bytes for a subscriber with `codec` (`None`: unframed) and encoder `variant`,
    /// encoded on first use and shared by every later caller on any reactor.
    pub(crate) fn frame(&self, codec: Option<&SharedCodec>, variant: u32) -> Frame {
        let Some(codec) = codec else {
            return Ok(self.body.clone());
        };
        let mut frames = lock(&self.frames);
        if let Some((_, _, frame)) = frames
            .iter()
            .find(|(c, v, _)| Arc::ptr_eq(c, codec) && *v == variant)
        {
            return frame.clone();
        }
        let mut out = Vec::new();
        let frame = codec
            .encode_shared(variant, &self.body, &mut out)
            .map(|()| Arc::from(out));
        frames.push((codec.clone(), variant, frame.clone()));
        frame
    }
}
