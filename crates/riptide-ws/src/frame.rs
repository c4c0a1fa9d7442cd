//! Frame headers (RFC 6455 §5.2): reading one from the front of a buffer, writing one, and
//! masking payloads. What a header may say in context (masking by role, RSV bits, control frame
//! rules) is the session's business; this module only checks what a header alone can break.

use crate::Error;

/// The longest header: 2 bytes, an 8-byte length, a 4-byte masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The longest payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode. The reserved opcodes (3-7, 11-15) have no value: a frame carrying one is
/// refused with 1002 by [`FrameHeader::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// The next fragment of a message.
    Continuation,
    /// The first frame of a UTF-8 text message.
    Text,
    /// The first frame of a binary message.
    Binary,
    /// A close frame (§5.5.1).
    Close,
    /// A ping (§5.5.2), answered with a pong.
    Ping,
    /// A pong (§5.5.3).
    Pong,
}

impl Opcode {
    /// The opcode for a 4-bit value, or `None` for a reserved one.
    pub fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0 => Self::Continuation,
            1 => Self::Text,
            2 => Self::Binary,
            8 => Self::Close,
            9 => Self::Ping,
            10 => Self::Pong,
            _ => return None,
        })
    }

    /// The 4-bit value on the wire.
    pub fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0,
            Self::Text => 1,
            Self::Binary => 2,
            Self::Close => 8,
            Self::Ping => 9,
            Self::Pong => 10,
        }
    }

    /// Whether this is a control frame (close, ping, pong), which may interleave with a
    /// fragmented message but may itself be neither fragmented nor over 125 bytes.
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// One frame header, as read or to be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Whether this frame ends its message.
    pub fin: bool,
    /// RSV1: with permessage-deflate, marks the first frame of a compressed message.
    pub rsv1: bool,
    /// RSV2: no extension here defines it.
    pub rsv2: bool,
    /// RSV3: no extension here defines it.
    pub rsv3: bool,
    /// What the frame carries.
    pub opcode: Opcode,
    /// The masking key: present on every frame a client sends, absent on a server's.
    pub mask: Option<[u8; 4]>,
    /// The payload length; at most 2^63 - 1 on the wire.
    pub payload_len: u64,
}

/// What the bytes at the front of a buffer hold, header-wise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderParse {
    /// A whole header of `len` bytes.
    Complete {
        /// The header.
        header: FrameHeader,
        /// How many bytes it took.
        len: usize,
    },
    /// The header needs `needed` bytes in all; fewer are there.
    NeedMore {
        /// The header's whole length once known (2 while the second byte is missing).
        needed: usize,
    },
}

impl FrameHeader {
    /// Reads a header from the front of `buf`. Refuses a reserved opcode and a 64-bit length
    /// with its most significant bit set (both 1002); needs no more than [`MAX_HEADER_LEN`]
    /// bytes, whatever the declared payload length.
    pub fn parse(buf: &[u8]) -> Result<HeaderParse, Error> {
        let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
            return Ok(HeaderParse::NeedMore { needed: 2 });
        };
        let opcode = Opcode::from_bits(b0 & 0x0f).ok_or(Error::BadOpcode(b0 & 0x0f))?;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7f;
        let ext = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask_len = if masked { 4 } else { 0 };
        let needed = 2usize.saturating_add(ext).saturating_add(mask_len);
        let Some(rest) = buf.get(2..needed) else {
            return Ok(HeaderParse::NeedMore { needed });
        };
        let (len_bytes, mask_bytes) = rest.split_at(ext);
        let payload_len = match len7 {
            126 => u64::from(u16::from_be_bytes(to_array(len_bytes))),
            127 => {
                let len = u64::from_be_bytes(to_array(len_bytes));
                if len >> 63 != 0 {
                    return Err(Error::LengthOverflow);
                }
                len
            }
            n => u64::from(n),
        };
        let mask = masked.then(|| to_array(mask_bytes));
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode,
            mask,
            payload_len,
        };
        Ok(HeaderParse::Complete {
            header,
            len: needed,
        })
    }

    /// Appends this header to `out`, with the shortest length encoding (§5.2 requires it).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let b0 = u8::from(self.fin) << 7
            | u8::from(self.rsv1) << 6
            | u8::from(self.rsv2) << 5
            | u8::from(self.rsv3) << 4
            | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        out.push(b0);
        match self.payload_len {
            n @ 0..=125 => out.push(mask_bit | n as u8),
            n @ 126..=0xffff => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        if let Some(mask) = self.mask {
            out.extend_from_slice(&mask);
        }
    }
}

/// Copies a slice of exactly `N` bytes into an array (callers slice it to that length).
fn to_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.iter_mut().zip(bytes).for_each(|(o, b)| *o = *b);
    out
}

/// XORs `data` with `key` (§5.3), where `data` starts `offset` bytes into the payload: a
/// payload unmasked in pieces as it arrives gives the same bytes as one unmasked whole.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: u64) {
    let mut key = key;
    key.rotate_left((offset % 4) as usize);
    let word = u32::from_ne_bytes(key);
    let mut chunks = data.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let value = u32::from_ne_bytes(to_array(chunk)) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key) {
        *byte ^= k;
    }
}

/// Appends one whole frame to `out`: `header` (its `payload_len` is set from `payload`), then
/// the payload, masked when the header has a key. This is the encoder a fan-out calls once to
/// queue the same bytes on many connections (a server's frames are not masked).
pub fn encode_frame(mut header: FrameHeader, payload: &[u8], out: &mut Vec<u8>) {
    header.payload_len = payload.len() as u64;
    header.encode(out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let (Some(key), Some(tail)) = (header.mask, out.get_mut(start..)) {
        apply_mask(tail, key, 0);
    }
}

/// A whole unmasked, unfragmented message frame as a server sends it: text when `binary` is
/// false (the caller vouches that `payload` is UTF-8), binary otherwise.
pub fn encode_message(payload: &[u8], binary: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len().saturating_add(MAX_HEADER_LEN));
    let opcode = if binary { Opcode::Binary } else { Opcode::Text };
    encode_frame(FrameHeader::new(opcode), payload, &mut out);
    out
}

impl FrameHeader {
    /// A final, unmasked frame header with no RSV bits and no payload yet.
    pub fn new(opcode: Opcode) -> Self {
        Self {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
            payload_len: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples_parse_and_encode() {
        // RFC 6455 §5.7: an unmasked "Hello", a masked "Hello", a 256-byte and a 64 KiB binary.
        let unmasked = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let HeaderParse::Complete { header, len } = FrameHeader::parse(&unmasked).unwrap() else {
            panic!("incomplete");
        };
        assert_eq!(
            (header.opcode, header.fin, header.payload_len, len),
            (Opcode::Text, true, 5, 2)
        );
        assert_eq!(encode_message(b"Hello", false), unmasked);

        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let HeaderParse::Complete { header, len } = FrameHeader::parse(&masked).unwrap() else {
            panic!("incomplete");
        };
        assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        let mut payload = masked[len..].to_vec();
        apply_mask(&mut payload, header.mask.unwrap(), 0);
        assert_eq!(payload, b"Hello");
        let mut again = Vec::new();
        encode_frame(
            FrameHeader {
                mask: header.mask,
                ..FrameHeader::new(Opcode::Text)
            },
            b"Hello",
            &mut again,
        );
        assert_eq!(again, masked);

        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        assert!(
            matches!(FrameHeader::parse(&ping).unwrap(), HeaderParse::Complete { header, .. } if header.opcode == Opcode::Ping)
        );

        let mut out = Vec::new();
        encode_frame(FrameHeader::new(Opcode::Binary), &[0u8; 256], &mut out);
        assert_eq!(out[..4], [0x82, 0x7e, 0x01, 0x00]);
        out.clear();
        encode_frame(FrameHeader::new(Opcode::Binary), &[0u8; 65536], &mut out);
        assert_eq!(out[..10], [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
    }

    #[test]
    fn lengths_at_the_boundaries() {
        for len in [0u64, 125, 126, 127, 65535, 65536, (1 << 63) - 1] {
            let mut out = Vec::new();
            FrameHeader {
                payload_len: len,
                ..FrameHeader::new(Opcode::Binary)
            }
            .encode(&mut out);
            let HeaderParse::Complete { header, len: used } = FrameHeader::parse(&out).unwrap()
            else {
                panic!("incomplete for {len}");
            };
            assert_eq!((header.payload_len, used), (len, out.len()));
            for cut in 0..out.len() {
                assert!(matches!(
                    FrameHeader::parse(&out[..cut]).unwrap(),
                    HeaderParse::NeedMore { .. }
                ));
            }
        }
        for top in [1u64 << 63, u64::MAX] {
            let mut head = vec![0x82, 0x7f];
            head.extend_from_slice(&top.to_be_bytes());
            assert_eq!(FrameHeader::parse(&head), Err(Error::LengthOverflow));
        }
    }

    #[test]
    fn reserved_opcodes_are_refused() {
        for bits in [3u8, 4, 5, 6, 7, 11, 12, 13, 14, 15] {
            assert_eq!(
                FrameHeader::parse(&[0x80 | bits, 0]),
                Err(Error::BadOpcode(bits))
            );
        }
    }

    #[test]
    fn masking_in_pieces_matches_masking_whole() {
        let key = [1, 2, 3, 250];
        let data: Vec<u8> = (0..=255).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for cut in 0..data.len() {
            let mut pieces = data.clone();
            let (a, b) = pieces.split_at_mut(cut);
            apply_mask(a, key, 0);
            apply_mask(b, key, cut as u64);
            assert_eq!(pieces, whole);
        }
    }
}
