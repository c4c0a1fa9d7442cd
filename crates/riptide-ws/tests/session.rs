//! A session's behaviour with a well-behaved peer: the RFC's examples, control frames between
//! fragments, automatic pongs and the close handshake from either side.

use riptide_ws::{
    close, encode_frame, CloseFrame, Error, Event, FrameHeader, Opcode, Role, Session,
    SessionConfig, State,
};

/// Feeds `wire` to `session` and collects every event.
fn events(session: &mut Session, wire: &[u8]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut rest = wire;
    loop {
        let r = session.receive(rest).expect("valid input");
        rest = &rest[r.consumed..];
        match r.event {
            Some(e) => out.push(e),
            None => break,
        }
    }
    assert!(rest.is_empty());
    out
}

fn text(s: &str) -> Event {
    Event::Message {
        data: s.as_bytes().to_vec(),
        binary: false,
    }
}

#[test]
fn rfc6455_examples() {
    // §5.7: a masked "Hello" to a server.
    let mut server = Session::new(Role::Server, SessionConfig::default());
    let masked = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(events(&mut server, &masked), [text("Hello")]);
    // §5.7: a fragmented unmasked "Hel" + "lo" and an unmasked ping to a client.
    let mut client = Session::new(Role::Client, SessionConfig::default());
    let wire = [
        0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f, 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c,
        0x6f,
    ];
    assert_eq!(
        events(&mut client, &wire),
        [text("Hello"), Event::Ping(b"Hello".to_vec())]
    );
    // The pong is masked and carries the ping's payload.
    let pong = client.take_output();
    assert_eq!(pong[0..2], [0x8a, 0x85]);
    let mut payload = pong[6..].to_vec();
    riptide_ws::apply_mask(&mut payload, pong[2..6].try_into().unwrap(), 0);
    assert_eq!(payload, b"Hello");
}

#[test]
fn control_frames_between_fragments_and_any_split() {
    let mut wire = Vec::new();
    let server_frame = |op, fin, payload: &[u8], wire: &mut Vec<u8>| {
        encode_frame(
            FrameHeader {
                fin,
                ..FrameHeader::new(op)
            },
            payload,
            wire,
        )
    };
    server_frame(Opcode::Binary, false, b"ab", &mut wire);
    server_frame(Opcode::Ping, true, b"p", &mut wire);
    server_frame(Opcode::Continuation, false, b"", &mut wire);
    server_frame(Opcode::Pong, true, b"", &mut wire);
    server_frame(Opcode::Continuation, true, b"cd", &mut wire);
    server_frame(Opcode::Text, true, b"", &mut wire);
    let expected = vec![
        Event::Ping(b"p".to_vec()),
        Event::Pong(Vec::new()),
        Event::Message {
            data: b"abcd".to_vec(),
            binary: true,
        },
        text(""),
    ];
    for cut in 0..=wire.len() {
        let mut client = Session::new(Role::Client, SessionConfig::default());
        let mut got = events(&mut client, &wire[..cut]);
        got.extend(events(&mut client, &wire[cut..]));
        assert_eq!(got, expected, "split at {cut}");
    }
}

#[test]
fn peer_initiated_close_is_echoed() {
    let mut server = Session::new(Role::Server, SessionConfig::default());
    let mut wire = Vec::new();
    encode_frame(
        FrameHeader {
            mask: Some([1, 2, 3, 4]),
            ..FrameHeader::new(Opcode::Close)
        },
        &[0x0f, 0xa0, b'o', b'k'],
        &mut wire,
    );
    assert_eq!(
        events(&mut server, &wire),
        [Event::Close(CloseFrame {
            code: 4000,
            reason: "ok".into()
        })]
    );
    assert_eq!(server.state(), State::Closed);
    assert_eq!(server.take_output(), [0x88, 0x02, 0x0f, 0xa0]);
    assert_eq!(server.send_text("late"), Err(Error::Closed));
    assert_eq!(server.ping(b""), Err(Error::Closed));
}

#[test]
fn an_empty_close_is_echoed_empty_and_reported_as_1005() {
    let mut client = Session::new(Role::Client, SessionConfig::default());
    assert_eq!(
        events(&mut client, &[0x88, 0x00]),
        [Event::Close(CloseFrame {
            code: close::NO_STATUS,
            reason: String::new()
        })]
    );
    assert_eq!(client.take_output()[..2], [0x88, 0x80]);
}

#[test]
fn this_side_closes_first_and_still_reads_until_the_peer_closes() {
    let mut server = Session::new(Role::Server, SessionConfig::default());
    server.close(1001, "going").unwrap();
    assert_eq!(server.state(), State::CloseSent);
    assert_eq!(
        server.take_output(),
        [0x88, 0x07, 0x03, 0xe9, b'g', b'o', b'i', b'n', b'g']
    );
    assert_eq!(server.send_binary(b"x"), Err(Error::Closed));
    assert_eq!(server.close(1000, ""), Err(Error::Closed));
    let mask = Some([9, 8, 7, 6]);
    let mut wire = Vec::new();
    encode_frame(
        FrameHeader {
            mask,
            ..FrameHeader::new(Opcode::Text)
        },
        b"last",
        &mut wire,
    );
    encode_frame(
        FrameHeader {
            mask,
            ..FrameHeader::new(Opcode::Ping)
        },
        b"",
        &mut wire,
    );
    encode_frame(
        FrameHeader {
            mask,
            ..FrameHeader::new(Opcode::Close)
        },
        &[0x03, 0xe9],
        &mut wire,
    );
    let got = events(&mut server, &wire);
    assert_eq!(
        got,
        [
            text("last"),
            Event::Ping(Vec::new()),
            Event::Close(CloseFrame {
                code: 1001,
                reason: String::new()
            })
        ]
    );
    assert_eq!(server.state(), State::Closed);
    assert!(
        server.take_output().is_empty(),
        "no pong and no second close after this side's close"
    );
}

#[test]
fn sends_check_their_arguments() {
    let mut server = Session::new(Role::Server, SessionConfig::default());
    assert_eq!(server.ping(&[0; 126]), Err(Error::ControlTooLong));
    assert_eq!(server.close(1005, "x"), Err(Error::BadCloseCode(1005)));
    assert_eq!(
        server.close(1000, &"x".repeat(124)),
        Err(Error::ReasonTooLong)
    );
    assert_eq!(server.state(), State::Open);
    server.ping(&[7; 125]).unwrap();
    server.pong(b"").unwrap();
    assert_eq!(server.take_output().len(), 2 + 125 + 2);
}

#[test]
fn outgoing_fragments_follow_fragment_size() {
    let mut server = Session::new(
        Role::Server,
        SessionConfig {
            fragment_size: 3,
            ..SessionConfig::default()
        },
    );
    server.send_text("abcdefg").unwrap();
    assert_eq!(
        server.take_output(),
        [0x01, 3, b'a', b'b', b'c', 0x00, 3, b'd', b'e', b'f', 0x80, 1, b'g']
    );
    server.send_binary(b"").unwrap();
    assert_eq!(server.take_output(), [0x82, 0]);
}

#[test]
fn encode_message_matches_what_a_session_sends() {
    let mut server = Session::new(Role::Server, SessionConfig::default());
    for len in [0usize, 125, 126, 65535, 65536] {
        let data = vec![b'z'; len];
        server.send_binary(&data).unwrap();
        assert_eq!(
            server.take_output(),
            riptide_ws::encode_message(&data, true)
        );
    }
}
