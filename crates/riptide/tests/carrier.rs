//! KCP over an application's carrier ([`DatagramCarrier`]) instead of UDP: a listener and a
//! dial on one reactor, joined in memory by the handler's `on_carrier_send` through a seeded
//! lossy link, with FEC and secure mode on top; the carrier's checks (peer names, sizes), its
//! bounds (queued bytes, peers) and its one-listener-or-dial rule; what crosses it counted in
//! the reactor's and the listener's metrics.

mod common;

use common::{turbo, turn_for, turn_until};
use riptide::secure::generate_keypair;
use riptide::{
    CarrierOptions, ConnId, Conns, DatagramCarrier, DialOptions, Error, EventHandler, KcpOptions,
    KcpSecure, ListenOptions, PeerAddr, Reactor,
};
use riptide_netsim::{Link, LinkConfig};
use riptide_testkit::pattern;
use std::time::{Duration, Instant};

/// Joins a server carrier and a client carrier through a lossy link each way; echoes on
/// server sessions and records what the client session gets.
struct Joined {
    server: DatagramCarrier,
    client: DatagramCarrier,
    /// The client's name on the server's carrier.
    client_name: &'static str,
    up: Link,
    down: Link,
    start: Instant,
    dial: Option<ConnId>,
    received: Vec<u8>,
    opened: Vec<ConnId>,
    closed: Vec<(ConnId, Option<&'static str>)>,
    /// Peer names the server's carrier sent to.
    sent_to: Vec<String>,
}

impl Joined {
    fn new(server: &DatagramCarrier, client: &DatagramCarrier, loss: f64) -> Joined {
        let link = LinkConfig {
            loss,
            delay_min_ms: 0,
            delay_max_ms: 0,
            ..LinkConfig::default()
        };
        Joined {
            server: server.clone(),
            client: client.clone(),
            client_name: "client-1",
            up: Link::new(link.clone(), 7),
            down: Link::new(link, 8),
            start: Instant::now(),
            dial: None,
            received: Vec::new(),
            opened: Vec::new(),
            closed: Vec::new(),
            sent_to: Vec::new(),
        }
    }
}

impl EventHandler for Joined {
    fn on_open(&mut self, _: &mut Conns, id: ConnId) {
        self.opened.push(id);
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        if Some(id) == self.dial {
            self.received.extend_from_slice(data);
        } else {
            conns.write(id, data).unwrap();
        }
    }
    fn on_close(&mut self, _: &mut Conns, id: ConnId, err: Option<&Error>) {
        self.closed.push((id, err.map(Error::code)));
    }
    fn on_carrier_send(
        &mut self,
        _: &mut Conns,
        carrier: &DatagramCarrier,
        datagram: &[u8],
        peer: &str,
    ) {
        let now = self.start.elapsed().as_millis() as u64;
        if carrier.id() == self.client.id() {
            assert_eq!(peer, "server", "the dial sends to the peer its URL names");
            self.up.send(now, datagram);
            while let Some(d) = self.up.poll(now) {
                self.server.receive(&d, self.client_name).unwrap();
            }
        } else {
            assert_eq!(carrier.id(), self.server.id());
            self.sent_to.push(peer.to_string());
            self.down.send(now, datagram);
            while let Some(d) = self.down.poll(now) {
                self.client.receive(&d, "server").unwrap();
            }
        }
    }
}

fn carrier() -> DatagramCarrier {
    DatagramCarrier::new(CarrierOptions::default()).unwrap()
}

fn stream(mut options: KcpOptions) -> KcpOptions {
    options.config.stream = true;
    options
}

/// A carried listener and a carried dial on one reactor with these options.
fn pair(server: KcpOptions, client: KcpOptions, loss: f64) -> (Reactor, Joined) {
    let (sc, cc) = (carrier(), carrier());
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let listen = ListenOptions {
        kcp: Some(KcpOptions {
            carrier: Some(sc.clone()),
            ..server
        }),
        ..ListenOptions::default()
    };
    let local = reactor.listen_with("kcp://tunnel", listen).unwrap();
    assert_eq!(local, PeerAddr::Inet("[100::]:0".parse().unwrap()));
    let dial = DialOptions {
        kcp: Some(KcpOptions {
            carrier: Some(cc.clone()),
            ..client
        }),
        ..DialOptions::default()
    };
    let id = reactor.dial("kcp://server", dial).unwrap();
    let mut joined = Joined::new(&sc, &cc, loss);
    joined.dial = Some(id);
    (reactor, joined)
}

#[test]
fn secure_kcp_with_fec_echoes_1_mib_byte_exact_over_a_carrier_losing_10_percent() {
    let keys = generate_keypair().unwrap();
    let server = KcpOptions {
        secure: Some(KcpSecure::Server {
            private_key: keys.private,
            allowed_clients: None,
        }),
        fec: Some((10, 3)),
        ..stream(turbo())
    };
    let client = KcpOptions {
        secure: Some(KcpSecure::Client {
            server_public_key: keys.public,
            client_key: None,
        }),
        fec: Some((10, 3)),
        ..stream(turbo())
    };
    let (mut reactor, mut joined) = pair(server, client, 0.1);
    let id = joined.dial.unwrap();
    let data = pattern(11, 1 << 20);
    for chunk in data.chunks(16 * 1024) {
        reactor.conns().write(id, chunk).unwrap();
    }
    turn_until(&mut reactor, &mut joined, 120, |j| {
        j.received.len() >= data.len()
    });
    assert!(joined.received == data, "the echo is byte-exact");
    let names = |c: &Conns, n: &str| {
        c.kcp_counters(id)
            .unwrap()
            .into_iter()
            .find(|(k, _)| *k == n)
            .map_or(0, |(_, v)| v)
    };
    assert!(names(reactor.conns(), "secureOpened") > 0);
    assert!(
        names(reactor.conns(), "fecRecovered") > 0,
        "FEC rebuilt lost datagrams"
    );
    assert!(joined.sent_to.iter().all(|p| p == "client-1"));
    let (server, client) = (joined.server.stats(), joined.client.stats());
    assert_eq!(server.peers, 1);
    assert!(server.received > 0 && server.sent > 0 && client.received > 0 && client.sent > 0);
    assert_eq!(server.send_dropped + client.send_dropped, 0);
    // The server session's peer is the client's discard-prefix address.
    let session = *joined.opened.iter().find(|&&o| o != id).unwrap();
    assert_eq!(
        reactor.conns().peer_addr(session).unwrap(),
        PeerAddr::Inet("[100::2]:0".parse().unwrap())
    );
}

#[test]
fn plain_kcp_messages_cross_a_perfect_carrier_both_ways() {
    let (mut reactor, mut joined) = pair(turbo(), turbo(), 0.0);
    let id = joined.dial.unwrap();
    reactor.conns().write(id, b"hello over a carrier").unwrap();
    turn_until(&mut reactor, &mut joined, 10, |j| !j.received.is_empty());
    assert_eq!(joined.received, b"hello over a carrier");
}

#[test]
fn what_crosses_a_carrier_is_counted_in_the_reactor_and_listener_metrics() {
    let (mut reactor, mut joined) = pair(stream(turbo()), stream(turbo()), 0.0);
    let id = joined.dial.unwrap();
    let data = pattern(3, 64 * 1024);
    reactor.conns().write(id, &data).unwrap();
    turn_until(&mut reactor, &mut joined, 10, |j| {
        j.received.len() >= data.len()
    });
    // The last acknowledgements cross; then nothing moves.
    turn_for(&mut reactor, &mut joined, 20, Duration::from_millis(5));
    let m = reactor.remote().metrics();
    let (server, client) = (joined.server.stats(), joined.client.stats());
    assert_eq!(server.send_dropped + client.send_dropped, 0);
    assert_eq!(
        m.kcp.out_pkts,
        server.sent + client.sent,
        "every datagram the sessions sent through a carrier is counted"
    );
    assert_eq!(
        m.bytes_out, m.kcp.out_bytes,
        "all of it went through carriers"
    );
    assert_eq!(
        m.bytes_in, m.bytes_out,
        "a perfect link delivers every byte sent, and each is counted in"
    );
    let l = m.listeners[0];
    let n = data.len() as u64;
    assert!(
        l.bytes_in >= n && l.bytes_out >= n,
        "the echo crossed the listener"
    );
    assert!(
        l.bytes_in < m.bytes_in && l.bytes_out < m.bytes_out,
        "the dial's datagrams count for the reactor only"
    );
    assert_eq!((l.accepted, l.opened), (1, 1));
}

#[test]
fn bad_peer_names_and_oversize_datagrams_are_refused_with_codes() {
    let c = carrier();
    for bad in ["", "two words", "tab\t", "é", &"x".repeat(129)] {
        let err = c.receive(b"x", bad).unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE", "{bad:?}");
    }
    let err = c
        .receive(&vec![0; riptide::MAX_DATAGRAM + 1], "peer")
        .unwrap_err();
    assert_eq!(err.code(), "ERR_MESSAGE_TOO_LARGE");
    // Not attached to a listener or dial: dropped, counted.
    assert!(!c.receive(b"x", &"y".repeat(128)).unwrap());
    assert_eq!(c.stats().dropped, 1);
    assert_eq!(c.stats().received, 0);
    for (peers, queued) in [(0, 1 << 20), (1 << 21, 1 << 20), (8, 1000), (8, 1 << 31)] {
        let options = CarrierOptions {
            max_peers: peers,
            max_queued: queued,
        };
        let err = DatagramCarrier::new(options).unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE");
    }
    let mut reactor = Reactor::new(Default::default()).unwrap();
    for url in ["kcp://", "kcp://a b", "udp://peer", "kcp:/peer"] {
        let options = DialOptions {
            kcp: Some(KcpOptions {
                carrier: Some(carrier()),
                ..turbo()
            }),
            ..DialOptions::default()
        };
        let err = reactor.dial(url, options).unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ADDRESS", "{url}");
    }
}

/// A reactor with a `kcp://` listener on a carrier with `options`.
fn carried_listener(options: CarrierOptions) -> (Reactor, DatagramCarrier) {
    let c = DatagramCarrier::new(options).unwrap();
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let listen = ListenOptions {
        kcp: Some(KcpOptions {
            carrier: Some(c.clone()),
            ..turbo()
        }),
        ..ListenOptions::default()
    };
    reactor.listen_with("kcp://listener", listen).unwrap();
    (reactor, c)
}

#[test]
fn received_datagrams_wait_within_max_queued_and_the_rest_are_dropped() {
    let (mut reactor, c) = carried_listener(CarrierOptions {
        max_peers: 4,
        max_queued: 1 << 16,
    });
    let datagram = [0u8; 1000];
    // Nobody turns the reactor: 65 fit in 64 KiB, the rest are dropped.
    let taken = (0..200)
        .filter(|_| c.receive(&datagram, "p").unwrap())
        .count();
    assert_eq!(taken, 65);
    assert_eq!(c.stats().received, 65);
    assert_eq!(c.stats().dropped, 135);
    // The reactor takes them (none opens a session: not KCP) and the queue has room again.
    let mut joined = Joined::new(&c, &carrier(), 0.0);
    turn_for(&mut reactor, &mut joined, 5, Duration::from_millis(5));
    assert!(joined.opened.is_empty());
    assert!(c.receive(&datagram, "p").unwrap());
}

#[test]
fn a_flood_of_new_peers_keeps_the_listener_within_max_peers() {
    let (mut reactor, c) = carried_listener(CarrierOptions {
        max_peers: 8,
        ..CarrierOptions::default()
    });
    let mut joined = Joined::new(&c, &carrier(), 0.0);
    for round in 0..20 {
        for i in 0..50 {
            assert!(c.receive(b"not kcp", &format!("peer-{round}-{i}")).unwrap());
        }
        turn_for(&mut reactor, &mut joined, 2, Duration::from_millis(1));
        assert!(c.stats().peers <= 8);
    }
    assert_eq!(c.stats().peers, 8);
    assert!(joined.opened.is_empty(), "junk opens no session");
    assert_eq!(reactor.conns().len(), 0);
}

#[test]
fn a_carrier_serves_one_listener_or_dial_and_is_free_again_once_it_ends() {
    let c = carrier();
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let kcp = KcpOptions {
        carrier: Some(c.clone()),
        ..turbo()
    };
    let dial = DialOptions {
        kcp: Some(kcp.clone()),
        ..DialOptions::default()
    };
    let id = reactor.dial("kcp://server", dial.clone()).unwrap();
    let err = reactor.dial("kcp://server", dial.clone()).unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE");
    let listen = ListenOptions {
        kcp: Some(kcp),
        ..ListenOptions::default()
    };
    let err = reactor
        .listen_with("kcp://listener", listen.clone())
        .unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE");
    // A dial's carrier takes datagrams from its peer only.
    let mut joined = Joined::new(&carrier(), &c, 0.0);
    turn_for(&mut reactor, &mut joined, 2, Duration::from_millis(1));
    assert!(c.receive(b"junk", "someone-else").unwrap());
    turn_for(&mut reactor, &mut joined, 2, Duration::from_millis(1));
    assert_eq!(c.stats().dropped, 1);
    // Once the dial is gone, the carrier serves the next one (a reconnect)...
    reactor.conns().destroy(id, None).unwrap();
    turn_for(&mut reactor, &mut joined, 2, Duration::from_millis(1));
    assert!(joined.closed.iter().any(|(c, _)| *c == id));
    assert!(!c.receive(b"late", "server").unwrap(), "detached: dropped");
    let again = reactor.dial("kcp://server", dial).unwrap();
    assert_ne!(again, id);
    // ...and after a shutdown, another engine's listener.
    reactor.shutdown(&mut joined);
    let mut other = Reactor::new(Default::default()).unwrap();
    other.listen_with("kcp://listener", listen).unwrap();
}
