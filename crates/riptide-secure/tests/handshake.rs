//! The handshake and the endpoint end to end, in memory: round trips, return routability,
//! cookies under load, floods, amplification, NAT rebinding, timeouts.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use riptide_secure::packet::{peek, COOKIE_REPLY_LEN, INIT_LEN, RESPONSE_LEN};
use riptide_secure::*;

fn addr(i: u32) -> SocketAddr {
    let [a, b, c, d] = i.to_be_bytes();
    SocketAddr::from(([10, b, c, d], 1024 + u16::from(a)))
}

fn server(now: Instant, tweak: impl FnOnce(&mut ServerConfig)) -> (Endpoint, [u8; 32]) {
    let keys = generate_keypair().unwrap();
    let mut config = ServerConfig::new(keys.private.clone());
    tweak(&mut config);
    (Endpoint::new(config, now).unwrap(), keys.public)
}

fn reply_to(ep: &mut Endpoint, now: Instant, from: SocketAddr, packet: &[u8]) -> Vec<u8> {
    let mut reply = Vec::new();
    let r = ep.handle(now, from, packet, &mut reply);
    assert!(matches!(r, Incoming::Reply), "{r:?}");
    assert!(reply.len() <= packet.len());
    reply
}

/// A full handshake; returns (client transport, server transport).
fn connect(
    ep: &mut Endpoint,
    key: &[u8; 32],
    now: Instant,
    from: SocketAddr,
) -> (Transport, Transport) {
    let (mut ini, init) = Initiator::new(key, now).unwrap();
    let response = reply_to(ep, now, from, &init);
    let InitiatorEvent::Established(mut client) = ini.handle(now, &response).unwrap() else {
        panic!("expected Established")
    };
    assert_eq!(ini.poll_timeout(), None);
    let mut p = Vec::new();
    client.seal(now, Kind::Data, b"first", &mut p).unwrap();
    let mut reply = Vec::new();
    match ep.handle(now, from, &p, &mut reply) {
        Incoming::Accept {
            id,
            transport,
            opened,
            payload,
            client_key,
        } => {
            assert_eq!(client_key, None);
            assert_eq!(id, client.id());
            assert_eq!(
                (opened.kind, opened.newest, payload.as_slice()),
                (Kind::Data, true, &b"first"[..])
            );
            (*client, *transport)
        }
        other => panic!("expected Accept, got {other:?}"),
    }
}

#[test]
fn round_trip_and_data_both_ways() {
    let now = Instant::now();
    let (mut ep, key) = server(now, |_| {});
    assert_eq!(ep.public_key(), &key);
    let peer = addr(1);
    let (mut ini, init) = Initiator::new(&key, now).unwrap();
    assert_eq!(init.len(), INIT_LEN);
    assert_eq!(peek(&init), Some((PacketType::Init, ini.tag())));
    let response = reply_to(&mut ep, now, peer, &init);
    assert_eq!(response.len(), RESPONSE_LEN);
    // Answered, but no session exists before the client proves its address.
    let s = ep.stats();
    assert_eq!((s.pending, s.live, s.accepted), (1, 0, 0));
    let InitiatorEvent::Established(mut client) = ini.handle(now, &response).unwrap() else {
        panic!()
    };
    assert_ne!(client.id(), 0);
    let mut p = Vec::new();
    client.seal(now, Kind::Keepalive, &[], &mut p).unwrap();
    let mut reply = Vec::new();
    let Incoming::Accept {
        id,
        transport: mut session,
        opened,
        payload,
        ..
    } = ep.handle(now, peer, &p, &mut reply)
    else {
        panic!()
    };
    assert_eq!(
        (id, opened.kind, payload.len()),
        (client.id(), Kind::Keepalive, 0)
    );
    let s = ep.stats();
    assert_eq!((s.pending, s.live, s.accepted), (0, 1, 1));

    let mut out = Vec::new();
    for i in 0..50u32 {
        let msg = i.to_le_bytes().repeat(i as usize);
        client.seal(now, Kind::Data, &msg, &mut p).unwrap();
        assert!(matches!(ep.handle(now, peer, &p, &mut reply), Incoming::Session(x) if x == id));
        session.open(now, &p, &mut out).unwrap();
        assert_eq!(out, msg);
        session.seal(now, Kind::Unreliable, &msg, &mut p).unwrap();
        assert_eq!(
            client.open(now, &p, &mut out).unwrap().kind,
            Kind::Unreliable
        );
        assert_eq!(out, msg);
    }
    assert_eq!(ep.stats().session_packets, 50);
}

#[test]
fn every_captured_packet_replayed_is_refused() {
    let now = Instant::now();
    let (mut ep, key) = server(now, |_| {});
    let peer = addr(2);
    let (mut ini, init) = Initiator::new(&key, now).unwrap();
    let response = reply_to(&mut ep, now, peer, &init);
    let InitiatorEvent::Established(mut client) = ini.handle(now, &response).unwrap() else {
        panic!()
    };
    let mut captured = Vec::new();
    let mut p = Vec::new();
    client.seal(now, Kind::Data, b"0", &mut p).unwrap();
    captured.push(p.clone());
    let mut reply = Vec::new();
    let Incoming::Accept {
        transport: mut session,
        ..
    } = ep.handle(now, peer, &p, &mut reply)
    else {
        panic!()
    };
    let mut out = Vec::new();
    for i in 1..100u8 {
        client.seal(now, Kind::Data, &[i], &mut p).unwrap();
        session.open(now, &p, &mut out).unwrap();
        captured.push(p.clone());
    }
    for p in &captured {
        // Routed to the session by id, refused by its transport.
        assert!(matches!(
            ep.handle(now, peer, p, &mut reply),
            Incoming::Session(_)
        ));
        assert_eq!(session.open(now, p, &mut out), Err(SecureError::Replay));
    }
    // The init and the response replayed: the init gets the cached answer (no new state),
    // the response is not something a server takes, and the finished initiator refuses it.
    assert_eq!(reply_to(&mut ep, now, addr(99), &init).len(), RESPONSE_LEN);
    assert!(ep.stats().pending <= 1);
    assert!(matches!(
        ep.handle(now, peer, &response, &mut reply),
        Incoming::Drop(DropReason::UnexpectedType)
    ));
    assert_eq!(
        ini.handle(now, &response).unwrap_err(),
        SecureError::UnexpectedPacket
    );
}

#[test]
fn resent_init_gets_the_same_answer() {
    let now = Instant::now();
    let (mut ep, key) = server(now, |_| {});
    let (mut ini, init) = Initiator::new(&key, now).unwrap();
    let r1 = reply_to(&mut ep, now, addr(3), &init);
    let later = now + Duration::from_secs(1);
    let resent = ini.handle_timeout(later).unwrap().expect("resend due");
    assert_eq!(resent, init);
    let r2 = reply_to(&mut ep, later, addr(3), &resent);
    assert_eq!(r1, r2, "a resend must not make a second session");
    assert_eq!(ep.stats().pending, 1);
    let InitiatorEvent::Established(_) = ini.handle(later, &r2).unwrap() else {
        panic!()
    };
}

#[test]
fn forged_and_malformed_packets_are_dropped_and_counted() {
    let now = Instant::now();
    let (mut ep, key) = server(now, |_| {});
    let peer = addr(4);
    let (mut ini, init) = Initiator::new(&key, now).unwrap();
    let response = reply_to(&mut ep, now, peer, &init);
    let InitiatorEvent::Established(mut client) = ini.handle(now, &response).unwrap() else {
        panic!()
    };
    let mut reply = Vec::new();
    let mut drop = |ep: &mut Endpoint, p: &[u8]| match ep.handle(now, peer, p, &mut reply) {
        Incoming::Drop(r) => r,
        other => panic!("{other:?}"),
    };
    // Every bit flip of the init: mac1 (or the header/length checks) catches it, no state.
    // (mac2 is only read under load: a flipped mac2 gets the cached response, no new state.)
    let mac2_at = INIT_LEN - 16;
    for i in 0..mac2_at {
        let mut bad = init.clone();
        bad[i] ^= 0x10;
        let r = drop(&mut ep, &bad);
        assert!(
            matches!(r, DropReason::BadMac | DropReason::Malformed),
            "byte {i}: {r:?}"
        );
    }
    for len in 0..init.len() {
        assert_eq!(drop(&mut ep, &init[..len]), DropReason::Malformed);
    }
    // An init for another server's key.
    let other = generate_keypair().unwrap();
    let (_, foreign) = Initiator::new(&other.public, now).unwrap();
    assert_eq!(drop(&mut ep, &foreign), DropReason::BadMac);
    // Forged first packets for the pending id: refused, and the handshake survives them.
    let mut p = Vec::new();
    client.seal(now, Kind::Data, b"real", &mut p).unwrap();
    for i in 0..p.len() {
        let mut bad = p.clone();
        bad[i] ^= 1;
        let r = drop(&mut ep, &bad);
        assert!(
            matches!(
                r,
                DropReason::Unauthenticated
                    | DropReason::Malformed
                    | DropReason::UnknownId
                    | DropReason::UnexpectedType
            ),
            "byte {i}: {r:?}"
        );
    }
    assert_eq!(drop(&mut ep, &[0xff; 40]), DropReason::Malformed);
    let mut unknown = p.clone();
    unknown[4..8].copy_from_slice(&(client.id() ^ 0x8000_0000).to_le_bytes());
    assert_eq!(drop(&mut ep, &unknown), DropReason::UnknownId);
    assert_eq!(drop(&mut ep, &response), DropReason::UnexpectedType);
    let d = ep.stats().dropped;
    assert!(d.get(DropReason::BadMac) >= 100);
    assert!(d.get(DropReason::Malformed) >= 128);
    assert!(d.get(DropReason::Unauthenticated) > 0);
    assert_eq!(
        d.total(),
        DropReason::ALL.iter().map(|r| d.get(*r)).sum::<u64>()
    );
    let mut reply = Vec::new();
    assert!(matches!(
        ep.handle(now, peer, &p, &mut reply),
        Incoming::Accept { .. }
    ));
}

#[test]
fn response_from_an_impostor_fails_but_the_handshake_goes_on() {
    let now = Instant::now();
    let (mut real, key) = server(now, |_| {});
    let (mut ini, init) = Initiator::new(&key, now).unwrap();
    // An impostor who learned the init answers with its own key: mac1 stops it at its own
    // endpoint, so build its response by accepting any init (its own clients' init shape).
    let (mut fake, fake_key) = server(now, |_| {});
    let (fake_ini, fake_init) = Initiator::new(&fake_key, now).unwrap();
    let mut forged = reply_to(&mut fake, now, addr(5), &fake_init);
    forged[4..8].copy_from_slice(&ini.tag().to_le_bytes());
    drop(fake_ini);
    assert_eq!(
        ini.handle(now, &forged).unwrap_err(),
        SecureError::HandshakeFailed
    );
    let mut wrong_tag = forged.clone();
    wrong_tag[4] ^= 1;
    assert_eq!(
        ini.handle(now, &wrong_tag).unwrap_err(),
        SecureError::WrongId
    );
    let response = reply_to(&mut real, now, addr(5), &init);
    assert!(matches!(
        ini.handle(now, &response).unwrap(),
        InitiatorEvent::Established(_)
    ));
}

fn loaded(now: Instant) -> (Endpoint, [u8; 32]) {
    server(now, |c| {
        c.under_load_pending = 0; // always under load
        c.max_pending = 64;
    })
}

#[test]
fn under_load_an_init_gets_a_cookie_and_the_retry_succeeds() {
    let now = Instant::now();
    let (mut ep, key) = loaded(now);
    assert!(ep.under_load());
    let peer = addr(6);
    let (mut ini, init) = Initiator::new(&key, now).unwrap();
    let cookie_reply = reply_to(&mut ep, now, peer, &init);
    assert_eq!(cookie_reply.len(), COOKIE_REPLY_LEN);
    assert_eq!(
        peek(&cookie_reply),
        Some((PacketType::CookieReply, ini.tag()))
    );
    let s = ep.stats();
    assert_eq!(
        (s.pending, s.cookie_replies, s.responses),
        (0, 1, 0),
        "no state for a cookie reply"
    );

    // A cookie reply forged off-path (it cannot know the init's mac1) is refused.
    let mut forged = cookie_reply.clone();
    forged[30] ^= 1;
    assert_eq!(
        ini.handle(now, &forged).unwrap_err(),
        SecureError::Unauthenticated
    );

    let InitiatorEvent::Retry(retry) = ini.handle(now, &cookie_reply).unwrap() else {
        panic!()
    };
    assert_eq!(retry.len(), INIT_LEN);
    assert_ne!(retry, init, "the retry carries mac2");
    // The cookie is bound to the address: from another port it is just another cookie reply.
    assert_eq!(
        reply_to(&mut ep, now, addr(7), &retry).len(),
        COOKIE_REPLY_LEN
    );
    let response = reply_to(&mut ep, now, peer, &retry);
    assert_eq!(response.len(), RESPONSE_LEN);
    let InitiatorEvent::Established(mut client) = ini.handle(now, &response).unwrap() else {
        panic!()
    };
    let mut p = Vec::new();
    client.seal(now, Kind::Data, b"hi", &mut p).unwrap();
    let mut reply = Vec::new();
    assert!(matches!(
        ep.handle(now, peer, &p, &mut reply),
        Incoming::Accept { .. }
    ));
    // Resends after the cookie keep mac2 while the cookie is fresh.
    assert_eq!(ep.stats().accepted, 1);
}

#[test]
fn cookies_expire_with_the_secret_rotation() {
    let now = Instant::now();
    let (mut ep, key) = loaded(now);
    let peer = addr(8);
    let (mut ini, init) = Initiator::new(&key, now).unwrap();
    let cookie_reply = reply_to(&mut ep, now, peer, &init);
    let InitiatorEvent::Retry(retry) = ini.handle(now, &cookie_reply).unwrap() else {
        panic!()
    };
    // Two rotations later the server no longer knows the secret.
    let late = now + Duration::from_secs(241);
    ep.handle_timeout(now + Duration::from_secs(121));
    assert_eq!(
        reply_to(&mut ep, late, peer, &retry).len(),
        COOKIE_REPLY_LEN
    );
}

#[test]
fn handshake_rate_above_the_limit_means_cookies() {
    let now = Instant::now();
    let (mut ep, key) = server(now, |c| c.handshake_rate = 3);
    for i in 0..3 {
        let (_, init) = Initiator::new(&key, now).unwrap();
        assert_eq!(
            reply_to(&mut ep, now, addr(10 + i), &init).len(),
            RESPONSE_LEN
        );
    }
    let (_, init) = Initiator::new(&key, now).unwrap();
    assert_eq!(
        reply_to(&mut ep, now, addr(20), &init).len(),
        COOKIE_REPLY_LEN
    );
    // A new second, a new budget.
    let (_, init) = Initiator::new(&key, now).unwrap();
    assert_eq!(
        reply_to(&mut ep, now + Duration::from_secs(1), addr(21), &init).len(),
        RESPONSE_LEN
    );
}

/// A flood of inits from many addresses (fresh ones, replays, and ones carrying valid
/// cookies from addresses the attacker really owns): pending state stays within its bound,
/// and the server never sends more bytes to unvalidated addresses than it received.
#[test]
fn flood_keeps_memory_bounded_and_does_not_amplify() {
    let mut now = Instant::now();
    let max_pending = 32;
    let (mut ep, key) = server(now, |c| {
        c.max_pending = max_pending;
        c.under_load_pending = 8;
        c.per_ip_handshake_rate = 2;
    });
    let inits: Vec<_> = (0..300)
        .map(|_| Initiator::new(&key, now).unwrap())
        .collect();
    let mut reply = Vec::new();
    let mut max_seen = 0;
    for round in 0..4u32 {
        for (i, (_, init)) in inits.iter().enumerate() {
            for port in 0..8u32 {
                let from = addr(i as u32 * 8 + port + (round << 20));
                ep.handle(now, from, init, &mut reply);
                assert!(reply.len() <= init.len());
                max_seen = max_seen.max(ep.stats().pending);
            }
        }
        now += Duration::from_millis(400);
    }
    // The attacker's own addresses: real cookies, many ports per IP.
    for i in 0..200u32 {
        let from = SocketAddr::from(([203, 0, 113, (i % 4) as u8], 2000 + i as u16));
        let (mut ini, init) = Initiator::new(&key, now).unwrap();
        ep.handle(now, from, &init, &mut reply);
        if reply.len() == COOKIE_REPLY_LEN {
            if let Ok(InitiatorEvent::Retry(retry)) = ini.handle(now, &reply) {
                ep.handle(now, from, &retry, &mut reply);
            }
        }
        max_seen = max_seen.max(ep.stats().pending);
    }
    let s = ep.stats();
    assert!(
        max_seen <= max_pending,
        "pending {max_seen} > {max_pending}"
    );
    assert!(ep.pending_bytes() <= max_pending * PENDING_ENTRY_BYTES);
    assert!(
        s.cookie_replies > 0 && s.dropped.get(DropReason::RateLimited) > 0,
        "{s:?}"
    );
    let ratio = s.unvalidated_tx_bytes as f64 / s.unvalidated_rx_bytes as f64;
    eprintln!(
        "flood: {} inits, {} responses, {} cookie replies, max pending {max_seen}, {} B/entry, amplification {ratio:.3}",
        s.inits, s.responses, s.cookie_replies, PENDING_ENTRY_BYTES
    );
    assert!(ratio <= 1.0, "amplification ratio {ratio}");
    // Everything expires.
    ep.handle_timeout(now + Duration::from_secs(60));
    assert_eq!(ep.stats().pending, 0);
    assert_eq!(ep.poll_timeout(), None);
}

#[test]
fn nat_rebinding_keeps_the_session() {
    let now = Instant::now();
    let (mut ep, key) = server(now, |_| {});
    let (mut client, mut session) = connect(&mut ep, &key, now, addr(30));
    let mut p = Vec::new();
    let mut out = Vec::new();
    let mut reply = Vec::new();
    client.seal(now, Kind::Data, b"before", &mut p).unwrap();
    let delayed = p.clone();
    client
        .seal(now, Kind::Data, b"after the NAT moved us", &mut p)
        .unwrap();
    let new_addr = addr(31);
    let Incoming::Session(id) = ep.handle(now, new_addr, &p, &mut reply) else {
        panic!()
    };
    assert_eq!(id, session.id());
    let o = session.open(now, &p, &mut out).unwrap();
    assert!(o.newest, "the engine may move the session to {new_addr}");
    // A late packet from the old address opens but is not newest: no move back.
    assert!(matches!(
        ep.handle(now, addr(30), &delayed, &mut reply),
        Incoming::Session(_)
    ));
    assert!(!session.open(now, &delayed, &mut out).unwrap().newest);
}

#[test]
fn ids_are_random_nonzero_unique_and_released() {
    let now = Instant::now();
    let (mut ep, key) = server(now, |_| {});
    let mut ids = std::collections::HashSet::new();
    for i in 0..40 {
        let (client, _) = connect(&mut ep, &key, now, addr(100 + i));
        assert!(client.id() != 0 && ids.insert(client.id()));
    }
    let (mut client, _) = connect(&mut ep, &key, now, addr(200));
    ep.release(client.id());
    let mut p = Vec::new();
    client.seal(now, Kind::Data, b"x", &mut p).unwrap();
    let mut reply = Vec::new();
    assert!(matches!(
        ep.handle(now, addr(200), &p, &mut reply),
        Incoming::Drop(DropReason::UnknownId)
    ));
    assert_eq!(ep.stats().live, 40);
}

#[test]
fn pending_handshakes_expire() {
    let now = Instant::now();
    let (mut ep, key) = server(now, |c| c.pending_timeout = Duration::from_secs(5));
    let (mut ini, init) = Initiator::new(&key, now).unwrap();
    let response = reply_to(&mut ep, now, addr(40), &init);
    assert!(ep.poll_timeout().is_some());
    let InitiatorEvent::Established(mut client) = ini.handle(now, &response).unwrap() else {
        panic!()
    };
    let late = now + Duration::from_secs(6);
    let mut p = Vec::new();
    client.seal(late, Kind::Data, b"too late", &mut p).unwrap();
    let mut reply = Vec::new();
    assert!(matches!(
        ep.handle(late, addr(40), &p, &mut reply),
        Incoming::Drop(DropReason::UnknownId)
    ));
    assert_eq!(ep.stats().pending, 0);
}

#[test]
fn initiator_backs_off_then_gives_up() {
    let start = Instant::now();
    let key = generate_keypair().unwrap().public;
    let (mut ini, init) = Initiator::new(&key, start).unwrap();
    let mut now = start;
    let mut gaps = Vec::new();
    loop {
        let at = ini.poll_timeout().expect("a resend is pending");
        assert_eq!(ini.handle_timeout(at - Duration::from_millis(1)), Ok(None));
        match ini.handle_timeout(at) {
            Ok(Some(resent)) => {
                assert_eq!(resent, init);
                gaps.push((at - now).as_secs());
                now = at;
            }
            Ok(None) => panic!("nothing due at the deadline"),
            Err(e) => {
                assert_eq!(e, SecureError::HandshakeTimeout);
                assert_eq!(e.code(), "ERR_HANDSHAKE_TIMEOUT");
                gaps.push((at - now).as_secs());
                break;
            }
        }
    }
    assert_eq!(gaps, [1, 2, 4, 8, 8, 8]);
    assert_eq!(ini.poll_timeout(), None);
}

#[test]
fn bad_keys_and_configs_are_refused() {
    let now = Instant::now();
    assert_eq!(
        Initiator::new(&[1; 31], now).unwrap_err(),
        SecureError::BadKey
    );
    assert_eq!(
        Initiator::new(&[0; 32], now).unwrap_err().code(),
        "ERR_BAD_KEY"
    );
    let keys = generate_keypair().unwrap();
    let mut c = ServerConfig::new(keys.private.clone());
    c.max_pending = 0;
    assert!(matches!(
        Endpoint::new(c, now),
        Err(SecureError::BadConfig(_))
    ));
    let mut c = ServerConfig::new(keys.private.clone());
    c.transport.rekey_after_packets = 0;
    assert!(matches!(
        Endpoint::new(c, now),
        Err(SecureError::BadConfig(_))
    ));
    let config = InitiatorConfig {
        max_attempts: 0,
        ..InitiatorConfig::default()
    };
    assert!(matches!(
        Initiator::with_config(&keys.public, config, now),
        Err(SecureError::BadConfig(_))
    ));
    assert_eq!(Transport::overhead(), OVERHEAD);
    assert_eq!(NOISE_PROTOCOL, "Noise_NK_25519_ChaChaPoly_BLAKE2s");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Arbitrary datagrams never create a session, never get a reply longer than themselves.
    #[test]
    fn arbitrary_datagrams_never_accept_or_amplify(
        packets in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..200), 0u8..7, any::<u32>()), 1..40),
    ) {
        let now = Instant::now();
        let (mut ep, _) = server(now, |c| c.under_load_pending = 1);
        let mut reply = Vec::new();
        for (mut p, typ, from) in packets {
            if let Some(b) = p.first_mut() { *b = typ; }
            let r = ep.handle(now, addr(from), &p, &mut reply);
            let created = matches!(r, Incoming::Accept { .. } | Incoming::Session(_));
            prop_assert!(!created);
            prop_assert!(reply.len() <= p.len());
        }
        let s = ep.stats();
        prop_assert!(s.unvalidated_tx_bytes <= s.unvalidated_rx_bytes);
        prop_assert_eq!(s.pending, 0);
    }
}

#[test]
fn session_ids_carry_the_generation_and_random_high_bits() {
    let now = Instant::now();
    let (mut ep, key) = server(now, |c| c.generation = 0xa5);
    let mut high = std::collections::HashSet::new();
    for i in 0..64 {
        let (mut client, _) = connect(&mut ep, &key, now, addr(i));
        let mut p = Vec::new();
        client.seal(now, Kind::Data, b"x", &mut p).unwrap();
        assert_eq!(id_generation(client.id()), 0xa5);
        assert_eq!(p[GENERATION_OFFSET], 0xa5);
        high.insert(client.id() >> 8);
    }
    // 24 random bits: 64 draws almost surely differ (a repeat is also refused by the table).
    assert_eq!(high.len(), 64);
}
