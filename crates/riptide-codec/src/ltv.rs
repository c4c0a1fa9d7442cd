//! Length-type-value framing: Cellnet's `tcp.ltv` packet (`size u16 | msgId u16 | body`,
//! little-endian), with the widths, the byte order and what the size counts configurable.
//!
//! The codec's frames are *records*: the message id field followed by the body, the size
//! field stripped. What it encodes is such a record too ([`LtvConfig::record`] builds one);
//! [`LtvConfig::split`] reads one back. The size field itself is a length field with netty's
//! arithmetic ([`LengthFieldCodec`]), so limits, discard mode and fail-fast behave as in the
//! length-field codec.

use crate::{
    ByteOrder, Decoded, Decoder, Encoder, FrameError, LengthFieldCodec, LengthFieldConfig,
};

/// Options of [`LtvCodec`]. The defaults are Cellnet's packet (`util/packet.go`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LtvConfig {
    /// Width of the size field: 2 or 4 bytes. Default 2.
    pub size_bytes: usize,
    /// Width of the message id field: 2 or 4 bytes. Default 2.
    pub id_bytes: usize,
    /// Byte order of both fields. Default little-endian, as Cellnet writes them.
    pub byte_order: ByteOrder,
    /// The size counts the whole frame, size field included. Default false: it counts the
    /// message id and the body (Cellnet's `msgIDSize + len(msgData)`).
    pub size_includes_header: bool,
    /// Longest frame on the wire, size field included (as the length-field codec's
    /// `max_frame_length`). Default 65537: every frame a 2-byte size can declare.
    pub max_frame_length: u64,
}

impl Default for LtvConfig {
    fn default() -> Self {
        LtvConfig {
            size_bytes: 2,
            id_bytes: 2,
            byte_order: ByteOrder::Little,
            size_includes_header: false,
            max_frame_length: 65537,
        }
    }
}

impl LtvConfig {
    /// The largest message id the id field holds.
    pub fn max_msg_id(&self) -> u32 {
        if self.id_bytes == 2 {
            u32::from(u16::MAX)
        } else {
            u32::MAX
        }
    }

    /// The message id and the body of a record (a decoded frame); `None` when it is shorter
    /// than the id field (the decoder never delivers such a frame).
    pub fn split<'a>(&self, record: &'a [u8]) -> Option<(u32, &'a [u8])> {
        let (id, body) = record.split_at_checked(self.id_bytes)?;
        let mut v: u32 = 0;
        // At most 4 bytes shifted into a u32.
        match self.byte_order {
            ByteOrder::Big => id.iter().for_each(|&b| v = (v << 8) | u32::from(b)),
            ByteOrder::Little => id.iter().rev().for_each(|&b| v = (v << 8) | u32::from(b)),
        }
        Some((v, body))
    }

    /// Appends the record of message `msg_id` with `body` (what the encoder frames) to `out`;
    /// an id the field cannot hold is [`FrameError::Unencodable`].
    pub fn record(&self, msg_id: u32, body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        if msg_id > self.max_msg_id() {
            return Err(FrameError::Unencodable(format!(
                "message id {msg_id} does not fit in {} bytes",
                self.id_bytes
            )));
        }
        match self.byte_order {
            ByteOrder::Big => {
                let bytes = msg_id.to_be_bytes();
                out.extend_from_slice(
                    bytes
                        .get(4usize.saturating_sub(self.id_bytes)..)
                        .unwrap_or_default(),
                )
            }
            ByteOrder::Little => out.extend_from_slice(
                msg_id
                    .to_le_bytes()
                    .get(..self.id_bytes)
                    .unwrap_or_default(),
            ),
        }
        out.extend_from_slice(body);
        Ok(())
    }

    /// The size field as a length field: at offset 0, counting what follows it (or the whole
    /// frame), stripped from frames.
    fn length_field(&self) -> LengthFieldConfig {
        let n = self.size_bytes;
        LengthFieldConfig {
            byte_order: self.byte_order,
            max_frame_length: self.max_frame_length,
            length_field_offset: 0,
            length_field_length: n,
            // n is 2 or 4 (checked by `LtvCodec::new` before this runs).
            length_adjustment: if self.size_includes_header {
                0i64.saturating_sub(n as i64)
            } else {
                0
            },
            initial_bytes_to_strip: n,
            fail_fast: true,
            length_includes_length_field_length: self.size_includes_header,
            prepender_adjustment: 0,
        }
    }
}

/// LTV decoder and encoder: frames are records (message id, then body), see the module docs.
#[derive(Clone, Debug)]
pub struct LtvCodec {
    c: LtvConfig,
    size: LengthFieldCodec,
}

impl LtvCodec {
    /// Checks the options: widths of 2 or 4, and a maximum that leaves room for both fields.
    pub fn new(c: LtvConfig) -> Result<Self, FrameError> {
        let bad = |m: &str| Err(FrameError::InvalidConfig(m.into()));
        if !matches!(c.size_bytes, 2 | 4) {
            return bad("sizeBytes must be 2 or 4");
        }
        if !matches!(c.id_bytes, 2 | 4) {
            return bad("idBytes must be 2 or 4");
        }
        // Both at most 4: no overflow.
        let header = c.size_bytes.saturating_add(c.id_bytes) as u64;
        if c.max_frame_length < header {
            return bad("maxFrameLength must leave room for the size and id fields");
        }
        let size = LengthFieldCodec::new(c.length_field())?;
        Ok(LtvCodec { c, size })
    }

    /// The options.
    pub fn config(&self) -> &LtvConfig {
        &self.c
    }
}

impl Decoder for LtvCodec {
    fn decode(&mut self, buf: &[u8]) -> Decoded {
        match self.size.decode(buf) {
            Decoded::Frame {
                consumed,
                start,
                end,
            } if end.saturating_sub(start) < self.c.id_bytes => Decoded::Error {
                consumed,
                error: FrameError::Corrupted(format!(
                    "frame of {} bytes has no room for its {}-byte message id",
                    end.saturating_sub(start),
                    self.c.id_bytes
                )),
            },
            other => other,
        }
    }
}

impl Encoder for LtvCodec {
    /// Frames a record (see [`LtvConfig::record`]): one shorter than the id field, or too
    /// long for the size field, is [`FrameError::Unencodable`].
    fn encode(&mut self, record: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        if record.len() < self.c.id_bytes {
            return Err(FrameError::Unencodable(format!(
                "an LTV record starts with its {}-byte message id",
                self.c.id_bytes
            )));
        }
        self.size.encode(record, out)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::decode_all;

    fn codec(c: LtvConfig) -> LtvCodec {
        LtvCodec::new(c).unwrap()
    }

    fn frame(c: &LtvConfig, id: u32, body: &[u8]) -> Vec<u8> {
        let mut record = Vec::new();
        c.record(id, body, &mut record).unwrap();
        let mut out = Vec::new();
        codec(c.clone()).encode(&record, &mut out).unwrap();
        out
    }

    #[test]
    fn cellnet_packet_bytes() {
        // Cellnet's SendLTVPacket: uint16 LE (2 + len(body)), uint16 LE msgID, body.
        let c = LtvConfig::default();
        assert_eq!(frame(&c, 0x1234, b"hi"), [4, 0, 0x34, 0x12, b'h', b'i']);
        let (frames, errors, left) =
            decode_all(&mut codec(c.clone()), &[4, 0, 0x34, 0x12, b'h', b'i']);
        assert!(errors.is_empty() && left == 0);
        assert_eq!(c.split(&frames[0]), Some((0x1234, &b"hi"[..])));
    }

    #[test]
    fn widths_order_and_whole_frame_size() {
        let c = LtvConfig {
            size_bytes: 4,
            id_bytes: 4,
            byte_order: ByteOrder::Big,
            size_includes_header: true,
            max_frame_length: 1024,
        };
        let wire = frame(&c, 0xdead_beef, b"xyz");
        assert_eq!(
            wire,
            [0, 0, 0, 11, 0xde, 0xad, 0xbe, 0xef, b'x', b'y', b'z']
        );
        let (frames, errors, _) = decode_all(&mut codec(c.clone()), &wire);
        assert!(errors.is_empty());
        assert_eq!(c.split(&frames[0]), Some((0xdead_beef, &b"xyz"[..])));
    }

    #[test]
    fn a_size_below_the_id_field_is_corrupt_and_decoding_goes_on() {
        let c = LtvConfig::default();
        // Size 1: one byte follows, too short for a 2-byte id; then size 0; then a good frame.
        let mut input = vec![1, 0, 9, 0, 0];
        input.extend_from_slice(&frame(&c, 7, b"ok"));
        let (frames, errors, left) = decode_all(&mut codec(c.clone()), &input);
        assert_eq!(
            errors.iter().map(FrameError::code).collect::<Vec<_>>(),
            ["ERR_FRAME_CORRUPT"; 2]
        );
        assert_eq!(frames.len(), 1);
        assert_eq!(c.split(&frames[0]), Some((7, &b"ok"[..])));
        assert_eq!(left, 0);
        // A whole-frame size smaller than the size field itself.
        let c = LtvConfig {
            size_includes_header: true,
            ..LtvConfig::default()
        };
        let (_, errors, _) = decode_all(&mut codec(c), &[1, 0, 0, 0]);
        assert_eq!(errors[0].code(), "ERR_FRAME_CORRUPT");
    }

    #[test]
    fn oversize_is_refused_at_the_header_and_skipped() {
        let c = LtvConfig {
            max_frame_length: 16,
            ..LtvConfig::default()
        };
        let mut input = vec![0xff, 0xff];
        input.extend_from_slice(&[0; 100]);
        let mut d = codec(c.clone());
        let (frames, errors, left) = decode_all(&mut d, &input);
        assert!(frames.is_empty() && left == 0);
        assert_eq!(
            errors,
            [FrameError::TooLong {
                length: 65537,
                max: 16
            }]
        );
        // The rest of the declared frame is skipped as it comes, then frames resume.
        let mut rest = vec![0; 65535 - 100];
        rest.extend_from_slice(&frame(&c, 1, b"after"));
        let (frames, errors, _) = decode_all(&mut d, &rest);
        assert!(errors.is_empty());
        assert_eq!(c.split(&frames[0]), Some((1, &b"after"[..])));
    }

    #[test]
    fn encoder_refuses_what_the_fields_cannot_hold() {
        let c = LtvConfig::default();
        let mut out = Vec::new();
        assert!(matches!(
            c.record(65536, b"", &mut out),
            Err(FrameError::Unencodable(_))
        ));
        assert!(matches!(
            codec(c.clone()).encode(&[1], &mut out),
            Err(FrameError::Unencodable(_))
        ));
        // 2 + 65533 = 65535 fits the size field; one more byte does not.
        assert!(codec(c.clone()).encode(&vec![0; 65535], &mut out).is_ok());
        assert!(matches!(
            codec(c).encode(&vec![0; 65536], &mut out),
            Err(FrameError::Unencodable(_))
        ));
    }

    #[test]
    fn options_are_checked() {
        for c in [
            LtvConfig {
                size_bytes: 3,
                ..LtvConfig::default()
            },
            LtvConfig {
                id_bytes: 1,
                ..LtvConfig::default()
            },
            LtvConfig {
                max_frame_length: 3,
                ..LtvConfig::default()
            },
        ] {
            assert_eq!(
                LtvCodec::new(c).unwrap_err().code(),
                "ERR_INVALID_ARG_VALUE"
            );
        }
    }
}
