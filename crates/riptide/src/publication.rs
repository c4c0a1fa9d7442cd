//! One published message on its way to the reactors of an engine, with the frames encoded for
//! it so far (one per codec and encoding variant, shared by every reactor and subscriber), and
//! the check every topic name passes.

use riptide_codec::{CodecFactory, FrameError};
use std::sync::{Arc, Mutex};

/// Longest topic name, in bytes (UTF-8).
pub const MAX_TOPIC_LEN: usize = 256;

/// Where a publication is sent to reach a reactor (its inbox).
pub(crate) trait PublicationSink: Send + Sync {
    /// Queues `publication` for the reactor; a reactor that is gone drops it.
    fn send_publication(&self, publication: Arc<Publication>);
}

/// `topic` if it is a valid topic name: 1 to [`MAX_TOPIC_LEN`] bytes.
pub(crate) fn check_topic(topic: &str) -> Result<&str, crate::Error> {
    if topic.is_empty() || topic.len() > MAX_TOPIC_LEN {
        return Err(crate::Error::InvalidOption(format!(
            "a topic must be 1 to {MAX_TOPIC_LEN} bytes long, not {}",
            topic.len()
        )));
    }
    Ok(topic)
}

/// The frame of one codec variant: the bytes, or why the codec cannot express the message.
pub(crate) type Frame = Result<Arc<[u8]>, FrameError>;

/// A frame encoded by a codec factory for one encoder variant.
type Encoded = (Arc<dyn CodecFactory>, u32, Frame);

/// One published message on its way to the reactors, with its frames encoded so far.
pub(crate) struct Publication {
    pub(crate) topic: Box<str>,
    body: Arc<[u8]>,
    frames: Mutex<Vec<Encoded>>,
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

    /// The length of the message's body.
    pub(crate) fn len(&self) -> usize {
        self.body.len()
    }

    /// The bytes for a subscriber with `codec` (`None`: unframed) and encoder `variant`,
    /// encoded on first use and shared by every later caller on any reactor.
    pub(crate) fn frame(&self, codec: Option<&Arc<dyn CodecFactory>>, variant: u32) -> Frame {
        let Some(codec) = codec else {
            return Ok(self.body.clone());
        };
        let mut frames = self.frames.lock().unwrap_or_else(|p| p.into_inner());
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
