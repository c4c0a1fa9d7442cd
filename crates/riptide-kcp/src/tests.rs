//! Unit tests of the public behaviour of one or two sessions wired back to back.

use crate::segment::{Header, CMD_ACK, CMD_PUSH, CMD_WASK};
use crate::*;

fn fast() -> Config {
    Config {
        nodelay: 1,
        interval: 10,
        resend: 2,
        nc: true,
        ..Config::default()
    }
}

/// Moves every waiting datagram from `from` to `to`; returns how many.
fn pump(from: &mut Kcp, to: &mut Kcp, now: u32) -> usize {
    let mut buf = [0u8; 2000];
    let mut n = 0;
    while let Some(len) = from.poll_transmit(now, &mut buf) {
        to.input(now, &buf[..len]).unwrap();
        n += 1;
    }
    n
}

/// Runs both sessions for `ms` milliseconds of a perfect link, ticking every `step`.
fn run(a: &mut Kcp, b: &mut Kcp, now: &mut u32, ms: u32, step: u32) {
    let end = now.wrapping_add(ms);
    while (end.wrapping_sub(*now) as i32) > 0 {
        a.handle_timeout(*now);
        b.handle_timeout(*now);
        pump(a, b, *now);
        pump(b, a, *now);
        *now = now.wrapping_add(step);
    }
}

fn recv_all(k: &mut Kcp) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; k.max_message()];
    while let Ok(n) = k.recv(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

fn segment(conv: u32, cmd: u8, sn: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Header {
        conv,
        cmd,
        frg: 0,
        wnd: 128,
        ts: 0,
        sn,
        una: 0,
        len: payload.len() as u32,
    }
    .encode(&mut out);
    out.extend_from_slice(payload);
    out
}

#[test]
fn config_is_checked_and_clamped() {
    let bad = |c: Config| Kcp::new(1, &c).unwrap_err();
    assert_eq!(
        bad(Config {
            mtu: 49,
            ..Config::default()
        }),
        ConfigError::MtuTooSmall { mtu: 49, min: 50 }
    );
    assert!(matches!(
        bad(Config {
            mtu: 1 << 20,
            ..Config::default()
        }),
        ConfigError::MtuTooLarge { .. }
    ));
    assert_eq!(
        bad(Config {
            snd_wnd: 0,
            ..Config::default()
        }),
        ConfigError::ZeroSendWindow
    );
    let k = Kcp::new(
        1,
        &Config {
            rcv_wnd: 16,
            mtu: 50,
            ..Config::default()
        },
    )
    .unwrap();
    assert_eq!(k.stats().rcv_wnd, 128, "rcv_wnd raised to IKCP_WND_RCV");
    assert_eq!(k.mss(), 26);
    assert_eq!(k.max_message(), 127 * 26);
    assert_eq!(k.stats().rto, 200);
}

#[test]
fn conv_of_reads_the_first_four_bytes() {
    let d = segment(0xdead_beef, CMD_PUSH, 0, b"x");
    assert_eq!(conv_of(&d), Some(0xdead_beef));
    assert_eq!(conv_of(&d[..23]), None);
}

#[test]
fn message_round_trip_with_fragments() {
    let cfg = Config {
        snd_wnd: 256,
        ..fast()
    };
    let mut a = Kcp::new(9, &cfg).unwrap();
    let mut b = Kcp::new(9, &fast()).unwrap();
    let big: Vec<u8> = (0..a.max_message()).map(|i| i as u8).collect();
    a.send(b"small").unwrap();
    a.send(&big).unwrap();
    a.send(b"").unwrap();
    let mut now = 0;
    let mut got = Vec::new();
    // 128 segments fill b's receive window: the last message follows once b reads.
    for _ in 0..30 {
        run(&mut a, &mut b, &mut now, 100, 10);
        got.extend(recv_all(&mut b));
    }
    let lens: Vec<usize> = got.iter().map(Vec::len).collect();
    assert_eq!(
        lens,
        [5, big.len(), 0],
        "boundaries kept, empty message delivered"
    );
    assert!(got[0] == b"small" && got[1] == big);
    assert_eq!(a.wait_snd(), 0);
}

#[test]
fn send_window_and_size_limits() {
    let mut a = Kcp::new(
        1,
        &Config {
            snd_wnd: 2,
            ..Config::default()
        },
    )
    .unwrap();
    assert_eq!(
        a.send(&vec![0; a.max_message() + 1]),
        Err(SendError::TooLarge)
    );
    assert_eq!(a.wait_snd(), 0, "nothing queued by a refused send");
    a.send(b"1").unwrap();
    assert!(a.is_writable());
    a.send(b"2").unwrap();
    assert!(!a.is_writable());
    assert_eq!(a.send(b"3"), Err(SendError::WouldBlock));
    assert_eq!(a.wait_snd(), 2);
    a.enqueue(b"3").unwrap();
    assert_eq!(a.wait_snd(), 3, "enqueue ignores the window");
    assert_eq!(
        a.enqueue(&vec![0; a.max_message() + 1]),
        Err(SendError::TooLarge)
    );
}

#[test]
fn recv_errors_keep_the_message() {
    let mut a = Kcp::new(1, &fast()).unwrap();
    let mut b = Kcp::new(1, &fast()).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(b.recv(&mut buf), Err(RecvError::Empty));
    assert_eq!(b.peek_size(), None);
    a.send(b"hello").unwrap();
    let mut now = 0;
    run(&mut a, &mut b, &mut now, 100, 10);
    assert_eq!(b.peek_size(), Some(5));
    assert_eq!(
        b.recv(&mut buf),
        Err(RecvError::BufferTooSmall { needed: 5 })
    );
    let mut buf = [0u8; 5];
    assert_eq!(b.recv(&mut buf), Ok(5));
    assert_eq!(&buf, b"hello");
}

#[test]
fn malformed_input_is_typed_and_loses_nothing() {
    let conv = 0x0102_0304;
    let mut k = Kcp::new(conv, &Config::default()).unwrap();
    let good = segment(conv, CMD_PUSH, 0, b"kept");
    assert_eq!(k.input(0, &good[..23]), Err(InputError::Truncated));
    assert_eq!(k.input(0, &[]), Err(InputError::Truncated));
    assert_eq!(
        k.input(0, &segment(conv + 1, CMD_PUSH, 0, b"x")),
        Err(InputError::WrongConv)
    );
    let mut lie = segment(conv, CMD_PUSH, 0, b"abc");
    lie[20..24].copy_from_slice(&4u32.to_le_bytes());
    assert_eq!(k.input(0, &lie), Err(InputError::BadLength));
    lie[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(k.input(0, &lie), Err(InputError::BadLength));
    assert_eq!(
        k.input(0, &segment(conv, 99, 0, b"")),
        Err(InputError::BadCommand)
    );
    assert_eq!(k.peek_size(), None, "nothing from the bad datagrams");

    // A good segment followed by a bad one: the good one is accepted (as in ikcp).
    let mut dgram = good.clone();
    dgram.extend_from_slice(&segment(conv, 7, 1, b"junk"));
    assert_eq!(k.input(0, &dgram), Err(InputError::BadCommand));
    // Far-future and stale sequence numbers are dropped, duplicates ignored.
    k.input(0, &segment(conv, CMD_PUSH, 0x8000_0000, b"far"))
        .unwrap();
    k.input(0, &segment(conv, CMD_PUSH, u32::MAX, b"old"))
        .unwrap();
    k.input(0, &good).unwrap();
    // Trailing bytes shorter than a header are ignored, as in ikcp.
    let mut tail = segment(conv, CMD_PUSH, 1, b"next");
    tail.extend_from_slice(&[0; 10]);
    k.input(0, &tail).unwrap();
    assert_eq!(recv_all(&mut k), vec![b"kept".to_vec(), b"next".to_vec()]);
}

#[test]
fn fragment_count_lies_do_not_deliver_garbage() {
    let conv = 5;
    let mut k = Kcp::new(conv, &Config::default()).unwrap();
    // A first fragment announcing 200 more that never come: nothing is deliverable.
    let mut first = segment(conv, CMD_PUSH, 0, b"a");
    first[5] = 200;
    k.input(0, &first).unwrap();
    assert_eq!(k.peek_size(), None);
    let mut buf = [0u8; 16];
    assert_eq!(k.recv(&mut buf), Err(RecvError::Empty));
}

#[test]
fn idle_sessions_arm_no_timer() {
    let mut a = Kcp::new(3, &fast()).unwrap();
    let mut b = Kcp::new(3, &fast()).unwrap();
    assert_eq!(a.poll_timeout(), None, "fresh session is idle");
    a.send(b"ping").unwrap();
    assert_eq!(a.poll_timeout(), Some(0), "busy before any clock: now");
    let mut now = 1000;
    a.handle_timeout(now);
    assert!(
        a.poll_timeout().is_some(),
        "in flight: retransmission timer"
    );
    pump(&mut a, &mut b, now);
    assert_eq!(b.poll_timeout(), Some(now), "ack pending: flush now");
    now += 10;
    b.handle_timeout(now);
    assert_eq!(b.poll_timeout(), None, "ack sent: idle again");
    pump(&mut b, &mut a, now);
    assert_eq!(a.wait_snd(), 0);
    a.handle_timeout(now + 10);
    assert_eq!(a.poll_timeout(), None, "acknowledged: idle");
}

#[test]
fn poll_timeout_never_spins() {
    // Driving a lossy exchange purely from poll_timeout: every deadline either makes
    // progress or moves forward, and the transfer completes.
    let mut a = Kcp::new(3, &Config::default()).unwrap();
    let mut b = Kcp::new(3, &Config::default()).unwrap();
    for i in 0..50u32 {
        a.send(&i.to_le_bytes()).unwrap_or(());
    }
    let mut now: u32 = u32::MAX - 3000;
    let mut buf = [0u8; 1500];
    let mut drop = 0u32;
    let mut wakeups = 0;
    let mut got = Vec::new();
    a.handle_timeout(now);
    b.handle_timeout(now);
    while got.len() < 32 {
        let next = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min_by_key(|t| t.wrapping_sub(now) as i32)
            .expect("someone must be busy");
        assert!(next.wrapping_sub(now) as i32 >= 0 || wakeups == 0 || next == now);
        now = if (next.wrapping_sub(now) as i32) > 0 {
            next
        } else {
            now.wrapping_add(1)
        };
        wakeups += 1;
        assert!(wakeups < 5000, "timer spinning");
        for a_to_b in [true, false] {
            let (from, to) = if a_to_b {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            from.handle_timeout(now);
            while let Some(n) = from.poll_transmit(now, &mut buf) {
                drop += 1;
                if !drop.is_multiple_of(4) {
                    to.input(now, &buf[..n]).unwrap();
                }
            }
        }
        got.extend(recv_all(&mut b));
    }
    assert_eq!(got.len(), 32, "send window of 32");
}

#[test]
fn sequence_numbers_wrap() {
    // K9: sn, una and the clock all cross 2^32 during the transfer.
    let start = u32::MAX - 40;
    let mut a = Kcp::new(11, &fast()).unwrap();
    let mut b = Kcp::new(11, &fast()).unwrap();
    a.set_initial_sn(start, start);
    b.set_initial_sn(start, start);
    let msgs: Vec<Vec<u8>> = (0..200u32).map(|i| i.to_be_bytes().repeat(50)).collect();
    let mut now = u32::MAX - 30;
    let mut got = Vec::new();
    let mut next = 0;
    for _ in 0..2000 {
        while next < msgs.len() && a.send(&msgs[next]).is_ok() {
            next += 1;
        }
        run(&mut a, &mut b, &mut now, 10, 10);
        got.extend(recv_all(&mut b));
        if got.len() == msgs.len() {
            break;
        }
    }
    assert_eq!(got, msgs);
    assert!(now < 1_000_000, "clock wrapped too");
}

#[test]
fn dead_link_with_a_black_hole_peer() {
    let mut a = Kcp::new(
        1,
        &Config {
            dead_link: 5,
            ..fast()
        },
    )
    .unwrap();
    a.send(b"into the void").unwrap();
    let mut buf = [0u8; 1500];
    let mut sent = 0;
    let mut now = 0;
    while !a.is_dead() {
        a.handle_timeout(now);
        while a.poll_transmit(now, &mut buf).is_some() {
            sent += 1;
        }
        now += 10;
        assert!(now < 600_000, "never declared dead");
    }
    assert_eq!(sent, 5, "declared dead on the dead_link-th transmission");
    assert!(a.stats().dead);
    assert_eq!(a.stats().retransmits, 4);
}

#[test]
fn stream_mode_merges_and_message_mode_keeps_boundaries() {
    for stream in [false, true] {
        let cfg = Config { stream, ..fast() };
        let mut a = Kcp::new(1, &cfg).unwrap();
        let mut b = Kcp::new(1, &cfg).unwrap();
        a.send(b"abc").unwrap();
        a.send(b"def").unwrap();
        a.send(b"").unwrap();
        let big = vec![7u8; a.mss() + 10];
        a.send(&big).unwrap();
        assert_eq!(a.wait_snd(), if stream { 2 } else { 5 });
        let mut now = 0;
        run(&mut a, &mut b, &mut now, 500, 10);
        let got = recv_all(&mut b);
        if stream {
            let mut first = b"abcdef".to_vec();
            first.extend_from_slice(&big[..a.mss() - 6]);
            assert_eq!(got, vec![first, vec![7u8; 16]]);
        } else {
            assert_eq!(got, vec![b"abc".to_vec(), b"def".to_vec(), Vec::new(), big]);
        }
    }
}

#[test]
fn window_probe_after_zero_window() {
    // B never reads: its queue fills, A sees wnd 0 and probes after IKCP_PROBE_INIT.
    let cfg = Config {
        snd_wnd: 256,
        ..fast()
    };
    let mut a = Kcp::new(1, &cfg).unwrap();
    let mut b = Kcp::new(1, &fast()).unwrap();
    for _ in 0..200 {
        a.send(b"x").unwrap();
    }
    let mut buf = [0u8; 1500];
    let mut now = 0;
    let mut zero_since = None;
    let mut wask_at = None;
    while now < 10_000 && wask_at.is_none() {
        if zero_since.is_none() && a.stats().rmt_wnd == 0 {
            // This flush starts the probe timer.
            zero_since = Some(now);
            assert!(a.poll_timeout().is_some(), "zero window keeps the timer");
        }
        a.handle_timeout(now);
        while let Some(n) = a.poll_transmit(now, &mut buf) {
            if Header::decode(&buf[..n]).unwrap().cmd == CMD_WASK {
                wask_at = Some(now);
            }
            b.input(now, &buf[..n]).unwrap();
        }
        b.handle_timeout(now);
        pump(&mut b, &mut a, now);
        now += 10;
    }
    let t0 = zero_since.expect("window closed");
    let at = wask_at.expect("WASK sent");
    assert_eq!(at - t0, 7000, "probe after IKCP_PROBE_INIT (1.x: 7 s)");
    // Reading reopens the window; B tells A (WINS) and the rest flows.
    let mut got = recv_all(&mut b).len();
    for _ in 0..100 {
        run(&mut a, &mut b, &mut now, 20, 10);
        got += recv_all(&mut b).len();
    }
    assert_eq!(got, 200);
}

#[test]
fn acks_are_packed_up_to_the_mtu() {
    let cfg = Config { mtu: 100, ..fast() };
    let mut a = Kcp::new(1, &cfg).unwrap();
    let mut b = Kcp::new(1, &cfg).unwrap();
    for _ in 0..10 {
        a.send(b"y").unwrap();
    }
    a.flush(0);
    let mut buf = [0u8; 200];
    let mut sizes = Vec::new();
    while let Some(n) = a.poll_transmit(0, &mut buf) {
        sizes.push(n);
        b.input(0, &buf[..n]).unwrap();
    }
    assert_eq!(
        sizes,
        vec![100, 100, 50],
        "4 x 25-byte segments per 100-byte mtu"
    );
    b.flush(0);
    let mut acks = 0;
    while let Some(n) = b.poll_transmit(0, &mut buf) {
        assert!(n <= 100);
        let mut rest = &buf[..n];
        while let Some(h) = Header::decode(rest) {
            assert_eq!(h.cmd, CMD_ACK);
            acks += 1;
            rest = &rest[24..];
        }
    }
    assert_eq!(acks, 10);
}

#[test]
fn headroom_is_reserved() {
    let cfg = Config {
        headroom: 8,
        ..fast()
    };
    let mut a = Kcp::new(1, &cfg).unwrap();
    a.send(b"z").unwrap();
    a.flush(0);
    let mut buf = [0xffu8; 64];
    assert_eq!(a.poll_transmit(0, &mut buf[..20]), None, "too short");
    let n = a.poll_transmit(0, &mut buf).unwrap();
    assert_eq!(n, 8 + 25);
    assert_eq!(&buf[..8], &[0xff; 8]);
    assert_eq!(conv_of(&buf[8..n]), Some(1));
}

#[test]
fn segments_longer_than_the_mss_are_refused() {
    // Security issue item 3: each out-of-order segment could hold a whole datagram.
    let conv = 9;
    let cfg = Config {
        mtu: 100,
        ..Config::default()
    };
    let mut k = Kcp::new(conv, &cfg).unwrap();
    let mss = k.mss();
    assert_eq!(mss, 76);
    let exact = segment(conv, CMD_PUSH, 1, &vec![1; mss]);
    k.input(0, &exact).unwrap();
    assert_eq!(k.buffered_segments(), 1, "one MSS is fine");
    let over = segment(conv, CMD_PUSH, 2, &vec![2; mss + 1]);
    assert_eq!(k.input(0, &over), Err(InputError::Oversize));
    let huge = segment(conv, CMD_PUSH, 3, &vec![3; 60_000]);
    assert_eq!(k.input(0, &huge), Err(InputError::Oversize));
    assert_eq!(
        k.buffered_segments(),
        1,
        "nothing stored from oversize segments"
    );
    // An ACK is refused too: no conforming peer sends a length over the MSS.
    assert_eq!(
        k.input(0, &segment(conv, CMD_ACK, 0, &vec![0; mss + 1])),
        Err(InputError::Oversize)
    );
    // Segments before the oversize one in a datagram are kept, as for any malformed one.
    let mut dgram = segment(conv, CMD_PUSH, 0, b"first");
    dgram.extend_from_slice(&over);
    assert_eq!(k.input(0, &dgram), Err(InputError::Oversize));
    assert_eq!(recv_all(&mut k), vec![b"first".to_vec(), vec![1; mss]]);
}

#[test]
fn receive_buffering_is_bounded_by_twice_the_window() {
    // A peer that never lets us read: rcv_wnd in the queue, rcv_wnd out of order in the ring.
    let conv = 3;
    let mut k = Kcp::new(conv, &Config::default()).unwrap();
    let mss = k.mss();
    let wnd = k.stats().rcv_wnd;
    for sn in 0..4 * wnd {
        let _ = k.input(0, &segment(conv, CMD_PUSH, sn, &vec![7; mss]));
        // Skip one sequence number: those after it stay out of order.
        let _ = k.input(0, &segment(conv, CMD_PUSH, sn + wnd + 1, &vec![7; mss]));
    }
    assert!(k.buffered_segments() <= 2 * wnd as usize);
    assert!(k.buffered_bytes() <= 2 * wnd as usize * mss);
    assert!(!k.peer_acked());
}

#[test]
fn peer_acked_is_set_by_an_acknowledgement() {
    let mut a = Kcp::new(1, &fast()).unwrap();
    let mut b = Kcp::new(1, &fast()).unwrap();
    let mut now = 0;
    b.send(b"from b").unwrap();
    run(&mut a, &mut b, &mut now, 100, 10);
    assert!(b.peer_acked(), "a acknowledged b's data");
    assert!(!a.peer_acked(), "a sent nothing but acks");
    a.send(b"reply").unwrap();
    run(&mut a, &mut b, &mut now, 100, 10);
    assert!(a.peer_acked());
}

#[test]
fn a_recovered_datagram_acks_and_delivers_but_samples_no_rtt_and_sets_no_window() {
    let (mut a, mut b) = (Kcp::new(7, &fast()).unwrap(), Kcp::new(7, &fast()).unwrap());
    a.handle_timeout(0);
    b.handle_timeout(0);
    a.send(b"hello").unwrap();
    a.flush(0);
    let mut buf = [0u8; 2000];
    let n = a.poll_transmit(0, &mut buf).unwrap();
    // b gets the data as FEC rebuilt it: delivered and acknowledged all the same.
    b.input_recovered(5, &buf[..n]).unwrap();
    assert_eq!(recv_all(&mut b), vec![b"hello".to_vec()]);
    b.flush(5);
    let n = b.poll_transmit(5, &mut buf).unwrap();
    let window_before = a.stats().rmt_wnd;
    // The ack arrives recovered 900 ms later: the data is acknowledged, but neither the RTT
    // estimate nor the peer's window moves.
    let mut ack = buf[..n].to_vec();
    ack[6..8].copy_from_slice(&0u16.to_le_bytes()); // a window of 0, which must be ignored
    a.input_recovered(900, &ack).unwrap();
    assert_eq!(a.wait_snd(), 0);
    assert_eq!(a.stats().srtt, 0, "no RTT sample from a recovered ack");
    assert_eq!(a.stats().rmt_wnd, window_before);
    // The same ack received normally does both.
    let (mut c, mut d) = (Kcp::new(7, &fast()).unwrap(), Kcp::new(7, &fast()).unwrap());
    c.handle_timeout(0);
    d.handle_timeout(0);
    c.send(b"hello").unwrap();
    c.flush(0);
    let n = c.poll_transmit(0, &mut buf).unwrap();
    d.input(5, &buf[..n]).unwrap();
    d.flush(5);
    let n = d.poll_transmit(5, &mut buf).unwrap();
    let mut ack = buf[..n].to_vec();
    ack[6..8].copy_from_slice(&0u16.to_le_bytes());
    c.input(900, &ack).unwrap();
    assert!(c.stats().srtt > 0);
    assert_eq!(c.stats().rmt_wnd, 0);
}

#[test]
fn fastack_each_counts_every_ack_of_a_batch() {
    let fast_retransmits = |each: bool| {
        let cfg = Config {
            fastack_each: each,
            ..fast()
        };
        let mut k = Kcp::new(1, &cfg).unwrap();
        for _ in 0..3 {
            k.send(b"x").unwrap();
        }
        k.flush(0);
        let mut buf = [0u8; 2000];
        while k.poll_transmit(0, &mut buf).is_some() {}
        // One datagram (a kcp-go peer's batch) acknowledging sn 1 and 2: sn 0 is the hole.
        let mut batch = segment(1, CMD_ACK, 1, &[]);
        batch.extend(segment(1, CMD_ACK, 2, &[]));
        k.input(1, &batch).unwrap();
        k.flush(1);
        k.stats().fast_retransmits
    };
    // Counted once per datagram (ikcp), the hole waits for another batch; per ACK (kcp-go),
    // the batch resends it.
    assert_eq!(fast_retransmits(false), 0);
    assert_eq!(fast_retransmits(true), 1);
}
