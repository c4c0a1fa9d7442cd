//! The sending side: every KCP datagram becomes a data shard at once; after each `ds` of
//! them come `ps` parity shards (kcp-go `fecEncoder`).

use reed_solomon_erasure::galois_8::ReedSolomon;

use crate::header::{self, Header, PREFIX, TYPE_DATA, TYPE_OOB, TYPE_PARITY};
use crate::{FecError, FecStats, HEADER_SIZE, MAX_ENCODE_LATENCY_MS, MAX_PACKET, OOB_SEQID};

/// Frames outgoing KCP datagrams as kcp-go FEC shards and adds parity. See the
/// [crate docs](crate) for the wire format.
///
/// Memory: `data_shards + parity_shards` buffers of at most [`MAX_PACKET`] bytes, filled
/// once and reused: encoding allocates nothing in steady state.
///
/// ```
/// use riptide_fec::{Encoder, HEADER_SIZE};
///
/// let mut enc = Encoder::new(2, 1).unwrap();
/// let mut sent = Vec::new();
/// for datagram in [&b"first"[..], b"second"] {
///     enc.encode(0, datagram, &mut |p| sent.push(p.to_vec())).unwrap();
/// }
/// // Two data shards, then one parity shard as long as the longest data shard.
/// assert_eq!(sent.len(), 3);
/// assert_eq!(&sent[1][HEADER_SIZE..], b"second");
/// assert_eq!(sent[2].len(), HEADER_SIZE + b"second".len());
/// ```
pub struct Encoder {
    data_shards: usize,
    parity_shards: usize,
    codec: ReedSolomon,
    paws: u32,
    /// Seqid of the next shard.
    next: u32,
    /// Data shards collected for the current set, `[size | payload]` each.
    collected: usize,
    /// `data_shards + parity_shards` bodies; data ones hold `[size | payload]`, parity ones
    /// the Reed-Solomon bytes. Padded to the longest on encode.
    bodies: Vec<Vec<u8>>,
    /// Time of the previous data shard; `None` before the first (kcp-go starts its clock
    /// at 0, which is always more than 500 ms ago).
    last_ms: Option<u64>,
    /// The packet being emitted.
    packet: Vec<u8>,
    stats: FecStats,
}

impl Encoder {
    /// An encoder for sets of `data_shards` data and `parity_shards` parity shards (kcptun's
    /// default is 10/3). Both must be at least 1 and together at most 256. For "no FEC",
    /// make no encoder: the KCP datagrams then go out as they are.
    pub fn new(data_shards: usize, parity_shards: usize) -> Result<Encoder, FecError> {
        header::check_counts(data_shards, parity_shards)?;
        let codec = ReedSolomon::new(data_shards, parity_shards).map_err(|_| {
            FecError::InvalidShardCounts {
                data_shards,
                parity_shards,
            }
        })?;
        let total = data_shards.saturating_add(parity_shards);
        Ok(Encoder {
            data_shards,
            parity_shards,
            codec,
            paws: header::paws(total as u32),
            next: 0,
            collected: 0,
            bodies: vec![Vec::new(); total],
            last_ms: None,
            packet: Vec::new(),
            stats: FecStats::default(),
        })
    }

    /// Data shards per set.
    pub fn data_shards(&self) -> usize {
        self.data_shards
    }

    /// Parity shards per set.
    pub fn parity_shards(&self) -> usize {
        self.parity_shards
    }

    /// Bytes each data shard adds to its KCP datagram ([`HEADER_SIZE`]): subtract it from
    /// the path MTU to get the KCP MTU. Parity adds `parity_shards / data_shards` of the
    /// traffic on top.
    pub fn overhead(&self) -> usize {
        HEADER_SIZE
    }

    /// The seqid the next shard will carry.
    pub fn next_seqid(&self) -> u32 {
        self.next
    }

    /// Sets the seqid of the next shard (reduced modulo `paws`, and moved back to the start
    /// of its set, so sets stay aligned). kcp-go always starts at 0; tests use this to cross
    /// the wrap.
    pub fn set_next_seqid(&mut self, seqid: u32) {
        let total = self.data_shards.saturating_add(self.parity_shards) as u32;
        let s = seqid.checked_rem(self.paws).unwrap_or(0);
        self.next = s.saturating_sub(s.checked_rem(total).unwrap_or(0));
        self.collected = 0;
    }

    /// Frames one KCP datagram: `out` gets the data shard (`HEADER_SIZE` bytes + the
    /// datagram) and, when it completes a set, the set's parity shards, each as long as the
    /// set's longest data shard. `now_ms` is any monotonic millisecond clock.
    ///
    /// Parity is skipped, as kcp-go does, when the set's last data shard comes
    /// [`MAX_ENCODE_LATENCY_MS`] or more after the one before it (the set was not sent as a
    /// burst; parity would come too late to help); the seqids it would have used are
    /// skipped too. With one data shard per set, the first datagram ever has no predecessor
    /// and gets no parity.
    ///
    /// Fails with [`FecError::TooLong`] (and emits nothing) when the shard would exceed
    /// [`MAX_PACKET`].
    pub fn encode(
        &mut self,
        now_ms: u64,
        kcp_datagram: &[u8],
        out: &mut impl FnMut(&[u8]),
    ) -> Result<(), FecError> {
        let len = kcp_datagram.len().saturating_add(HEADER_SIZE);
        if len > MAX_PACKET {
            self.stats.errors = self.stats.errors.saturating_add(1);
            return Err(FecError::TooLong {
                len,
                max: MAX_PACKET,
            });
        }
        let size = header::size_field(kcp_datagram.len())?;
        let seqid = self.advance(1);
        self.packet.clear();
        Header {
            seqid,
            kind: TYPE_DATA,
            size,
        }
        .write(&mut self.packet);
        self.packet.extend_from_slice(kcp_datagram);
        out(&self.packet);
        self.stats.data_shards = self.stats.data_shards.saturating_add(1);

        let Some(body) = self.bodies.get_mut(self.collected) else {
            unreachable!("collected < data_shards");
        };
        body.clear();
        body.extend_from_slice(&size.to_le_bytes());
        body.extend_from_slice(kcp_datagram);
        self.collected = self.collected.saturating_add(1);

        let previous = self.last_ms.replace(now_ms);
        if self.collected < self.data_shards {
            return Ok(());
        }
        self.collected = 0;
        let burst = previous.is_some_and(|p| now_ms.saturating_sub(p) < MAX_ENCODE_LATENCY_MS);
        if !burst {
            self.advance(self.parity_shards);
            self.stats.parity_skipped_sets = self.stats.parity_skipped_sets.saturating_add(1);
            return Ok(());
        }
        self.emit_parity(out);
        Ok(())
    }

    /// Computes and emits the parity of the `data_shards` bodies collected.
    fn emit_parity(&mut self, out: &mut impl FnMut(&[u8])) {
        let (data, parity) = self.bodies.split_at_mut(self.data_shards);
        let longest = data.iter().map(Vec::len).max().unwrap_or(0);
        for body in data.iter_mut() {
            body.resize(longest, 0);
        }
        for body in parity.iter_mut() {
            body.clear();
            body.resize(longest, 0);
        }
        if self.codec.encode_sep(data, parity).is_err() {
            unreachable!("shard counts and lengths are consistent");
        }
        for k in 0..self.parity_shards {
            let seqid = self.advance(1);
            let Some(body) = self.bodies.get(self.data_shards.saturating_add(k)) else {
                unreachable!("parity index in range");
            };
            self.packet.clear();
            self.packet.extend_from_slice(&seqid.to_le_bytes());
            self.packet.extend_from_slice(&TYPE_PARITY.to_le_bytes());
            self.packet.extend_from_slice(body);
            out(&self.packet);
            self.stats.parity_sent = self.stats.parity_sent.saturating_add(1);
        }
    }

    /// Frames one kcp-go OOB packet (`SendOOB`): seqid 0xFFFFFFFF, type 0xF3, then
    /// `size u16 | conv u32 | payload`, with `size = 2 + 4 + payload.len()`. It neither uses
    /// nor advances the seqid, and no parity covers it. Fails with [`FecError::TooLong`]
    /// beyond [`MAX_PACKET`].
    pub fn encode_oob(
        &mut self,
        conv: u32,
        payload: &[u8],
        out: &mut impl FnMut(&[u8]),
    ) -> Result<(), FecError> {
        let len = payload.len().saturating_add(HEADER_SIZE).saturating_add(4);
        if len > MAX_PACKET {
            self.stats.errors = self.stats.errors.saturating_add(1);
            return Err(FecError::TooLong {
                len,
                max: MAX_PACKET,
            });
        }
        let size = header::size_field(payload.len().saturating_add(4))?;
        self.packet.clear();
        Header {
            seqid: OOB_SEQID,
            kind: TYPE_OOB,
            size,
        }
        .write(&mut self.packet);
        self.packet.extend_from_slice(&conv.to_le_bytes());
        self.packet.extend_from_slice(payload);
        out(&self.packet);
        self.stats.oob = self.stats.oob.saturating_add(1);
        Ok(())
    }

    /// Counters since creation.
    pub fn stats(&self) -> FecStats {
        self.stats
    }

    /// Returns the current seqid and moves `n` shards on, modulo `paws`.
    fn advance(&mut self, n: usize) -> u32 {
        let seqid = self.next;
        // `next < paws ≤ u32::MAX` and `n ≤ 255`: computed in u64, it cannot overflow.
        let moved = u64::from(seqid).saturating_add(n as u64);
        self.next = moved.checked_rem(u64::from(self.paws)).unwrap_or(0) as u32;
        seqid
    }
}

// The prefix before the body is the header less its size field.
const _: () = assert!(PREFIX + 2 == HEADER_SIZE);
