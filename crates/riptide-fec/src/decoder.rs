//! The receiving side: hands out each data shard's datagram at once, groups shards into
//! sets by seqid, rebuilds lost data shards from parity, and follows the sender's shard
//! counts (kcp-go `fecDecoder`).

use reed_solomon_erasure::galois_8::ReedSolomon;

use crate::autotune::AutoTune;
use crate::header::{self, Header, PREFIX, TYPE_DATA, TYPE_OOB, TYPE_PARITY};
use crate::window::Window;
use crate::{FecError, FecStats, HEADER_SIZE, MAX_PACKET, OOB_SEQID};

/// Sets kept behind the newest one (kcp-go's `maxShardSets`): a set more than this many
/// sets older than the newest is dropped with whatever it holds.
pub const MAX_SETS_BEHIND: u32 = 3;

/// The most shard sets a [`Decoder`] holds between calls: the newest and the
/// [`MAX_SETS_BEHIND`] before it.
pub const MAX_LIVE_SETS: usize = MAX_SETS_BEHIND as usize + 1;

/// The widest sets (data + parity shards) auto-tune adopts unless
/// [`Decoder::set_auto_tune_limit`] says otherwise. kcp-go follows a sender up to 256, but the
/// sender then chooses our CPU cost: building a codec and inverting a decode matrix are
/// O(ds³) (in release builds, 255/1 takes ~150 ms, 128/128 ~17 ms, 64/64 ~2 ms). Above the
/// limit, the decoder keeps passing data shards through and recovers nothing until the sender's
/// counts fit again.
pub const DEFAULT_AUTO_TUNE_LIMIT: usize = 64;

/// Bytes of inverted decode matrices the Reed-Solomon codec may cache (it keeps up to 254 of
/// `ds²` bytes each): past this the codec is rebuilt, which drops its cache.
const MATRIX_CACHE_BUDGET: usize = 256 * 1024;

/// How a datagram handed out by [`Decoder::decode`] came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovered {
    /// The payload of a data shard that arrived: feed it to KCP as usual.
    No,
    /// Rebuilt from parity: feed it to KCP as an FEC packet, which updates neither the RTT
    /// estimate nor the peer's window (kcp-go `IKCP_PACKET_FEC`).
    Yes,
    /// The payload of an out-of-band packet (kcp-go `SendOOB`), without its conv: not a KCP
    /// datagram; unreliable, unordered, never recovered.
    Oob {
        /// The conversation id the sender put before the payload.
        conv: u32,
    },
}

/// The shards of one set received so far.
struct ShardSet {
    /// `seqid / (ds + ps)`.
    id: u32,
    /// `packet[6..]` (`[size | payload]` for data, Reed-Solomon bytes for parity) by
    /// position in the set; emptied once the set is decoded.
    bodies: Vec<Option<Vec<u8>>>,
    /// Positions received, to drop duplicates.
    seen: Vec<bool>,
    /// Bodies held.
    held: usize,
    /// Every data position was handed out or given up on: later shards only count as seen.
    done: bool,
}

impl ShardSet {
    fn new(id: u32, total: usize) -> ShardSet {
        ShardSet {
            id,
            bodies: vec![None; total],
            seen: vec![false; total],
            held: 0,
            done: false,
        }
    }

    fn buffered_bytes(&self) -> usize {
        self.bodies.iter().flatten().map(Vec::len).sum()
    }
}

/// Unwraps kcp-go FEC packets and recovers lost datagrams. See the [crate docs](crate) for
/// the wire format and the bounds.
///
/// ```
/// use riptide_fec::{Decoder, Encoder, Recovered};
///
/// let mut enc = Encoder::new(2, 1).unwrap();
/// let mut wire = Vec::new();
/// for datagram in [&b"first"[..], b"second"] {
///     enc.encode(0, datagram, &mut |p| wire.push(p.to_vec())).unwrap();
/// }
/// wire.remove(0); // lose the first data shard
///
/// let mut dec = Decoder::new(2, 1).unwrap();
/// let mut got = Vec::new();
/// for packet in &wire {
///     dec.decode(0, packet, &mut |d, how| got.push((d.to_vec(), how))).unwrap();
/// }
/// assert_eq!(got, [(b"second".to_vec(), Recovered::No), (b"first".to_vec(), Recovered::Yes)]);
/// ```
pub struct Decoder {
    data_shards: usize,
    parity_shards: usize,
    /// `data_shards + parity_shards`, as the seqid arithmetic uses it.
    total: u32,
    paws: u32,
    codec: ReedSolomon,
    /// Reconstructions since `codec` was built (each may have cached a matrix).
    reconstructions: usize,
    /// At most [`MAX_LIVE_SETS`] between calls.
    sets: Vec<ShardSet>,
    /// Data seqids handed out lately, so that none is handed out twice.
    handed_out: Window,
    /// Id of the newest set seen. kcp-go starts at 0, which makes a fresh decoder drop
    /// every set of a sender whose seqids are ≥ 2³¹ (they all look far behind 0); we start
    /// from the first set filed instead.
    newest: Option<u32>,
    tune: AutoTune,
    /// A shard's type disagreed with its position: the sender's counts differ from ours;
    /// nothing is stored until auto-tune finds them.
    should_tune: bool,
    /// Widest set auto-tune adopts.
    tune_limit: usize,
    stats: FecStats,
}

impl Decoder {
    /// A decoder expecting sets of `data_shards` + `parity_shards` (same limits as
    /// [`Encoder::new`](crate::Encoder::new)). A wrong guess costs only the first sets:
    /// auto-tune follows the sender, to sets of up to [`DEFAULT_AUTO_TUNE_LIMIT`] shards or
    /// the configured width if larger. kcp-go starts a session that did not configure FEC
    /// at 1/1 when FEC packets arrive.
    pub fn new(data_shards: usize, parity_shards: usize) -> Result<Decoder, FecError> {
        header::check_counts(data_shards, parity_shards)?;
        let codec = new_codec(data_shards, parity_shards)?;
        let total = data_shards.saturating_add(parity_shards) as u32;
        Ok(Decoder {
            data_shards,
            parity_shards,
            total,
            paws: header::paws(total),
            codec,
            reconstructions: 0,
            sets: Vec::with_capacity(MAX_LIVE_SETS.saturating_add(1)),
            handed_out: Window::new(),
            newest: None,
            tune: AutoTune::new(),
            should_tune: false,
            tune_limit: DEFAULT_AUTO_TUNE_LIMIT.max(total as usize),
            stats: FecStats::default(),
        })
    }

    /// Data shards per set, as configured or as auto-tuned.
    pub fn data_shards(&self) -> usize {
        self.data_shards
    }

    /// Parity shards per set, as configured or as auto-tuned.
    pub fn parity_shards(&self) -> usize {
        self.parity_shards
    }

    /// Sets the widest set (data + parity shards, at most 256) auto-tune may adopt; see
    /// [`DEFAULT_AUTO_TUNE_LIMIT`]. 256 follows any kcp-go sender, as kcp-go does; below 2,
    /// auto-tune never adopts anything. The current counts stay as they are.
    pub fn set_auto_tune_limit(&mut self, max_total_shards: usize) {
        self.tune_limit = max_total_shards.min(256);
    }

    /// Counters since creation.
    pub fn stats(&self) -> FecStats {
        self.stats
    }

    /// Bytes of shard bodies held for sets not yet decoded. Between calls at most
    /// `MAX_LIVE_SETS × (data_shards − 1) × (MAX_PACKET − 6)`: a set is decoded and emptied
    /// as soon as it holds `data_shards` bodies.
    pub fn buffered_bytes(&self) -> usize {
        self.sets.iter().map(ShardSet::buffered_bytes).sum()
    }

    /// Takes one packet whose type field says FEC ([`is_fec_packet`](crate::is_fec_packet))
    /// and calls `out` with each datagram it yields, in order:
    ///
    /// - a data shard's own KCP datagram, at once ([`Recovered::No`]), unless that shard,
    ///   or its rebuilt copy, was already handed out from a live set;
    /// - then the data shards of its set rebuilt from parity ([`Recovered::Yes`]), once the
    ///   set holds `data_shards` shards, each handed out once;
    /// - or, for an OOB packet, its payload ([`Recovered::Oob`]).
    ///
    /// A malformed packet is refused with an error and changes nothing else. `now_ms` is
    /// not used by the protocol (kcp-go's decoder has no clock); it keeps this call shaped
    /// like [`Encoder::encode`](crate::Encoder::encode) for the engine.
    pub fn decode(
        &mut self,
        now_ms: u64,
        packet: &[u8],
        out: &mut impl FnMut(&[u8], Recovered),
    ) -> Result<(), FecError> {
        let _ = now_ms;
        let result = self.decode_packet(packet, out);
        if result.is_err() {
            self.stats.errors = self.stats.errors.saturating_add(1);
        }
        result
    }

    fn decode_packet(
        &mut self,
        packet: &[u8],
        out: &mut impl FnMut(&[u8], Recovered),
    ) -> Result<(), FecError> {
        let len = packet.len();
        if len > MAX_PACKET {
            return Err(FecError::TooLong {
                len,
                max: MAX_PACKET,
            });
        }
        let h = Header::parse(packet).ok_or(FecError::Truncated { len })?;
        let is_data = match h.kind {
            TYPE_DATA => true,
            TYPE_PARITY => false,
            TYPE_OOB => return self.oob(h, packet, out),
            other => return Err(FecError::UnknownType(other)),
        };
        if h.seqid == OOB_SEQID {
            return Err(FecError::BadSeqid(h.seqid));
        }
        // `len ≥ 8` here. kcp-go writes `size = len - 6` on every data shard; anything else
        // is corruption or a forgery, and would make recovery disagree with the sender.
        let body = packet.get(PREFIX..).unwrap_or_default();
        if is_data && (h.size < 2 || usize::from(h.size) != body.len()) {
            return Err(FecError::BadSize { size: h.size, len });
        }
        let payload = packet.get(HEADER_SIZE..).unwrap_or_default();
        if is_data {
            self.stats.data_shards = self.stats.data_shards.saturating_add(1);
        }

        // From here on, kcp-go's `fecDecoder.decode`.
        self.tune.sample(is_data, h.seqid);
        if is_data && !self.handed_out.insert(h.seqid) {
            // Arrived before, or rebuilt before it arrived.
            self.stats.duplicates = self.stats.duplicates.saturating_add(1);
            return Ok(());
        }
        if h.seqid >= self.paws {
            // Beyond our modulus: not for a set, but the datagram is still a datagram.
            if is_data {
                out(payload, Recovered::No);
            }
            return Ok(());
        }
        let position = h.seqid.checked_rem(self.total).unwrap_or(0);
        if (position < self.data_shards as u32) != is_data {
            self.should_tune = true;
        }
        if self.should_tune {
            self.retune(h.seqid);
            if is_data {
                out(payload, Recovered::No);
            }
            return Ok(());
        }
        self.store(h.seqid, position as usize, is_data, body, out);
        Ok(())
    }

    /// An OOB packet: `header | conv u32 | payload`, `size = len - 6`.
    fn oob(
        &mut self,
        h: Header,
        packet: &[u8],
        out: &mut impl FnMut(&[u8], Recovered),
    ) -> Result<(), FecError> {
        let len = packet.len();
        if h.seqid != OOB_SEQID {
            return Err(FecError::BadSeqid(h.seqid));
        }
        let (Some(conv), Some(payload)) = (packet.get(HEADER_SIZE..12), packet.get(12..)) else {
            return Err(FecError::Truncated { len });
        };
        if usize::from(h.size) != len.saturating_sub(PREFIX) {
            return Err(FecError::BadSize { size: h.size, len });
        }
        let conv = u32::from_le_bytes(conv.try_into().unwrap_or_default());
        self.stats.oob = self.stats.oob.saturating_add(1);
        out(payload, Recovered::Oob { conv });
        Ok(())
    }

    /// Looks for the sender's counts; adopts them when found and different (dropping every
    /// set), and stops looking once found.
    fn retune(&mut self, seqid: u32) {
        let (Some(ds), Some(ps)) = (self.tune.find_period(true), self.tune.find_period(false))
        else {
            return;
        };
        if header::check_counts(ds, ps).is_err() || ds.saturating_add(ps) > self.tune_limit {
            // As in kcp-go, keep looking (and storing nothing) until the counts are usable.
            return;
        }
        if (ds, ps) != (self.data_shards, self.parity_shards) {
            if !self.tune.explains_all(ds, ps) {
                // Old and new counts still mix in the samples: wait until they age out.
                return;
            }
            let Ok(codec) = new_codec(ds, ps) else {
                return;
            };
            self.data_shards = ds;
            self.parity_shards = ps;
            self.total = ds.saturating_add(ps) as u32;
            self.paws = header::paws(self.total);
            self.codec = codec;
            self.reconstructions = 0;
            self.sets.clear();
            self.newest = seqid.checked_div(self.total);
            self.stats.retunes = self.stats.retunes.saturating_add(1);
        }
        self.should_tune = false;
    }

    /// Hands out a data shard's datagram, files the shard in its set, hands out what that
    /// completes, drops old sets.
    fn store(
        &mut self,
        seqid: u32,
        position: usize,
        is_data: bool,
        body: &[u8],
        out: &mut impl FnMut(&[u8], Recovered),
    ) {
        let id = seqid.checked_div(self.total).unwrap_or(0);
        let index = match self.sets.iter().position(|s| s.id == id) {
            Some(i) => i,
            None => {
                self.sets.push(ShardSet::new(id, self.total as usize));
                self.stats.shard_sets = self.stats.shard_sets.saturating_add(1);
                self.sets.len().saturating_sub(1)
            }
        };
        let Some(set) = self.sets.get_mut(index) else {
            return;
        };
        if is_data {
            out(body.get(2..).unwrap_or_default(), Recovered::No);
        }
        if set.seen.get(position).copied().unwrap_or(true) {
            // Only parity gets here: a data shard seen is a data shard handed out.
            self.stats.duplicates = self.stats.duplicates.saturating_add(1);
            return;
        }
        if let Some(seen) = set.seen.get_mut(position) {
            *seen = true;
        }
        if !is_data {
            self.stats.parity_received = self.stats.parity_received.saturating_add(1);
        }
        if !set.done {
            if let Some(slot) = set.bodies.get_mut(position) {
                *slot = Some(body.to_vec());
                set.held = set.held.saturating_add(1);
            }
        }
        let ready = !set.done && set.held >= self.data_shards;

        match self.newest {
            Some(n) if header::seq_diff(self.base(id), self.base(n)) <= 0 => {}
            _ => self.newest = Some(id),
        }
        if ready {
            self.decode_set(index, out);
        }
        self.discard_old();
    }

    /// First seqid of set `id`, the quantity kcp-go compares sets by.
    fn base(&self, id: u32) -> u32 {
        id.wrapping_mul(self.total)
    }

    /// Drops the sets more than [`MAX_SETS_BEHIND`] behind the newest (and, unlike kcp-go,
    /// any "ahead" of it, which only a seqid jump of about 2³¹ can leave behind): at most
    /// [`MAX_LIVE_SETS`] remain.
    fn discard_old(&mut self) {
        let Some(newest) = self.newest.map(|n| self.base(n)) else {
            return;
        };
        let window = i64::from(self.total).saturating_mul(i64::from(MAX_SETS_BEHIND));
        let total = self.total;
        self.sets.retain(|s| {
            let behind = i64::from(header::seq_diff(newest, s.id.wrapping_mul(total)));
            (0..=window).contains(&behind)
        });
    }

    /// Set `index` holds `data_shards` bodies: hands out the missing data shards, rebuilt.
    fn decode_set(&mut self, index: usize, out: &mut impl FnMut(&[u8], Recovered)) {
        let ds = self.data_shards;
        let Some(set) = self.sets.get_mut(index) else {
            return;
        };
        let mut shards = std::mem::take(&mut set.bodies);
        set.bodies = vec![None; shards.len()];
        set.held = 0;
        set.done = true;
        let data_held = shards.iter().take(ds).flatten().count();
        if data_held == ds {
            self.stats.full_shard_sets = self.stats.full_shard_sets.saturating_add(1);
            return;
        }

        // Zero-pad to the longest shard, as the sender did before computing parity.
        let longest = shards.iter().flatten().map(Vec::len).max().unwrap_or(0);
        for body in shards.iter_mut().flatten() {
            body.resize(longest, 0);
        }
        let cached = self
            .reconstructions
            .saturating_add(1)
            .saturating_mul(ds.saturating_mul(ds));
        if cached > MATRIX_CACHE_BUDGET {
            if let Ok(codec) = new_codec(ds, self.parity_shards) {
                self.codec = codec;
                self.reconstructions = 0;
            }
        }
        self.reconstructions = self.reconstructions.saturating_add(1);
        if self.codec.reconstruct_data(&mut shards).is_err() {
            self.stats.errors = self.stats.errors.saturating_add(1);
            return;
        }
        let Some(base) = self.sets.get(index).map(|s| self.base(s.id)) else {
            return;
        };
        for (position, shard) in shards.iter().take(ds).enumerate() {
            let seqid = base.wrapping_add(position as u32);
            if !self.handed_out.insert(seqid) {
                continue;
            }
            // The rebuilt `[size | payload | padding]`; a size that does not fit means the
            // parity was not made from these data shards (kcp-go drops those too).
            let datagram = shard.as_deref().and_then(|s| {
                let size = usize::from(u16::from_le_bytes([*s.first()?, *s.get(1)?]));
                s.get(2..size).filter(|_| size >= 2)
            });
            match datagram {
                Some(d) => {
                    self.stats.recovered = self.stats.recovered.saturating_add(1);
                    out(d, Recovered::Yes);
                }
                None => self.stats.errors = self.stats.errors.saturating_add(1),
            }
        }
    }
}

fn new_codec(data_shards: usize, parity_shards: usize) -> Result<ReedSolomon, FecError> {
    ReedSolomon::new(data_shards, parity_shards).map_err(|_| FecError::InvalidShardCounts {
        data_shards,
        parity_shards,
    })
}
