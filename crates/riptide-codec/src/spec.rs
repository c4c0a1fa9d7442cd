//! The built-in codecs as one configuration value: what a listener or client is given, and
//! what makes a fresh codec for each connection.

use crate::{
    Codec, CodecFactory, DelimiterCodec, DelimiterConfig, FixedLengthCodec, FixedLengthConfig,
    FrameError, Http1Codec, Http1Config, LengthFieldCodec, LengthFieldConfig, LineCodec,
    LineConfig, LtvCodec, LtvConfig, RespCodec, RespConfig,
};

/// A built-in framing and its options. Validated once ([`CodecSpec::validate`]), then
/// cloned into each connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodecSpec {
    /// `\n` / `\r\n` lines.
    Line(LineConfig),
    /// Custom delimiters.
    Delimiter(DelimiterConfig),
    /// Fixed-size frames.
    FixedLength(FixedLengthConfig),
    /// A length field.
    LengthField(LengthFieldConfig),
    /// HTTP/1.1 requests.
    Http1(Http1Config),
    /// RESP2 (Redis) requests.
    Resp(RespConfig),
    /// Length-type-value packets (Cellnet's).
    Ltv(LtvConfig),
}

impl CodecSpec {
    /// Checks the options (the same checks each codec's constructor makes).
    pub fn validate(&self) -> Result<(), FrameError> {
        self.build().map(drop)
    }

    fn build(&self) -> Result<Box<dyn Codec>, FrameError> {
        Ok(match self {
            CodecSpec::Line(c) => Box::new(LineCodec::new(c.clone())?),
            CodecSpec::Delimiter(c) => Box::new(DelimiterCodec::new(c.clone())?),
            CodecSpec::FixedLength(c) => Box::new(FixedLengthCodec::new(c.clone())?),
            CodecSpec::LengthField(c) => Box::new(LengthFieldCodec::new(c.clone())?),
            CodecSpec::Http1(c) => Box::new(Http1Codec::new(c.clone())?),
            CodecSpec::Resp(c) => Box::new(RespCodec::new(c.clone())?),
            CodecSpec::Ltv(c) => Box::new(LtvCodec::new(c.clone())?),
        })
    }
}

impl CodecFactory for CodecSpec {
    /// A codec for a new connection. Call [`CodecSpec::validate`] first; an invalid spec here
    /// is a programming error.
    fn new_codec(&self) -> Box<dyn Codec> {
        self.build().expect("codec spec validated before use")
    }
}
