//! The wire format: a 16-byte header in the clear (authenticated as AAD), then a body whose
//! shape depends on the type. All integers little-endian.
//!
//! ```text
//! 0     1       2         4                8                  16
//! | typ | epoch | rsv u16 | receiver_id u32 | counter u64      | body ...
//! ```
//!
//! | typ | name | body | total |
//! |---|---|---|---|
//! | 1 | init | Noise NK msg 1 (48) ‖ zero padding (32) ‖ mac1 (16) ‖ mac2 (16) | 128 |
//! | 2 | response | Noise NK msg 2 with the 4-byte session id as payload (52) | 68 |
//! | 3 | cookie reply | nonce (24) ‖ XChaCha20-Poly1305(cookie 16) (32) | 72 |
//! | 4 | data | ChaCha20-Poly1305(KCP datagram) ‖ tag (16) | 32 + n |
//! | 5 | unreliable | ChaCha20-Poly1305(datagram outside KCP) ‖ tag (16) | 32 + n |
//! | 6 | keepalive | ChaCha20-Poly1305(empty) ‖ tag (16) | 32 |
//! | 7 | init with client key | Noise IK msg 1 (96) ‖ mac1 (16) ‖ mac2 (16) | 144 |
//!
//! A server with an allowlist of client keys takes only type 7 (Noise IK: the client's static key
//! travels encrypted in msg 1), one without takes only type 1 (Noise NK, anonymous clients);
//! both answer with type 2. In handshake packets (1–3, 7) `receiver_id` is the client's random handshake tag (echoed by
//! the server so a client can route the answer), and epoch, rsv and counter are zero. In
//! transport packets (4–6) it is the server-assigned session id, `counter` is the sender's
//! packet number (the AEAD nonce is `0u32 ‖ counter LE`) and `epoch` names the key
//! generation. A receiver refuses non-zero reserved bits and any length but the one listed.
//!
//! A session id's low byte (packet byte 4 of a transport packet) is the server's upgrade
//! generation ([`ServerConfig::generation`](crate::ServerConfig::generation)); its 24 high
//! bits are random. A kernel reuseport program reads byte 0 (the type) and byte 4 to send a
//! datagram to the process that owns its session during an upgrade in place.

use crate::SecureError;

/// Size of the clear header.
pub const HEADER_LEN: usize = 16;
/// Size of a Poly1305 tag.
pub const TAG_LEN: usize = 16;
/// Bytes a transport packet adds to its payload: header + tag.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// The largest payload [`Transport::seal`](crate::Transport::seal) takes: what fits one
/// IPv4 UDP datagram (65 507 bytes) with the overhead.
pub const MAX_PAYLOAD: usize = 65_507 - OVERHEAD;

/// Noise NK message 1 with an empty payload: `e` (32) + the tag of the empty payload (16).
pub(crate) const NOISE_INIT_LEN: usize = 48;
/// Noise IK message 1 with an empty payload: `e` (32) + encrypted `s` (32 + 16) + the tag of
/// the empty payload (16).
pub(crate) const NOISE_INIT_IK_LEN: usize = 96;
/// Noise NK message 2 with the session id as payload: `e` (32) + id (4) + tag (16).
pub(crate) const NOISE_RESPONSE_LEN: usize = 52;
/// Length of mac1 and mac2 and of a cookie.
pub(crate) const MAC_LEN: usize = 16;
/// Size of an init on the wire: padded so that every answer (response 68, cookie reply 72)
/// is smaller, with room to grow the response later without breaking the rule.
pub const INIT_LEN: usize = 128;
/// Size of an init with a client key (type 7) on the wire: no padding needed, every answer
/// is already smaller.
pub const INIT_IK_LEN: usize = HEADER_LEN + NOISE_INIT_IK_LEN + 2 * MAC_LEN;
/// Size of a handshake response on the wire.
pub const RESPONSE_LEN: usize = HEADER_LEN + NOISE_RESPONSE_LEN;
/// Size of the cookie reply's XChaCha20 nonce.
pub(crate) const COOKIE_NONCE_LEN: usize = 24;
/// Size of a cookie reply on the wire.
pub const COOKIE_REPLY_LEN: usize = HEADER_LEN + COOKIE_NONCE_LEN + MAC_LEN + TAG_LEN;

const _: () = assert!(RESPONSE_LEN <= INIT_LEN && COOKIE_REPLY_LEN <= INIT_LEN);
// The NK init leaves room for mac1 and mac2 after msg 1 (mac1 starts 32 bytes before the
// end of every init, mac2 16 bytes before; everything before each is covered by it).
const _: () = assert!(HEADER_LEN + NOISE_INIT_LEN + 2 * MAC_LEN <= INIT_LEN);
const _: () = assert!(RESPONSE_LEN <= INIT_IK_LEN && COOKIE_REPLY_LEN <= INIT_IK_LEN);

/// What a packet is, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// Client → server: Noise message 1 with mac1/mac2.
    Init = 1,
    /// Server → client: Noise message 2 carrying the session id.
    Response = 2,
    /// Server → client under load: an encrypted cookie to resend the init with.
    CookieReply = 3,
    /// A KCP datagram.
    Data = 4,
    /// A datagram outside KCP (the unreliable channel).
    Unreliable = 5,
    /// An empty liveness packet.
    Keepalive = 6,
    /// Client → server: Noise IK message 1 (the client's static key inside) with mac1/mac2.
    InitIk = 7,
}

impl PacketType {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Init,
            2 => Self::Response,
            3 => Self::CookieReply,
            4 => Self::Data,
            5 => Self::Unreliable,
            6 => Self::Keepalive,
            7 => Self::InitIk,
            _ => return None,
        })
    }

    /// True for the two inits (NK and IK).
    pub fn is_init(self) -> bool {
        matches!(self, Self::Init | Self::InitIk)
    }

    /// True for data, unreliable and keepalive: the packets a [`Transport`](crate::Transport)
    /// opens.
    pub fn is_transport(self) -> bool {
        matches!(self, Self::Data | Self::Unreliable | Self::Keepalive)
    }
}

/// A parsed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub typ: PacketType,
    pub epoch: u8,
    pub receiver_id: u32,
    pub counter: u64,
}

impl Header {
    /// Parses the first 16 bytes: unknown type or non-zero reserved bits are malformed.
    pub fn decode(packet: &[u8]) -> Result<Self, SecureError> {
        let h: &[u8; HEADER_LEN] = packet
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(SecureError::Malformed)?;
        let [typ, epoch, r0, r1, i0, i1, i2, i3, c0, c1, c2, c3, c4, c5, c6, c7] = *h;
        let typ = PacketType::from_byte(typ).ok_or(SecureError::Malformed)?;
        if r0 != 0 || r1 != 0 {
            return Err(SecureError::Malformed);
        }
        let header = Self {
            typ,
            epoch,
            receiver_id: u32::from_le_bytes([i0, i1, i2, i3]),
            counter: u64::from_le_bytes([c0, c1, c2, c3, c4, c5, c6, c7]),
        };
        if !typ.is_transport() && (epoch != 0 || header.counter != 0) {
            return Err(SecureError::Malformed);
        }
        Ok(header)
    }

    /// The 16 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        let [t, e, _, _, i0, i1, i2, i3, c0, c1, c2, c3, c4, c5, c6, c7] = &mut h;
        *t = self.typ as u8;
        *e = self.epoch;
        [*i0, *i1, *i2, *i3] = self.receiver_id.to_le_bytes();
        [*c0, *c1, *c2, *c3, *c4, *c5, *c6, *c7] = self.counter.to_le_bytes();
        h
    }

    /// A handshake header: only type and tag are set.
    pub fn handshake(typ: PacketType, tag: u32) -> Self {
        Self {
            typ,
            epoch: 0,
            receiver_id: tag,
            counter: 0,
        }
    }
}

/// Offset in a packet of the byte that holds a transport packet's session generation (the
/// low byte of the little-endian session id).
pub const GENERATION_OFFSET: usize = 4;

/// The generation a server-assigned session id carries: its low byte.
pub fn id_generation(id: u32) -> u8 {
    id.to_le_bytes()[0]
}

/// `id` with its low byte replaced by `generation`.
pub(crate) fn with_generation(id: u32, generation: u8) -> u32 {
    (id & !0xff) | u32::from(generation)
}

/// The type and receiver id (session id for transport packets, handshake tag for handshake
/// packets) of a packet, without checking anything else: for routing a datagram to the
/// session or initiator that should look at it. `None` if the header is malformed.
pub fn peek(packet: &[u8]) -> Option<(PacketType, u32)> {
    Header::decode(packet).ok().map(|h| (h.typ, h.receiver_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_strictness() {
        let h = Header {
            typ: PacketType::Data,
            epoch: 7,
            receiver_id: 0xdead_beef,
            counter: u64::MAX - 3,
        };
        let bytes = h.encode();
        assert_eq!(Header::decode(&bytes).unwrap(), h);
        assert_eq!(bytes[4..8], 0xdead_beefu32.to_le_bytes());
        assert_eq!(bytes[GENERATION_OFFSET], id_generation(0xdead_beef));
        assert_eq!(with_generation(0xdead_beef, 3), 0xdead_be03);
        assert_eq!(peek(&bytes), Some((PacketType::Data, 0xdead_beef)));
        assert_eq!(Header::decode(&bytes[..15]), Err(SecureError::Malformed));
        for bad_typ in [0u8, 8, 0xff] {
            let mut b = bytes;
            b[0] = bad_typ;
            assert_eq!(Header::decode(&b), Err(SecureError::Malformed));
        }
        let mut b = bytes;
        b[3] = 1;
        assert_eq!(Header::decode(&b), Err(SecureError::Malformed));
        let mut hs = Header::handshake(PacketType::Init, 5).encode();
        assert!(Header::decode(&hs).is_ok());
        hs[1] = 1;
        assert_eq!(Header::decode(&hs), Err(SecureError::Malformed));
    }
}
