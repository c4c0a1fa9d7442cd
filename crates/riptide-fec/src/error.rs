//! The crate's one error type.

use thiserror::Error;

/// Why a shard configuration, a datagram to encode or a received packet was refused. A
/// refused packet changes no state except [`FecStats::errors`](crate::FecStats::errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum FecError {
    /// `data_shards` or `parity_shards` is 0, or together they exceed 256 (GF(2⁸) has 256
    /// elements, so no Reed-Solomon code over it is longer).
    #[error(
        "invalid shard counts {data_shards}/{parity_shards}: need ≥ 1 each and ≤ 256 together"
    )]
    InvalidShardCounts {
        /// The requested data shards per set.
        data_shards: usize,
        /// The requested parity shards per set.
        parity_shards: usize,
    },
    /// The packet (or the shard a datagram would become) is longer than
    /// [`MAX_PACKET`](crate::MAX_PACKET) bytes.
    #[error("{len} bytes exceed the largest FEC packet of {max} bytes")]
    TooLong {
        /// Length of the packet or shard.
        len: usize,
        /// The largest accepted.
        max: usize,
    },
    /// The packet is shorter than its header: 8 bytes for data and parity shards, 12 for an
    /// OOB packet (which carries a conv).
    #[error("{len} bytes are too short for an FEC packet of this type")]
    Truncated {
        /// Length of the packet.
        len: usize,
    },
    /// The type field (offset 4) is not 0xF1, 0xF2 or 0xF3: not an FEC packet (see
    /// [`is_fec_packet`](crate::is_fec_packet)).
    #[error("unknown FEC packet type {0:#06x}")]
    UnknownType(u16),
    /// A data or OOB packet whose `size` field is below 2 or does not match the packet's
    /// length (`size` must be `len - 6`, as every kcp-go sender writes it).
    #[error("size field {size} does not fit a packet of {len} bytes")]
    BadSize {
        /// The `size` field.
        size: u16,
        /// Length of the packet.
        len: usize,
    },
    /// A data or parity shard with seqid 0xFFFFFFFF (no sender reaches it: seqids stay below
    /// `paws`), or an OOB packet with another seqid than 0xFFFFFFFF.
    #[error("seqid {0:#010x} is impossible for this packet type")]
    BadSeqid(u32),
}
