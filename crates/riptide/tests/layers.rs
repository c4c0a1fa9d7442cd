//! Protocol layers under the real engine, through the public layer API only: an echo over a
//! stack of two stream layers and a codec (a handshake that holds `on_open` back and buffers
//! early writes, over an XOR scrambler), and KCP over a stack of two packet layers (a checksum
//! and a nonce scrambler) across a UDP relay that loses 10 % of the datagrams each way.
//! The toy layers live here; they exercise every path a real layer (TLS, FEC, AEAD) takes.

mod common;

use common::{kcp_dial, kcp_listen, length_field, listen, turbo, turn_for, turn_until, Chat};
use riptide::{
    ConnId, Conns, Datagrams, DialOptions, Error, EventHandler, KcpOptions, LayerStatus,
    ListenOptions, PacketLayer, Payload, Reactor, StreamLayer, StreamOut,
};
use riptide_testkit::pattern;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// XORs every byte both ways with a key: no state, no negotiation.
struct Xor(u8);

impl StreamLayer for Xor {
    fn read(
        &mut self,
        _: Instant,
        data: &[u8],
        out: &mut StreamOut<'_>,
    ) -> Result<LayerStatus, Error> {
        out.up.extend(data.iter().map(|b| b ^ self.0));
        Ok(LayerStatus::Ready)
    }

    fn write(&mut self, _: Instant, data: &[u8], down: &mut Vec<u8>) -> Result<(), Error> {
        down.extend(data.iter().map(|b| b ^ self.0));
        Ok(())
    }
}

/// Both sides say `HELLO\n` at start and wait for the other's: pending until then, holding
/// application writes (counted as buffered) and releasing them once the peer has greeted.
#[derive(Default)]
struct Hello {
    seen: Vec<u8>,
    ready: bool,
    held: Vec<u8>,
}

const HELLO: &[u8] = b"HELLO\n";

impl StreamLayer for Hello {
    fn start(&mut self, _: Instant, down: &mut Vec<u8>) -> Result<LayerStatus, Error> {
        down.extend_from_slice(HELLO);
        Ok(LayerStatus::Pending)
    }

    fn read(
        &mut self,
        _: Instant,
        data: &[u8],
        out: &mut StreamOut<'_>,
    ) -> Result<LayerStatus, Error> {
        if self.ready {
            out.up.extend_from_slice(data);
            return Ok(LayerStatus::Ready);
        }
        self.seen.extend_from_slice(data);
        if self.seen.len() < HELLO.len() {
            return Ok(LayerStatus::Pending);
        }
        if !self.seen.starts_with(HELLO) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "no greeting").into());
        }
        self.ready = true;
        out.up.extend_from_slice(&self.seen[HELLO.len()..]);
        out.down.append(&mut self.held);
        Ok(LayerStatus::Ready)
    }

    fn write(&mut self, _: Instant, data: &[u8], down: &mut Vec<u8>) -> Result<(), Error> {
        if self.ready {
            down.extend_from_slice(data);
        } else {
            self.held.extend_from_slice(data);
        }
        Ok(())
    }

    fn buffered(&self) -> usize {
        self.held.len()
    }
}

fn stream_layers() -> Vec<riptide::StreamLayerFactory> {
    vec![
        Arc::new(|| Box::new(Xor(0x5a)) as Box<dyn StreamLayer>),
        Arc::new(|| Box::new(Hello::default()) as Box<dyn StreamLayer>),
    ]
}

/// A reactor listening on loopback TCP under [`stream_layers`] (no codec), and a raw client
/// connected to it that sees the wire as the layers leave it.
fn layered_with_raw_client() -> (Reactor, TcpStream) {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let options = ListenOptions {
        layers: stream_layers(),
        ..ListenOptions::default()
    };
    let addr = listen(&mut reactor, "tcp://127.0.0.1:0", options);
    let raw = TcpStream::connect(addr).unwrap();
    (reactor, raw)
}

#[test]
fn echo_through_two_stream_layers_and_a_codec_is_byte_exact() {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let options = ListenOptions {
        codec: Some(length_field(4, 1 << 20)),
        layers: stream_layers(),
        ..ListenOptions::default()
    };
    let addr = listen(&mut reactor, "tcp://127.0.0.1:0", options);
    let dial = DialOptions {
        codec: Some(length_field(4, 1 << 20)),
        layers: stream_layers(),
        ..DialOptions::default()
    };
    let client = reactor.dial(&format!("tcp://{addr}"), dial).unwrap();
    let mut chat = Chat::with_client(client);
    // Written before the handshake: the Hello layer holds it and counts it.
    let messages: Vec<Vec<u8>> = (0..50)
        .map(|i| pattern(i, (i as usize * 997) % 70_000))
        .collect();
    for m in &messages {
        reactor.conns().write(client, m).unwrap();
    }
    assert!(reactor.conns().outbound_len(client).unwrap() > 0);
    turn_until(&mut reactor, &mut chat, 10, |c| {
        c.received.len() == messages.len()
    });
    assert_eq!(
        chat.received, messages,
        "frames come back byte-exact, in order"
    );
    assert_eq!(
        chat.opened, 2,
        "both ends opened once their handshake finished"
    );
    assert!(chat.closed.is_empty());
}

#[test]
fn on_open_waits_for_the_handshake_and_the_wire_is_transformed() {
    let (mut reactor, mut raw) = layered_with_raw_client();
    let mut chat = Chat::default();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let scrambled = |bytes: &[u8]| bytes.iter().map(|b| b ^ 0x5a).collect::<Vec<u8>>();
    // The server greets first, through the XOR layer under the handshake.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut greeting = Vec::new();
    while greeting.len() < HELLO.len() {
        assert!(Instant::now() < deadline, "no greeting");
        reactor
            .turn(&mut chat, Some(Duration::from_millis(5)))
            .unwrap();
        raw.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        match raw.read(&mut buf) {
            Ok(n) => greeting.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(greeting, scrambled(HELLO));
    turn_for(&mut reactor, &mut chat, 10, Duration::from_millis(5));
    assert_eq!(chat.opened, 0, "no on_open before the peer's greeting");
    raw.set_nonblocking(false).unwrap();
    raw.write_all(&scrambled(b"HELLO\nping")).unwrap();
    let mut reply = [0u8; 4];
    let handle = thread::spawn(move || {
        raw.read_exact(&mut reply).unwrap();
        reply
    });
    turn_until(&mut reactor, &mut chat, 5, |c| c.opened > 0);
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline && !handle.is_finished() {
        reactor
            .turn(&mut chat, Some(Duration::from_millis(5)))
            .unwrap();
    }
    assert_eq!(handle.join().unwrap().to_vec(), scrambled(b"ping"));
}

#[test]
fn a_layer_error_closes_the_connection_with_it() {
    let (mut reactor, mut raw) = layered_with_raw_client();
    let mut chat = Chat::default();
    raw.write_all(b"not a greeting").unwrap();
    turn_until(&mut reactor, &mut chat, 5, |c| !c.closed.is_empty());
    assert_eq!(chat.closed.len(), 1);
    assert!(chat.closed[0].1.is_some(), "closed with the layer's error");
    assert_eq!(chat.opened, 0, "never opened");
}

/// Appends a 32-bit FNV-1a checksum; refuses datagrams whose checksum does not match.
struct Checksum {
    opened: Arc<AtomicUsize>,
}

fn fnv(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

impl PacketLayer for Checksum {
    fn overhead(&self) -> usize {
        4
    }

    fn seal(&mut self, _: Instant, _: Payload, datagram: &[u8], out: &mut Datagrams) {
        let mut sealed = datagram.to_vec();
        sealed.extend_from_slice(&fnv(datagram).to_le_bytes());
        out.push(&sealed);
    }

    fn open(
        &mut self,
        _: Instant,
        _: Payload,
        datagram: &[u8],
        out: &mut Datagrams,
    ) -> Result<(), Error> {
        let split = datagram
            .len()
            .checked_sub(4)
            .ok_or_else(|| Error::Io(io::ErrorKind::InvalidData.into()))?;
        let (body, sum) = datagram.split_at(split);
        if sum != fnv(body).to_le_bytes() {
            return Err(Error::Io(io::ErrorKind::InvalidData.into()));
        }
        self.opened.fetch_add(1, Ordering::Relaxed);
        out.push(body);
        Ok(())
    }
}

/// Prefixes a one-byte nonce and XORs the body with a keystream derived from it, so the same
/// KCP datagram never looks the same on the wire twice.
struct Scramble {
    nonce: u8,
    sealed: Arc<AtomicUsize>,
}

fn keystream(nonce: u8, i: usize) -> u8 {
    (i as u8)
        .wrapping_mul(31)
        .wrapping_add(nonce)
        .rotate_left(3)
        ^ 0xa5
}

impl PacketLayer for Scramble {
    fn overhead(&self) -> usize {
        1
    }

    fn seal(&mut self, _: Instant, _: Payload, datagram: &[u8], out: &mut Datagrams) {
        self.nonce = self.nonce.wrapping_add(1);
        let mut sealed = vec![self.nonce];
        sealed.extend(
            datagram
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ keystream(self.nonce, i)),
        );
        self.sealed.fetch_add(1, Ordering::Relaxed);
        out.push(&sealed);
    }

    fn open(
        &mut self,
        _: Instant,
        _: Payload,
        datagram: &[u8],
        out: &mut Datagrams,
    ) -> Result<(), Error> {
        let (&nonce, body) = datagram
            .split_first()
            .ok_or_else(|| Error::Io(io::ErrorKind::InvalidData.into()))?;
        let plain: Vec<u8> = body
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ keystream(nonce, i))
            .collect();
        out.push(&plain);
        Ok(())
    }
}

#[test]
fn kcp_over_two_packet_layers_is_byte_exact_at_ten_percent_loss() {
    let opened = Arc::new(AtomicUsize::new(0));
    let sealed = Arc::new(AtomicUsize::new(0));
    let (o, s) = (opened.clone(), sealed.clone());
    let kcp = KcpOptions {
        packet_layers: vec![
            Arc::new(move || {
                Box::new(Scramble {
                    nonce: 0,
                    sealed: s.clone(),
                }) as Box<dyn PacketLayer>
            }),
            Arc::new(move || Box::new(Checksum { opened: o.clone() }) as Box<dyn PacketLayer>),
        ],
        ..turbo()
    };
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let server = kcp_listen(&mut reactor, kcp.clone());
    let (relay, stop) = common::relay(
        server,
        common::RelayConfig {
            link: Some(common::lossy(0.10)),
            ..Default::default()
        },
    );
    let client = kcp_dial(&mut reactor, relay, kcp);
    let mut chat = Chat::with_client(client);
    // Messages of up to 20 fragments: losses hit most of them.
    let messages: Vec<Vec<u8>> = (0..150)
        .map(|i| pattern(i + 100, 1 + (i as usize * 211) % 25_000))
        .collect();
    for m in &messages {
        reactor.conns().write(client, m).unwrap();
    }
    turn_until(&mut reactor, &mut chat, 60, |c| {
        c.received.len() == messages.len()
    });
    stop.store(true, Ordering::Relaxed);
    assert_eq!(
        chat.received, messages,
        "every message back, byte-exact, in order"
    );
    let stats = reactor.conns().kcp_stats(client).unwrap();
    assert!(stats.retransmits > 0, "the loss was real: {stats:?}");
    assert!(sealed.load(Ordering::Relaxed) > 0 && opened.load(Ordering::Relaxed) > 0);
    assert!(chat.closed.is_empty());
}

/// Records the events a writer cares about, in order.
#[derive(Default)]
struct Writer {
    events: Vec<String>,
}

impl EventHandler for Writer {
    fn on_open(&mut self, _: &mut Conns, _: ConnId) {
        self.events.push("open".into());
    }
    fn on_traffic(&mut self, _: &mut Conns, _: ConnId, _: &[u8]) {}
    fn on_writability(&mut self, _: &mut Conns, _: ConnId, writable: bool) {
        self.events.push(format!("writable {writable}"));
    }
    fn on_write_done(&mut self, _: &mut Conns, _: ConnId, token: u64, err: Option<&Error>) {
        self.events
            .push(format!("done {token} {:?}", err.map(Error::code)));
    }
}

#[test]
fn bytes_a_layer_holds_count_against_the_water_marks_and_drain_when_it_lets_them_go() {
    let (mut reactor, mut raw) = layered_with_raw_client();
    let mut writer = Writer::default();
    // The server side's Hello holds what is written before the client greets.
    let server = loop {
        reactor
            .turn(&mut writer, Some(Duration::from_millis(5)))
            .unwrap();
        if let Some(&id) = reactor.conns().ids().first() {
            break id;
        }
    };
    let big = vec![7u8; 100_000];
    reactor.conns().write(server, &big).unwrap();
    reactor.conns().mark(server, 1).unwrap();
    common::turn_for(&mut reactor, &mut writer, 5, Duration::from_millis(5));
    assert_eq!(
        writer.events,
        vec!["writable false"],
        "held bytes are over the high mark"
    );
    assert!(reactor.conns().outbound_len(server).unwrap() >= big.len());
    // The client greets: the layer lets the bytes go, the connection opens, drains, and the
    // mark completes after the held bytes reached the kernel.
    raw.write_all(&HELLO.iter().map(|b| b ^ 0x5a).collect::<Vec<u8>>())
        .unwrap();
    let reader = thread::spawn(move || {
        let mut got = vec![0u8; HELLO.len() + 100_000];
        raw.read_exact(&mut got).unwrap();
        got
    });
    common::turn_until(&mut reactor, &mut writer, 5, |w| w.events.len() >= 4);
    let got = reader.join().unwrap();
    assert!(got[HELLO.len()..].iter().all(|&b| b == 7 ^ 0x5a));
    assert_eq!(writer.events[1], "open");
    assert!(
        writer.events.contains(&"writable true".to_string()),
        "{:?}",
        writer.events
    );
    assert!(
        writer.events.contains(&"done 1 None".to_string()),
        "{:?}",
        writer.events
    );
}

#[test]
fn a_dialed_connection_opens_before_its_writes_complete() {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let server = listen(&mut reactor, "tcp://127.0.0.1:0", ListenOptions::default());
    let mut writer = Writer::default();
    let client = reactor
        .dial(&format!("tcp://{server}"), DialOptions::default())
        .unwrap();
    reactor.conns().write(client, b"early").unwrap();
    reactor.conns().mark(client, 9).unwrap();
    common::turn_until(&mut reactor, &mut writer, 5, |w| {
        w.events.iter().any(|e| e.starts_with("done 9"))
    });
    let open = writer.events.iter().position(|e| e == "open").unwrap();
    let done = writer
        .events
        .iter()
        .position(|e| e == "done 9 None")
        .unwrap();
    assert!(open < done, "{:?}", writer.events);
}
