//! Counters of an [`Encoder`](crate::Encoder) or a [`Decoder`](crate::Decoder), after kcp-go's
//! `FEC*` SNMP counters but per instance.

/// Returned by [`Encoder::stats`](crate::Encoder::stats) and
/// [`Decoder::stats`](crate::Decoder::stats). Counters are cumulative since creation; each
/// side fills only the fields that concern it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FecStats {
    /// Encoder: data shards sent. Decoder: data shards received (duplicates included).
    pub data_shards: u64,
    /// Encoder: parity shards sent.
    pub parity_sent: u64,
    /// Encoder: shard sets whose parity was skipped because the last two data shards were
    /// [`MAX_ENCODE_LATENCY_MS`](crate::MAX_ENCODE_LATENCY_MS) or more apart.
    pub parity_skipped_sets: u64,
    /// Decoder: parity shards received and kept (not duplicates; kcp-go's `FECParityShards`).
    pub parity_received: u64,
    /// Decoder: shard sets opened (kcp-go's `FECShardSet` as a running total).
    pub shard_sets: u64,
    /// Decoder: shard sets whose data shards all arrived, nothing to recover
    /// (`FECFullShardSet`).
    pub full_shard_sets: u64,
    /// Decoder: datagrams rebuilt from parity and handed out as
    /// [`Recovered::Yes`](crate::Recovered::Yes) (`FECRecovered`).
    pub recovered: u64,
    /// Decoder: shards ignored because that shard (or, for data, its recovered copy) was
    /// already seen in a live set.
    pub duplicates: u64,
    /// Decoder: times auto-tune switched to the sender's data/parity counts.
    pub retunes: u64,
    /// Encoder: OOB packets framed. Decoder: OOB packets passed up.
    pub oob: u64,
    /// Decoder: packets refused as malformed (every `Err` of `decode`), plus recovered
    /// shards whose `size` field was impossible (garbage parity). Encoder: datagrams refused.
    pub errors: u64,
}
