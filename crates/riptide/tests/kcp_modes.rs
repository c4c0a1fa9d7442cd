//! KCP's two modes under the real engine: riptide's secure mode (Noise handshake, AEAD,
//! replay window, NAT rebinding) and kcp-go's compat mode (crypt), each with FEC, through a
//! relay that loses, replays or re-routes datagrams. kcp-go itself is the peer in the
//! reliability suite (`__test__/reliability/kcp-go.spec.ts`).

mod common;

use common::{lossy, relay, turbo, turn_until, RelayConfig};
use riptide::crypt::Cipher;
use riptide::secure::{generate_keypair, AllowedClients, Keypair, PrivateKey};
use riptide::{
    ConnId, Conns, DialOptions, Error, EventHandler, KcpCrypt, KcpOptions, KcpSecure,
    ListenOptions, PeerAddr, Reactor,
};
use riptide_testkit::pattern;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

/// The tests run one at a time: each drives a relay thread and a reactor, and a loaded
/// machine starving several at once turns losses into long RTO backoffs.
static SERIAL: Mutex<()> = Mutex::new(());

/// Echoes both channels on server sessions; records what the client gets.
#[derive(Default)]
struct Echo {
    client: Option<ConnId>,
    received: Vec<u8>,
    unreliable: Vec<Vec<u8>>,
    opened: Vec<ConnId>,
    closed: Vec<(ConnId, Option<&'static str>)>,
    server_ports: HashSet<u16>,
}

impl EventHandler for Echo {
    fn on_open(&mut self, _: &mut Conns, id: ConnId) {
        self.opened.push(id);
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        if Some(id) == self.client {
            self.received.extend_from_slice(data);
        } else {
            if let Ok(PeerAddr::Inet(a)) = conns.peer_addr(id) {
                self.server_ports.insert(a.port());
            }
            conns.write(id, data).unwrap();
        }
    }
    fn on_unreliable(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        if Some(id) == self.client {
            self.unreliable.push(data.to_vec());
        } else {
            let _ = conns.send_unreliable(id, data);
        }
    }
    fn on_close(&mut self, _: &mut Conns, id: ConnId, err: Option<&Error>) {
        self.closed.push((id, err.map(Error::code)));
    }
}

/// A listener with `server` options; a client with `client` options dialing it through a
/// relay configured by `config`.
fn pair(
    server: KcpOptions,
    client: KcpOptions,
    config: RelayConfig,
) -> (Reactor, Echo, SocketAddr) {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let listen = ListenOptions {
        kcp: Some(server),
        ..ListenOptions::default()
    };
    let PeerAddr::Inet(addr) = reactor.listen_with("kcp://127.0.0.1:0", listen).unwrap() else {
        unreachable!()
    };
    let (front, _stop) = relay(addr, config);
    let dial = DialOptions {
        kcp: Some(client),
        ..DialOptions::default()
    };
    let id = reactor.dial(&format!("kcp://{front}"), dial).unwrap();
    let echo = Echo {
        client: Some(id),
        ..Echo::default()
    };
    (reactor, echo, addr)
}

fn stream(mut options: KcpOptions) -> KcpOptions {
    options.config.stream = true;
    options
}

fn secure_pair() -> (KcpOptions, KcpOptions) {
    let keys = generate_keypair().unwrap();
    let server = KcpOptions {
        secure: Some(KcpSecure::Server {
            private_key: keys.private,
            allowed_clients: None,
        }),
        ..stream(turbo())
    };
    let client = KcpOptions {
        secure: Some(KcpSecure::Client {
            server_public_key: keys.public,
            client_key: None,
        }),
        ..stream(turbo())
    };
    (server, client)
}

/// Sends `bytes` from the client and waits for the echo; returns the echo.
fn transfer(reactor: &mut Reactor, echo: &mut Echo, bytes: &[u8], secs: u64) {
    let client = echo.client.unwrap();
    for chunk in bytes.chunks(16 * 1024) {
        reactor.conns().write(client, chunk).unwrap();
    }
    turn_until(reactor, echo, secs, |e| e.received.len() >= bytes.len());
    assert!(echo.received == bytes, "the echo is byte-exact");
}

fn counter(conns: &Conns, id: ConnId, name: &str) -> u64 {
    conns
        .kcp_counters(id)
        .unwrap()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, v)| v)
}

#[test]
fn secure_mode_with_fec_is_byte_exact_at_ten_percent_loss() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (mut server, mut client) = secure_pair();
    server.fec = Some((10, 3));
    client.fec = Some((10, 3));
    let loss = RelayConfig {
        link: Some(lossy(0.10)),
        ..Default::default()
    };
    let (mut reactor, mut echo, _) = pair(server, client, loss);
    let data = pattern(7, 1 << 20);
    transfer(&mut reactor, &mut echo, &data, 120);
    let client = echo.client.unwrap();
    let conns = reactor.conns();
    assert!(counter(conns, client, "secureOpened") > 0);
    assert!(
        counter(conns, client, "fecRecovered") > 0,
        "parity rebuilt lost datagrams: {:?}",
        conns.kcp_counters(client)
    );
    assert_eq!(counter(conns, client, "secureUnauthenticated"), 0);
    assert!(echo.closed.is_empty(), "{:?}", echo.closed);
}

#[test]
fn replayed_datagrams_deliver_nothing_twice() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (server, client) = secure_pair();
    let replaying = RelayConfig {
        replay: true,
        ..Default::default()
    };
    let (mut reactor, mut echo, _) = pair(server, client, replaying);
    let data = pattern(9, 200_000);
    transfer(&mut reactor, &mut echo, &data, 20);
    // Let the replays arrive, then check nothing more was delivered.
    common::turn_for(&mut reactor, &mut echo, 20, Duration::from_millis(5));
    assert_eq!(echo.received.len(), data.len());
    let server = echo
        .opened
        .iter()
        .copied()
        .find(|&id| Some(id) != echo.client)
        .unwrap();
    let replayed = counter(reactor.conns(), server, "secureReplayed");
    assert!(
        replayed > 0,
        "every replay was refused before KCP: {replayed}"
    );
    assert_eq!(echo.opened.len(), 2, "replays opened no session");
}

#[test]
fn a_secure_client_keeps_its_session_across_a_new_source_port() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (server, client) = secure_pair();
    let rebinding = RelayConfig {
        switch_after: Some(50),
        ..Default::default()
    };
    let (mut reactor, mut echo, _) = pair(server, client, rebinding);
    let data = pattern(11, 400_000);
    transfer(&mut reactor, &mut echo, &data, 20);
    assert_eq!(
        echo.server_ports.len(),
        2,
        "the session moved: {:?}",
        echo.server_ports
    );
    assert_eq!(echo.opened.len(), 2);
    assert!(echo.closed.is_empty());
}

#[test]
fn the_wrong_server_key_opens_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (server, _) = secure_pair();
    let other = generate_keypair().unwrap();
    let client = KcpOptions {
        secure: Some(KcpSecure::Client {
            server_public_key: other.public,
            client_key: None,
        }),
        ..stream(turbo())
    };
    let (mut reactor, mut echo, _) = pair(server, client, RelayConfig::default());
    reactor
        .conns()
        .write(echo.client.unwrap(), b"hello?")
        .unwrap();
    common::turn_for(&mut reactor, &mut echo, 200, Duration::from_millis(5));
    assert_eq!(echo.opened.len(), 1, "only the client's own open");
    assert!(echo.received.is_empty());
}

/// A server with per-client keys and a client holding `client`'s private key.
fn keyed_pair(listed: &[[u8; 32]], client: &Keypair) -> (KcpOptions, KcpOptions, AllowedClients) {
    let keys = generate_keypair().unwrap();
    let list = AllowedClients::new(listed.iter().map(|k| k.as_slice())).unwrap();
    let server = KcpOptions {
        secure: Some(KcpSecure::Server {
            private_key: keys.private,
            allowed_clients: Some(list.clone()),
        }),
        ..stream(turbo())
    };
    let dial = KcpOptions {
        secure: Some(KcpSecure::Client {
            server_public_key: keys.public,
            client_key: Some(client.private.clone()),
        }),
        ..stream(turbo())
    };
    (server, dial, list)
}

#[test]
fn a_listed_client_key_gets_a_session_byte_exact() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let client = generate_keypair().unwrap();
    let (server, dial, _) = keyed_pair(&[client.public], &client);
    let (mut reactor, mut echo, _) = pair(server, dial, RelayConfig::default());
    let data = pattern(5, 200_000);
    transfer(&mut reactor, &mut echo, &data, 20);
}

#[test]
fn an_unlisted_or_removed_client_key_opens_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let client = generate_keypair().unwrap();
    let listed = generate_keypair().unwrap();
    for remove_first in [false, true] {
        // Unlisted from the start, or listed and then removed before the dial.
        let keys: Vec<[u8; 32]> = if remove_first {
            vec![client.public, listed.public]
        } else {
            vec![listed.public]
        };
        let (server, dial, list) = keyed_pair(&keys, &client);
        list.remove(&client.public);
        let (mut reactor, mut echo, _) = pair(server, dial, RelayConfig::default());
        reactor
            .conns()
            .write(echo.client.unwrap(), b"hello?")
            .unwrap();
        common::turn_for(&mut reactor, &mut echo, 200, Duration::from_millis(5));
        assert_eq!(echo.opened.len(), 1, "only the client's own open");
        assert!(echo.received.is_empty());
    }
}

#[test]
fn the_unreliable_channel_rides_the_secure_session() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (server, client) = secure_pair();
    let (mut reactor, mut echo, _) = pair(server, client, RelayConfig::default());
    let id = echo.client.unwrap();
    // The session opens on the server with the first reliable message.
    transfer(&mut reactor, &mut echo, b"ready", 10);
    for i in 0..50u8 {
        reactor.conns().send_unreliable(id, &[i; 200]).unwrap();
    }
    turn_until(&mut reactor, &mut echo, 5, |e| e.unreliable.len() == 50);
    let mut got: Vec<u8> = echo.unreliable.iter().map(|m| m[0]).collect();
    got.sort_unstable();
    assert_eq!(got, (0..50).collect::<Vec<u8>>());
}

#[test]
fn compat_salsa20_with_fec_is_byte_exact_at_ten_percent_loss() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let compat = KcpOptions {
        crypt: Some(KcpCrypt::kcptun(Cipher::Salsa20, "a passphrase")),
        fec: Some((10, 3)),
        ..stream(turbo())
    };
    let loss = RelayConfig {
        link: Some(lossy(0.10)),
        ..Default::default()
    };
    let (mut reactor, mut echo, _) = pair(compat.clone(), compat, loss);
    let data = pattern(13, 1 << 20);
    transfer(&mut reactor, &mut echo, &data, 120);
    let client = echo.client.unwrap();
    assert!(counter(reactor.conns(), client, "fecRecovered") > 0);
    // kcp-go's out-of-band shards carry the unreliable channel. Unreliable means a message
    // may be lost on this 10 % lossy link (a single send failed about one run in ten), so it
    // is sent again every 20 ms until one arrives.
    for _ in 0..250 {
        reactor.conns().send_unreliable(client, b"oob").unwrap();
        for _ in 0..4 {
            reactor
                .turn(&mut echo, Some(Duration::from_millis(5)))
                .unwrap();
        }
        if !echo.unreliable.is_empty() {
            break;
        }
    }
    assert_eq!(
        echo.unreliable.first().map(Vec::as_slice),
        Some(&b"oob"[..])
    );
}

#[test]
fn options_that_do_not_fit_are_refused() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let keys = generate_keypair().unwrap();
    let both = KcpOptions {
        secure: Some(KcpSecure::Server {
            private_key: PrivateKey::from_bytes(*keys.private.as_bytes()),
            allowed_clients: None,
        }),
        crypt: Some(KcpCrypt::kcptun(Cipher::Aes128, "x")),
        ..KcpOptions::default()
    };
    let listen = ListenOptions {
        kcp: Some(both),
        ..ListenOptions::default()
    };
    let err = reactor
        .listen_with("kcp://127.0.0.1:0", listen)
        .unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE");
    let client_on_listener = ListenOptions {
        kcp: Some(KcpOptions {
            secure: Some(KcpSecure::Client {
                server_public_key: keys.public,
                client_key: None,
            }),
            ..KcpOptions::default()
        }),
        ..ListenOptions::default()
    };
    let err = reactor
        .listen_with("kcp://127.0.0.1:0", client_on_listener)
        .unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE");
    let bad_key = KcpOptions {
        crypt: Some(KcpCrypt {
            cipher: Cipher::Aes128,
            key: vec![1; 5],
        }),
        ..KcpOptions::default()
    };
    let dial = DialOptions {
        kcp: Some(bad_key),
        ..DialOptions::default()
    };
    assert_eq!(
        reactor.dial("kcp://127.0.0.1:9", dial).unwrap_err().code(),
        "ERR_INVALID_ARG_VALUE"
    );
}
