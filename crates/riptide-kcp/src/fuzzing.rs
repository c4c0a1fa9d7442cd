//! Fuzz harnesses, shared by the `cargo fuzz` targets in `fuzz/` and by the regression test
//! that replays `tests/regressions/<target>/*` through the same functions. Each takes the
//! fuzzer's raw bytes and panics when an invariant breaks.
//!
//! - [`input`]: arbitrary bytes cut into datagrams through [`Kcp::input`].
//! - [`segments`]: structured, well-formed-looking segments with boundary numbers (lengths 0,
//!   MSS, MSS + 1, `u32::MAX`; sequence numbers and `una` around the 2^32 wrap), interleaved
//!   with `recv`, `send`, `flush` and time; checks the memory bound.
//! - [`session`]: two endpoints through a lossy, duplicating, reordering script, then a clean
//!   link until everything is delivered: what arrives is exactly what was sent, in order.
//!
//! Not part of the API (hidden, behind the `fuzzing` feature).
// Harness code: the fuzzer's input is not a peer, and a panic is how a harness reports.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use arbitrary::{Arbitrary, Unstructured};

use crate::segment::{Header, CMD_ACK, CMD_PUSH, CMD_WASK, CMD_WINS, OVERHEAD};
use crate::{conv_of, Config, Kcp, RecvError};

/// Conversation id of the structured harnesses.
const CONV: u32 = 0x5eed_0001;

/// Takes every waiting datagram and checks it: at most `mtu` bytes, parseable segments of our
/// conv with known commands, each at most one MSS long. Returns them.
fn drain(k: &mut Kcp, now: u32, mtu: usize) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; mtu];
    let mut out = Vec::new();
    while let Some(n) = k.poll_transmit(now, &mut buf) {
        assert!(n <= mtu, "datagram of {n} bytes over mtu {mtu}");
        let mut rest = &buf[..n];
        assert!(rest.len() >= OVERHEAD);
        while !rest.is_empty() {
            let h = Header::decode(rest).expect("whole header");
            assert_eq!(h.conv, k.conv());
            assert!((CMD_PUSH..=CMD_WINS).contains(&h.cmd), "command {}", h.cmd);
            let len = h.len as usize;
            assert!(len <= k.mss(), "segment of {len} bytes over the mss");
            rest = &rest[OVERHEAD + len..];
        }
        out.push(buf[..n].to_vec());
    }
    out
}

/// Reads every whole message; `recv` agrees with `peek_size`. In stream mode each read is one
/// segment's bytes, so none may exceed the MSS.
fn recv_all(k: &mut Kcp, stream: bool) -> Vec<Vec<u8>> {
    let got = recv_messages(k);
    if stream {
        for m in &got {
            assert!(
                m.len() <= k.mss(),
                "a segment of {} bytes was accepted",
                m.len()
            );
        }
    }
    got
}

fn recv_messages(k: &mut Kcp) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    // Small on purpose: larger messages go through the BufferTooSmall path.
    let mut msg = vec![0u8; 4096];
    loop {
        let peek = k.peek_size();
        match k.recv(&mut msg) {
            Ok(n) => {
                assert_eq!(Some(n), peek);
                got.push(msg[..n].to_vec());
            }
            Err(RecvError::Empty) => {
                assert_eq!(peek, None);
                return got;
            }
            Err(RecvError::BufferTooSmall { needed }) => {
                // A hostile peer can assemble "messages" beyond max_message.
                assert_eq!(Some(needed), peek);
                let mut big = vec![0u8; needed];
                assert_eq!(k.recv(&mut big), Ok(needed));
                got.push(big);
            }
        }
    }
}

/// The memory bound of one session: the receive side never holds more than `2 × rcv_wnd`
/// segments (reorder ring + unread queue), each at most one MSS; the send side holds what
/// was queued.
fn check_bound(k: &Kcp) {
    let st = k.stats();
    let receive = k.buffered_segments() - k.wait_snd();
    assert!(
        receive <= 2 * st.rcv_wnd as usize,
        "{receive} segments buffered on the receive side, window {}",
        st.rcv_wnd
    );
    assert_eq!(k.buffered_bytes(), k.buffered_segments() * k.mss());
}

/// `fuzz/fuzz_targets/input.rs`: byte 0 picks the configuration; then `[len: u16 LE][len
/// bytes]` datagrams. The conv is taken from the first datagram so the parser is reached.
pub fn input(data: &[u8]) {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let cfg = Config {
        nodelay: u32::from(sel & 3),
        interval: 10,
        resend: u32::from((sel >> 2) & 3),
        nc: sel & 0x10 != 0,
        stream: sel & 0x20 != 0,
        mtu: if sel & 0x40 != 0 { 60 } else { 1400 },
        ..Config::default()
    };
    let conv = rest.get(2..).and_then(conv_of).unwrap_or(0);
    let mut k = Kcp::new(conv, &cfg).unwrap();
    let mut now: u32 = if sel & 0x80 != 0 { u32::MAX - 50 } else { 0 };
    for i in 0..4u8 {
        k.enqueue(&vec![i; 700 * usize::from(i)]).unwrap();
    }
    k.handle_timeout(now);
    drain(&mut k, now, cfg.mtu);

    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let datagram = &rest[2..2 + len];
        rest = &rest[2 + len..];
        now = now.wrapping_add(7);

        let waiting = k.wait_snd();
        let _ = k.input(now, datagram);
        assert!(k.wait_snd() <= waiting, "input can only acknowledge");
        check_bound(&k);
        k.handle_timeout(now);
        drain(&mut k, now, cfg.mtu);
        if let Some(t) = k.poll_timeout() {
            // Right after handle_timeout(now) the next deadline is in the future: a caller
            // driven by poll_timeout never spins.
            assert!(
                t.wrapping_sub(now) as i32 > 0,
                "deadline {t} not after {now}"
            );
        }
        recv_all(&mut k, cfg.stream);
        k.flush(now);
        drain(&mut k, now, cfg.mtu);
    }
    let _ = k.stats();
}

/// A sequence number (or `una`) near the interesting places.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Num {
    /// `base + d`: just past the receiver's next expected number.
    Near(u8),
    /// `base - d`: already received or acknowledged.
    Behind(u8),
    /// `base + rcv_wnd + d - 2`: at the edge of the receive window.
    WindowEdge(u8),
    /// Across the 2^32 wrap.
    Wrap(u8),
    Any(u32),
}

impl Num {
    fn value(self, base: u32, wnd: u32) -> u32 {
        match self {
            Num::Near(d) => base.wrapping_add(u32::from(d)),
            Num::Behind(d) => base.wrapping_sub(u32::from(d)),
            Num::WindowEdge(d) => base
                .wrapping_add(wnd)
                .wrapping_add(u32::from(d % 4))
                .wrapping_sub(2),
            Num::Wrap(d) => u32::MAX
                .wrapping_sub(u32::from(d / 2))
                .wrapping_add(u32::from(d % 2)),
            Num::Any(v) => v,
        }
    }
}

/// A segment length: the boundaries, or anything small.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Len {
    Zero,
    Mss,
    MssPlusOne,
    Max,
    /// The `len` field says one thing, the datagram holds fewer bytes.
    Lie(u16),
    Small(u8),
    Any(u16),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Cmd {
    Push,
    Ack,
    Wask,
    Wins,
    Other(u8),
}

#[derive(Arbitrary, Debug)]
struct Seg {
    cmd: Cmd,
    frg: u8,
    wnd: u16,
    ts: u32,
    sn: Num,
    una: Num,
    len: Len,
    wrong_conv: bool,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Datagram(Vec<Seg>),
    Recv,
    Flush,
    Tick(u16),
    Send(u16),
}

#[derive(Arbitrary, Debug)]
struct SegmentsScript {
    config: u8,
    wrap: bool,
    ops: Vec<Op>,
}

/// `fuzz/fuzz_targets/segments.rs`.
pub fn segments(data: &[u8]) {
    let Ok(script) = SegmentsScript::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let sel = script.config;
    let cfg = Config {
        nodelay: u32::from(sel & 1),
        interval: 10,
        resend: u32::from((sel >> 1) & 1) * 2,
        nc: sel & 4 != 0,
        stream: sel & 8 != 0,
        mtu: if sel & 16 != 0 { 60 } else { 1400 },
        snd_wnd: if sel & 32 != 0 { 4 } else { 32 },
        ..Config::default()
    };
    let mut k = Kcp::new(CONV, &cfg).unwrap();
    let mss = k.mss();
    let wnd = k.stats().rcv_wnd;
    // Our own and the peer's sequence numbers, near the wrap if asked.
    let (snd_base, mut rcv_base) = if script.wrap {
        (u32::MAX - 3, u32::MAX - 5)
    } else {
        (0, 0)
    };
    k.set_initial_sn(snd_base, rcv_base);
    let mut now: u32 = if script.wrap { u32::MAX - 1000 } else { 0 };
    k.handle_timeout(now);
    let mut sent_segments = 0usize;
    for op in script.ops.into_iter().take(512) {
        match op {
            Op::Datagram(segs) => {
                let mut d = Vec::new();
                for s in segs.iter().take(64) {
                    let (field, body) = match s.len {
                        Len::Zero => (0, 0),
                        Len::Mss => (mss as u32, mss),
                        Len::MssPlusOne => (mss as u32 + 1, mss + 1),
                        Len::Max => (u32::MAX, 0),
                        Len::Lie(n) => (u32::from(n) + 1, usize::from(n) / 2),
                        Len::Small(n) => (u32::from(n), usize::from(n)),
                        Len::Any(n) => (u32::from(n), usize::from(n)),
                    };
                    Header {
                        conv: if s.wrong_conv { !CONV } else { CONV },
                        cmd: match s.cmd {
                            Cmd::Push => CMD_PUSH,
                            Cmd::Ack => CMD_ACK,
                            Cmd::Wask => CMD_WASK,
                            Cmd::Wins => CMD_WINS,
                            Cmd::Other(c) => c,
                        },
                        frg: s.frg,
                        wnd: s.wnd,
                        ts: s.ts,
                        sn: s.sn.value(rcv_base, wnd),
                        una: s.una.value(snd_base, 4),
                        len: field,
                    }
                    .encode(&mut d);
                    d.resize(d.len() + body, 0xa5);
                }
                if d.len() > 65_507 {
                    d.truncate(65_507); // the largest UDP payload
                }
                let waiting = k.wait_snd();
                let _ = k.input(now, &d);
                assert!(k.wait_snd() <= waiting, "input can only acknowledge");
            }
            Op::Recv => {
                recv_all(&mut k, cfg.stream);
            }
            Op::Flush => k.flush(now),
            Op::Tick(ms) => {
                now = now.wrapping_add(u32::from(ms));
                k.handle_timeout(now);
            }
            Op::Send(len) => {
                let before = k.wait_snd();
                if k.send(&vec![0x5a; usize::from(len)]).is_ok() {
                    sent_segments += k.wait_snd() - before;
                }
            }
        }
        check_bound(&k);
        // Send side: at most what was queued; everything: the bound of `check_bound` plus it.
        assert!(k.wait_snd() <= sent_segments);
        assert!(k.buffered_bytes() <= (sent_segments + 2 * wnd as usize) * mss);
        // Aim the next segments at our receive window as it moves: the `una` of what we
        // send is our `rcv_nxt`.
        if let Some(h) = drain(&mut k, now, cfg.mtu)
            .last()
            .and_then(|d| Header::decode(d))
        {
            rcv_base = h.una;
        }
    }
}

/// One step of the lossy phase of [`session`].
#[derive(Arbitrary, Debug)]
enum Step {
    /// A message from A (true) or B, of this length.
    Send(bool, u16),
    /// Deliver the `pick`-th datagram in flight towards A (true) or B, maybe dropping or
    /// duplicating it.
    Deliver {
        to_a: bool,
        pick: u8,
        drop: bool,
        dup: bool,
    },
    Tick(u8),
    Flush(bool),
    Recv(bool),
}

#[derive(Arbitrary, Debug)]
struct SessionScript {
    config: u8,
    wrap: bool,
    steps: Vec<Step>,
}

/// One side of [`session`]: the endpoint, what it sent and what it received.
struct End {
    k: Kcp,
    sent: Vec<Vec<u8>>,
    got: Vec<Vec<u8>>,
    seq: u32,
}

/// `fuzz/fuzz_targets/session.rs`.
pub fn session(data: &[u8]) {
    let Ok(script) = SessionScript::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let sel = script.config;
    let stream = sel & 8 != 0;
    let cfg = Config {
        nodelay: u32::from(sel & 1),
        interval: 10,
        resend: u32::from((sel >> 1) & 1) * 2,
        nc: sel & 4 != 0,
        stream,
        mtu: if sel & 16 != 0 { 60 } else { 1400 },
        snd_wnd: if sel & 32 != 0 { 4 } else { 32 },
        ..Config::default()
    };
    let mut ends = [0, 1].map(|_| End {
        k: Kcp::new(CONV, &cfg).unwrap(),
        sent: Vec::new(),
        got: Vec::new(),
        seq: 0,
    });
    if script.wrap {
        ends[0].k.set_initial_sn(u32::MAX - 2, u32::MAX - 7);
        ends[1].k.set_initial_sn(u32::MAX - 7, u32::MAX - 2);
    }
    // In flight towards end 0 and end 1.
    let mut wires: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    let mut now: u32 = if script.wrap { u32::MAX - 500 } else { 0 };
    for e in &mut ends {
        e.k.handle_timeout(now);
    }
    let collect = |ends: &mut [End; 2], wires: &mut [Vec<Vec<u8>>; 2], now: u32| {
        for (i, e) in ends.iter_mut().enumerate() {
            let out = drain(&mut e.k, now, cfg.mtu);
            wires[1 - i].extend(out);
        }
    };
    for step in script.steps.into_iter().take(2000) {
        match step {
            Step::Send(from_a, len) => {
                let e = &mut ends[usize::from(!from_a)];
                // Distinct, recognisable bytes: sender, message number, offset.
                let tag = e.seq;
                e.seq += 1;
                let msg: Vec<u8> = (0..usize::from(len) % 5000)
                    .map(|i| (tag as usize * 31 + i * 7 + usize::from(from_a)) as u8)
                    .collect();
                if e.k.send(&msg).is_ok() && !(stream && msg.is_empty()) {
                    e.sent.push(msg);
                }
            }
            Step::Deliver {
                to_a,
                pick,
                drop,
                dup,
            } => {
                let to = usize::from(!to_a);
                let wire = &mut wires[to];
                if !wire.is_empty() {
                    let d = wire.remove(usize::from(pick) % wire.len());
                    if dup {
                        wire.push(d.clone());
                    }
                    if !drop {
                        ends[to]
                            .k
                            .input(now, &d)
                            .expect("a conforming peer's datagram");
                    }
                }
            }
            Step::Tick(ms) => {
                now = now.wrapping_add(u32::from(ms));
                for e in &mut ends {
                    e.k.handle_timeout(now);
                }
            }
            Step::Flush(a) => ends[usize::from(!a)].k.flush(now),
            Step::Recv(a) => {
                let e = &mut ends[usize::from(!a)];
                let got = recv_all(&mut e.k, stream);
                e.got.extend(got);
            }
        }
        for e in &ends {
            check_bound(&e.k);
        }
        collect(&mut ends, &mut wires, now);
    }

    // A clean, in-order link from here on, driven by the deadlines, until both are idle.
    // The RTO is capped at 60 s, so 100 rounds of a few minutes are plenty.
    for _ in 0..100_000 {
        for (i, wire) in wires.iter_mut().enumerate() {
            for d in wire.drain(..) {
                ends[i]
                    .k
                    .input(now, &d)
                    .expect("a conforming peer's datagram");
            }
        }
        for e in &mut ends {
            let got = recv_all(&mut e.k, stream);
            e.got.extend(got);
            e.k.flush(now);
        }
        collect(&mut ends, &mut wires, now);
        if wires.iter().all(Vec::is_empty) {
            let next = ends
                .iter()
                .filter_map(|e| e.k.poll_timeout())
                .min_by_key(|t| t.wrapping_sub(now));
            match next {
                None => break,
                Some(t) => {
                    now = if t.wrapping_sub(now) as i32 > 0 {
                        t
                    } else {
                        now.wrapping_add(1)
                    };
                    for e in &mut ends {
                        e.k.handle_timeout(now);
                    }
                    collect(&mut ends, &mut wires, now);
                }
            }
        }
    }
    for (i, e) in ends.iter().enumerate() {
        let other = &ends[1 - i];
        assert_eq!(e.k.wait_snd(), 0, "end {i}: everything acknowledged");
        if stream {
            assert_eq!(other.got.concat(), e.sent.concat(), "bytes from end {i}");
        } else {
            assert_eq!(other.got, e.sent, "messages from end {i}");
        }
    }
}
