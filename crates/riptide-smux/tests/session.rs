//! Session behaviour against hand-built frames: ids, FIN semantics, windows, buffers,
//! keepalive, and each protocol violation as its error.

use std::time::{Duration, Instant};

use riptide_smux::{Cmd, Config, Error, FrameHeader, Role, Session, INITIAL_PEER_WINDOW};

fn frame(version: u8, cmd: Cmd, sid: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = FrameHeader {
        version,
        cmd,
        len: payload.len() as u16,
        sid,
    }
    .encode()
    .to_vec();
    out.extend_from_slice(payload);
    out
}

fn upd(consumed: u32, window: u32) -> Vec<u8> {
    [consumed.to_le_bytes(), window.to_le_bytes()].concat()
}

fn session(role: Role, version: u8) -> (Session, Instant) {
    let now = Instant::now();
    let config = Config {
        version,
        ..Config::default()
    };
    (Session::new(role, config, now).unwrap(), now)
}

/// Splits output into (cmd, sid, payload) triples.
fn frames(mut out: &[u8], version: u8) -> Vec<(Cmd, u32, Vec<u8>)> {
    let mut v = Vec::new();
    while !out.is_empty() {
        let h = FrameHeader::parse(out[..8].try_into().unwrap(), version).unwrap();
        let end = 8 + h.len as usize;
        v.push((h.cmd, h.sid, out[8..end].to_vec()));
        out = &out[end..];
    }
    v
}

#[test]
fn header_rules_match_smux() {
    let ok = FrameHeader::parse([2, 4, 8, 0, 0xff, 0xff, 0xff, 0xff], 2).unwrap();
    assert_eq!((ok.cmd, ok.len, ok.sid), (Cmd::Upd, 8, u32::MAX));
    assert_eq!(
        FrameHeader::parse([2, 2, 0, 0, 1, 0, 0, 0], 1),
        Err(Error::InvalidVersion {
            got: 2,
            expected: 1
        })
    );
    assert_eq!(
        FrameHeader::parse([1, 5, 0, 0, 1, 0, 0, 0], 1),
        Err(Error::InvalidCommand(5))
    );
    assert_eq!(
        FrameHeader::parse([1, 4, 8, 0, 1, 0, 0, 0], 1),
        Err(Error::InvalidCommand(4)),
        "UPD is v2 only"
    );
    for cmd in [0u8, 1, 3] {
        assert_eq!(
            FrameHeader::parse([1, cmd, 1, 0, 1, 0, 0, 0], 1),
            Err(Error::InvalidLength { cmd, len: 1 })
        );
    }
    assert_eq!(
        FrameHeader::parse([2, 4, 7, 0, 1, 0, 0, 0], 2),
        Err(Error::InvalidLength { cmd: 4, len: 7 })
    );
    let psh = FrameHeader::parse([1, 2, 0xff, 0xff, 0, 0, 0, 0], 1).unwrap();
    assert_eq!(psh.len, u16::MAX);
}

#[test]
fn config_is_checked_as_smux_does() {
    let bad = [
        Config {
            version: 3,
            ..Config::default()
        },
        Config {
            max_frame_size: 65_536,
            ..Config::default()
        },
        Config {
            max_stream_buffer: 5_000_000,
            ..Config::default()
        },
        Config {
            keep_alive_timeout: Duration::from_secs(1),
            ..Config::default()
        },
    ];
    for config in bad {
        assert!(matches!(
            Session::new(Role::Client, config, Instant::now()),
            Err(Error::Config(_))
        ));
    }
}

#[test]
fn client_ids_are_odd_from_3_server_ids_even_from_2() {
    let (mut c, _) = session(Role::Client, 1);
    let (mut s, _) = session(Role::Server, 1);
    assert_eq!([c.open().unwrap(), c.open().unwrap()], [3, 5]);
    assert_eq!([s.open().unwrap(), s.open().unwrap()], [2, 4]);
    assert_eq!(
        frames(&c.take_output(), 1),
        vec![(Cmd::Syn, 3, vec![]), (Cmd::Syn, 5, vec![])]
    );
}

#[test]
fn data_then_fin_reads_to_the_end_and_data_after_fin_is_an_error() {
    let (mut s, now) = session(Role::Server, 1);
    let input = [
        frame(1, Cmd::Syn, 3, &[]),
        frame(1, Cmd::Psh, 3, b"hello"),
        frame(1, Cmd::Fin, 3, &[]),
    ]
    .concat();
    assert_eq!(s.receive(&input, now).unwrap(), input.len());
    assert_eq!(s.accept(), Some(3));
    let mut buf = [0u8; 16];
    assert_eq!(s.read(3, &mut buf).unwrap(), Some(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(s.read(3, &mut buf).unwrap(), Some(0));
    assert_eq!(
        s.read(3, &mut buf).unwrap(),
        Some(0),
        "the end stays the end"
    );
    s.close_write(3).unwrap();
    assert_eq!(
        s.stream_ids().count(),
        0,
        "both FINs done: the stream is gone"
    );
    s.receive(&frame(1, Cmd::Syn, 5, &[]), now).unwrap();
    assert_eq!(s.receive(&frame(1, Cmd::Fin, 5, &[]), now), Ok(8));
    assert_eq!(
        s.receive(&frame(1, Cmd::Psh, 5, b"x"), now),
        Err(Error::DataAfterFin(5))
    );
    assert!(s.is_closed());
    assert_eq!(s.open(), Err(Error::SessionClosed));
}

#[test]
fn a_closed_stream_drops_its_data_and_frees_the_session_buffer() {
    let (mut s, now) = session(Role::Server, 1);
    let input = [frame(1, Cmd::Syn, 3, &[]), frame(1, Cmd::Psh, 3, b"abc")].concat();
    s.receive(&input, now).unwrap();
    assert_eq!(s.buffered(), 3);
    s.close_stream(3).unwrap();
    assert_eq!(s.buffered(), 0);
    assert_eq!(frames(&s.take_output(), 1), vec![(Cmd::Fin, 3, vec![])]);
    // Later data for it is dropped, as smux drops data for unknown streams.
    s.receive(&frame(1, Cmd::Psh, 3, b"late"), now).unwrap();
    assert_eq!(s.buffered(), 0);
    assert_eq!(s.read(3, &mut [0; 4]), Err(Error::UnknownStream(3)));
}

#[test]
fn v1_input_stops_at_the_session_buffer_and_resumes_after_reading() {
    let now = Instant::now();
    let config = Config {
        max_receive_buffer: 100,
        max_stream_buffer: 100,
        ..Config::default()
    };
    let mut s = Session::new(Role::Server, config, now).unwrap();
    let psh = frame(1, Cmd::Psh, 3, &[7; 60]);
    let input = [frame(1, Cmd::Syn, 3, &[]), psh.clone(), psh.clone(), psh].concat();
    let used = s.receive(&input, now).unwrap();
    // Two frames in (120 bytes, past 100), the third waits as smux waits on its bucket.
    assert_eq!(used, 8 + 2 * 68);
    assert_eq!(s.buffered(), 120);
    let mut buf = [0u8; 50];
    s.read(3, &mut buf).unwrap();
    assert_eq!(s.receive(&input[used..], now).unwrap(), 68);
}

#[test]
fn v2_peer_past_the_window_is_an_error() {
    let (mut s, now) = session(Role::Server, 2);
    s.receive(&frame(2, Cmd::Syn, 3, &[]), now).unwrap();
    let chunk = frame(2, Cmd::Psh, 3, &[1; 65_535]);
    let full = INITIAL_PEER_WINDOW as usize / 65_535;
    for _ in 0..full {
        s.receive(&chunk, now).unwrap();
    }
    // 262140 bytes in: 4 more fit the initial window, 5 do not.
    s.receive(&frame(2, Cmd::Psh, 3, &[1; 4]), now).unwrap();
    assert_eq!(
        s.receive(&frame(2, Cmd::Psh, 3, &[1]), now),
        Err(Error::WindowExceeded(3))
    );
}

#[test]
fn v2_reads_send_updates_and_writes_respect_the_peer_window() {
    let (mut c, now) = session(Role::Client, 2);
    let sid = c.open().unwrap();
    c.take_output();
    let data = vec![9u8; 300_000];
    assert_eq!(c.write(sid, &data).unwrap(), INITIAL_PEER_WINDOW as usize);
    assert_eq!(c.write(sid, &data).unwrap(), 0, "window used up");
    let out = c.take_output();
    assert!(frames(&out, 2)
        .iter()
        .all(|(cmd, _, p)| *cmd == Cmd::Psh && p.len() <= 32_768));
    c.receive(&frame(2, Cmd::Upd, sid, &upd(1000, 65_536)), now)
        .unwrap();
    assert_eq!(
        c.send_capacity(sid).unwrap(),
        0,
        "in flight still past the new window"
    );
    c.receive(&frame(2, Cmd::Upd, sid, &upd(262_144, 65_536)), now)
        .unwrap();
    assert_eq!(c.write(sid, &data).unwrap(), 65_536);
    assert_eq!(
        c.receive(&frame(2, Cmd::Upd, sid, &upd(400_000, 65_536)), now),
        Err(Error::ConsumedBeyondWritten(sid))
    );

    // The reading side: an update on the first read, then after each half window.
    let (mut s, now) = session(Role::Server, 2);
    let input = [
        frame(2, Cmd::Syn, 3, &[]),
        frame(2, Cmd::Psh, 3, &[5; 50_000]),
    ]
    .concat();
    s.receive(&input, now).unwrap();
    let mut buf = vec![0u8; 10_000];
    let mut updates = Vec::new();
    for _ in 0..5 {
        s.read(3, &mut buf).unwrap();
        updates.extend(frames(&s.take_output(), 2));
    }
    assert_eq!(
        updates,
        vec![
            (Cmd::Upd, 3, upd(10_000, 65_536)),
            (Cmd::Upd, 3, upd(50_000, 65_536))
        ]
    );
}

#[test]
fn keepalive_sends_nops_and_times_out_without_input() {
    let (mut s, start) = session(Role::Client, 1);
    assert_eq!(s.poll_timeout(), Some(start + Duration::from_secs(10)));
    s.handle_timeout(start + Duration::from_secs(10)).unwrap();
    assert_eq!(frames(&s.take_output(), 1), vec![(Cmd::Nop, 0, vec![])]);
    s.receive(&frame(1, Cmd::Nop, 0, &[]), start + Duration::from_secs(15))
        .unwrap();
    s.handle_timeout(start + Duration::from_secs(44)).unwrap();
    assert_eq!(
        s.handle_timeout(start + Duration::from_secs(45)),
        Err(Error::KeepAliveTimeout)
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn no_timeout_while_this_side_is_not_reading() {
    let now = Instant::now();
    let config = Config {
        max_receive_buffer: 10,
        max_stream_buffer: 10,
        ..Config::default()
    };
    let mut s = Session::new(Role::Server, config, now).unwrap();
    let input = [frame(1, Cmd::Syn, 3, &[]), frame(1, Cmd::Psh, 3, &[1; 10])].concat();
    s.receive(&input, now).unwrap();
    assert!(s.handle_timeout(now + Duration::from_secs(60)).is_ok());
}

#[test]
fn peer_streams_past_the_limit_are_an_error() {
    let now = Instant::now();
    let config = Config {
        max_streams: 2,
        ..Config::default()
    };
    let mut s = Session::new(Role::Server, config, now).unwrap();
    let input: Vec<u8> = [3, 5, 7]
        .iter()
        .flat_map(|&sid| frame(1, Cmd::Syn, sid, &[]))
        .collect();
    assert_eq!(s.receive(&input, now), Err(Error::TooManyStreams));
}

#[test]
fn bad_input_kills_the_session_with_its_error() {
    for (input, err) in [
        (
            vec![9, 0, 0, 0, 1, 0, 0, 0],
            Error::InvalidVersion {
                got: 9,
                expected: 1,
            },
        ),
        (vec![1, 200, 0, 0, 1, 0, 0, 0], Error::InvalidCommand(200)),
        (
            frame(1, Cmd::Nop, 0, b"x"),
            Error::InvalidLength { cmd: 3, len: 1 },
        ),
    ] {
        let (mut s, now) = session(Role::Server, 1);
        // Byte by byte: the error comes with the header's last byte.
        for (i, b) in input.iter().enumerate() {
            let r = s.receive(&[*b], now);
            if i < 7 {
                assert_eq!(r, Ok(1));
            } else {
                assert_eq!(r, Err(err.clone()));
                break;
            }
        }
    }
}
