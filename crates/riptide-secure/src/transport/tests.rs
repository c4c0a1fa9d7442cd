use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

fn cfg() -> TransportConfig {
    TransportConfig::default()
}

fn seal(t: &mut Transport, now: Instant, kind: Kind, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    t.seal(now, kind, payload, &mut out).unwrap();
    out
}

#[test]
fn both_ways_every_kind() {
    let now = Instant::now();
    let (mut a, mut b) = test_pair(cfg(), now);
    let mut out = Vec::new();
    for (i, kind) in [Kind::Data, Kind::Unreliable, Kind::Keepalive]
        .into_iter()
        .enumerate()
    {
        let payload = vec![i as u8; i * 100];
        let p = seal(&mut a, now, kind, &payload);
        assert_eq!(p.len(), payload.len() + Transport::overhead());
        assert_eq!(Transport::overhead(), 32);
        let o = b.open(now, &p, &mut out).unwrap();
        assert_eq!((o.kind, o.counter, o.newest), (kind, i as u64, true));
        assert_eq!(out, payload);
        let p = seal(&mut b, now, kind, &payload);
        a.open(now, &p, &mut out).unwrap();
        assert_eq!(out, payload);
    }
    assert_eq!(a.stats().sealed, 3);
    assert_eq!(b.stats().opened, 3);
}

#[test]
fn every_replayed_packet_is_refused() {
    let now = Instant::now();
    let (mut a, mut b) = test_pair(cfg(), now);
    let mut out = Vec::new();
    let packets: Vec<_> = (0..300u32)
        .map(|i| seal(&mut a, now, Kind::Data, &i.to_le_bytes()))
        .collect();
    for p in &packets {
        b.open(now, p, &mut out).unwrap();
    }
    for p in &packets {
        assert_eq!(b.open(now, p, &mut out), Err(SecureError::Replay));
        assert!(out.is_empty());
    }
    assert_eq!(b.stats().replayed, 300);
}

#[test]
fn bit_flips_and_truncations_are_refused_without_output() {
    let now = Instant::now();
    let (mut a, mut b) = test_pair(cfg(), now);
    let mut out = vec![1, 2, 3];
    let p = seal(&mut a, now, Kind::Data, b"some kcp segment bytes");
    for i in 0..p.len() {
        for bit in 0..8 {
            let mut q = p.clone();
            q[i] ^= 1 << bit;
            assert!(
                b.open(now, &q, &mut out).is_err(),
                "flip at {i}.{bit} opened"
            );
            assert!(out.is_empty());
        }
    }
    for len in 0..p.len() {
        assert!(
            b.open(now, &p[..len], &mut out).is_err(),
            "truncated to {len} opened"
        );
    }
    let mut longer = p.clone();
    longer.push(0);
    assert!(b.open(now, &longer, &mut out).is_err());
    let s = b.stats();
    assert_eq!(s.opened, 0);
    assert!(s.unauthenticated > 0 && s.malformed > 0);
    // The genuine packet still opens: nothing above touched the window.
    b.open(now, &p, &mut out).unwrap();
    assert_eq!(out, b"some kcp segment bytes");
}

#[test]
fn wrong_session_and_handshake_types_are_refused() {
    let now = Instant::now();
    let (mut a, mut b) = test_pair(cfg(), now);
    let mut p = seal(&mut a, now, Kind::Data, b"x");
    let mut out = Vec::new();
    let mut other = p.clone();
    other[4] ^= 1;
    assert_eq!(b.open(now, &other, &mut out), Err(SecureError::WrongId));
    p[0] = PacketType::Init as u8;
    assert_eq!(
        b.open(now, &p, &mut out),
        Err(SecureError::UnexpectedPacket)
    );
    p[0] = PacketType::Response as u8;
    p[1] = 0;
    assert!(b.open(now, &p, &mut out).is_err());
}

#[test]
fn out_of_order_and_duplicates_within_the_window() {
    let now = Instant::now();
    let (mut a, mut b) = test_pair(cfg(), now);
    let mut out = Vec::new();
    let packets: Vec<_> = (0..2000u32)
        .map(|i| seal(&mut a, now, Kind::Data, &i.to_le_bytes()))
        .collect();
    // Reverse order: every packet is within 2000 < 4032 of the newest.
    for (i, p) in packets.iter().enumerate().rev() {
        let o = b.open(now, p, &mut out).unwrap();
        assert_eq!(o.newest, i == packets.len() - 1);
        assert_eq!(out, (i as u32).to_le_bytes());
        assert_eq!(b.open(now, p, &mut out), Err(SecureError::Replay));
    }
}

#[test]
fn far_future_counter_and_the_end_of_the_counter_space() {
    let now = Instant::now();
    let (mut a, mut b) = test_pair(cfg(), now);
    let mut out = Vec::new();
    let old = seal(&mut a, now, Kind::Data, b"old");
    a.set_send_counter(1 << 50);
    let far = seal(&mut a, now, Kind::Data, b"far");
    assert!(b.open(now, &far, &mut out).unwrap().newest);
    assert_eq!(
        b.open(now, &old, &mut out),
        Err(SecureError::Replay),
        "fell out of the window"
    );

    a.set_send_counter(REJECT_AFTER - 1);
    let last = seal(&mut a, now, Kind::Data, b"last");
    assert_eq!(
        b.open(now, &last, &mut out).unwrap().counter,
        REJECT_AFTER - 1
    );
    assert_eq!(
        a.seal(now, Kind::Data, b"one more", &mut out),
        Err(SecureError::CounterExhausted)
    );
    assert!(out.is_empty());
    // A packet claiming a counter at the end of the space is refused before decryption.
    let mut forged = last.clone();
    forged[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(b.open(now, &forged, &mut out), Err(SecureError::Replay));
}

#[test]
fn payload_limit() {
    let now = Instant::now();
    let (mut a, _) = test_pair(cfg(), now);
    let mut out = Vec::new();
    a.seal(now, Kind::Data, &vec![0; MAX_PAYLOAD], &mut out)
        .unwrap();
    assert_eq!(out.len(), 65_507);
    assert_eq!(
        a.seal(now, Kind::Data, &vec![0; MAX_PAYLOAD + 1], &mut out),
        Err(SecureError::PayloadTooLarge)
    );
}

/// Over a long run crossing many rekeys (by count and by time), no (key, nonce) pair repeats
/// on either side, and everything opens.
#[test]
fn nonces_never_repeat_across_rekeys() {
    let mut now = Instant::now();
    let config = TransportConfig {
        rekey_after_packets: 37,
        rekey_after: Duration::from_millis(700),
        previous_key_grace: Duration::from_secs(1),
        keepalive_interval: Duration::from_secs(1),
    };
    let (mut a, mut b) = test_pair(config, now);
    let mut out = Vec::new();
    let mut used: HashSet<([u8; 32], u64)> = HashSet::new();
    let mut keys = HashSet::new();
    for i in 0..5000u32 {
        for dir in 0..2 {
            // Both directions, unevenly: b sends only every other round.
            if dir == 1 && i % 2 == 1 {
                continue;
            }
            let (from, to) = if dir == 0 {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            let p = seal(from, now, Kind::Data, &i.to_le_bytes());
            let counter = u64::from_le_bytes(p[8..16].try_into().unwrap());
            let key = from.send_key_bytes();
            keys.insert(key);
            assert!(
                used.insert((key, counter)),
                "nonce reused: counter {counter}"
            );
            to.open(now, &p, &mut out).unwrap();
            assert_eq!(out, i.to_le_bytes());
        }
        if i % 11 == 0 {
            now += Duration::from_millis(50);
        }
    }
    let (sa, sb) = (a.stats(), b.stats());
    assert!(
        sa.send_rekeys >= 100 && sb.send_rekeys >= 50,
        "{sa:?} {sb:?}"
    );
    assert_eq!(sa.send_rekeys, sb.recv_rekeys);
    assert_eq!(keys.len() as u64, sa.send_rekeys + sb.send_rekeys + 2);
    assert!(a.epochs().0 != 0 || sa.send_rekeys % 256 == 0);
}

#[test]
fn reordering_across_a_rekey_within_the_grace_period() {
    let mut now = Instant::now();
    let config = TransportConfig {
        rekey_after_packets: 4,
        previous_key_grace: Duration::from_secs(2),
        ..cfg()
    };
    let (mut a, mut b) = test_pair(config, now);
    let mut out = Vec::new();
    let packets: Vec<_> = (0..8u8)
        .map(|i| seal(&mut a, now, Kind::Data, &[i]))
        .collect();
    assert_eq!(packets[3][1], 0);
    assert_eq!(packets[4][1], 1);
    // New epoch first, then the old one (kept as previous), both open.
    b.open(now, &packets[5], &mut out).unwrap();
    b.open(now, &packets[1], &mut out).unwrap();
    assert_eq!(out, [1]);
    // After the grace period the old key is gone.
    now += Duration::from_secs(3);
    assert_eq!(
        b.open(now, &packets[2], &mut out),
        Err(SecureError::StaleKey)
    );
    b.open(now, &packets[6], &mut out).unwrap();
}

#[test]
fn receiver_follows_several_missed_rekeys_but_not_too_many() {
    let now = Instant::now();
    let config = TransportConfig {
        rekey_after_packets: 1,
        ..cfg()
    };
    let (mut a, mut b) = test_pair(config, now);
    let mut out = Vec::new();
    let packets: Vec<_> = (0..30u8)
        .map(|i| seal(&mut a, now, Kind::Data, &[i]))
        .collect();
    assert_eq!(packets[5][1], 5);
    b.open(now, &packets[5], &mut out).unwrap(); // 5 epochs ahead
    assert_eq!(b.epochs().1, 5);
    assert_eq!(
        b.open(now, &packets[20], &mut out),
        Err(SecureError::StaleKey)
    ); // 15 ahead
    b.open(now, &packets[13], &mut out).unwrap(); // 8 ahead
    b.open(now, &packets[12], &mut out).unwrap(); // the key just before is kept
    assert_eq!(
        b.open(now, &packets[11], &mut out),
        Err(SecureError::StaleKey)
    );
    b.open(now, &packets[20], &mut out).unwrap();
}

#[test]
fn keepalive_is_due_after_idle_sending() {
    let now = Instant::now();
    let (mut a, _) = test_pair(cfg(), now);
    assert!(!a.needs_keepalive(now + Duration::from_secs(9)));
    assert!(a.needs_keepalive(now + Duration::from_secs(10)));
    seal(&mut a, now + Duration::from_secs(10), Kind::Keepalive, &[]);
    assert!(!a.needs_keepalive(now + Duration::from_secs(11)));
}

proptest! {
    /// Any interleaving of deliveries, duplicates and drops: each sealed packet opens at most
    /// once, with its own payload and kind; forged bytes never open.
    #[test]
    fn lossy_reordering_link(
        ops in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..40), 0usize..64, any::<u8>()), 1..200),
    ) {
        let now = Instant::now();
        let config = TransportConfig { rekey_after_packets: 5, ..cfg() };
        let (mut a, mut b) = test_pair(config, now);
        let mut in_flight: Vec<(bool, Vec<u8>, Vec<u8>, Kind)> = Vec::new();
        let mut opened: HashSet<(bool, u64)> = HashSet::new();
        let mut out = Vec::new();
        for (a_to_b, payload, pick, noise) in ops {
            let kind = [Kind::Data, Kind::Unreliable, Kind::Keepalive][usize::from(noise % 3)];
            let from = if a_to_b { &mut a } else { &mut b };
            let p = seal(from, now, kind, &payload);
            in_flight.push((a_to_b, p, payload, kind));
            if in_flight.is_empty() { continue; }
            let (dir, p, payload, kind) = in_flight[pick % in_flight.len()].clone();
            let to = if dir { &mut b } else { &mut a };
            let mut forged = p.clone();
            let at = usize::from(noise) % forged.len();
            forged[at] ^= 0x80;
            prop_assert!(to.open(now, &forged, &mut out).is_err());
            let counter = u64::from_le_bytes(p[8..16].try_into().unwrap());
            match to.open(now, &p, &mut out) {
                Ok(o) => {
                    prop_assert!(opened.insert((dir, counter)), "opened twice");
                    prop_assert_eq!(o.kind, kind);
                    prop_assert_eq!(&out, &payload);
                }
                Err(e) => {
                    prop_assert!(opened.contains(&(dir, counter)) || e == SecureError::StaleKey, "{:?}", e);
                }
            }
        }
    }
}
