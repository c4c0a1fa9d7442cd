//! Per-client keys (Noise IK with a server allowlist), end to end in memory: a listed key
//! gets a session, an unlisted one gets no answer at all, a removal refuses new sessions
//! (also one whose handshake was answered before the removal) and leaves live ones alone,
//! and each server takes only its own handshake pattern.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use riptide_secure::packet::{peek, RESPONSE_LEN};
use riptide_secure::*;

fn from() -> SocketAddr {
    "192.0.2.7:4000".parse().unwrap()
}

/// A server that allows `listed`, and a clone of its allowlist to update.
fn server(now: Instant, listed: &[[u8; 32]]) -> (Endpoint, [u8; 32], AllowedClients) {
    let keys = generate_keypair().unwrap();
    let list = AllowedClients::new(listed.iter().map(|k| k.as_slice())).unwrap();
    let mut config = ServerConfig::new(keys.private);
    config.allowed_clients = Some(list.clone());
    (Endpoint::new(config, now).unwrap(), keys.public, list)
}

fn init_with(server: &[u8; 32], client: &Keypair, now: Instant) -> (Initiator, Vec<u8>) {
    Initiator::with_client_key(server, &client.private, InitiatorConfig::default(), now).unwrap()
}

/// Runs the init through the server; returns the client transport and the first packet.
fn answered(
    ep: &mut Endpoint,
    server: &[u8; 32],
    client: &Keypair,
    now: Instant,
) -> (Transport, Vec<u8>) {
    let (mut ini, init) = init_with(server, client, now);
    assert_eq!(init.len(), INIT_IK_LEN);
    assert_eq!(peek(&init), Some((PacketType::InitIk, ini.tag())));
    let mut reply = Vec::new();
    let r = ep.handle(now, from(), &init, &mut reply);
    assert!(matches!(r, Incoming::Reply), "{r:?}");
    assert_eq!(reply.len(), RESPONSE_LEN);
    let InitiatorEvent::Established(mut t) = ini.handle(now, &reply).unwrap() else {
        panic!("expected Established")
    };
    let mut first = Vec::new();
    t.seal(now, Kind::Data, b"first", &mut first).unwrap();
    (*t, first)
}

#[test]
fn a_listed_key_gets_a_session_and_the_server_learns_it() {
    let now = Instant::now();
    let client = generate_keypair().unwrap();
    let (mut ep, key, _) = server(now, &[client.public]);
    let (mut c, first) = answered(&mut ep, &key, &client, now);
    let mut reply = Vec::new();
    let Incoming::Accept {
        id,
        mut transport,
        payload,
        client_key,
        ..
    } = ep.handle(now, from(), &first, &mut reply)
    else {
        panic!("expected Accept")
    };
    assert_eq!(
        (id, client_key, payload.as_slice()),
        (c.id(), Some(client.public), &b"first"[..])
    );
    let (mut p, mut out) = (Vec::new(), Vec::new());
    transport.seal(now, Kind::Data, b"back", &mut p).unwrap();
    c.open(now, &p, &mut out).unwrap();
    assert_eq!(out, b"back");
}

#[test]
fn an_unlisted_key_gets_no_answer_and_times_out() {
    let now = Instant::now();
    let listed = generate_keypair().unwrap();
    let stranger = generate_keypair().unwrap();
    let (mut ep, key, _) = server(now, &[listed.public]);
    let config = InitiatorConfig {
        max_attempts: 2,
        ..InitiatorConfig::default()
    };
    let (mut ini, init) = Initiator::with_client_key(&key, &stranger.private, config, now).unwrap();
    let mut reply = Vec::new();
    let r = ep.handle(now, from(), &init, &mut reply);
    assert!(
        matches!(r, Incoming::Drop(DropReason::UnknownClient)),
        "{r:?}"
    );
    assert!(reply.is_empty());
    assert_eq!(ep.stats().dropped.get(DropReason::UnknownClient), 1);
    assert_eq!(ep.stats().pending, 0);
    let mut t = now;
    let err = loop {
        t += Duration::from_secs(10);
        match ini.handle_timeout(t) {
            Ok(Some(again)) => {
                let r = ep.handle(t, from(), &again, &mut reply);
                assert!(
                    matches!(r, Incoming::Drop(DropReason::UnknownClient)),
                    "{r:?}"
                );
            }
            Ok(None) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(err, SecureError::HandshakeTimeout);
    assert_eq!(err.code(), "ERR_HANDSHAKE_TIMEOUT");
}

#[test]
fn removal_refuses_new_sessions_and_keeps_live_ones() {
    let now = Instant::now();
    let client = generate_keypair().unwrap();
    let other = generate_keypair().unwrap();
    let (mut ep, key, list) = server(now, &[client.public, other.public]);
    let mut reply = Vec::new();
    // A live session, and a handshake answered but not yet confirmed by a first packet.
    let (mut live, first) = answered(&mut ep, &key, &client, now);
    let Incoming::Accept { id, .. } = ep.handle(now, from(), &first, &mut reply) else {
        panic!("expected Accept")
    };
    let (_, pending_first) = answered(&mut ep, &key, &client, now);
    assert!(list.remove(&client.public));
    // The pending one is refused at its first packet.
    let r = ep.handle(now, from(), &pending_first, &mut reply);
    assert!(
        matches!(r, Incoming::Drop(DropReason::UnknownClient)),
        "{r:?}"
    );
    assert_eq!(ep.stats().pending, 0);
    // A new init gets no answer.
    let (_, init) = init_with(&key, &client, now);
    let r = ep.handle(now, from(), &init, &mut reply);
    assert!(
        matches!(r, Incoming::Drop(DropReason::UnknownClient)),
        "{r:?}"
    );
    // The live session still routes.
    let mut p = Vec::new();
    live.seal(now, Kind::Data, b"still here", &mut p).unwrap();
    assert!(matches!(ep.handle(now, from(), &p, &mut reply), Incoming::Session(s) if s == id));
    // Other clients are unaffected, and listing the key again lets it back in.
    let (_, f) = answered(&mut ep, &key, &other, now);
    assert!(matches!(
        ep.handle(now, from(), &f, &mut reply),
        Incoming::Accept { .. }
    ));
    list.replace([client.public.as_slice()]).unwrap();
    let (_, f) = answered(&mut ep, &key, &client, now);
    assert!(matches!(
        ep.handle(now, from(), &f, &mut reply),
        Incoming::Accept { .. }
    ));
}

#[test]
fn each_server_takes_only_its_own_pattern() {
    let now = Instant::now();
    let client = generate_keypair().unwrap();
    let (mut ik_server, ik_key, _) = server(now, &[client.public]);
    let mut reply = Vec::new();
    let (_, nk_init) = Initiator::new(&ik_key, now).unwrap();
    let r = ik_server.handle(now, from(), &nk_init, &mut reply);
    assert!(
        matches!(r, Incoming::Drop(DropReason::UnexpectedType)),
        "{r:?}"
    );
    let keys = generate_keypair().unwrap();
    let mut nk_server = Endpoint::new(ServerConfig::new(keys.private), now).unwrap();
    let (_, ik_init) = init_with(&keys.public, &client, now);
    let r = nk_server.handle(now, from(), &ik_init, &mut reply);
    assert!(
        matches!(r, Incoming::Drop(DropReason::UnexpectedType)),
        "{r:?}"
    );
    assert!(reply.is_empty());
}

#[test]
fn an_init_for_another_server_or_tampered_is_dropped() {
    let now = Instant::now();
    let client = generate_keypair().unwrap();
    let (mut ep, key, _) = server(now, &[client.public]);
    let (other, _, _) = server(now, &[client.public]);
    let mut reply = Vec::new();
    let (_, init) = init_with(other.public_key(), &client, now);
    let r = ep.handle(now, from(), &init, &mut reply);
    assert!(matches!(r, Incoming::Drop(DropReason::BadMac)), "{r:?}");
    let (_, init) = init_with(&key, &client, now);
    assert!(matches!(
        ep.handle(now, from(), &init[..INIT_IK_LEN - 1], &mut reply),
        Incoming::Drop(DropReason::Malformed)
    ));
    let mut long = init.clone();
    long.push(0);
    assert!(matches!(
        ep.handle(now, from(), &long, &mut reply),
        Incoming::Drop(DropReason::Malformed)
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Any flipped bit in the header or msg 1 of a genuine IK init (the encrypted client key
    /// included) is refused by mac1 before any Diffie-Hellman, without an answer; the
    /// unmodified init still works afterwards.
    #[test]
    fn tampered_ik_inits_never_get_a_session(at in 16usize..112, bit in 0u8..8) {
        let now = Instant::now();
        let client = generate_keypair().unwrap();
        let (mut ep, key, _) = server(now, &[client.public]);
        let (mut ini, init) = init_with(&key, &client, now);
        let mut bad = init.clone();
        bad[at] ^= 1 << bit;
        let mut reply = Vec::new();
        let r = ep.handle(now, from(), &bad, &mut reply);
        prop_assert!(matches!(r, Incoming::Drop(DropReason::BadMac)), "{:?}", r);
        prop_assert!(reply.is_empty());
        let r = ep.handle(now, from(), &init, &mut reply);
        prop_assert!(matches!(r, Incoming::Reply));
        prop_assert!(matches!(ini.handle(now, &reply), Ok(InitiatorEvent::Established(_))));
    }
}
