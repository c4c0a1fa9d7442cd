//! Publications framed once: every kind of session reads them byte for byte, in order with
//! the messages its own session frames, and a session that is not open drops them.

use super::*;
use crate::ws_layer::tests::peer_reads;
use crate::ws_layer::{WsLayer, WsOptions};
use crate::ws_record::{put_count, put_record};
use crate::{LayerStatus, SharedWrite, StreamLayer, StreamOut};
use proptest::prelude::*;
use riptide_ws::{
    ClientConfig, ClientHandshake, ConnEvent, Connection, DeflateConfig, Event, ServerConfig,
    Timeouts,
};
use std::time::Instant;

/// How the handshake settles compression.
#[derive(Clone, Copy, Debug)]
enum Deflate {
    Off,
    /// `server_no_context_takeover` with this window.
    Standalone(u8),
    /// Context takeover.
    Takeover,
}

fn options(deflate: Deflate, fragment_size: usize) -> WsOptions {
    let server = match deflate {
        Deflate::Off => None,
        Deflate::Standalone(bits) => Some(DeflateConfig {
            server_no_context_takeover: true,
            server_max_window_bits: bits,
            ..DeflateConfig::default()
        }),
        Deflate::Takeover => Some(DeflateConfig::default()),
    };
    WsOptions {
        server: ServerConfig {
            deflate: server,
            ..ServerConfig::default()
        },
        session: SessionConfig {
            fragment_size,
            ..SessionConfig::default()
        },
        timeouts: Timeouts::default(),
    }
}

fn record(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_record(&mut out, body);
    out
}

/// A layer past its upgrade with a client that offered permessage-deflate.
fn open(options: &WsOptions, now: Instant) -> (WsLayer, Connection) {
    let handshake = ClientHandshake::new(ClientConfig {
        host: "x".into(),
        path: "/".into(),
        headers: Vec::new(),
        subprotocols: Vec::new(),
        deflate: Some(DeflateConfig::default()),
        max_head_size: 8192,
    })
    .expect("handshake");
    let mut peer = Connection::client(
        handshake,
        SessionConfig::default(),
        Timeouts::default(),
        now,
    );
    let mut layer = WsLayer::server(options.clone());
    let (mut up, mut down) = (Vec::new(), Vec::new());
    let mut report = crate::LayerReport::default();
    let out = &mut StreamOut {
        up: &mut up,
        down: &mut down,
        report: &mut report,
    };
    assert_eq!(
        layer.read(now, &peer.take_output(), out).expect("read"),
        LayerStatus::Ready
    );
    let mut accept = vec![kind::ACCEPT];
    put_count(&mut accept, u32::MAX as usize);
    put_count(&mut accept, 0);
    let mut down = Vec::new();
    layer
        .write(now, &record(&accept), &mut down)
        .expect("accept");
    assert!(matches!(
        &peer_reads(&mut peer, now, &down)[..],
        [ConnEvent::Open(_)]
    ));
    (layer, peer)
}

/// What `Conns::deliver` and `write_shared` do with a publication for this layer: the bytes
/// that reach the peer, and whether they were the shared buffer itself.
fn publish(codec: &WsCodec, layer: &mut WsLayer, now: Instant, body: &[u8]) -> (Vec<u8>, bool) {
    let variant = layer.shared_variant().expect("an open session decides");
    let mut shared = Vec::new();
    codec
        .encode_shared(variant, body, &mut shared)
        .expect("encode");
    match layer.write_shared(now, &shared) {
        SharedWrite::Pass(at) => (shared[at..].to_vec(), true),
        SharedWrite::Skip => (Vec::new(), false),
        SharedWrite::Write => {
            let mut down = Vec::new();
            layer.write(now, &shared, &mut down).expect("write");
            (down, false)
        }
    }
}

fn message(body: &[u8]) -> ConnEvent {
    ConnEvent::Ws(Event::Message {
        data: body[1..].to_vec(),
        binary: body[0] == kind::BINARY,
    })
}

#[test]
fn each_kind_of_session_takes_its_variant() {
    let now = Instant::now();
    for (deflate, variant, passes) in [
        (Deflate::Off, PLAIN, true),
        (Deflate::Standalone(10), DEFLATE | 10, true),
        (Deflate::Standalone(15), DEFLATE | 15, true),
        (Deflate::Takeover, RECORD, false),
    ] {
        let options = options(deflate, 0);
        let codec = WsCodec::new(options.codec(), options.session);
        let (mut layer, mut peer) = open(&options, now);
        assert_eq!(layer.shared_variant(), Some(variant), "{deflate:?}");
        let body = b"Thello hello hello hello";
        let (bytes, shared) = publish(&codec, &mut layer, now, body);
        assert_eq!(shared, passes, "{deflate:?}");
        // Compressed where deflate was agreed (RSV1 on the first frame).
        assert_eq!(bytes[0] & 0x40 != 0, !matches!(deflate, Deflate::Off));
        assert_eq!(peer_reads(&mut peer, now, &bytes), vec![message(body)]);
    }
}

#[test]
fn a_session_that_is_not_open_drops_a_publication() {
    let now = Instant::now();
    let options = options(Deflate::Off, 0);
    let codec = WsCodec::new(options.codec(), options.session);
    let (mut layer, _peer) = open(&options, now);
    let mut close = vec![kind::CLOSE];
    close.extend_from_slice(&1000u16.to_be_bytes());
    layer
        .write(now, &record(&close), &mut Vec::new())
        .expect("close");
    let (bytes, shared) = publish(&codec, &mut layer, now, b"Blate");
    assert!(bytes.is_empty() && !shared);
    assert!(layer.outcome().is_none(), "dropping is not an error");
}

#[test]
fn a_record_that_is_not_a_message_stays_a_record() {
    let options = options(Deflate::Off, 0);
    let codec = WsCodec::new(options.codec(), options.session);
    let mut out = Vec::new();
    codec
        .encode_shared(PLAIN, b"Pping", &mut out)
        .expect("encode");
    assert_eq!(out, record(b"Pping"));
}

#[test]
fn joined_publications_reach_every_kind_of_session_whole_and_in_order() {
    let now = Instant::now();
    let bodies: [&[u8]; 3] = [b"Bone", b"Ttwo two two", b"B"];
    for (deflate, passes) in [
        (Deflate::Off, true),
        (Deflate::Standalone(12), true),
        (Deflate::Takeover, false),
    ] {
        let options = options(deflate, 3);
        let codec = WsCodec::new(options.codec(), options.session);
        let (mut layer, mut peer) = open(&options, now);
        let variant = layer.shared_variant().expect("open");
        let frames: Vec<Vec<u8>> = bodies
            .iter()
            .map(|b| {
                let mut f = Vec::new();
                codec.encode_shared(variant, b, &mut f).expect("encode");
                f
            })
            .collect();
        let parts: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let mut joined = Vec::new();
        codec.join_shared(variant, &parts, &mut joined);
        let wire = match layer.write_shared(now, &joined) {
            SharedWrite::Pass(at) => joined[at..].to_vec(),
            SharedWrite::Skip => panic!("the session is open"),
            SharedWrite::Write => {
                let mut down = Vec::new();
                layer.write(now, &joined, &mut down).expect("write");
                down
            }
        };
        assert_eq!(
            matches!(layer.write_shared(now, &joined), SharedWrite::Pass(_)),
            passes,
            "{deflate:?}"
        );
        let expected: Vec<ConnEvent> = bodies.iter().map(|b| message(b)).collect();
        assert_eq!(peer_reads(&mut peer, now, &wire), expected, "{deflate:?}");
    }
}

#[test]
fn joining_records_that_are_not_framed_keeps_them_records() {
    let options = options(Deflate::Off, 0);
    let codec = WsCodec::new(options.codec(), options.session);
    let (ping, text) = (record(b"Pping"), record(b"Thi"));
    let mut joined = Vec::new();
    codec.join_shared(PLAIN, &[&ping, &text], &mut joined);
    assert_eq!(joined, [ping, text].concat());
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..3000)
            .prop_map(|d| [&[kind::BINARY][..], &d].concat()),
        ".{0,400}".prop_map(|s: String| [&[kind::TEXT][..], s.as_bytes()].concat()),
    ]
}

fn deflate() -> impl Strategy<Value = Deflate> {
    prop_oneof![
        Just(Deflate::Off),
        (9u8..=15).prop_map(Deflate::Standalone),
        Just(Deflate::Takeover),
    ]
}

proptest! {
    /// Publications and the session's own messages (fragmented, compressed with context
    /// where agreed) in any order: the peer reads each message whole, byte for byte, in the
    /// order written; shared frames never land inside a fragmented message.
    #[test]
    fn publications_and_own_messages_arrive_whole_and_in_order(
        deflate in deflate(),
        fragment_size in prop_oneof![Just(0usize), 1usize..64],
        steps in proptest::collection::vec((any::<bool>(), body()), 1..12),
    ) {
        let now = Instant::now();
        let options = options(deflate, fragment_size);
        let codec = WsCodec::new(options.codec(), options.session);
        let (mut layer, mut peer) = open(&options, now);
        let mut wire = Vec::new();
        for (published, body) in &steps {
            if *published {
                wire.extend(publish(&codec, &mut layer, now, body).0);
            } else {
                layer.write(now, &record(body), &mut wire).expect("write");
            }
        }
        let expected: Vec<ConnEvent> = steps.iter().map(|(_, b)| message(b)).collect();
        prop_assert_eq!(peer_reads(&mut peer, now, &wire), expected);
    }
}
