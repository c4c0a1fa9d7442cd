//! The 8-byte FEC header: `seqid u32 LE | type u16 LE | size u16 LE`, and the `paws` modulus.

use crate::FecError;

/// Type field of a data shard: the header is followed by one whole KCP datagram.
pub const TYPE_DATA: u16 = 0xF1;
/// Type field of a parity shard: the header's `size` and the rest are Reed-Solomon bytes.
pub const TYPE_PARITY: u16 = 0xF2;
/// Type field of an out-of-band packet (kcp-go `SendOOB`): `conv u32 LE | payload`, not
/// protected by parity.
pub const TYPE_OOB: u16 = 0xF3;
/// The seqid of every OOB packet.
pub const OOB_SEQID: u32 = 0xFFFF_FFFF;

/// The header before the shard body (`seqid` and `type`); the body of data and parity
/// shards starts with the 2-byte `size` field, which Reed-Solomon covers.
pub(crate) const PREFIX: usize = 6;

/// One parsed header. `size` is meaningful for data and OOB packets only.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    pub seqid: u32,
    pub kind: u16,
    pub size: u16,
}

impl Header {
    /// The first 8 bytes, without judging them. `None` when shorter.
    pub fn parse(packet: &[u8]) -> Option<Header> {
        let b: &[u8; 8] = packet.get(..8)?.try_into().ok()?;
        Some(Header {
            seqid: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            kind: u16::from_le_bytes([b[4], b[5]]),
            size: u16::from_le_bytes([b[6], b[7]]),
        })
    }

    /// Appends the 8 header bytes.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.seqid.to_le_bytes());
        out.extend_from_slice(&self.kind.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
    }
}

/// The `size` field of a body of `body_len` bytes following it: it counts itself. Refuses
/// what would not fit the field.
pub(crate) fn size_field(body_len: usize) -> Result<u16, FecError> {
    body_len
        .checked_add(2)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or(FecError::TooLong {
            len: body_len,
            max: usize::from(u16::MAX).saturating_sub(2),
        })
}

/// `⌊0xFFFFFFFF / n⌋ · n` for a set of `n` shards: seqids run modulo this, so a set never
/// straddles the wrap. `n` is 1..=256 (checked by the constructors).
pub(crate) fn paws(total: u32) -> u32 {
    u32::MAX
        .checked_div(total)
        .unwrap_or(0)
        .saturating_mul(total)
}

/// `(later - earlier)` as a signed distance on the 2³² circle (kcp-go's `_itimediff`).
pub(crate) fn seq_diff(later: u32, earlier: u32) -> i32 {
    later.wrapping_sub(earlier) as i32
}

/// Checks a shard configuration the way kcp-go does (`newFECEncoder`, `newFECDecoder`).
pub(crate) fn check_counts(data_shards: usize, parity_shards: usize) -> Result<(), FecError> {
    let total = data_shards.checked_add(parity_shards);
    if data_shards == 0 || parity_shards == 0 || total.is_none_or(|t| t > 256) {
        return Err(FecError::InvalidShardCounts {
            data_shards,
            parity_shards,
        });
    }
    Ok(())
}
