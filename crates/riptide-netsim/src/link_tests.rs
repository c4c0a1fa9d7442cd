//! Unit tests for `Link`: determinism, rates, ordering, bandwidth and queue bounds.

use super::Link;
use crate::config::LinkConfig;

/// Sends `count` numbered datagrams, one per millisecond, and drains the link; returns
/// the numbers in delivery order with their delivery times.
fn run(config: LinkConfig, seed: u64, count: u32) -> (Vec<(u64, u32)>, Link) {
    let mut link = Link::new(config, seed);
    let mut out = Vec::new();
    let mut now = 0u64;
    for i in 0..count {
        link.send(now, &i.to_le_bytes());
        drain(&mut link, now, &mut out);
        now += 1;
    }
    while let Some(due) = link.next_delivery() {
        now = now.max(due);
        drain(&mut link, now, &mut out);
    }
    (out, link)
}

fn drain(link: &mut Link, now: u64, out: &mut Vec<(u64, u32)>) {
    while let Some(d) = link.poll(now) {
        out.push((now, u32::from_le_bytes(d.try_into().unwrap())));
    }
}

fn lossy() -> LinkConfig {
    LinkConfig {
        loss: 0.1,
        duplicate: 0.05,
        delay_min_ms: 5,
        delay_max_ms: 50,
        fifo: false,
        ..LinkConfig::default()
    }
}

#[test]
fn same_seed_same_result() {
    let (a, la) = run(lossy(), 42, 5_000);
    let (b, lb) = run(lossy(), 42, 5_000);
    assert_eq!(a, b);
    assert_eq!(la.stats(), lb.stats());
    let (c, _) = run(lossy(), 43, 5_000);
    assert_ne!(a, c);
}

#[test]
fn loss_rate_within_tolerance() {
    let config = LinkConfig {
        loss: 0.2,
        ..LinkConfig::default()
    };
    let (out, link) = run(config, 7, 100_000);
    let stats = link.stats();
    // Binomial sd = sqrt(1e5 * 0.2 * 0.8) ~ 126; allow about 5 sd.
    assert!((19_370..=20_630).contains(&stats.lost), "{stats:?}");
    assert_eq!(stats.delivered, out.len() as u64);
    assert_eq!(stats.sent, stats.lost + stats.delivered);
}

#[test]
fn duplicate_rate_within_tolerance() {
    let config = LinkConfig {
        duplicate: 0.1,
        delay_max_ms: 3,
        ..LinkConfig::default()
    };
    let (out, link) = run(config, 9, 100_000);
    let stats = link.stats();
    // Binomial sd = sqrt(1e5 * 0.1 * 0.9) ~ 95.
    assert!((9_525..=10_475).contains(&stats.duplicated), "{stats:?}");
    assert_eq!(out.len() as u64, stats.sent + stats.duplicated);
    assert_eq!(stats.overflowed, 0);
}

#[test]
fn fifo_never_reorders() {
    let config = LinkConfig {
        fifo: true,
        ..lossy()
    };
    let (out, _) = run(config, 3, 20_000);
    assert!(out.windows(2).all(|w| w[0].1 <= w[1].1 && w[0].0 <= w[1].0));
}

#[test]
fn non_fifo_reorders_with_jitter() {
    let (out, _) = run(lossy(), 3, 20_000);
    let inversions = out.windows(2).filter(|w| w[0].1 > w[1].1).count();
    assert!(inversions > 1_000, "only {inversions} inversions");
    assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn delay_stays_in_range() {
    let config = LinkConfig {
        delay_min_ms: 20,
        delay_max_ms: 30,
        fifo: false,
        ..LinkConfig::default()
    };
    let mut link = Link::new(config, 11);
    let mut seen = [false; 11];
    for _ in 0..2_000 {
        link.send(100, b"x");
        let due = link.next_delivery().unwrap();
        assert!((120..=130).contains(&due));
        seen[(due - 120) as usize] = true;
        assert!(link.poll(due - 1).is_none());
        assert!(link.poll(due).is_some());
    }
    assert!(seen.iter().all(|s| *s), "not every delay drawn: {seen:?}");
}

#[test]
fn bandwidth_spaces_datagrams() {
    let config = LinkConfig {
        bandwidth_bytes_per_sec: Some(10_000),
        delay_min_ms: 5,
        delay_max_ms: 5,
        ..LinkConfig::default()
    };
    let mut link = Link::new(config, 1);
    for _ in 0..10 {
        link.send(0, &[0u8; 100]); // 10 ms each at 10 kB/s
    }
    let mut times = Vec::new();
    while let Some(due) = link.next_delivery() {
        link.poll(due).unwrap();
        times.push(due);
    }
    let expected: Vec<u64> = (1..=10).map(|i| i * 10 + 5).collect();
    assert_eq!(times, expected);

    // An idle bottleneck does not bank credit: a later datagram only pays its own time.
    link.send(1_000, &[0u8; 100]);
    assert_eq!(link.next_delivery(), Some(1_015));
}

#[test]
fn queue_limit_bounds_memory() {
    let config = LinkConfig {
        delay_min_ms: 100,
        delay_max_ms: 100,
        queue_limit: 8,
        ..LinkConfig::default()
    };
    let mut link = Link::new(config, 1);
    for i in 0..20u8 {
        link.send(0, &[i]);
    }
    assert_eq!(link.queued(), 8);
    let stats = link.stats();
    assert_eq!((stats.sent, stats.overflowed), (20, 12));
    let got: Vec<u8> = std::iter::from_fn(|| link.poll(100))
        .map(|d| d[0])
        .collect();
    assert_eq!(got, (0..8).collect::<Vec<u8>>());
    link.send(100, &[99]);
    assert_eq!(link.queued(), 1);
}

#[test]
fn perfect_link_delivers_immediately_in_order() {
    let mut link = Link::new(LinkConfig::default(), 0);
    link.send(5, b"a");
    link.send(5, b"b");
    assert_eq!(link.next_delivery(), Some(5));
    assert_eq!(link.poll(5).as_deref(), Some(&b"a"[..]));
    assert_eq!(link.poll(5).as_deref(), Some(&b"b"[..]));
    assert_eq!(link.poll(5), None);
    assert_eq!(link.next_delivery(), None);
}

#[test]
fn out_of_range_settings_are_clamped() {
    let config = LinkConfig {
        loss: f64::NAN,
        duplicate: 2.0,
        delay_min_ms: 10,
        delay_max_ms: 1,
        bandwidth_bytes_per_sec: Some(0),
        ..LinkConfig::default()
    };
    let mut link = Link::new(config, 5);
    link.send(0, b"z");
    assert_eq!(link.queued(), 2);
    assert_eq!(link.next_delivery(), Some(10));
}
