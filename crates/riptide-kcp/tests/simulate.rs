//! KCP over simulated lossy links (riptide-netsim), on a virtual clock.
//!
//! 1. The latency table of KCP's `test.cpp` (1.7.1), reproduced in shape: an echo of 8-byte
//!    messages sent every 20 ms, windows 128/128, the three modes, ~1000 round trips.
//! 2. Byte-exact bulk transfers at 10 % and 30 % loss with reordering and duplicates,
//!    driven only by `poll_timeout` (no fixed tick), over proptest-chosen seeds.
//! 3. A transfer with sequence numbers and clock starting just below 2^32.

use proptest::prelude::*;
use riptide_kcp::{Config, Kcp};
use riptide_netsim::{Link, LinkConfig};

/// test.h's `LatencySimulator(10, 60, 125)`: "10 %" is the round-trip loss, so each direction
/// drops 5 %; RTT 60-125 ms means one-way 30..=61 ms; packets leave in FIFO order; at most
/// 1000 in flight.
fn latency_simulator() -> LinkConfig {
    LinkConfig {
        loss: 0.05,
        duplicate: 0.0,
        delay_min_ms: 30,
        delay_max_ms: 61,
        fifo: true,
        bandwidth_bytes_per_sec: None,
        queue_limit: 1000,
    }
}

#[derive(Debug)]
struct RttResult {
    avg: u32,
    max: u32,
    tx: u64,
}

/// test.cpp's `test(mode)`: kcp1 sends (index, timestamp) every 20 ms, kcp2 echoes, kcp1
/// measures the round trip. The loop runs every virtual millisecond, as test.cpp's
/// `isleep(1)` loop does, in the same order: update both, send, deliver, echo, measure.
fn echo_test(mode: u32, seed: u64) -> RttResult {
    let base = Config {
        snd_wnd: 128,
        rcv_wnd: 128,
        interval: 10,
        ..Config::default()
    };
    let (c1, c2) = match mode {
        0 => (base.clone(), base),
        1 => {
            let c = Config { nc: true, ..base };
            (c.clone(), c)
        }
        _ => {
            let c = Config {
                nodelay: 2,
                resend: 2,
                nc: true,
                ..base
            };
            // test.cpp also sets kcp1->rx_minrto = 10 and kcp1->fastresend = 1.
            let c1 = Config {
                min_rto: Some(10),
                resend: 1,
                ..c.clone()
            };
            (c1, c)
        }
    };
    let mut k1 = Kcp::new(0x1122_3344, &c1).unwrap();
    let mut k2 = Kcp::new(0x1122_3344, &c2).unwrap();
    let mut l12 = Link::new(latency_simulator(), seed);
    let mut l21 = Link::new(latency_simulator(), seed.wrapping_mul(31).wrapping_add(7));

    let mut buf = [0u8; 2000];
    let mut msg = [0u8; 10];
    let mut slap: u64 = 20;
    let mut index: u32 = 0;
    let mut next: u32 = 0;
    let (mut sum, mut count, mut max) = (0u64, 0u64, 0u32);
    let mut now: u64 = 0;
    while next <= 1000 {
        now += 1;
        assert!(now < 200_000, "mode {mode}: echo test stalled at {next}");
        let t = now as u32;
        k1.handle_timeout(t);
        while let Some(n) = k1.poll_transmit(t, &mut buf) {
            l12.send(now, &buf[..n]);
        }
        k2.handle_timeout(t);
        while let Some(n) = k2.poll_transmit(t, &mut buf) {
            l21.send(now, &buf[..n]);
        }
        while now >= slap {
            let mut m = [0u8; 8];
            m[..4].copy_from_slice(&index.to_le_bytes());
            m[4..].copy_from_slice(&t.to_le_bytes());
            index += 1;
            k1.enqueue(&m).unwrap();
            slap += 20;
        }
        while let Some(d) = l12.poll(now) {
            k2.input(t, &d).unwrap();
        }
        while let Some(d) = l21.poll(now) {
            k1.input(t, &d).unwrap();
        }
        while let Ok(n) = k2.recv(&mut msg) {
            k2.enqueue(&msg[..n]).unwrap();
        }
        while let Ok(n) = k1.recv(&mut msg) {
            assert_eq!(n, 8);
            let sn = u32::from_le_bytes(msg[..4].try_into().unwrap());
            let ts = u32::from_le_bytes(msg[4..8].try_into().unwrap());
            assert_eq!(sn, next, "echo out of order");
            let rtt = t - ts;
            next += 1;
            sum += u64::from(rtt);
            count += 1;
            max = max.max(rtt);
        }
    }
    RttResult {
        avg: (sum / count) as u32,
        max,
        tx: l12.stats().sent,
    }
}

#[test]
fn test_cpp_latency_table() {
    // Published in test.cpp's trailing comment: default 740/1507, normal 156/571, fast
    // 138/392 ms (avg/max). Running test.cpp of tag 1.7.1 itself (g++ -O2, real clock) on
    // the development machine gave default 5476/9577, normal 158/543, fast 144/479: the
    // default-mode figure predates later cwnd changes and swings wildly with the loss
    // pattern, so for it we only require "far slower than normal". Our loss process
    // (Bernoulli from SplitMix64, not test.h's shuffled bag of 100 over rand()) differs, so
    // we average three seeds; the bar is the published averages within ±10 %:
    // normal 156 ms → 140..=172, fast 138 ms → 124..=152. (Seen: 158 and 140; the run is
    // deterministic, a virtual clock and seeded loss, so this cannot flake.)
    //
    // The README's other claims hold too: fast mode has the lower worst case and pays for
    // it with more datagrams.
    let seeds = [1u64, 2, 3];
    let mut avg = [0u32; 3];
    let mut max = [0u32; 3];
    let mut tx = [0u64; 3];
    for mode in 0..3 {
        let runs: Vec<RttResult> = seeds.iter().map(|&s| echo_test(mode, s)).collect();
        let m = mode as usize;
        avg[m] = runs.iter().map(|r| r.avg).sum::<u32>() / runs.len() as u32;
        max[m] = runs.iter().map(|r| r.max).sum::<u32>() / runs.len() as u32;
        tx[m] = runs.iter().map(|r| r.tx).sum();
        eprintln!("mode {mode}: {runs:?}");
    }
    let [default, normal, fast] = avg;
    eprintln!("avgrtt default={default} normal={normal} fast={fast}; maxrtt {max:?}; tx {tx:?}");
    assert!(default > normal && normal > fast, "ordering: {avg:?}");
    assert!(
        (140..=172).contains(&normal),
        "normal avg {normal} vs 156 ±10 %"
    );
    assert!((124..=152).contains(&fast), "fast avg {fast} vs 138 ±10 %");
    assert!(default > 2 * normal, "default avg {default} vs 740");
    assert!(max[2] < max[1], "fast maxrtt below normal: {max:?}");
    assert!(tx[2] > tx[1], "fast mode sends more: {tx:?}");
}

/// Moves `messages` from a to b over two lossy links, driven by `poll_timeout` and link
/// deliveries only. Returns what b received and the virtual time it took.
fn transfer(
    config: &Config,
    link: LinkConfig,
    seed: u64,
    clock_base: u32,
    sn_base: Option<u32>,
    messages: &[Vec<u8>],
) -> (Vec<Vec<u8>>, u64) {
    let mut a = Kcp::new(9, config).unwrap();
    let mut b = Kcp::new(9, config).unwrap();
    if let Some(sn) = sn_base {
        a.set_initial_sn(sn, sn.wrapping_add(1000));
        b.set_initial_sn(sn.wrapping_add(1000), sn);
    }
    let mut ab = Link::new(link.clone(), seed);
    let mut ba = Link::new(link, seed ^ 0x9e37_79b9);
    let mut buf = vec![0u8; config.mtu + config.headroom];
    let mut msg = vec![0u8; a.max_message()];
    let mut got = Vec::new();
    let mut sent = 0;
    let mut now: u64 = 0;
    let mut events = 0u64;
    let kcp_time = |t: u64| clock_base.wrapping_add(t as u32);
    let due_in = |deadline: Option<u32>, t: u64| {
        deadline.map(|d| t + (d.wrapping_sub(kcp_time(t)) as i32).max(0) as u64)
    };
    // A new session has no clock until its first handle_timeout.
    a.handle_timeout(kcp_time(0));
    b.handle_timeout(kcp_time(0));
    let total: usize = messages.iter().map(Vec::len).sum();
    let mut got_bytes = 0;
    let done = |got: &Vec<Vec<u8>>, got_bytes: usize| {
        if config.stream {
            got_bytes == total
        } else {
            got.len() == messages.len()
        }
    };
    while !done(&got, got_bytes) {
        events += 1;
        if events > 2_000_000 || now > 3_600_000 {
            panic!(
                "transfer stalled: now {now} got {} sent {sent} a {:?} {:?} b {:?} {:?} links {:?} {:?}",
                got.len(),
                a.poll_timeout(),
                a.stats(),
                b.poll_timeout(),
                b.stats(),
                ab.next_delivery(),
                ba.next_delivery()
            );
        }
        let t = kcp_time(now);
        while sent < messages.len() && a.send(&messages[sent]).is_ok() {
            sent += 1;
        }
        while let Some(d) = ab.poll(now) {
            b.input(t, &d[config.headroom..]).unwrap();
        }
        while let Some(d) = ba.poll(now) {
            a.input(t, &d[config.headroom..]).unwrap();
        }
        for (k, out) in [(&mut a, &mut ab), (&mut b, &mut ba)] {
            if due_in(k.poll_timeout(), now).is_some_and(|d| d <= now) {
                k.handle_timeout(t);
            }
            while let Some(n) = k.poll_transmit(t, &mut buf) {
                out.send(now, &buf[..n]);
            }
        }
        while let Ok(n) = b.recv(&mut msg) {
            got.push(msg[..n].to_vec());
            got_bytes += n;
        }
        if done(&got, got_bytes) {
            break;
        }
        let next = [
            due_in(a.poll_timeout(), now),
            due_in(b.poll_timeout(), now),
            ab.next_delivery(),
            ba.next_delivery(),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("a transfer in progress always has a deadline");
        now = next.max(now);
    }
    (got, now)
}

fn messages(seed: u64, count: usize, max_len: usize) -> Vec<Vec<u8>> {
    let mut x = seed | 1;
    (0..count)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x as usize) % max_len;
            (0..len).map(|j| (i * 7 + j) as u8 ^ (x as u8)).collect()
        })
        .collect()
}

fn turbo() -> Config {
    Config {
        nodelay: 1,
        interval: 10,
        resend: 2,
        nc: true,
        snd_wnd: 128,
        rcv_wnd: 128,
        headroom: 8,
        ..Config::default()
    }
}

fn lossy(loss: f64) -> LinkConfig {
    LinkConfig {
        loss,
        duplicate: 0.02,
        delay_min_ms: 10,
        delay_max_ms: 60,
        fifo: false,
        bandwidth_bytes_per_sec: Some(2_000_000),
        queue_limit: 1000,
    }
}

proptest! {
    // Fixed seeds: the same 32 cases every run, so a slow case is found here, not in CI.
    #![proptest_config(ProptestConfig {
        cases: 32,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x6b63_7020),
        ..ProptestConfig::default()
    })]

    #[test]
    fn bulk_transfer_is_exact_at_10_percent_loss(seed: u64, stream: bool) {
        let msgs = messages(seed, 300, 3000);
        let config = Config { stream, ..turbo() };
        let (got, _) = transfer(&config, lossy(0.10), seed, seed as u32, None, &msgs);
        check(&msgs, &got, stream)?;
    }

    // At 30 % loss each way KCP's default profile (nodelay 0) can stall for an hour: ikcp
    // doubles a segment's RTO on every timeout with no cap (IKCP_RTO_MAX bounds only the
    // estimator), and riptide-kcp keeps that to stay byte-identical. nodelay 2 grows it
    // linearly; congestion control stays on.
    #[test]
    fn bulk_transfer_is_exact_at_30_percent_loss(seed: u64) {
        let msgs = messages(seed, 200, 3000);
        let config = Config { nodelay: 2, interval: 20, resend: 0, nc: false, ..turbo() };
        let (got, _) = transfer(&config, lossy(0.30), seed, seed as u32, None, &msgs);
        check(&msgs, &got, false)?;
    }
}

/// Message mode: the same messages; stream mode: the same bytes.
fn check(sent: &[Vec<u8>], got: &[Vec<u8>], stream: bool) -> Result<(), TestCaseError> {
    if stream {
        prop_assert_eq!(sent.concat(), got.concat());
    } else {
        prop_assert_eq!(sent.len(), got.len());
        prop_assert!(sent == got, "messages differ");
    }
    Ok(())
}

#[test]
fn transfer_across_the_counter_wrap() {
    // Both sequence spaces and the clock cross 2^32 mid-transfer.
    let msgs = messages(42, 400, 2000);
    let sn_base = u32::MAX - 150;
    let clock_base = u32::MAX - 300;
    let (got, took) = transfer(&turbo(), lossy(0.10), 42, clock_base, Some(sn_base), &msgs);
    assert!(got == msgs, "messages differ across the wrap");
    assert!(
        took > 300,
        "the clock wrapped during the transfer ({took} ms)"
    );
}
