//! The WebSocket layer on its own, against the crate's client `Connection`.

use super::*;
use crate::ws_record::{kind, put_count, put_record, put_str, Reader};
use crate::LayerReport;
use riptide_ws::{ClientConfig, ClientHandshake};

fn options() -> WsOptions {
    WsOptions {
        server: ServerConfig {
            subprotocols: vec!["chat".into()],
            ..ServerConfig::default()
        },
        session: SessionConfig::default(),
        timeouts: Timeouts::default(),
    }
}

/// The request the tests' clients make: the crate's client and the layer's client mode.
fn client_config() -> ClientConfig {
    ClientConfig {
        host: "x".into(),
        path: "/p".into(),
        headers: vec![("X-A".into(), "b".into())],
        subprotocols: vec!["chat".into()],
        deflate: None,
        max_head_size: 8192,
    }
}

fn client(now: Instant) -> Connection {
    let handshake = ClientHandshake::new(client_config()).expect("client handshake");
    Connection::client(
        handshake,
        SessionConfig::default(),
        Timeouts::default(),
        now,
    )
}

/// What one call of a layer produced (the layer tests of `http_ws_layer.rs` use these
/// helpers too).
#[derive(Default)]
pub(crate) struct Out {
    pub(crate) up: Vec<u8>,
    pub(crate) down: Vec<u8>,
    pub(crate) report: LayerReport,
}

/// The layer reads `data` (`Some`) or its deadline passes (`None`).
fn step(
    layer: &mut dyn StreamLayer,
    now: Instant,
    data: Option<&[u8]>,
) -> (Result<LayerStatus, Error>, Out) {
    let mut o = Out::default();
    let mut out = StreamOut {
        up: &mut o.up,
        down: &mut o.down,
        report: &mut o.report,
    };
    let status = match data {
        Some(data) => layer.read(now, data, &mut out),
        None => layer.handle_timeout(now, &mut out),
    };
    (status, o)
}

pub(crate) fn read(layer: &mut dyn StreamLayer, now: Instant, data: &[u8]) -> Out {
    let (status, o) = step(layer, now, Some(data));
    assert_eq!(status.expect("read"), LayerStatus::Ready);
    o
}

pub(crate) fn timeout(layer: &mut dyn StreamLayer, now: Instant) -> Out {
    let (status, o) = step(layer, now, None);
    assert_eq!(status.expect("timeout"), LayerStatus::Ready);
    o
}

/// Splits the records out of the layer's `up` bytes.
pub(crate) fn records(mut up: &[u8]) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    while let Some((n, rest)) = up.split_first_chunk::<4>() {
        let (record, rest) = rest.split_at(u32::from_be_bytes(*n) as usize);
        all.push(record.to_vec());
        up = rest;
    }
    all
}

/// `record` with its length field, as the codec frames a write.
pub(crate) fn framed(record: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_record(&mut out, record);
    out
}

/// The accept record with no headers.
fn accept(protocol: &str) -> Vec<u8> {
    let mut record = vec![kind::ACCEPT];
    put_str(&mut record, protocol);
    put_count(&mut record, 0);
    framed(&record)
}

/// The peer reads everything in `bytes`; returns its events.
pub(crate) fn peer_reads(peer: &mut Connection, now: Instant, mut bytes: &[u8]) -> Vec<ConnEvent> {
    let mut events = Vec::new();
    while !bytes.is_empty() {
        let r = peer.receive(now, bytes).expect("peer receive");
        bytes = &bytes[r.consumed..];
        events.extend(r.event);
    }
    events
}

#[test]
fn upgrade_then_messages_both_ways_and_a_close_that_ends_gracefully() {
    let now = Instant::now();
    let mut layer = WsLayer::server(options());
    let mut peer = client(now);
    // The request and a first message in one read: the message waits for the answer.
    let request = peer.take_output();
    let head = read(&mut layer, now, &request);
    let [upgrade] = records(&head.up).try_into().expect("one record");
    assert_eq!(upgrade[0], kind::UPGRADE);
    let text = String::from_utf8_lossy(&upgrade);
    assert!(text.contains("/p") && text.contains("X-A") && text.contains("chat"));
    assert!(
        head.down.is_empty(),
        "nothing before the application answers"
    );

    let mut down = Vec::new();
    layer
        .write(now, &accept("chat"), &mut down)
        .expect("accept");
    let events = peer_reads(&mut peer, now, &down);
    assert!(matches!(&events[..], [ConnEvent::Open(a)] if a.protocol.as_deref() == Some("chat")));

    // A text message from the peer comes up as a text record, byte for byte.
    peer.session()
        .expect("open")
        .send_text("héllo")
        .expect("send");
    let got = read(&mut layer, now, &peer.take_output());
    assert_eq!(records(&got.up), vec![b"Th\xc3\xa9llo".to_vec()]);
    // Binary and text records go down as frames of their type.
    let mut down = Vec::new();
    layer
        .write(now, &framed(b"B\x00\x01"), &mut down)
        .expect("binary");
    layer.write(now, &framed(b"Tok"), &mut down).expect("text");
    let events = peer_reads(&mut peer, now, &down);
    assert_eq!(
        events,
        vec![
            ConnEvent::Ws(Event::Message {
                data: vec![0, 1],
                binary: true
            }),
            ConnEvent::Ws(Event::Message {
                data: b"ok".to_vec(),
                binary: false
            }),
        ]
    );

    // The peer closes: the echo goes down at once, the end at the next deadline (now).
    peer.close(now, 4002, "done").expect("close");
    let got = read(&mut layer, now, &peer.take_output());
    assert!(!got.down.is_empty(), "the close echo");
    assert!(
        !got.report.close,
        "messages read with the close are delivered first"
    );
    assert_eq!(layer.poll_timeout(), Some(now));
    let end = timeout(&mut layer, now);
    assert!(end.report.close);
    match layer.outcome() {
        Some(Error::WebSocketClose { code, reason }) => {
            assert_eq!((code, reason.as_str()), (4002, "done"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_refusal_is_sent_and_ends_the_connection() {
    let now = Instant::now();
    let mut layer = WsLayer::server(options());
    let mut peer = client(now);
    read(&mut layer, now, &peer.take_output());
    let mut record = vec![kind::REFUSE, 0x01, 0x93]; // 403
    put_count(&mut record, 0);
    let mut down = Vec::new();
    layer
        .write(now, &framed(&record), &mut down)
        .expect("refuse");
    assert!(down.starts_with(b"HTTP/1.1 403 "));
    assert!(timeout(&mut layer, now).report.close);
    assert_eq!(
        layer.outcome().map(|e| e.code()),
        Some("ERR_WS_UPGRADE_REFUSED")
    );
}

#[test]
fn bytes_held_before_the_answer_are_bounded_then_delivered_after_it() {
    let now = Instant::now();
    let mut layer = WsLayer::server(options());
    let mut peer = client(now);
    let mut bytes = peer.take_output();
    // Frames a client sent before the 101 (it must not, but may): they wait.
    let mut early = riptide_ws::Session::new(riptide_ws::Role::Client, SessionConfig::default());
    early.send_text("early").expect("send");
    bytes.extend(early.take_output());
    let got = read(&mut layer, now, &bytes);
    assert_eq!(records(&got.up).len(), 1, "only the upgrade");
    let mut down = Vec::new();
    layer
        .write(now, &accept("chat"), &mut down)
        .expect("accept");
    assert_eq!(layer.poll_timeout(), Some(now));
    let released = timeout(&mut layer, now);
    assert_eq!(records(&released.up), vec![b"Tearly".to_vec()]);
    assert!(!released.report.close);

    // Past the largest head, held bytes end the connection instead.
    let mut layer = WsLayer::server(options());
    let mut bytes = client(now).take_output();
    bytes.extend(vec![0u8; 8193]);
    read(&mut layer, now, &bytes);
    assert!(timeout(&mut layer, now).report.close);
    assert_eq!(layer.outcome().map(|e| e.code()), Some("ERR_WS_HANDSHAKE"));
}

#[test]
fn bytes_read_after_the_answer_but_before_the_deadline_follow_the_held_ones() {
    let now = Instant::now();
    let mut layer = WsLayer::server(options());
    let mut bytes = client(now).take_output();
    let mut early = riptide_ws::Session::new(riptide_ws::Role::Client, SessionConfig::default());
    early.send_text("first").expect("send");
    bytes.extend(early.take_output());
    read(&mut layer, now, &bytes);
    layer
        .write(now, &accept("chat"), &mut Vec::new())
        .expect("accept");
    // The next read comes before the deadline that releases what was held.
    early.send_text("second").expect("send");
    let got = read(&mut layer, now, &early.take_output());
    assert_eq!(
        records(&got.up),
        vec![b"Tfirst".to_vec(), b"Tsecond".to_vec()]
    );
    assert!(records(&timeout(&mut layer, now).up).is_empty());
}

#[test]
fn a_malformed_record_from_the_application_ends_the_connection_without_a_panic() {
    let now = Instant::now();
    for record in [
        &b"A"[..],
        b"A\xff\xff\xff\x7f",
        b"R\x01",
        b"C\x03",
        b"Zzz",
        b"",
    ] {
        let mut layer = WsLayer::server(options());
        read(&mut layer, now, &client(now).take_output());
        let mut down = Vec::new();
        layer.write(now, &framed(record), &mut down).expect("write");
        assert!(timeout(&mut layer, now).report.close, "{record:?}");
    }
}

fn client_options() -> WsClientOptions {
    WsClientOptions {
        client: client_config(),
        session: SessionConfig::default(),
        timeouts: Timeouts::default(),
        handshake_timeout: Some(Duration::from_secs(5)),
    }
}

/// A client layer started: its request, sent on start.
fn started_client(now: Instant) -> (WsLayer, Vec<u8>) {
    let mut layer = WsLayer::client(client_options());
    let mut request = Vec::new();
    let status = layer.start(now, &mut request).expect("start");
    assert_eq!(status, LayerStatus::Pending);
    (layer, request)
}

#[test]
fn a_client_opens_on_the_101_with_an_open_record_first_then_messages_pings_and_pongs() {
    let now = Instant::now();
    let (mut layer, request) = started_client(now);
    let mut server = Connection::server(
        options().server,
        SessionConfig::default(),
        Timeouts::default(),
        now,
    );
    let events = peer_reads(&mut server, now, &request);
    let [ConnEvent::Upgrade(upgrade)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(upgrade.path, "/p");
    assert!(upgrade.headers.iter().any(|(n, v)| n == "X-A" && v == "b"));
    server
        .accept(Some("chat"), &[("X-Server".into(), "yes".into())])
        .expect("accept");
    // The 101, a message, a ping and a pong in one read: the open record comes first.
    let session = server.session().expect("open");
    session.send_text("first").expect("send");
    session.ping(b"p").expect("ping");
    session.pong(b"q").expect("pong");
    let (status, got) = step(&mut layer, now, Some(&server.take_output()));
    assert_eq!(status.expect("read"), LayerStatus::Ready);
    let records = records(&got.up);
    assert_eq!(records.len(), 4, "{records:?}");
    let mut open = Reader(&records[0][1..]);
    assert_eq!(records[0][0], kind::OPEN);
    assert_eq!(
        open.optional_str().expect("protocol").as_deref(),
        Some("chat")
    );
    let headers = open.headers().expect("headers");
    assert!(headers.iter().any(|(n, v)| n == "X-Server" && v == "yes"));
    assert_eq!(
        &records[1..],
        &[b"Tfirst".to_vec(), b"Pp".to_vec(), b"Qq".to_vec()]
    );
    // The ping's pong went down by itself; messages go down masked, as a client's.
    let mut down = got.down;
    layer
        .write(now, &framed(b"Bxy"), &mut down)
        .expect("binary");
    let events = peer_reads(&mut server, now, &down);
    assert_eq!(
        events,
        vec![
            ConnEvent::Ws(Event::Pong(b"p".to_vec())),
            ConnEvent::Ws(Event::Message {
                data: b"xy".to_vec(),
                binary: true
            }),
        ]
    );
    assert_eq!(
        layer.poll_timeout(),
        None,
        "the handshake's deadline is gone"
    );
}

#[test]
fn a_refused_or_broken_handshake_fails_the_client_before_it_opens() {
    let now = Instant::now();
    for (answer, code) in [
        (&b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"[..], "ERR_WS_UPGRADE_REFUSED"),
        (b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n", "ERR_WS_HANDSHAKE"),
        (b"\x00\x01garbage\r\n\r\n", "ERR_WS_HANDSHAKE"),
    ] {
        let (mut layer, _) = started_client(now);
        let (status, _) = step(&mut layer, now, Some(answer));
        assert_eq!(status.err().map(|e| e.code()), Some(code), "{answer:?}");
    }
    // Half a head waits; the handshake's deadline ends it.
    let (mut layer, _) = started_client(now);
    let (status, _) = step(&mut layer, now, Some(b"HTTP/1.1 101 OK\r\n"));
    assert_eq!(status.expect("read"), LayerStatus::Pending);
    let at = layer.poll_timeout().expect("handshake deadline");
    assert_eq!(at, now + Duration::from_secs(5));
    let (late, _) = step(&mut layer, at, None);
    assert_eq!(late.err().map(|e| e.code()), Some("ETIMEDOUT"));
    // A message before the open (the engine opens nothing before the 101, but the Rust API
    // could write one) fails it at once, not at the handshake's deadline.
    let (mut layer, _) = started_client(now);
    layer
        .write(now, &framed(b"Tearly"), &mut Vec::new())
        .expect("write");
    assert_eq!(layer.poll_timeout(), Some(now));
    let (early, _) = step(&mut layer, now, None);
    assert_eq!(early.err().map(|e| e.code()), Some("ERR_WS_CLOSED"));
}

mod hostile {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any bytes after an accepted upgrade, in any reads, with any records from the
        /// application in between: no panic, `up` holds only whole records of a known kind
        /// no longer than the limit, and once the layer asks to close it says why.
        #[test]
        fn any_peer_bytes_and_records_keep_the_layer_sound(
            wire in proptest::collection::vec(any::<u8>(), 0..2048),
            cuts in proptest::collection::vec(1usize..64, 1..32),
            app in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..16), 0..4),
        ) {
            let now = Instant::now();
            let mut options = options();
            options.session.max_message_size = 512;
            let mut layer = WsLayer::server(options);
            read(&mut layer, now, &client(now).take_output());
            let mut down = Vec::new();
            layer.write(now, &accept("chat"), &mut down).expect("accept");
            let mut rest = &wire[..];
            let mut cut = cuts.iter().cycle();
            let mut app = app.iter();
            let mut up = Vec::new();
            while !rest.is_empty() {
                let n = (*cut.next().expect("cycle")).min(rest.len());
                up.extend(read(&mut layer, now, &rest[..n]).up);
                rest = &rest[n..];
                if let Some(r) = app.next() {
                    layer.write(now, &framed(r), &mut down).expect("write");
                }
            }
            for r in records(&up) {
                prop_assert!(matches!(r.first(), Some(&(kind::TEXT | kind::BINARY | kind::PING | kind::PONG))));
                prop_assert!(r.len() <= 513);
            }
            let end = timeout(&mut layer, now);
            if end.report.close {
                prop_assert!(layer.outcome().is_some());
            }
        }

        /// Any bytes as a server's answer to a client, in any reads, after a valid 101 or
        /// not: no panic; the layer opens only with an open record first, fails before it
        /// with a WebSocket error, and sends up only whole records of a known kind.
        #[test]
        fn any_server_bytes_keep_a_client_layer_sound(
            valid_101 in any::<bool>(),
            wire in proptest::collection::vec(any::<u8>(), 0..2048),
            cuts in proptest::collection::vec(1usize..64, 1..32),
        ) {
            let now = Instant::now();
            let (mut layer, request) = started_client(now);
            let mut bytes = Vec::new();
            if valid_101 {
                let mut server = Connection::server(options().server, SessionConfig::default(), Timeouts::default(), now);
                peer_reads(&mut server, now, &request);
                server.accept(None, &[]).expect("accept");
                bytes = server.take_output();
            }
            bytes.extend(&wire);
            let mut rest = &bytes[..];
            let mut cut = cuts.iter().cycle();
            let mut up = Vec::new();
            let mut opened = false;
            while !rest.is_empty() {
                let n = (*cut.next().expect("cycle")).min(rest.len());
                let (status, got) = step(&mut layer, now, Some(&rest[..n]));
                rest = &rest[n..];
                up.extend(got.up);
                match status {
                    Ok(LayerStatus::Ready) => opened = true,
                    Ok(LayerStatus::Pending) => prop_assert!(!opened && up.is_empty()),
                    Ok(LayerStatus::Done) => prop_assert!(false, "a WebSocket layer never leaves"),
                    Err(e) => {
                        prop_assert!(!opened && e.code().starts_with("ERR_WS_"), "{e}");
                        break;
                    }
                }
            }
            let all = records(&up);
            if let Some(first) = all.first() {
                prop_assert_eq!(first.first(), Some(&kind::OPEN));
            }
            for r in all.iter().skip(1) {
                prop_assert!(matches!(r.first(), Some(&(kind::TEXT | kind::BINARY | kind::PING | kind::PONG))));
            }
        }
    }
}
