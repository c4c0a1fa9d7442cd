//! The fuzz harness: the body of every fuzz target in `fuzz/`, kept here so the regression
//! test (`tests/regressions.rs`) replays the saved corpus through exactly the same code. Not
//! part of the API. Each function takes a fuzzer's bytes and panics on a finding.

// Assertion code: an index or sum that goes wrong here is itself a finding.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::time::Instant;

use crate::{
    handshake, ClientConfig, ClientHandshake, Compressor, ConnEvent, Connection, Decompressor,
    DeflateConfig, DeflateParams, Event, Role, ServerConfig, Session, SessionConfig, State,
    Timeouts,
};

/// A fuzz target's body: takes the fuzzer's bytes, panics on a finding.
pub type Target = fn(&[u8]);

/// The targets by name (the fuzz target's and its corpus directory's).
pub fn targets() -> Vec<(&'static str, Target)> {
    vec![
        ("session", session as Target),
        ("deflate", deflate),
        ("handshake", handshake),
    ]
}

/// A session fed hostile bytes. `data[0]` picks the role, deflate, its context takeover, the
/// message limit and the echo's fragment size; `data[1]` the read size; the rest is the peer's
/// bytes. Every message is echoed, and a peer session of the other role must read the echo
/// back as the same events: what this side sends is always valid.
pub fn session(data: &[u8]) {
    let [control, step, input @ ..] = data else {
        return;
    };
    let (role, peer_role) = if control & 1 == 0 {
        (Role::Server, Role::Client)
    } else {
        (Role::Client, Role::Server)
    };
    let deflate = (control & 2 != 0).then_some(DeflateParams {
        server_no_context_takeover: control & 4 != 0,
        client_no_context_takeover: control & 8 != 0,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
        client_window_offered: true,
    });
    let max = if control & 16 != 0 { 1 << 16 } else { 125 };
    let config = SessionConfig {
        max_message_size: max,
        fragment_size: usize::from(control >> 5),
        deflate,
        ..SessionConfig::default()
    };
    let mut ours = Session::new(role, config);
    let mut peer = Session::new(
        peer_role,
        SessionConfig {
            fragment_size: 0,
            ..config
        },
    );
    let mut sent = Vec::new();
    let mut failure = None;
    'reads: for read in input.chunks(usize::from(*step).max(1)) {
        let mut rest = read;
        loop {
            match ours.receive(rest) {
                Ok(received) => {
                    assert!(received.consumed <= rest.len());
                    rest = &rest[received.consumed..];
                    let Some(event) = received.event else {
                        assert!(rest.is_empty(), "stopped early without an event");
                        break;
                    };
                    match &event {
                        Event::Message { data, binary } => {
                            assert!(data.len() <= max);
                            assert!(*binary || std::str::from_utf8(data).is_ok());
                            if ours.send(data, *binary).is_ok() {
                                sent.push(event.clone());
                            }
                        }
                        Event::Ping(p) => {
                            assert!(p.len() <= 125);
                            if ours.state() == State::Open {
                                sent.push(Event::Pong(p.clone()));
                            }
                        }
                        Event::Pong(p) => assert!(p.len() <= 125),
                        Event::Close(_) => assert_eq!(ours.state(), State::Closed),
                    }
                }
                Err(error) => {
                    assert_eq!(ours.state(), State::Closed);
                    failure = Some(error.close_code());
                    break 'reads;
                }
            }
            if rest.is_empty() {
                break;
            }
        }
        assert!(ours.buffered() <= max);
    }
    // The peer reads back the echoes, then this side's close frame (with the violation's code).
    let echo = ours.take_output();
    let mut got = Vec::new();
    let mut closed_with = None;
    let mut rest = &echo[..];
    while !rest.is_empty() {
        let received = peer.receive(rest).expect("our own output is valid");
        rest = &rest[received.consumed..];
        match received.event {
            Some(Event::Close(frame)) => {
                closed_with = Some(frame.code);
                break;
            }
            Some(event) => got.push(event),
            None => break,
        }
    }
    assert_eq!(got, sent);
    if let Some(code) = failure {
        assert_eq!(
            closed_with,
            Some(code),
            "no close frame with the violation's code"
        );
    }
}

/// Inflates hostile bytes in pieces under a limit (the output never passes it), then
/// compresses and inflates `data` as two messages at the window and takeover `data[0]` picks.
pub fn deflate(data: &[u8]) {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let reset = control & 1 != 0;
    let limit = 4096;
    let mut inflater = Decompressor::new(reset);
    let mut out = Vec::new();
    let piece = usize::from(control >> 4).max(1);
    let ok = body
        .chunks(piece)
        .all(|p| inflater.inflate(p, &mut out, limit).is_ok());
    if ok {
        let _ = inflater.finish(&mut out, limit);
    }
    assert!(out.len() <= limit);

    let window = 9 + (control >> 1) % 7;
    let mut compressor = Compressor::new(u32::from(control >> 4) % 10, window, reset);
    let mut inflater = Decompressor::new(reset);
    for _ in 0..2 {
        let mut wire = Vec::new();
        compressor.compress(body, &mut wire).expect("compress");
        let mut back = Vec::new();
        inflater
            .inflate(&wire, &mut back, usize::MAX)
            .expect("inflate our own output");
        inflater.finish(&mut back, usize::MAX).expect("finish");
        assert_eq!(back, body);
    }
}

/// Hostile bytes as an upgrade request to a server (whose answer must then be well formed),
/// as a response to a client, and as a whole connection's input to a [`Connection`] that
/// accepts every upgrade (its head is bounded, and a failure leaves it finished).
pub fn handshake(data: &[u8]) {
    let config = ServerConfig {
        subprotocols: vec!["chat".into(), "superchat".into()],
        deflate: Some(DeflateConfig::default()),
        max_head_size: 1024,
    };
    if let Ok(Some((request, len))) = handshake::parse_request(data, &config) {
        assert!(len <= data.len() && len <= 1024);
        let answer = handshake::accept_response(
            &request,
            request.protocol.as_deref(),
            request.deflate.as_ref(),
            &[],
        )
        .expect("the default answer is valid");
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut response = httparse::Response::new(&mut headers);
        assert!(
            matches!(response.parse(&answer), Ok(httparse::Status::Complete(n)) if n == answer.len())
        );
    }
    let client = ClientConfig {
        host: "example.com".into(),
        path: "/chat".into(),
        headers: Vec::new(),
        subprotocols: vec!["chat".into()],
        deflate: Some(DeflateConfig::default()),
        max_head_size: 1024,
    };
    let client = ClientHandshake::with_key(client, [7; 16]).expect("a valid client config");
    if let Ok(Some((_, len))) = client.parse_response(data) {
        assert!(len <= data.len());
    }

    let now = Instant::now();
    let session = SessionConfig {
        max_message_size: 1 << 16,
        ..SessionConfig::default()
    };
    let mut conn = Connection::server(config, session, Timeouts::default(), now);
    let mut rest = data;
    loop {
        match conn.receive(now, rest) {
            Ok(received) => {
                assert!(received.consumed <= rest.len());
                rest = &rest[received.consumed..];
                match received.event {
                    Some(ConnEvent::Upgrade(request)) => {
                        conn.accept(request.protocol.as_deref(), &[])
                            .expect("accepting a valid request");
                    }
                    Some(_) => {}
                    None if received.consumed == 0 => break,
                    None => {}
                }
            }
            Err(_) => {
                assert!(conn.is_finished());
                break;
            }
        }
    }
    let _ = conn.take_output();
}
