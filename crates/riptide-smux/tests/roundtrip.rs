//! Two sessions wired back to back through a transport that delivers random-sized pieces:
//! many streams each way, random sizes and read sizes, v1 and v2, default and small buffers.
//! Every stream arrives byte-exact and ends at the FIN; neither side ever sees a window
//! violation (each sender keeps to the other's windows) and both stay inside their bounds.

use std::time::Instant;

use proptest::prelude::*;
use riptide_smux::{Config, Role, Session, SnappyDecoder, SnappyEncoder};

/// One direction of one stream.
#[derive(Debug, Default)]
struct Flow {
    sent: Vec<u8>,
    offset: usize,
    got: Vec<u8>,
    eof: bool,
}

struct End {
    session: Session,
    /// Per stream (in open order): what this side sends and what it received.
    flows: Vec<(u32, Flow)>,
    /// Bytes from the other side not yet consumed.
    inbox: Vec<u8>,
}

impl End {
    fn step(&mut self, read_size: usize, now: Instant) {
        while let Some(sid) = self.session.accept() {
            self.flows.push((sid, Flow::default()));
        }
        let mut buf = vec![0u8; read_size];
        for (sid, f) in &mut self.flows {
            if f.offset < f.sent.len() {
                f.offset += self.session.write(*sid, &f.sent[f.offset..]).unwrap();
                if f.offset == f.sent.len() {
                    self.session.close_write(*sid).unwrap();
                }
            }
            if !f.eof {
                match self.session.read(*sid, &mut buf).unwrap() {
                    Some(0) => f.eof = true,
                    Some(n) => f.got.extend_from_slice(&buf[..n]),
                    None => {}
                }
            }
        }
        let used = self.session.receive(&self.inbox, now).unwrap();
        self.inbox.drain(..used);
        let config = self.session.config();
        assert!(self.session.buffered() <= config.max_receive_buffer + 65_535);
    }
}

fn data(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ seed.wrapping_mul(97)) as u8)
        .collect()
}

fn run(
    version: u8,
    small: bool,
    sizes: &[(usize, usize)],
    cuts: &[usize],
    read_size: usize,
    snappy: bool,
) {
    let now = Instant::now();
    let config = Config {
        version,
        max_frame_size: if small { 1000 } else { 32_768 },
        max_receive_buffer: if small { 70_000 } else { 4_194_304 },
        max_stream_buffer: if small { 4_000 } else { 65_536 },
        max_send_buffer: if small { 20_000 } else { 4_194_304 },
        ..Config::default()
    };
    let mut client = End {
        session: Session::new(Role::Client, config.clone(), now).unwrap(),
        flows: Vec::new(),
        inbox: Vec::new(),
    };
    let mut server = End {
        session: Session::new(Role::Server, config, now).unwrap(),
        flows: Vec::new(),
        inbox: Vec::new(),
    };
    for (i, &(up, _)) in sizes.iter().enumerate() {
        let sid = client.session.open().unwrap();
        client.flows.push((
            sid,
            Flow {
                sent: data(i, up),
                ..Flow::default()
            },
        ));
    }
    let mut up_comp = (SnappyEncoder::new(), SnappyDecoder::new());
    let mut down_comp = (SnappyEncoder::new(), SnappyDecoder::new());
    let mut round = 0usize;
    let done = |e: &End| e.flows.len() == sizes.len() && e.flows.iter().all(|(_, f)| f.eof);
    while !(done(&client) && done(&server)) {
        round += 1;
        assert!(round < 200_000, "no progress");
        client.step(read_size, now);
        server.step(read_size, now);
        // The server's streams answer with their own data once accepted.
        for (i, (_, f)) in server.flows.iter_mut().enumerate() {
            if f.sent.is_empty() && f.offset == 0 && sizes[i].1 > 0 {
                f.sent = data(i + 1000, sizes[i].1);
            }
        }
        // Deliver a random-sized piece of each side's output.
        let cut = cuts[round % cuts.len()];
        for (from, to, (enc, dec)) in [
            (&mut client.session, &mut server.inbox, &mut up_comp),
            (&mut server.session, &mut client.inbox, &mut down_comp),
        ] {
            let out = from.take_output();
            let (now_part, later) = out.split_at(cut.min(out.len()));
            for part in [now_part, later] {
                if snappy {
                    dec.decode(&enc.encode(part).unwrap(), to).unwrap();
                } else {
                    to.extend_from_slice(part);
                }
            }
        }
    }
    for (i, &(up, down)) in sizes.iter().enumerate() {
        assert_eq!(server.flows[i].1.got, data(i, up), "stream {i} up");
        assert_eq!(
            client.flows[i].1.got,
            data(i + 1000, down),
            "stream {i} down"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn streams_arrive_byte_exact_both_ways(
        version in 1u8..=2,
        small in any::<bool>(),
        snappy in any::<bool>(),
        sizes in prop::collection::vec((0usize..300_000, 0usize..300_000), 1..7),
        cuts in prop::collection::vec(0usize..70_000, 1..8),
        read_size in 1usize..20_000,
    ) {
        run(version, small, &sizes, &cuts, read_size, snappy);
    }
}
