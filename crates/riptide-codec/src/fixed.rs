//! Fixed-length frames (netty's `FixedLengthFrameDecoder`).

use crate::{Decoded, Decoder, Encoder, FrameError};

/// Options of [`FixedLengthCodec`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedLengthConfig {
    /// Bytes per frame (> 0).
    pub frame_length: usize,
}

/// Every frame is exactly `frame_length` bytes; the encoder refuses other sizes.
#[derive(Clone, Debug)]
pub struct FixedLengthCodec {
    n: usize,
}

impl FixedLengthCodec {
    /// Validates the options.
    pub fn new(config: FixedLengthConfig) -> Result<Self, FrameError> {
        if config.frame_length == 0 {
            return Err(FrameError::InvalidConfig(
                "frameLength must be positive".into(),
            ));
        }
        Ok(FixedLengthCodec {
            n: config.frame_length,
        })
    }
}

impl Decoder for FixedLengthCodec {
    fn decode(&mut self, buf: &[u8]) -> Decoded {
        if buf.len() < self.n {
            return Decoded::NeedMore;
        }
        Decoded::Frame {
            consumed: self.n,
            start: 0,
            end: self.n,
        }
    }
}

impl Encoder for FixedLengthCodec {
    fn encode(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        if body.len() != self.n {
            return Err(FrameError::Unencodable(format!(
                "a {}-byte message for a {}-byte fixed-length codec",
                body.len(),
                self.n
            )));
        }
        out.extend_from_slice(body);
        Ok(())
    }
}
