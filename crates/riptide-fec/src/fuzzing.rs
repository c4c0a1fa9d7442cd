//! Fuzz harness, shared by the `cargo fuzz` target in `fuzz/` and by the regression test
//! that replays `tests/regressions/decoder/*` through the same function. It takes the
//! fuzzer's raw bytes and panics when an invariant breaks.
//!
//! Not part of the API (hidden, behind the `fuzzing` feature).
// Harness code: the fuzzer's input is not a peer, and a panic is how a harness reports.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::collections::{HashSet, VecDeque};

use crate::{Decoder, Encoder, FecError, Recovered, MAX_LIVE_SETS, MAX_PACKET};

/// Packets of the well-behaved sender waiting to be delivered, at most this many (the oldest
/// is lost beyond), so reordering stays within the decoder's duplicate window.
const QUEUE: usize = 64;

/// A little reader over the fuzzer's bytes; reads past the end give zeros.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
}

/// `fuzz/fuzz_targets/decoder.rs`. Layout:
///
/// - byte 0: data shards − 1 (low 4 bits); byte 1: parity shards − 1 (low 3 bits), bit 3
///   raises the auto-tune limit to 256, bit 4 gives the sender other counts, from byte 2
///   (data − 1 in the low 4 bits, parity − 1 in the next 3): the decoder must auto-tune.
/// - then records, each a tag byte and its fields (all little-endian):
///   - `tag % 4 == 0`, raw packet: `len u16 | bytes`;
///   - `1`, a header built from boundary numbers: `seq u8 | type u8 | size u16 | body u16`;
///     `seq` 0 → 0, 1 → paws − 1, 2 → paws, 3 → 0xFFFFFFFF, 4 → paws − (ds+ps), else a
///     `u32` follows; `type` 0xF1 + `type % 4`; `size` 0..=3 → 0, 1, 2, 0xFFFF, else
///     `body + 2` (consistent); the body is `body % 1600` bytes of 0xA5;
///   - `2`, the well-behaved sender (an [`Encoder`]) sends a datagram of `len u16 % 1500`
///     bytes, `8 × (tag >> 2)` ms after the previous one;
///   - `3`, deliver its queued packet number `pick u8` (modulo the queue); tag bit 2 drops
///     it instead, bit 3 delivers it twice.
///
/// Checks: no panic; an error emits nothing and counts in `stats().errors`; a call emits at
/// most 1 + `data_shards` datagrams, none longer than a packet's body; the shard bodies
/// held stay within `MAX_LIVE_SETS × (data_shards − 1) × (MAX_PACKET − 6)`; and while only
/// the well-behaved sender has spoken, every datagram out is one it sent, and none twice.
pub fn decoder(data: &[u8]) {
    let mut input = Bytes(data);
    let ds = usize::from(input.u8() & 15) + 1;
    let flags = input.u8();
    let ps = usize::from(flags & 7) + 1;
    let mut dec = Decoder::new(ds, ps).unwrap();
    if flags & 8 != 0 {
        dec.set_auto_tune_limit(256);
    }
    let mut enc = if flags & 16 != 0 {
        let b = input.u8();
        Encoder::new(usize::from(b & 15) + 1, usize::from((b >> 4) & 7) + 1).unwrap()
    } else {
        Encoder::new(ds, ps).unwrap()
    };
    // With other counts than the sender's, the decoder decodes sets with the wrong geometry
    // until it notices (as kcp-go does), so what comes out is not checked against `sent`.
    let same_counts = flags & 16 == 0;
    let total = (ds + ps) as u32;
    let paws = u32::MAX / total * total;

    let mut queue: VecDeque<Vec<u8>> = VecDeque::new();
    let mut sent: HashSet<Vec<u8>> = HashSet::new();
    let mut out_seen: HashSet<Vec<u8>> = HashSet::new();
    let mut clean = same_counts;
    let mut datagrams = 0u32;
    let mut now = 0u64;

    let mut feed = |dec: &mut Decoder, packet: &[u8], clean: bool, sent: &HashSet<Vec<u8>>| {
        let before = dec.stats();
        let width = dec.data_shards().max(ds);
        let mut outs = Vec::new();
        let result = dec.decode(0, packet, &mut |d, how| outs.push((d.to_vec(), how)));
        let width = width.max(dec.data_shards());
        match result {
            Err(e) => {
                assert!(outs.is_empty(), "{e:?} with output");
                assert_eq!(dec.stats().errors, before.errors + 1);
                if let FecError::InvalidShardCounts { .. } = e {
                    panic!("decode cannot fail on counts");
                }
            }
            Ok(()) => assert!(outs.len() <= 1 + width, "{} out of one packet", outs.len()),
        }
        for (d, how) in &outs {
            assert!(d.len() <= MAX_PACKET - 8);
            if clean && !matches!(how, Recovered::Oob { .. }) {
                assert!(sent.contains(d), "a datagram nobody sent: {how:?}");
                assert!(out_seen.insert(d.clone()), "handed out twice: {how:?}");
            }
        }
        let bound = MAX_LIVE_SETS * dec.data_shards().saturating_sub(1) * (MAX_PACKET - 6);
        assert!(
            dec.buffered_bytes() <= bound,
            "{} bytes held, bound {bound}",
            dec.buffered_bytes()
        );
    };

    let mut records = 0;
    while !input.0.is_empty() && records < 4096 {
        records += 1;
        let tag = input.u8();
        match tag % 4 {
            0 => {
                let len = usize::from(input.u16());
                let packet = input.take(len).to_vec();
                clean = false;
                feed(&mut dec, &packet, clean, &sent);
            }
            1 => {
                let seq = match input.u8() {
                    0 => 0,
                    1 => paws - 1,
                    2 => paws,
                    3 => u32::MAX,
                    4 => paws - total,
                    _ => input.u32(),
                };
                let kind = 0xF1 + u16::from(input.u8() % 4);
                let size_sel = input.u16();
                let body = usize::from(input.u16()) % 1600;
                let size = match size_sel {
                    0 => 0,
                    1 => 1,
                    2 => 2,
                    3 => 0xFFFF,
                    _ => (body + 2) as u16,
                };
                let mut p = seq.to_le_bytes().to_vec();
                p.extend(kind.to_le_bytes());
                p.extend(size.to_le_bytes());
                p.resize(8 + body, 0xA5);
                clean = false;
                feed(&mut dec, &p, clean, &sent);
            }
            2 => {
                let len = usize::from(input.u16()) % 1500;
                // Distinct datagrams: a counter in front.
                let mut d = datagrams.to_le_bytes().to_vec();
                datagrams += 1;
                d.resize(len.max(4), (len % 251) as u8);
                now += u64::from(tag >> 2) * 8;
                if enc
                    .encode(now, &d, &mut |p| queue.push_back(p.to_vec()))
                    .is_ok()
                {
                    sent.insert(d);
                }
                while queue.len() > QUEUE {
                    queue.pop_front();
                }
            }
            _ => {
                let pick = usize::from(input.u8());
                if queue.is_empty() {
                    continue;
                }
                let p = queue.remove(pick % queue.len()).unwrap();
                if tag & 4 != 0 {
                    continue;
                }
                feed(&mut dec, &p, clean, &sent);
                if tag & 8 != 0 {
                    feed(&mut dec, &p, clean, &sent);
                }
            }
        }
    }
    let st = dec.stats();
    if clean && same_counts {
        assert_eq!(st.errors, 0);
        assert!(out_seen.len() <= sent.len());
    }
}
