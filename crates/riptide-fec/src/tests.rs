//! Unit tests of the framing, the validation and the decoder's set handling.

use crate::*;

fn encode_all(enc: &mut Encoder, now: u64, datagrams: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut wire = Vec::new();
    for d in datagrams {
        enc.encode(now, d, &mut |p| wire.push(p.to_vec())).unwrap();
    }
    wire
}

fn decode_all(dec: &mut Decoder, wire: &[Vec<u8>]) -> Vec<(Vec<u8>, Recovered)> {
    let mut got = Vec::new();
    for p in wire {
        dec.decode(0, p, &mut |d, how| got.push((d.to_vec(), how)))
            .unwrap();
    }
    got
}

/// Distinct datagrams of varied lengths.
fn datagrams(n: usize, salt: u8) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let len = 1 + (i * 37 + usize::from(salt)) % 300;
            let mut d = vec![salt, i as u8, (i >> 8) as u8];
            d.extend((0..len).map(|j| (i * 7 + j * 13) as u8));
            d
        })
        .collect()
}

fn seqid(p: &[u8]) -> u32 {
    u32::from_le_bytes(p[..4].try_into().unwrap())
}

fn kind(p: &[u8]) -> u16 {
    u16::from_le_bytes([p[4], p[5]])
}

#[test]
fn fec_packets_are_told_from_kcp() {
    for cmd in 81u8..=84 {
        for frg in 0..=255u8 {
            let mut kcp = [0u8; 24];
            kcp[4] = cmd;
            kcp[5] = frg;
            assert!(!is_fec_packet(&kcp));
        }
    }
    for t in [TYPE_DATA, TYPE_PARITY, TYPE_OOB] {
        let mut p = [0u8; 8];
        p[4..6].copy_from_slice(&t.to_le_bytes());
        assert!(is_fec_packet(&p));
        assert!(is_fec_packet(&p[..6]));
        assert!(!is_fec_packet(&p[..5]));
    }
    assert!(!is_fec_packet(&[0, 0, 0, 0, 0xf0, 0]));
    assert!(!is_fec_packet(&[0, 0, 0, 0, 0xf4, 0]));
    assert!(!is_fec_packet(&[0, 0, 0, 0, 0xf1, 1]));
}

#[test]
fn shard_counts_are_validated() {
    for (ds, ps) in [(0, 1), (1, 0), (0, 0), (200, 57), (256, 1), (usize::MAX, 2)] {
        let e = FecError::InvalidShardCounts {
            data_shards: ds,
            parity_shards: ps,
        };
        assert_eq!(Encoder::new(ds, ps).err(), Some(e));
        assert_eq!(Decoder::new(ds, ps).err(), Some(e));
    }
    for (ds, ps) in [(1, 1), (1, 255), (2, 254), (32, 32), (10, 3)] {
        assert!(Encoder::new(ds, ps).is_ok());
        assert!(Decoder::new(ds, ps).is_ok());
    }
}

#[test]
fn data_and_parity_framing() {
    let mut enc = Encoder::new(3, 2).unwrap();
    assert_eq!(enc.overhead(), HEADER_SIZE);
    let d = [vec![1u8; 10], vec![2u8; 30], vec![]];
    let wire = encode_all(&mut enc, 0, &d);
    assert_eq!(wire.len(), 5);
    for (i, p) in wire.iter().enumerate() {
        assert_eq!(seqid(p), i as u32);
    }
    for (p, d) in wire.iter().zip(&d) {
        assert_eq!(kind(p), TYPE_DATA);
        assert_eq!(u16::from_le_bytes([p[6], p[7]]) as usize, d.len() + 2);
        assert_eq!(&p[8..], &d[..]);
    }
    for p in &wire[3..] {
        assert_eq!(kind(p), TYPE_PARITY);
        assert_eq!(p.len(), 8 + 30, "as long as the longest data shard");
    }
    assert_eq!(enc.next_seqid(), 5);
    let st = enc.stats();
    assert_eq!((st.data_shards, st.parity_sent), (3, 2));
}

#[test]
fn sizes_at_the_limit() {
    let mut enc = Encoder::new(2, 1).unwrap();
    let mut n = 0;
    enc.encode(0, &[0; MAX_PACKET - HEADER_SIZE], &mut |_| n += 1)
        .unwrap();
    assert_eq!(
        enc.encode(0, &[0; MAX_PACKET - HEADER_SIZE + 1], &mut |_| n += 1),
        Err(FecError::TooLong {
            len: MAX_PACKET + 1,
            max: MAX_PACKET
        })
    );
    assert_eq!(n, 1);
    assert_eq!(enc.next_seqid(), 1, "a refused datagram uses no seqid");
    assert!(enc
        .encode_oob(7, &[0; MAX_PACKET - 12], &mut |_| ())
        .is_ok());
    assert!(enc
        .encode_oob(7, &[0; MAX_PACKET - 11], &mut |_| ())
        .is_err());
    assert_eq!(enc.stats().errors, 2);
}

#[test]
fn paws_wrap() {
    // 0xFFFFFFFF / 13 * 13: the last set ends at paws - 1, the next starts at 0.
    let paws = 4_294_967_287u32;
    let mut enc = Encoder::new(10, 3).unwrap();
    enc.set_next_seqid(paws - 13 + 4);
    assert_eq!(enc.next_seqid(), paws - 13, "aligned to its set");
    let d = datagrams(20, 1);
    let wire = encode_all(&mut enc, 0, &d);
    let ids: Vec<u32> = wire.iter().map(|p| seqid(p)).collect();
    assert_eq!(ids[0], paws - 13);
    assert_eq!(ids[12], paws - 1);
    assert_eq!(ids[13], 0);
    assert_eq!(enc.next_seqid(), 13);

    // Recovery on both sides of the wrap.
    let lost = [1usize, 5, 7, 14, 20, 22];
    let kept: Vec<Vec<u8>> = wire
        .iter()
        .enumerate()
        .filter(|(i, _)| !lost.contains(i))
        .map(|(_, p)| p.clone())
        .collect();
    let mut dec = Decoder::new(10, 3).unwrap();
    let mut got: Vec<Vec<u8>> = decode_all(&mut dec, &kept)
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    got.sort();
    let mut want = d[..20].to_vec();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(dec.stats().recovered, 6);
}

#[test]
fn parity_is_skipped_after_a_pause_before_a_sets_last_shard() {
    let d = datagrams(9, 2);
    let run = |times: [u64; 9]| {
        let mut enc = Encoder::new(3, 2).unwrap();
        let mut per = Vec::new();
        let mut ids = Vec::new();
        for (t, d) in times.iter().zip(&d) {
            let mut n = 0;
            enc.encode(*t, d, &mut |p| {
                n += 1;
                ids.push(seqid(p));
            })
            .unwrap();
            per.push(n);
        }
        (per, ids, enc.stats().parity_skipped_sets)
    };
    // 499 ms before the last shard: parity.
    let (per, _, skipped) = run([0, 0, 499, 499, 499, 499, 499, 499, 499]);
    assert_eq!(per, [1, 1, 3, 1, 1, 3, 1, 1, 3]);
    assert_eq!(skipped, 0);
    // 500 ms before the second set's last shard: none for that set, its seqids skipped.
    // A pause before the third set's first shard changes nothing.
    let (per, ids, skipped) = run([0, 0, 0, 0, 0, 500, 1000, 1000, 1000]);
    assert_eq!(per, [1, 1, 3, 1, 1, 1, 1, 1, 3]);
    assert_eq!(&ids[7..], [7, 10, 11, 12, 13, 14]);
    assert_eq!(skipped, 1);
    // A pause inside the set but not before its last shard: parity.
    let (per, _, _) = run([0, 5000, 5000, 5000, 9000, 9000, 9000, 9000, 9000]);
    assert_eq!(per, [1, 1, 3, 1, 1, 3, 1, 1, 3]);

    // One data shard per set: the very first has no predecessor, so no parity.
    let mut enc = Encoder::new(1, 2).unwrap();
    let wire = encode_all(&mut enc, 10_000, &d[..3]);
    let ids: Vec<u32> = wire.iter().map(|p| seqid(p)).collect();
    assert_eq!(ids, [0, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn oob_round_trip() {
    let mut enc = Encoder::new(10, 3).unwrap();
    let mut wire = Vec::new();
    enc.encode_oob(0xdead_beef, b"ping", &mut |p| wire.push(p.to_vec()))
        .unwrap();
    assert_eq!(
        wire[0],
        [0xff, 0xff, 0xff, 0xff, 0xf3, 0, 10, 0, 0xef, 0xbe, 0xad, 0xde, b'p', b'i', b'n', b'g']
    );
    let mut dec = Decoder::new(1, 1).unwrap();
    let got = decode_all(&mut dec, &wire);
    assert_eq!(
        got,
        [(b"ping".to_vec(), Recovered::Oob { conv: 0xdead_beef })]
    );
    assert_eq!(dec.stats().oob, 1);
}

#[test]
fn malformed_packets_are_refused() {
    let data = |seq: u32, size: u16, body: usize| {
        let mut p = seq.to_le_bytes().to_vec();
        p.extend(TYPE_DATA.to_le_bytes());
        p.extend(size.to_le_bytes());
        p.resize(8 + body, 0xaa);
        p
    };
    let oob = |seq: u32, size: u16, body: usize| {
        let mut p = data(seq, size, body);
        p[4] = 0xf3;
        p
    };
    let cases: Vec<(Vec<u8>, FecError)> = vec![
        (vec![], FecError::Truncated { len: 0 }),
        (data(0, 2, 0)[..7].to_vec(), FecError::Truncated { len: 7 }),
        (data(0, 0, 0), FecError::BadSize { size: 0, len: 8 }),
        (data(0, 1, 0), FecError::BadSize { size: 1, len: 8 }),
        (data(0, 3, 0), FecError::BadSize { size: 3, len: 8 }),
        (
            data(0, 0xffff, 4),
            FecError::BadSize {
                size: 0xffff,
                len: 12,
            },
        ),
        (data(0, 2, 4), FecError::BadSize { size: 2, len: 12 }),
        (data(u32::MAX, 6, 4), FecError::BadSeqid(u32::MAX)),
        (
            {
                let mut p = data(0, 6, 4);
                p[4] = 0xf4;
                p
            },
            FecError::UnknownType(0xf4),
        ),
        (oob(0, 6, 4), FecError::BadSeqid(0)),
        (oob(u32::MAX, 2, 0), FecError::Truncated { len: 8 }),
        (oob(u32::MAX, 5, 4), FecError::BadSize { size: 5, len: 12 }),
        (
            data(0, 1494, 1494),
            FecError::TooLong {
                len: 1502,
                max: MAX_PACKET,
            },
        ),
    ];
    let mut dec = Decoder::new(2, 1).unwrap();
    for (i, (p, e)) in cases.iter().enumerate() {
        let r = dec.decode(0, p, &mut |_, _| panic!("output from case {i}"));
        assert_eq!(r, Err(*e), "case {i}");
    }
    let st = dec.stats();
    assert_eq!(st.errors, cases.len() as u64);
    assert_eq!((st.shard_sets, st.data_shards), (0, 0));
    // The boundaries that are fine: an empty datagram, an empty OOB payload.
    let mut n = 0;
    dec.decode(0, &data(0, 2, 0), &mut |d, _| {
        assert!(d.is_empty());
        n += 1
    })
    .unwrap();
    dec.decode(0, &oob(u32::MAX, 6, 4), &mut |_, _| n += 1)
        .unwrap();
    assert_eq!(n, 2);
}

#[test]
fn too_many_losses_emit_nothing_rebuilt() {
    let mut enc = Encoder::new(4, 2).unwrap();
    let d = datagrams(4, 3);
    let wire = encode_all(&mut enc, 0, &d);
    // Three lost of six: only the three that arrived come out.
    let kept = [wire[0].clone(), wire[4].clone(), wire[5].clone()];
    let mut dec = Decoder::new(4, 2).unwrap();
    let got = decode_all(&mut dec, &kept);
    assert_eq!(got, [(d[0].clone(), Recovered::No)]);
    assert_eq!(dec.stats().recovered, 0);
    let body = |p: &Vec<u8>| p.len() - 6;
    assert_eq!(dec.buffered_bytes(), body(&wire[0]) + 2 * body(&wire[4]));
}

#[test]
fn every_datagram_comes_out_once() {
    // 2/3: kcp-go decodes such a set again when parity keeps coming after it was decoded,
    // and passes a data shard on again after its rebuilt copy; we do neither.
    let mut enc = Encoder::new(2, 3).unwrap();
    let d = datagrams(2, 4);
    let wire = encode_all(&mut enc, 0, &d);
    let mut dec = Decoder::new(2, 3).unwrap();
    let got = decode_all(&mut dec, &wire);
    assert_eq!(
        got,
        [(d[0].clone(), Recovered::No), (d[1].clone(), Recovered::No)]
    );
    // Parity first, then the data: rebuilt once, the late originals dropped.
    let mut dec = Decoder::new(2, 3).unwrap();
    let late = [&wire[2], &wire[3], &wire[0], &wire[1], &wire[4], &wire[0]].map(|p| p.clone());
    let got = decode_all(&mut dec, &late);
    assert_eq!(
        got,
        [
            (d[0].clone(), Recovered::Yes),
            (d[1].clone(), Recovered::Yes)
        ]
    );
    assert_eq!(dec.stats().duplicates, 3);
    assert_eq!(dec.buffered_bytes(), 0);
}

#[test]
fn duplicates_of_a_waiting_shard() {
    let mut enc = Encoder::new(3, 1).unwrap();
    let d = datagrams(3, 5);
    let wire = encode_all(&mut enc, 0, &d);
    let mut dec = Decoder::new(3, 1).unwrap();
    let again = [&wire[0], &wire[0], &wire[3], &wire[3], &wire[2]].map(|p| p.clone());
    let got = decode_all(&mut dec, &again);
    assert_eq!(
        got,
        [
            (d[0].clone(), Recovered::No),
            (d[2].clone(), Recovered::No),
            (d[1].clone(), Recovered::Yes)
        ]
    );
    assert_eq!(dec.stats().duplicates, 2);
}

#[test]
fn old_sets_are_dropped() {
    let mut enc = Encoder::new(2, 1).unwrap();
    let d = datagrams(12, 6);
    let wire = encode_all(&mut enc, 0, &d); // 6 sets of 3
    let mut dec = Decoder::new(2, 1).unwrap();
    // Sets 0 and 1 get one data shard each; then set 4 arrives whole.
    let first = [&wire[0], &wire[3], &wire[12], &wire[13], &wire[14]].map(|p| p.clone());
    decode_all(&mut dec, &first);
    assert!(dec.buffered_bytes() > 0);
    // Set 0 is 4 behind set 4: dropped; its parity alone rebuilds nothing (and opens a
    // set that is dropped at once). Set 1 is 3 behind: still live, its parity rebuilds.
    let got = decode_all(&mut dec, &[wire[2].clone(), wire[5].clone()]);
    assert_eq!(got, [(d[3].clone(), Recovered::Yes)]);
    assert_eq!(dec.buffered_bytes(), 0);
}

#[test]
fn a_data_shard_beyond_paws_passes_through() {
    // 3/2 sets: paws = 0xFFFFFFFF / 5 * 5 = 0xFFFFFFFF, nothing beyond. 10/3: paws ends 8
    // short of 0xFFFFFFFF.
    let mut p = (u32::MAX - 3).to_le_bytes().to_vec();
    p.extend(TYPE_DATA.to_le_bytes());
    p.extend(5u16.to_le_bytes());
    p.extend(b"abc");
    let mut dec = Decoder::new(10, 3).unwrap();
    let got = decode_all(&mut dec, &[p.clone(), p]);
    assert_eq!(got, [(b"abc".to_vec(), Recovered::No)]);
    assert_eq!(dec.stats().shard_sets, 0, "not filed");
    assert_eq!(dec.stats().duplicates, 1);
}

#[test]
fn auto_tune_follows_the_sender() {
    let mut dec = Decoder::new(10, 3).unwrap();
    // The sender uses 3/2, then switches to 5/1 without restarting its seqids (a kcp-go
    // sender cannot change counts mid-session; a restart of the seqids is a new session,
    // and needs a new decoder). Losses only once the decoder has had time to learn each.
    let mut next = 0u32;
    for (phase, (ds, ps, n)) in [(3usize, 2usize, 150usize), (5, 1, 400)]
        .into_iter()
        .enumerate()
    {
        let total = (ds + ps) as u32;
        let mut enc = Encoder::new(ds, ps).unwrap();
        enc.set_next_seqid(next.div_ceil(total) * total);
        let d = datagrams(n, phase as u8 + 10);
        let wire = encode_all(&mut enc, 0, &d);
        next = enc.next_seqid();
        let lossy_from = wire.len() - 60;
        let kept: Vec<Vec<u8>> = wire
            .iter()
            .enumerate()
            .filter(|(i, p)| *i < lossy_from || seqid(p) % total != 1)
            .map(|(_, p)| p.clone())
            .collect();
        let got = decode_all(&mut dec, &kept);
        assert_eq!(
            (dec.data_shards(), dec.parity_shards()),
            (ds, ps),
            "phase {phase}"
        );
        let mut outs: Vec<Vec<u8>> = got.iter().map(|(d, _)| d.clone()).collect();
        outs.sort();
        let mut want = d.clone();
        want.sort();
        assert_eq!(outs, want, "phase {phase}: every datagram, once");
    }
    let st = dec.stats();
    assert_eq!(st.retunes, 2);
    assert!(st.recovered >= 20);
}

#[test]
fn auto_tune_stops_at_its_limit() {
    let mut enc = Encoder::new(40, 30).unwrap();
    let d = datagrams(400, 20);
    let wire = encode_all(&mut enc, 0, &d);
    let mut dec = Decoder::new(10, 3).unwrap();
    let got = decode_all(&mut dec, &wire);
    // 70 shards per set is over the default limit of 64: no switch, no recovery; every data
    // shard still passes.
    assert_eq!((dec.data_shards(), dec.parity_shards()), (10, 3));
    assert_eq!(got.len(), 400);
    assert_eq!(dec.buffered_bytes(), 0);

    let mut dec = Decoder::new(10, 3).unwrap();
    dec.set_auto_tune_limit(256);
    decode_all(&mut dec, &wire);
    assert_eq!((dec.data_shards(), dec.parity_shards()), (40, 30));
}
