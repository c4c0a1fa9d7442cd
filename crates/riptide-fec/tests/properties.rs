//! Properties of an encoder and a decoder talking through a bad link, over proptest-chosen
//! shard counts, datagram lengths, losses, duplicates and reordering:
//!
//! 1. up to `ps` lost shards per set: every datagram comes out, byte-exact, exactly once;
//! 2. any losses: what comes out is only ever a datagram that was sent, at most once, and
//!    every data shard that arrived comes out;
//! 3. the same across the seqid wrap at `paws`;
//! 4. a decoder configured with other counts than the sender's tunes to them and then
//!    recovers as in 1 (strictly checked only after the switch: see the test).

use std::collections::HashMap;

use proptest::prelude::*;
use riptide_fec::{Decoder, Encoder, Recovered};

/// A distinct datagram: its index in front, then `len` filler bytes.
fn datagram(i: usize, len: usize, salt: u8) -> Vec<u8> {
    let mut d = (i as u32).to_le_bytes().to_vec();
    d.extend((0..len).map(|j| (j as u8).wrapping_mul(31) ^ salt));
    d
}

/// The datagrams sent and their packets, grouped by set (the first set of a 1-data-shard
/// encoder has no parity: see `Encoder::encode`).
fn encode_sets(enc: &mut Encoder, lens: &[usize], salt: u8) -> (Vec<Vec<u8>>, Vec<Vec<Vec<u8>>>) {
    let per = (enc.data_shards() + enc.parity_shards()) as u32;
    let sent: Vec<Vec<u8>> = lens
        .iter()
        .enumerate()
        .map(|(i, &l)| datagram(i, l, salt))
        .collect();
    let mut wire = Vec::new();
    for d in &sent {
        enc.encode(0, d, &mut |p| wire.push(p.to_vec())).unwrap();
    }
    let mut sets: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut last = None;
    for p in wire {
        let set = u32::from_le_bytes(p[..4].try_into().unwrap()) / per;
        if last != Some(set) {
            sets.push(Vec::new());
            last = Some(set);
        }
        sets.last_mut().unwrap().push(p);
    }
    (sent, sets)
}

/// Feeds packets, checks that only sent datagrams come out and none twice; returns them.
fn receive(
    dec: &mut Decoder,
    packets: &[Vec<u8>],
    sent: &[Vec<u8>],
) -> HashMap<Vec<u8>, Recovered> {
    let mut got = HashMap::new();
    for p in packets {
        dec.decode(0, p, &mut |d, how| {
            assert!(sent.iter().any(|s| s == d), "garbage out: {d:02x?}");
            assert!(got.insert(d.to_vec(), how).is_none(), "twice: {d:02x?}");
        })
        .unwrap();
        assert!(
            dec.buffered_bytes() <= 4 * dec.data_shards().saturating_sub(1) * 1494,
            "buffered {} bytes",
            dec.buffered_bytes()
        );
    }
    got
}

/// Shard counts and `sets` sets of datagram lengths (some empty, some a full MTU).
fn scenario() -> impl Strategy<Value = (usize, usize, Vec<usize>)> {
    (1usize..=12, 1usize..=6, 1usize..=6).prop_flat_map(|(ds, ps, sets)| {
        let len = prop_oneof![4 => 0usize..300, 1 => Just(0usize), 1 => Just(1388usize)];
        (Just(ds), Just(ps), prop::collection::vec(len, ds * sets))
    })
}

/// Per packet: kept or lost, duplicated or not; per set: a rotation of its packets.
fn fate(n: usize) -> impl Strategy<Value = (Vec<u8>, Vec<bool>, Vec<usize>)> {
    (
        prop::collection::vec(any::<u8>(), n),
        prop::collection::vec(any::<bool>(), n),
        prop::collection::vec(0usize..64, n),
    )
}

/// Applies losses (at most `max_lost` per set, chosen by `pick`), duplicates (a copy
/// delivered right after the original) and a rotation inside each set, plus swapping
/// neighbouring sets when `swap` says so.
fn link(
    sets: &[Vec<Vec<u8>>],
    max_lost: usize,
    pick: &[u8],
    dup: &[bool],
    rot: &[usize],
) -> (Vec<Vec<u8>>, usize) {
    let mut out: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut lost_data = 0;
    let mut k = 0;
    for (s, set) in sets.iter().enumerate() {
        let ds = set.iter().filter(|p| p[4] == 0xf1).count();
        // A set without parity loses nothing: "up to ps lost" is about sets with parity.
        let max_lost = if ds == set.len() { 0 } else { max_lost };
        // Lose the packets whose pick is lowest, up to max_lost of them.
        let mut order: Vec<usize> = (0..set.len()).collect();
        order.sort_by_key(|&i| (pick[k + i], i));
        let lose: Vec<usize> = order
            .into_iter()
            .take(max_lost)
            .filter(|&i| pick[k + i] < 128)
            .collect();
        lost_data += lose.iter().filter(|&&i| i < ds).count();
        let mut kept: Vec<Vec<u8>> = Vec::new();
        for (i, p) in set.iter().enumerate() {
            if !lose.contains(&i) {
                kept.push(p.clone());
                if dup[k + i] {
                    kept.push(p.clone());
                }
            }
        }
        if !kept.is_empty() {
            let r = rot[s % rot.len()] % kept.len();
            kept.rotate_left(r);
        }
        out.push(kept);
        k += set.len();
    }
    // Swap neighbouring sets (reordering across sets stays within the live window).
    for s in (1..out.len()).step_by(2) {
        if rot[s % rot.len()].is_multiple_of(2) {
            out.swap(s - 1, s);
        }
    }
    (out.concat(), lost_data)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn recoverable_losses_are_recovered(
        (ds, ps, lens) in scenario(),
        (pick, dup, rot) in fate(6 * 18),
        salt in any::<u8>(),
    ) {
        let mut enc = Encoder::new(ds, ps).unwrap();
        let (sent, sets) = encode_sets(&mut enc, &lens, salt);
        let (packets, lost_data) = link(&sets, ps, &pick, &dup, &rot);
        let mut dec = Decoder::new(ds, ps).unwrap();
        let got = receive(&mut dec, &packets, &sent);
        prop_assert_eq!(got.len(), sent.len(), "every datagram");
        // Rebuilt: every lost data shard, and any whose set was complete before it arrived.
        let rebuilt = got.values().filter(|h| **h == Recovered::Yes).count();
        prop_assert!(rebuilt >= lost_data);
        prop_assert_eq!(dec.stats().recovered, rebuilt as u64);
        prop_assert_eq!(dec.stats().errors, 0);
        prop_assert_eq!(dec.buffered_bytes(), 0, "every set decoded and emptied");
    }

    #[test]
    fn any_losses_emit_no_garbage(
        (ds, ps, lens) in scenario(),
        (pick, dup, rot) in fate(6 * 18),
        extra in 1usize..=6,
    ) {
        let mut enc = Encoder::new(ds, ps).unwrap();
        let (sent, sets) = encode_sets(&mut enc, &lens, 7);
        let (packets, _) = link(&sets, ps + extra, &pick, &dup, &rot);
        let mut dec = Decoder::new(ds, ps).unwrap();
        let got = receive(&mut dec, &packets, &sent);
        for p in &packets {
            if p[4] == 0xf1 {
                prop_assert!(got.contains_key(&p[8..]), "an arrived data shard is handed out");
            }
        }
    }

    #[test]
    fn across_the_wrap(
        (ds, ps, lens) in scenario(),
        (pick, dup, rot) in fate(6 * 18),
        before in 0u32..4,
    ) {
        let mut enc = Encoder::new(ds, ps).unwrap();
        let total = (ds + ps) as u32;
        let paws = u32::MAX / total * total;
        enc.set_next_seqid(paws - before * total);
        let (sent, sets) = encode_sets(&mut enc, &lens, 9);
        let (packets, _) = link(&sets, ps, &pick, &dup, &rot);
        let mut dec = Decoder::new(ds, ps).unwrap();
        let got = receive(&mut dec, &packets, &sent);
        prop_assert_eq!(got.len(), sent.len());
    }

    #[test]
    fn auto_tune_then_recover(
        (ds, ps) in (1usize..=12, 1usize..=6),
        (cds, cps) in (1usize..=12, 1usize..=6),
        (pick, dup, rot) in fate(10 * 18),
    ) {
        let mut enc = Encoder::new(ds, ps).unwrap();
        // Enough clean sets to see a whole data run and a whole parity run, then 10 lossy
        // ones.
        let warm = 258 / (ds + ps) + 2;
        let lens: Vec<usize> = (0..(warm + 10) * ds).map(|i| i % 97).collect();
        let (sent, sets) = encode_sets(&mut enc, &lens, 11);
        let (lossy, _) = link(&sets[warm..], ps, &pick, &dup, &rot);
        let packets: Vec<Vec<u8>> = sets[..warm].concat().into_iter().chain(lossy).collect();
        let mut dec = Decoder::new(cds, cps).unwrap();
        // Until a shard's type contradicts the configured counts, sets are decoded with
        // them, as kcp-go does: with the wrong counts that can yield datagrams nobody sent
        // (KCP's checks reject them). So only the part after the switch is checked strictly.
        let mut early = 0;
        let mut got = HashMap::new();
        for p in &packets {
            let tuned = dec.stats().retunes > 0 || (cds, cps) == (ds, ps);
            dec.decode(0, p, &mut |d, how| {
                if !tuned {
                    early += 1;
                    return;
                }
                assert!(sent.iter().any(|s| s == d), "garbage out: {d:02x?}");
                assert!(got.insert(d.to_vec(), how).is_none(), "twice: {d:02x?}");
            })
            .unwrap();
        }
        prop_assert_eq!((dec.data_shards(), dec.parity_shards()), (ds, ps));
        prop_assert!(dec.stats().retunes <= 1);
        // Everything from the lossy sets came out, after the switch.
        for d in &sent[warm * ds..] {
            prop_assert!(got.contains_key(d), "missing {:02x?} ({} early)", d, early);
        }
    }
}
