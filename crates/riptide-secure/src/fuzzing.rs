//! Fuzz harnesses, shared by the `cargo fuzz` target in `fuzz/` and by the regression test
//! that replays `tests/regressions/<target>/*` through the same function. Each takes the
//! fuzzer's raw bytes and panics when an invariant breaks.
//!
//! - [`packet`]: a server endpoint (real keys, made once per process), an established
//!   client/server transport pair (fixed keys: no DH per run) and, on first use, a handshake
//!   in progress on both sides; then the input is cut into chunks,
//!   each one an operation: raw bytes into [`Endpoint::handle`], a second endpoint with a
//!   client allowlist (Noise IK) given raw bytes or a genuine IK init from a listed or an
//!   unlisted client corrupted by the chunk (XOR at an offset the chunk picks), raw bytes into either [`Transport::open`] or [`Initiator::handle`], a
//!   genuine sealed packet XOR-ed with the chunk or truncated by it, and time steps.
//!   Invariants: no panic; no reply longer than the packet it answers and in total no more
//!   reply bytes than handshake bytes received; pending state within `max_pending`; an
//!   unlisted client's init never gets a handshake response; a
//!   transport opens nothing but an unmodified, never-opened packet a peer sealed.
//!
//! Not part of the API (hidden, behind the `fuzzing` feature).
// Harness code: the fuzzer's input is not a peer, and a panic is how a harness reports.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::packet::PacketType;
use crate::transport::MAX_EPOCHS_AHEAD;
use crate::{
    generate_keypair, AllowedClients, Endpoint, Incoming, Initiator, InitiatorConfig, Kind,
    PrivateKey, SecureError, ServerConfig, Transport, TransportConfig,
};

/// Keys and a genuine init made once per process: X25519 is the slow part of a run.
struct Fixture {
    private: PrivateKey,
    public: [u8; 32],
    init: Vec<u8>,
    /// The one client key the IK endpoint allows.
    listed: [u8; 32],
    /// Genuine IK inits from the listed client and from an unlisted one.
    ik_inits: [Vec<u8>; 2],
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys = generate_keypair().expect("keys");
        let now = Instant::now();
        let (_, init) = Initiator::new(&keys.public, now).expect("initiator");
        let ik_init = |client: &PrivateKey| {
            let config = InitiatorConfig::default();
            Initiator::with_client_key(&keys.public, client, config, now)
                .expect("initiator")
                .1
        };
        let listed = generate_keypair().expect("keys");
        let unlisted = generate_keypair().expect("keys");
        Fixture {
            ik_inits: [ik_init(&listed.private), ik_init(&unlisted.private)],
            listed: listed.public,
            private: keys.private,
            public: keys.public,
            init,
        }
    })
}

/// The session id of the harness's established pair.
const ID: u32 = 0x5eed_0001;

/// A small endpoint (tight limits, fast rotations) and an established client/server pair
/// with a fast rekey schedule, the pair's id live in the endpoint.
pub fn established(now: Instant) -> (Endpoint, Transport, Transport) {
    let f = fixture();
    let transport = TransportConfig {
        rekey_after_packets: 3,
        rekey_after: Duration::from_secs(5),
        previous_key_grace: Duration::from_secs(2),
        keepalive_interval: Duration::from_secs(1),
    };
    let mut endpoint =
        Endpoint::with_public_key(small_config(transport), f.public, now).expect("endpoint");
    endpoint.insert_live(ID);
    let (k1, k2) = (Zeroizing::new([0x11; 32]), Zeroizing::new([0x22; 32]));
    let client = Transport::new(ID, k1.clone(), k2.clone(), transport, now);
    let server = Transport::new(ID, k2, k1, transport, now);
    (endpoint, client, server)
}

/// Tight limits and fast rotations, for the harness's endpoints.
fn small_config(transport: TransportConfig) -> ServerConfig {
    let mut config = ServerConfig::new(fixture().private.clone());
    config.transport = transport;
    config.max_pending = 8;
    config.under_load_pending = 2;
    config.handshake_rate = 4;
    config.pending_timeout = Duration::from_secs(3);
    config.cookie_rotation = Duration::from_secs(4);
    config
}

/// An endpoint like [`established`]'s that allows only the fixture's listed client key.
fn ik_endpoint(now: Instant) -> Endpoint {
    let f = fixture();
    let mut config = small_config(TransportConfig::default());
    config.allowed_clients = Some(AllowedClients::new([f.listed.as_slice()]).expect("key"));
    Endpoint::with_public_key(config, f.public, now).expect("endpoint")
}

/// Checks one endpoint answer to `bytes`: no amplification, no stray reply, no session
/// from fuzz bytes.
fn check_answer(result: &Incoming, reply: &[u8], bytes: &[u8]) {
    if matches!(result, Incoming::Reply) {
        assert!(reply.len() <= bytes.len(), "amplification");
    } else {
        assert!(reply.is_empty());
    }
    if let Incoming::Accept { .. } = result {
        panic!("fuzz bytes completed a handshake");
    }
}

/// The `packet` harness; see the module docs.
pub fn packet(data: &[u8]) {
    let mut now = Instant::now();
    let (mut endpoint, mut client, mut server) = established(now);
    let mut ik = ik_endpoint(now);
    let f = fixture();
    let mut initiator: Option<Initiator> = None;
    let mut reply = Vec::new();
    let mut out = Vec::new();
    let mut sealed = Vec::new();
    let mut rest = data;
    while let Some((&head, tail)) = rest.split_first() {
        let len = usize::from(head >> 3).min(tail.len());
        let (chunk, tail) = tail.split_at(len);
        rest = tail;
        // Packets up to 31 bytes come from the length; longer ones repeat the chunk.
        let long: Vec<u8>;
        let bytes: &[u8] = if head & 0x80 != 0 && !chunk.is_empty() {
            long = chunk
                .iter()
                .copied()
                .cycle()
                .take(usize::from(head) * 2)
                .collect();
            &long
        } else {
            chunk
        };
        match head & 7 {
            0 => {
                let peer = SocketAddr::from(([192, 0, 2, head & 3], 1000));
                let result = endpoint.handle(now, peer, bytes, &mut reply);
                check_answer(&result, &reply, bytes);
            }
            1 => {
                // The IK endpoint: long inputs raw, short ones as a corrupted genuine init
                // (listed client when bit 6 is set).
                let peer = SocketAddr::from(([192, 0, 2, head & 3], 1001));
                let listed = head & 0x40 != 0;
                let mut init = f.ik_inits[usize::from(!listed)].clone();
                let n = init.len();
                if let Some((&offset, xor)) = chunk.split_first() {
                    for (i, b) in xor.iter().enumerate() {
                        init[(usize::from(offset) + i) % n] ^= b;
                    }
                }
                let input = if head & 0x80 != 0 { bytes } else { &init };
                let result = ik.handle(now, peer, input, &mut reply);
                check_answer(&result, &reply, input);
                let response = matches!(result, Incoming::Reply)
                    && reply.first() == Some(&(PacketType::Response as u8));
                if input == f.ik_inits[1].as_slice() {
                    assert!(!response, "unlisted client answered");
                }
            }
            2 => assert!(
                server.open(now, bytes, &mut out).is_err(),
                "forged packet opened"
            ),
            3 => assert!(
                client.open(now, bytes, &mut out).is_err(),
                "forged packet opened"
            ),
            4 => {
                // A handshake in progress on both sides (made on first use: it costs DHs).
                let ini = initiator.get_or_insert_with(|| {
                    let peer = SocketAddr::from(([198, 51, 100, 1], 9));
                    let _ = endpoint.handle(now, peer, &f.init, &mut reply);
                    Initiator::new(&f.public, now).expect("initiator").0
                });
                let _ = ini.handle(now, bytes);
            }
            5 | 6 => {
                // A genuine packet, corrupted by the chunk (XOR) or truncated to its length.
                let (from, to) = if head & 7 == 5 {
                    (&mut client, &mut server)
                } else {
                    (&mut server, &mut client)
                };
                let kind = [Kind::Data, Kind::Unreliable, Kind::Keepalive][usize::from(head % 3)];
                from.seal(now, kind, bytes, &mut sealed).unwrap();
                let mut corrupted = sealed.clone();
                let truncate = head & 0x40 != 0 && !chunk.is_empty();
                if truncate {
                    corrupted.truncate(usize::from(chunk[0]) % sealed.len());
                } else {
                    for (i, b) in chunk.iter().enumerate() {
                        corrupted[i % sealed.len()] ^= b;
                    }
                }
                let result = to.open(now, &corrupted, &mut out);
                let behind = from.epochs().0.wrapping_sub(to.epochs().1);
                if corrupted == sealed && result == Err(SecureError::StaleKey) {
                    // The sender ratcheted more often than a receiver follows (every packet
                    // it sealed was lost): by design only a new handshake recovers.
                    assert!(
                        behind > MAX_EPOCHS_AHEAD,
                        "stale key {behind} epochs behind"
                    );
                } else if corrupted == sealed {
                    let opened = result.expect("genuine packet refused");
                    assert_eq!((opened.kind, out.as_slice()), (kind, bytes));
                    assert!(to.open(now, &sealed, &mut out).is_err(), "replay opened");
                } else {
                    assert!(result.is_err(), "corrupted packet opened");
                    assert!(out.is_empty());
                }
            }
            _ => {
                now += Duration::from_millis(u64::from(head) * 40);
                if let Some(ini) = initiator.as_mut() {
                    let _ = ini.handle_timeout(now);
                }
                endpoint.handle_timeout(now);
                ik.handle_timeout(now);
            }
        }
        for stats in [endpoint.stats(), ik.stats()] {
            assert!(stats.pending <= 8);
            assert!(stats.unvalidated_tx_bytes <= stats.unvalidated_rx_bytes);
        }
    }
}
