//! Length-field framing with netty's exact arithmetic (`LengthFieldBasedFrameDecoder` and
//! `LengthFieldPrepender`).

use crate::{Decoded, Decoder, Encoder, FrameError};

/// Byte order of the length field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ByteOrder {
    /// Network order (netty's default).
    #[default]
    Big,
    /// Little endian.
    Little,
}

/// Options of [`LengthFieldCodec`], named as in netty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LengthFieldConfig {
    /// Byte order of the length field.
    pub byte_order: ByteOrder,
    /// Longest frame (after adjustment, before stripping).
    pub max_frame_length: u64,
    /// Where the length field starts in the frame.
    pub length_field_offset: usize,
    /// Its width: 1, 2, 3, 4 or 8 bytes (unsigned, except 8 which is signed as in netty).
    pub length_field_length: usize,
    /// Added to the length field's value to get the bytes that follow the field.
    pub length_adjustment: i64,
    /// Bytes dropped from the front of each decoded frame (e.g. the header).
    pub initial_bytes_to_strip: usize,
    /// Report an oversized frame as soon as its length field is read (default true) rather
    /// than after it has been skipped.
    pub fail_fast: bool,
    /// Encoder: the value written counts the length field itself (netty's
    /// `lengthIncludesLengthFieldLength`; pair it with `length_adjustment = -length_field_length`).
    pub length_includes_length_field_length: bool,
    /// Encoder: added to the body length before writing it (netty's `LengthFieldPrepender`
    /// adjustment; the decoder's `length_adjustment` is separate, as in netty).
    pub prepender_adjustment: i64,
}

impl Default for LengthFieldConfig {
    fn default() -> Self {
        LengthFieldConfig {
            byte_order: ByteOrder::Big,
            max_frame_length: 1 << 20,
            length_field_offset: 0,
            length_field_length: 4,
            length_adjustment: 0,
            initial_bytes_to_strip: 4,
            fail_fast: true,
            length_includes_length_field_length: false,
            prepender_adjustment: 0,
        }
    }
}

/// Length-field decoder with netty's discard mode, and the matching prepender. The encoder
/// writes only the length field before the body (netty's `LengthFieldPrepender`), so it pairs
/// with decoders whose field is at offset 0.
#[derive(Clone, Debug)]
pub struct LengthFieldCodec {
    c: LengthFieldConfig,
    end_offset: usize,
    discarding: bool,
    to_discard: u64,
    too_long: u64,
}

impl LengthFieldCodec {
    /// Validates the options as netty's constructor does.
    pub fn new(c: LengthFieldConfig) -> Result<Self, FrameError> {
        let bad = |m: &str| Err(FrameError::InvalidConfig(m.into()));
        if !matches!(c.length_field_length, 1 | 2 | 3 | 4 | 8) {
            return bad("lengthFieldLength must be 1, 2, 3, 4 or 8");
        }
        if c.max_frame_length == 0 {
            return bad("maxFrameLength must be positive");
        }
        // Both sides in i128: u64 and usize values, no overflow.
        let room = i128::from(c.max_frame_length).saturating_sub(c.length_field_length as i128);
        if c.length_field_offset as i128 > room {
            return bad("lengthFieldOffset must be <= maxFrameLength - lengthFieldLength");
        }
        // offset <= max_frame_length - length, checked above, so the sum fits in a u64; a
        // usize on a 32-bit target may still be too narrow.
        let end_offset = c
            .length_field_offset
            .checked_add(c.length_field_length)
            .ok_or_else(|| FrameError::InvalidConfig("lengthFieldOffset too large".into()))?;
        Ok(LengthFieldCodec {
            end_offset,
            c,
            discarding: false,
            to_discard: 0,
            too_long: 0,
        })
    }

    /// The raw value of the length field at the front of `b` (netty's
    /// `getUnadjustedFrameLength`): unsigned for 1-4 bytes, signed for 8.
    fn raw_length(&self, b: &[u8]) -> i128 {
        let n = self.c.length_field_length;
        // The caller holds `end_offset` bytes, so the field is all there.
        let field = b.get(..n).unwrap_or_default();
        let mut v: u64 = 0;
        // At most 8 bytes shifted in: the shifts only drop bits already shifted out.
        match self.c.byte_order {
            ByteOrder::Big => field.iter().for_each(|&x| v = (v << 8) | u64::from(x)),
            ByteOrder::Little => field
                .iter()
                .rev()
                .for_each(|&x| v = (v << 8) | u64::from(x)),
        }
        if n == 8 {
            i128::from(v as i64)
        } else {
            i128::from(v)
        }
    }

    /// Netty's `failIfNecessary`: after a discard step, report when the rule says so.
    fn after_discard(&mut self, consumed: usize, first: bool) -> Decoded {
        let max = self.c.max_frame_length;
        if self.to_discard == 0 {
            let length = self.too_long;
            self.too_long = 0;
            self.discarding = false;
            if !self.c.fail_fast || first {
                return Decoded::Error {
                    consumed,
                    error: FrameError::TooLong { length, max },
                };
            }
        } else if self.c.fail_fast && first {
            return Decoded::Error {
                consumed,
                error: FrameError::TooLong {
                    length: self.too_long,
                    max,
                },
            };
        }
        Decoded::Skip { consumed }
    }
}

impl Decoder for LengthFieldCodec {
    fn decode(&mut self, buf: &[u8]) -> Decoded {
        if self.discarding {
            if buf.is_empty() {
                return Decoded::NeedMore;
            }
            let n = (self.to_discard.min(buf.len() as u64)) as usize;
            // n <= to_discard.
            self.to_discard = self.to_discard.saturating_sub(n as u64);
            return self.after_discard(n, false);
        }
        if buf.len() < self.end_offset {
            return Decoded::NeedMore;
        }
        let raw = self.raw_length(buf.get(self.c.length_field_offset..).unwrap_or_default());
        let corrupted = |m: String| Decoded::Error {
            consumed: self.end_offset,
            error: FrameError::Corrupted(m),
        };
        if raw < 0 {
            return corrupted(format!("negative length field: {raw}"));
        }
        // A u64, an i64 and a usize: far inside i128.
        let frame_length = raw
            .saturating_add(i128::from(self.c.length_adjustment))
            .saturating_add(self.end_offset as i128);
        if frame_length < self.end_offset as i128 {
            return corrupted(format!(
                "adjusted frame length ({frame_length}) is less than lengthFieldEndOffset ({})",
                self.end_offset
            ));
        }
        if frame_length > i128::from(self.c.max_frame_length) {
            // Netty's `exceededFrameLength`: skip what is here, discard the rest as it comes.
            let frame_length = u64::try_from(frame_length).unwrap_or(u64::MAX);
            self.too_long = frame_length;
            let have = buf.len() as u64;
            if frame_length <= have {
                self.to_discard = 0;
                self.discarding = true;
                return self.after_discard(frame_length as usize, true);
            }
            // have < frame_length.
            self.to_discard = frame_length.saturating_sub(have);
            self.discarding = true;
            return self.after_discard(buf.len(), true);
        }
        let frame_length = frame_length as usize;
        if buf.len() < frame_length {
            return Decoded::NeedMore;
        }
        if self.c.initial_bytes_to_strip > frame_length {
            return Decoded::Error {
                consumed: frame_length,
                error: FrameError::Corrupted(format!(
                    "adjusted frame length ({frame_length}) is less than initialBytesToStrip ({})",
                    self.c.initial_bytes_to_strip
                )),
            };
        }
        Decoded::Frame {
            consumed: frame_length,
            start: self.c.initial_bytes_to_strip,
            end: frame_length,
        }
    }
}

impl Encoder for LengthFieldCodec {
    fn encode(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        let n = self.c.length_field_length;
        // A usize, an i64 and at most 8: far inside i128.
        let mut length =
            (body.len() as i128).saturating_add(i128::from(self.c.prepender_adjustment));
        if self.c.length_includes_length_field_length {
            length = length.saturating_add(n as i128);
        }
        if length < 0 {
            return Err(FrameError::Unencodable(format!(
                "adjusted length {length} is negative"
            )));
        }
        let limit: i128 = match n {
            8 => i128::from(i64::MAX),
            4 => i128::from(i32::MAX),
            // n is 1, 2 or 3 here.
            _ => 1i128 << n.saturating_mul(8),
        };
        if (n == 4 || n == 8) && length > limit || (n < 4 && length >= limit) {
            return Err(FrameError::Unencodable(format!(
                "length {length} does not fit in a {n}-byte length field"
            )));
        }
        let v = length as u64;
        // n is 1, 2, 3, 4 or 8 (checked by `new`).
        match self.c.byte_order {
            ByteOrder::Big => {
                let bytes = v.to_be_bytes();
                out.extend_from_slice(bytes.get(8usize.saturating_sub(n)..).unwrap_or_default());
            }
            ByteOrder::Little => {
                out.extend_from_slice(v.to_le_bytes().get(..n).unwrap_or_default())
            }
        }
        out.extend_from_slice(body);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::decode_all;

    fn cfg(offset: usize, len: usize, adj: i64, strip: usize) -> LengthFieldConfig {
        LengthFieldConfig {
            max_frame_length: 1 << 20,
            length_field_offset: offset,
            length_field_length: len,
            length_adjustment: adj,
            initial_bytes_to_strip: strip,
            ..LengthFieldConfig::default()
        }
    }

    fn one(c: LengthFieldConfig, input: &[u8]) -> Vec<u8> {
        let (frames, errors, left) = decode_all(&mut LengthFieldCodec::new(c).unwrap(), input);
        assert!(errors.is_empty() && left == 0, "{errors:?} {left}");
        assert_eq!(frames.len(), 1);
        frames.into_iter().next().unwrap()
    }

    // The six worked layouts of netty's LengthFieldBasedFrameDecoder Javadoc.
    const HELLO: &[u8] = b"HELLO, WORLD";

    #[test]
    fn javadoc_1_two_byte_length_no_strip() {
        let input = [&[0x00, 0x0c][..], HELLO].concat();
        assert_eq!(one(cfg(0, 2, 0, 0), &input), input);
    }

    #[test]
    fn javadoc_2_two_byte_length_strip_header() {
        let input = [&[0x00, 0x0c][..], HELLO].concat();
        assert_eq!(one(cfg(0, 2, 0, 2), &input), HELLO);
    }

    #[test]
    fn javadoc_3_length_counts_the_whole_message() {
        let input = [&[0x00, 0x0e][..], HELLO].concat();
        assert_eq!(one(cfg(0, 2, -2, 0), &input), input);
    }

    #[test]
    fn javadoc_4_header_before_the_length() {
        let input = [&[0xca, 0xfe, 0x00, 0x00, 0x0c][..], HELLO].concat();
        assert_eq!(one(cfg(2, 3, 0, 0), &input), input);
    }

    #[test]
    fn javadoc_5_header_after_the_length() {
        let input = [&[0x00, 0x00, 0x0c, 0xca, 0xfe][..], HELLO].concat();
        assert_eq!(one(cfg(0, 3, 2, 0), &input), input);
    }

    #[test]
    fn javadoc_6_hdr1_len_hdr2_strip_three() {
        let input = [&[0xca, 0x00, 0x0c, 0xfe][..], HELLO].concat();
        assert_eq!(one(cfg(1, 2, 1, 3), &input), [&[0xfe][..], HELLO].concat());
        let input = [&[0xca, 0x00, 0x10, 0xfe][..], HELLO].concat();
        assert_eq!(one(cfg(1, 2, -3, 3), &input), [&[0xfe][..], HELLO].concat());
    }

    #[test]
    fn oversized_frame_is_discarded_without_buffering_it() {
        // A 2^32-1 length header: fail fast, then skip as bytes arrive, then resync.
        let mut c = LengthFieldCodec::new(LengthFieldConfig {
            max_frame_length: 1024,
            ..cfg(0, 4, 0, 4)
        })
        .unwrap();
        let (_, errors, left) = decode_all(&mut c, &[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
        assert_eq!(
            errors,
            vec![FrameError::TooLong {
                length: 0xffff_ffff + 4,
                max: 1024
            }]
        );
        assert_eq!(left, 0, "nothing is kept while discarding");
        assert!(c.discarding);
        assert_eq!(c.to_discard, 0xffff_ffff + 4 - 7);
    }

    #[test]
    fn fail_slow_reports_after_the_frame_is_gone() {
        let config = LengthFieldConfig {
            max_frame_length: 8,
            fail_fast: false,
            ..cfg(0, 1, 0, 1)
        };
        let mut c = LengthFieldCodec::new(config).unwrap();
        let (frames, errors, _) = decode_all(&mut c, &[20, 0, 0, 0, 0]);
        assert!(
            frames.is_empty() && errors.is_empty(),
            "no report before the frame is skipped"
        );
        let mut rest = vec![0u8; 16];
        rest.extend_from_slice(&[2, b'o', b'k']);
        let (frames, errors, _) = decode_all(&mut c, &rest);
        assert_eq!(errors, vec![FrameError::TooLong { length: 21, max: 8 }]);
        assert_eq!(frames, vec![b"ok".to_vec()]);
    }

    #[test]
    fn negative_and_short_lengths_are_corrupt_and_decoding_goes_on() {
        let mut c = LengthFieldCodec::new(cfg(0, 8, 0, 8)).unwrap();
        let mut input = (-1i64).to_be_bytes().to_vec();
        input.extend_from_slice(&2i64.to_be_bytes());
        input.extend_from_slice(b"ok");
        let (frames, errors, _) = decode_all(&mut c, &input);
        assert_eq!(errors[0].code(), "ERR_FRAME_CORRUPT");
        assert_eq!(frames, vec![b"ok".to_vec()]);
        let mut c = LengthFieldCodec::new(cfg(0, 2, -5, 0)).unwrap();
        let (_, errors, _) = decode_all(&mut c, &[0, 1, 0]);
        assert_eq!(errors[0].code(), "ERR_FRAME_CORRUPT");
    }

    #[test]
    fn prepender_refuses_lengths_the_field_cannot_hold() {
        let mut c = LengthFieldCodec::new(cfg(0, 1, 0, 1)).unwrap();
        let mut out = Vec::new();
        c.encode(&[0u8; 255], &mut out).unwrap();
        assert_eq!(out[0], 255);
        assert!(matches!(
            c.encode(&[0u8; 256], &mut out),
            Err(FrameError::Unencodable(_))
        ));
        let mut c = LengthFieldCodec::new(LengthFieldConfig {
            length_includes_length_field_length: true,
            byte_order: ByteOrder::Little,
            ..cfg(0, 2, 0, 2)
        })
        .unwrap();
        let mut out = Vec::new();
        c.encode(b"abc", &mut out).unwrap();
        assert_eq!(out, vec![5, 0, b'a', b'b', b'c']);
    }

    #[test]
    fn constructor_checks_match_netty() {
        assert!(LengthFieldCodec::new(cfg(0, 5, 0, 0)).is_err());
        assert!(LengthFieldCodec::new(LengthFieldConfig {
            max_frame_length: 3,
            ..cfg(0, 4, 0, 0)
        })
        .is_err());
    }
}
