//! The seams secure modes and kcp-go compatibility plug into, under the real engine with toy
//! protocols: a listener gate that keys sessions by a key of its own (so a client whose
//! address changes keeps its session), the unreliable channel both ways, and kcp-go's reset
//! when a peer starts a new conversation from the same address.

mod common;

use common::{turbo, turn_until};
use riptide::{
    ConnId, Conns, Datagrams, DialOptions, Error, EventHandler, Gate, GateOut, KcpOptions,
    ListenOptions, PacketGate, PacketLayer, Payload, PeerAddr, Reactor,
};
use riptide_testkit::pattern;
use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The toy wire header: `key u64 | kind u8 (0 KCP, 1 unreliable) | counter u32`.
const HEADER: usize = 13;

fn frame(key: u64, payload: Payload, counter: u32, body: &[u8]) -> Vec<u8> {
    let mut out = key.to_le_bytes().to_vec();
    out.push(u8::from(payload == Payload::Unreliable));
    out.extend_from_slice(&counter.to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// `(key, payload, counter, body)` of a toy datagram.
fn parse(datagram: &[u8]) -> Option<(u64, Payload, u32, &[u8])> {
    let key = u64::from_le_bytes(datagram.get(..8)?.try_into().ok()?);
    let payload = match datagram.get(8)? {
        0 => Payload::Kcp,
        1 => Payload::Unreliable,
        _ => return None,
    };
    let counter = u32::from_le_bytes(datagram.get(9..13)?.try_into().ok()?);
    Some((key, payload, counter, datagram.get(HEADER..)?))
}

/// Frames datagrams with a session key and a counter; marks unreliable ones; lets a session
/// move when a datagram's counter is the highest yet (the toy stand-in for authentication).
struct Tag {
    key: u64,
    sent: u32,
    highest: Option<u32>,
    newest: bool,
}

impl Tag {
    fn new(key: u64) -> Tag {
        Tag {
            key,
            sent: 0,
            highest: None,
            newest: false,
        }
    }
}

impl PacketLayer for Tag {
    fn overhead(&self) -> usize {
        HEADER
    }

    fn seal(&mut self, _: Instant, payload: Payload, datagram: &[u8], out: &mut Datagrams) {
        self.sent = self.sent.wrapping_add(1);
        out.push(&frame(self.key, payload, self.sent, datagram));
    }

    fn open(
        &mut self,
        _: Instant,
        _: Payload,
        datagram: &[u8],
        out: &mut Datagrams,
    ) -> Result<(), Error> {
        let (key, payload, counter, body) =
            parse(datagram).ok_or(Error::InvalidOption("not a toy datagram".into()))?;
        if key != self.key {
            return Err(Error::InvalidOption("another session's key".into()));
        }
        self.newest = self.highest.is_none_or(|h| counter > h);
        if self.newest {
            self.highest = Some(counter);
        }
        out.push_as(payload, body);
        Ok(())
    }

    fn carries_unreliable(&self) -> bool {
        true
    }

    fn may_migrate(&self) -> bool {
        self.newest
    }
}

/// Routes by key; a key it has not seen opens a session if its first datagram is KCP.
#[derive(Default)]
struct KeyGate {
    known: HashSet<u64>,
}

impl PacketGate for KeyGate {
    fn admit(&mut self, _: Instant, _: SocketAddr, datagram: &[u8], out: &mut GateOut) -> Gate {
        let Some((key, payload, counter, body)) = parse(datagram) else {
            return Gate::Done;
        };
        if self.known.contains(&key) {
            return Gate::Session(key);
        }
        if payload != Payload::Kcp {
            return Gate::Done;
        }
        self.known.insert(key);
        out.opened.push_as(payload, body);
        let mut layer = Tag::new(key);
        layer.highest = Some(counter);
        Gate::Open {
            key,
            layers: vec![Box::new(layer)],
        }
    }
}

/// Echoes reliable and unreliable messages on server sessions; records the client's.
#[derive(Default)]
struct Both {
    client: Option<ConnId>,
    received: Vec<Vec<u8>>,
    unreliable: Vec<Vec<u8>>,
    opened: Vec<ConnId>,
    closed: Vec<(ConnId, Option<&'static str>)>,
    server_peers: Vec<PeerAddr>,
}

impl EventHandler for Both {
    fn on_open(&mut self, _: &mut Conns, id: ConnId) {
        self.opened.push(id);
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        if Some(id) == self.client {
            self.received.push(data.to_vec());
        } else {
            self.server_peers.push(conns.peer_addr(id).unwrap());
            conns.write(id, data).unwrap();
        }
    }
    fn on_unreliable(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        if Some(id) == self.client {
            self.unreliable.push(data.to_vec());
        } else {
            conns.send_unreliable(id, data).unwrap();
        }
    }
    fn on_close(&mut self, _: &mut Conns, id: ConnId, err: Option<&Error>) {
        self.closed.push((id, err.map(Error::code)));
    }
}

#[test]
fn a_gated_session_survives_a_new_client_port_and_carries_both_channels() {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let listen = ListenOptions {
        kcp: Some(KcpOptions {
            gate: Some(Arc::new(|| {
                Box::new(KeyGate::default()) as Box<dyn PacketGate>
            })),
            ..turbo()
        }),
        ..ListenOptions::default()
    };
    let PeerAddr::Inet(server) = reactor.listen_with("kcp://127.0.0.1:0", listen).unwrap() else {
        unreachable!()
    };
    let (relay, stop) = common::relay(
        server,
        common::RelayConfig {
            switch_after: Some(40),
            ..Default::default()
        },
    );
    let dial = DialOptions {
        kcp: Some(KcpOptions {
            packet_layers: vec![Arc::new(|| {
                Box::new(Tag::new(0xfeed)) as Box<dyn PacketLayer>
            })],
            ..turbo()
        }),
        ..DialOptions::default()
    };
    let mut both = Both::default();
    let client = reactor.dial(&format!("kcp://{relay}"), dial).unwrap();
    both.client = Some(client);
    let messages: Vec<Vec<u8>> = (0..60)
        .map(|i| pattern(i, 1 + (i as usize * 331) % 6000))
        .collect();
    for m in &messages {
        reactor.conns().write(client, m).unwrap();
    }
    turn_until(&mut reactor, &mut both, 20, |b| {
        b.received.len() == messages.len()
    });
    assert_eq!(both.received, messages, "byte-exact across the port change");
    assert_eq!(
        both.opened.len(),
        2,
        "one session on each side, no second one"
    );
    let ports: HashSet<u16> = both
        .server_peers
        .iter()
        .map(|p| match p {
            PeerAddr::Inet(a) => a.port(),
            PeerAddr::Unix(_) => unreachable!(),
        })
        .collect();
    assert_eq!(
        ports.len(),
        2,
        "the server session moved to the new port: {ports:?}"
    );
    // The unreliable channel, both ways, through the same layers and session.
    for i in 0..20u8 {
        reactor.conns().send_unreliable(client, &[i; 100]).unwrap();
    }
    turn_until(&mut reactor, &mut both, 5, |b| b.unreliable.len() >= 15);
    stop.store(true, Ordering::Relaxed);
    assert!(both
        .unreliable
        .iter()
        .all(|m| m.len() == 100 && m.iter().all(|&b| b == m[0])));
    assert!(both.closed.is_empty());
}

#[test]
fn the_unreliable_channel_needs_a_layer_that_marks_it() {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let server = common::kcp_listen(&mut reactor, turbo());
    let client = common::kcp_dial(&mut reactor, server, turbo());
    let err = reactor.conns().send_unreliable(client, b"x").unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE");
}

/// Adds nothing (a stand-in for kcp-go's `null` crypt with FEC off): its presence makes the
/// listener key sessions by address, as kcp-go does.
struct Clear(Arc<AtomicUsize>);

impl PacketLayer for Clear {
    fn overhead(&self) -> usize {
        0
    }
    fn seal(&mut self, _: Instant, payload: Payload, datagram: &[u8], out: &mut Datagrams) {
        out.push_as(payload, datagram);
    }
    fn open(
        &mut self,
        _: Instant,
        payload: Payload,
        datagram: &[u8],
        out: &mut Datagrams,
    ) -> Result<(), Error> {
        self.0.fetch_add(1, Ordering::Relaxed);
        out.push_as(payload, datagram);
        Ok(())
    }
}

/// A KCP data segment: `conv | cmd 81 | frg 0 | wnd 128 | ts 0 | sn | una 0 | len | data`.
fn push(conv: u32, sn: u32, data: &[u8]) -> Vec<u8> {
    let mut d = conv.to_le_bytes().to_vec();
    d.extend_from_slice(&[81, 0]);
    d.extend_from_slice(&128u16.to_le_bytes());
    d.extend_from_slice(&0u32.to_le_bytes());
    d.extend_from_slice(&sn.to_le_bytes());
    d.extend_from_slice(&0u32.to_le_bytes());
    d.extend_from_slice(&(data.len() as u32).to_le_bytes());
    d.extend_from_slice(data);
    d
}

#[test]
fn a_new_conversation_from_the_same_address_replaces_the_session() {
    let opened = Arc::new(AtomicUsize::new(0));
    let seen = opened.clone();
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let server = common::kcp_listen(
        &mut reactor,
        KcpOptions {
            packet_layers: vec![Arc::new(move || {
                Box::new(Clear(seen.clone())) as Box<dyn PacketLayer>
            })],
            ..turbo()
        },
    );
    let mut both = Both::default();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.send_to(&push(1, 0, b"first"), server).unwrap();
    turn_until(&mut reactor, &mut both, 5, |b| b.opened.len() == 1);
    // The same conv again is the same session; another conv with sn 1 is refused.
    peer.send_to(&push(1, 1, b"again"), server).unwrap();
    peer.send_to(&push(2, 1, b"stray"), server).unwrap();
    common::turn_for(&mut reactor, &mut both, 20, Duration::from_millis(5));
    assert_eq!(both.opened.len(), 1);
    assert!(both.closed.is_empty());
    // A restarted client: conv 2 from sn 0.
    peer.send_to(&push(2, 0, b"restart"), server).unwrap();
    turn_until(&mut reactor, &mut both, 5, |b| b.opened.len() == 2);
    assert_eq!(both.closed.len(), 1);
    assert_eq!(both.closed[0], (both.opened[0], Some("ECONNRESET")));
    assert!(
        opened.load(Ordering::Relaxed) >= 4,
        "every datagram went through the layer"
    );
}
