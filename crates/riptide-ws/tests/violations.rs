//! Every protocol violation a peer can commit is answered with the close code RFC 6455 §7.4.1
//! names, queued before the session gives up, and nothing after it is read.

use riptide_ws::{
    encode_frame, Compressor, DeflateParams, Error, FrameHeader, Opcode, Role, Session,
    SessionConfig, State,
};

const MASK: Option<[u8; 4]> = Some([0x11, 0x22, 0x33, 0x44]);

/// A masked client frame.
fn frame(opcode: Opcode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(
        FrameHeader {
            fin,
            mask: MASK,
            ..FrameHeader::new(opcode)
        },
        payload,
        &mut out,
    );
    out
}

fn deflate() -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
        client_window_offered: true,
    }
}

fn server(max: usize, compressed: bool) -> Session {
    let config = SessionConfig {
        max_message_size: max,
        deflate: compressed.then(deflate),
        ..SessionConfig::default()
    };
    Session::new(Role::Server, config)
}

/// A masked, compressed (RSV1) binary frame.
fn compressed_frame(payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    let header = FrameHeader {
        rsv1: true,
        mask: MASK,
        ..FrameHeader::new(Opcode::Binary)
    };
    encode_frame(header, payload, &mut wire);
    wire
}

/// Feeds `wire` and returns the error and the close code in the queued close frame.
fn violation(session: &mut Session, wire: &[u8]) -> (Error, u16) {
    let mut rest = wire;
    let error = loop {
        match session.receive(rest) {
            Ok(r) if r.consumed == 0 && r.event.is_none() => {
                panic!("no violation found in {wire:?}")
            }
            Ok(r) => rest = &rest[r.consumed..],
            Err(e) => break e,
        }
    };
    assert_eq!(session.state(), State::Closed);
    let out = session.take_output();
    // An unmasked server close frame: 0x88, length, code.
    assert_eq!(out[0], 0x88, "a close frame is queued");
    let code = u16::from_be_bytes([out[2], out[3]]);
    assert_eq!(code, error.close_code());
    // Whatever follows is ignored.
    let after = session
        .receive(&frame(Opcode::Text, true, b"late"))
        .unwrap();
    assert_eq!(after.event, None);
    assert!(session.take_output().is_empty());
    (error, code)
}

fn header_only(first: u8, second: u8, ext: &[u8]) -> Vec<u8> {
    let mut out = vec![first, second];
    out.extend_from_slice(ext);
    out.extend_from_slice(&MASK.unwrap());
    out
}

#[test]
fn unmasked_client_frame_is_1002() {
    assert_eq!(
        violation(&mut server(1000, false), &[0x81, 0x02, b'h', b'i']),
        (Error::UnmaskedFrame, 1002)
    );
}

#[test]
fn masked_server_frame_is_1002() {
    let mut client = Session::new(Role::Client, SessionConfig::default());
    let err = client
        .receive(&frame(Opcode::Text, true, b"hi"))
        .unwrap_err();
    assert_eq!((err.clone(), err.close_code()), (Error::MaskedFrame, 1002));
    let out = client.take_output();
    assert_eq!(
        out[0..2],
        [0x88, 0x82],
        "the client's close frame is masked"
    );
}

#[test]
fn reserved_opcodes_are_1002() {
    for bits in [3u8, 4, 5, 6, 7, 11, 12, 13, 14, 15] {
        let (error, code) = violation(
            &mut server(1000, false),
            &header_only(0x80 | bits, 0x80, &[]),
        );
        assert_eq!((error, code), (Error::BadOpcode(bits), 1002));
    }
}

#[test]
fn rsv_bits_without_an_extension_are_1002() {
    for rsv in [0x40u8, 0x20, 0x10, 0x60, 0x70] {
        assert_eq!(
            violation(
                &mut server(1000, false),
                &header_only(0x81 | rsv, 0x80, &[])
            )
            .1,
            1002
        );
    }
    // With deflate, RSV2/RSV3 are still undefined, and RSV1 is only for a message's first frame.
    assert_eq!(
        violation(&mut server(1000, true), &header_only(0xa1, 0x80, &[])).1,
        1002
    );
    let mut s = server(1000, true);
    let mut wire = frame(Opcode::Text, false, b"a");
    wire.extend(header_only(0xc0, 0x80, &[]));
    assert_eq!(violation(&mut s, &wire), (Error::ReservedBits, 1002));
    assert_eq!(
        violation(&mut server(1000, true), &header_only(0xc9, 0x80, &[])),
        (Error::ReservedBits, 1002)
    );
}

#[test]
fn control_frame_rules_are_1002() {
    // 126 bytes of ping: refused on the header, before any payload.
    assert_eq!(
        violation(
            &mut server(1000, false),
            &header_only(0x89, 0xfe, &[0, 126])
        ),
        (Error::ControlTooLong, 1002)
    );
    assert_eq!(
        violation(&mut server(1000, false), &frame(Opcode::Ping, false, b"x")),
        (Error::FragmentedControl, 1002)
    );
    assert_eq!(
        violation(&mut server(1000, false), &frame(Opcode::Close, false, b"")),
        (Error::FragmentedControl, 1002)
    );
}

#[test]
fn a_length_with_the_top_bit_set_is_1002() {
    for len in [1u64 << 63, u64::MAX] {
        let wire = header_only(0x82, 0xff, &len.to_be_bytes());
        assert_eq!(
            violation(&mut server(1000, false), &wire),
            (Error::LengthOverflow, 1002)
        );
    }
}

#[test]
fn oversize_is_1009_on_the_header_alone() {
    for (second, ext) in [
        (0xfeu8, &[0x10u8, 0x00][..]),
        (0xff, &[0, 0, 0, 0, 0, 0, 0x10, 0][..]),
        (0xff, &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..]),
    ] {
        let wire = header_only(0x82, second, ext);
        assert_eq!(
            violation(&mut server(1000, false), &wire),
            (Error::MessageTooBig(1000), 1009)
        );
    }
    // Across fragments: 600 + 600 > 1000, refused on the second header.
    let mut wire = frame(Opcode::Binary, false, &[0; 600]);
    wire.extend(header_only(0x80, 0xfe, &[0x02, 0x58]));
    assert_eq!(
        violation(&mut server(1000, false), &wire),
        (Error::MessageTooBig(1000), 1009)
    );
}

#[test]
fn fragmentation_errors_are_1002() {
    assert_eq!(
        violation(
            &mut server(1000, false),
            &frame(Opcode::Continuation, true, b"x")
        ),
        (Error::UnexpectedContinuation, 1002)
    );
    let mut wire = frame(Opcode::Text, false, b"a");
    wire.extend(frame(Opcode::Binary, true, b"b"));
    assert_eq!(
        violation(&mut server(1000, false), &wire),
        (Error::ExpectedContinuation, 1002)
    );
}

#[test]
fn invalid_utf8_is_1007_as_soon_as_it_shows() {
    // Split across fragments: the first is a valid prefix, the second breaks it, and the
    // message is refused there, with no final frame sent.
    let mut s = server(1000, false);
    let r = s
        .receive(&frame(Opcode::Text, false, &[0xce, 0xba, 0xe1]))
        .unwrap();
    assert_eq!(r.event, None);
    assert_eq!(
        violation(&mut s, &frame(Opcode::Continuation, false, &[0xbd, 0xff])),
        (Error::InvalidUtf8, 1007)
    );
    // Mid-frame: a 100-byte text frame whose first bytes are already invalid.
    let mut wire = header_only(0x81, 0x80 | 100, &[]);
    let mut bad = vec![b'o', b'k', 0xc0, 0x80];
    riptide_ws::apply_mask(&mut bad, MASK.unwrap(), 0);
    wire.extend(bad);
    assert_eq!(
        violation(&mut server(1000, false), &wire),
        (Error::InvalidUtf8, 1007)
    );
    // A character cut off by the end of the message.
    assert_eq!(
        violation(
            &mut server(1000, false),
            &frame(Opcode::Text, true, &[b'a', 0xe2, 0x82])
        ),
        (Error::InvalidUtf8, 1007)
    );
}

#[test]
fn bad_close_frames() {
    assert_eq!(
        violation(&mut server(1000, false), &frame(Opcode::Close, true, &[3])),
        (Error::ClosePayloadTooShort, 1002)
    );
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
        assert_eq!(
            violation(
                &mut server(1000, false),
                &frame(Opcode::Close, true, &code.to_be_bytes())
            )
            .1,
            1002
        );
    }
    let wire = frame(Opcode::Close, true, &[0x03, 0xe8, 0xce, 0xba, 0xff]);
    assert_eq!(
        violation(&mut server(1000, false), &wire),
        (Error::InvalidUtf8, 1007)
    );
}

#[test]
fn a_decompression_bomb_is_1009() {
    let mut packed = Vec::new();
    Compressor::new(9, 15, false)
        .compress(&vec![0u8; 4 << 20], &mut packed)
        .unwrap();
    assert!(packed.len() < 10_000);
    let wire = compressed_frame(&packed);
    let mut s = server(64 << 10, true);
    assert_eq!(
        violation(&mut s, &wire),
        (Error::MessageTooBig(64 << 10), 1009)
    );
}

#[test]
fn data_that_does_not_inflate_is_1007() {
    let wire = compressed_frame(&[0xff; 20]);
    let (error, code) = violation(&mut server(1000, true), &wire);
    assert!(matches!(error, Error::BadDeflate(_)));
    assert_eq!(code, 1007);
}

#[test]
fn a_violation_after_this_side_sent_close_sends_no_second_close() {
    let mut s = server(1000, false);
    s.close(1000, "bye").unwrap();
    let sent = s.take_output();
    assert_eq!(sent[..4], [0x88, 0x05, 0x03, 0xe8]);
    assert!(s.receive(&[0x81, 0x01, b'x']).is_err());
    assert!(s.take_output().is_empty());
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn a_compressed_frame_longer_than_the_limit_is_fine_when_its_message_fits() {
    // A fuzzer finding: 125 incompressible bytes deflate to more than 125.
    let data: Vec<u8> = (0..125u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut packed = Vec::new();
    Compressor::new(6, 15, false)
        .compress(&data, &mut packed)
        .unwrap();
    assert!(packed.len() > 125);
    let received = server(125, true)
        .receive(&compressed_frame(&packed))
        .unwrap();
    assert_eq!(
        received.event,
        Some(riptide_ws::Event::Message { data, binary: true })
    );
}
