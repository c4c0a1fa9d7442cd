//! Byte-for-byte interop with kcp-go v5.7.6: `golden/vectors.txt` was written by
//! `golden/main.go`, which drives kcp-go's own (unexported) `fecEncoder` and `fecDecoder`.
//! The format and how to regenerate it are in that file's doc comment.
//!
//! - Encoder: the same datagrams at the same gaps give the same packets, parity included.
//! - OOB: the same framing, and the decoder reads it back.
//! - Decoder: fed the same lossy, reordered packets (some to a decoder configured with other
//!   counts, which must auto-tune), it hands out what a kcp-go session feeds its KCP: each
//!   data shard's datagram and what kcp-go's decoder rebuilt, in the same order, except the
//!   copies kcp-go passes on twice (we hand out each datagram once).

use std::collections::HashSet;

use riptide_fec::{Decoder, Encoder, Recovered, HEADER_SIZE, TYPE_DATA};

const VECTORS: &str = include_str!("golden/vectors.txt");

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    assert!(s.len().is_multiple_of(2), "odd hex");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[derive(Debug)]
enum Block {
    Enc {
        ds: usize,
        ps: usize,
        steps: Vec<(u64, Vec<u8>, Vec<Vec<u8>>)>,
    },
    Dec {
        ds: usize,
        ps: usize,
        steps: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    },
    Oob {
        conv: u32,
        payload: Vec<u8>,
        packet: Vec<u8>,
    },
}

fn parse() -> Vec<Block> {
    let mut blocks = Vec::new();
    for line in VECTORS.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let counts = || (f[1].parse().unwrap(), f[2].parse().unwrap());
        match f[0] {
            "enc" => {
                let (ds, ps) = counts();
                blocks.push(Block::Enc {
                    ds,
                    ps,
                    steps: Vec::new(),
                });
            }
            "dec" => {
                let (ds, ps) = counts();
                blocks.push(Block::Dec {
                    ds,
                    ps,
                    steps: Vec::new(),
                });
            }
            "oob" => blocks.push(Block::Oob {
                conv: f[1].parse().unwrap(),
                payload: unhex(f[2]),
                packet: unhex(f[3]),
            }),
            "in" => match blocks.last_mut() {
                Some(Block::Enc { steps, .. }) => {
                    steps.push((f[1].parse().unwrap(), unhex(f[2]), Vec::new()))
                }
                _ => panic!("'in' outside 'enc'"),
            },
            "out" => match blocks.last_mut() {
                Some(Block::Enc { steps, .. }) => steps.last_mut().unwrap().2.push(unhex(f[1])),
                _ => panic!("'out' outside 'enc'"),
            },
            "pkt" => match blocks.last_mut() {
                Some(Block::Dec { steps, .. }) => steps.push((unhex(f[1]), Vec::new())),
                _ => panic!("'pkt' outside 'dec'"),
            },
            "rec" => match blocks.last_mut() {
                Some(Block::Dec { steps, .. }) => steps.last_mut().unwrap().1.push(unhex(f[1])),
                _ => panic!("'rec' outside 'dec'"),
            },
            other => panic!("unknown record {other:?}"),
        }
    }
    blocks
}

#[test]
fn encoder_matches_kcp_go() {
    let mut tested = 0;
    for block in parse() {
        let Block::Enc { ds, ps, steps } = block else {
            continue;
        };
        let mut enc = Encoder::new(ds, ps).unwrap();
        let mut now = 1_000_000u64;
        let mut parity = 0;
        for (i, (gap, datagram, expected)) in steps.iter().enumerate() {
            now += gap;
            let mut got = Vec::new();
            enc.encode(now, datagram, &mut |p| got.push(p.to_vec()))
                .unwrap();
            assert_eq!(&got, expected, "{ds}/{ps}: datagram {i}");
            parity += expected.len() - 1;
            tested += 1;
        }
        assert_eq!(enc.stats().parity_sent, parity as u64);
    }
    assert!(tested > 100, "only {tested} datagrams in the vectors");
}

#[test]
fn the_pause_vector_skips_parity_once() {
    // The last encoder block has a 600 ms pause before a set's last data shard: that set
    // has no parity, and the pause before the next set's first shard changes nothing.
    let blocks = parse();
    let Some(Block::Enc { ds, ps, steps }) =
        blocks.iter().rfind(|b| matches!(b, Block::Enc { .. }))
    else {
        panic!("no encoder block");
    };
    assert_eq!((*ds, *ps), (3, 2));
    let outs: Vec<usize> = steps.iter().map(|s| s.2.len()).collect();
    assert_eq!(outs, [1, 1, 3, 1, 1, 1, 1, 1, 3]);
    // Seqids skipped with the parity: the third set starts at 10.
    assert_eq!(&steps[6].2[0][..4], &10u32.to_le_bytes());
}

#[test]
fn oob_matches_kcp_go() {
    let mut tested = 0;
    for block in parse() {
        let Block::Oob {
            conv,
            payload,
            packet,
        } = block
        else {
            continue;
        };
        let mut enc = Encoder::new(10, 3).unwrap();
        let mut got = Vec::new();
        enc.encode_oob(conv, &payload, &mut |p| got.push(p.to_vec()))
            .unwrap();
        assert_eq!(got, std::slice::from_ref(&packet));
        assert_eq!(enc.next_seqid(), 0, "OOB uses no seqid");

        let mut dec = Decoder::new(10, 3).unwrap();
        let mut read = Vec::new();
        dec.decode(0, &packet, &mut |d, how| read.push((d.to_vec(), how)))
            .unwrap();
        assert_eq!(read, [(payload, Recovered::Oob { conv })]);
        tested += 1;
    }
    assert_eq!(tested, 3);
}

#[test]
fn decoder_matches_kcp_go() {
    let mut blocks = 0;
    let mut recovered = 0;
    let mut retuned = 0;
    for block in parse() {
        let Block::Dec { ds, ps, steps } = block else {
            continue;
        };
        let mut dec = Decoder::new(ds, ps).unwrap();
        // Datagrams are distinct in the vectors, so "already handed out" is by content.
        let mut handed_out: HashSet<Vec<u8>> = HashSet::new();
        for (i, (packet, rebuilt)) in steps.iter().enumerate() {
            // What a kcp-go session feeds its KCP, less the repeats.
            let mut expected = Vec::new();
            if u16::from_le_bytes([packet[4], packet[5]]) == TYPE_DATA {
                expected.push((packet[HEADER_SIZE..].to_vec(), Recovered::No));
            }
            expected.extend(rebuilt.iter().map(|r| (r.clone(), Recovered::Yes)));
            expected.retain(|(d, _)| handed_out.insert(d.clone()));

            let mut got = Vec::new();
            dec.decode(0, packet, &mut |d, how| got.push((d.to_vec(), how)))
                .unwrap();
            assert_eq!(got, expected, "dec {ds}/{ps}: packet {i}");
        }
        let st = dec.stats();
        recovered += st.recovered;
        retuned += st.retunes;
        blocks += 1;
    }
    assert_eq!(blocks, 7);
    assert!(
        recovered >= 25,
        "the vectors exercise recovery ({recovered})"
    );
    assert_eq!(retuned, 2, "both mis-configured decoders tuned to 10/3");
}
