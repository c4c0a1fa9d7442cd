//! The fuzz harness: the body of every fuzz target in `fuzz/`, kept here so the regression
//! test (`tests/regressions.rs`) replays the saved corpus through exactly the same code. Not
//! part of the API. Each function takes a fuzzer's bytes and panics on a finding.

// Assertion code: an index or sum that goes wrong here is itself a finding.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use crate::{Config, Error, FrameHeader, Role, Session, SnappyDecoder, SnappyEncoder, HEADER_LEN};

/// A fuzz target's body: takes the fuzzer's bytes, panics on a finding.
pub type Target = fn(&[u8]);

/// The targets by name (the fuzz target's and its corpus directory's).
pub fn targets() -> Vec<(&'static str, Target)> {
    vec![
        ("session", session as Target),
        ("header", header),
        ("snappy", snappy),
    ]
}

/// A session fed hostile bytes. `data[0]` picks the role (bit 0), the version (bit 1), small
/// buffers (bit 2) and whether streams are read (bit 3); `data[1]` the chunk size; the rest
/// is the peer's bytes. Every stream read is echoed back; the output must be valid frames
/// (windows are the proptests' business: the fuzzer speaks for the peer and can grant any).
/// The memory bounds are checked after every chunk.
pub fn session(data: &[u8]) {
    let [control, step, input @ ..] = data else {
        return;
    };
    let role = if control & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let small = control & 4 != 0;
    let config = Config {
        version: if control & 2 == 0 { 1 } else { 2 },
        max_receive_buffer: if small { 1024 } else { 1 << 20 },
        max_stream_buffer: if small { 512 } else { 65_536 },
        max_frame_size: if small { 100 } else { 32_768 },
        max_streams: 64,
        max_send_buffer: if small { 4096 } else { 1 << 20 },
        ..Config::default()
    };
    let read = control & 8 != 0;
    let start = Instant::now();
    let mut me = Session::new(role, config.clone(), start).unwrap();
    let mut pending: &[u8] = input;
    let step = usize::from(*step).max(1);
    let mut buf = vec![0u8; 700];
    let mut now = start;
    for round in 0..input.len() + 2 {
        now += Duration::from_millis(700);
        let chunk = &pending[..step.min(pending.len())];
        match me.receive(chunk, now) {
            Ok(n) => pending = &pending[n..],
            Err(Error::SessionClosed) => unreachable!("receive on a live session"),
            Err(_) => return,
        }
        assert!(
            me.buffered() <= config.max_receive_buffer + usize::from(u16::MAX),
            "session buffer past its bound"
        );
        while me.accept().is_some() {}
        if round % 3 == 0 && me.open().is_err() {
            return;
        }
        let ids: Vec<u32> = me.stream_ids().collect();
        for sid in ids {
            if read {
                match me.read(sid, &mut buf) {
                    Ok(Some(n)) if n > 0 => {
                        let _ = me.write(sid, &buf[..n]);
                    }
                    Ok(Some(_)) => {
                        let _ = me.close_stream(sid);
                    }
                    Ok(None) => {}
                    Err(e) => panic!("read on a listed stream: {e}"),
                }
            }
        }
        if let Err(e) = me.handle_timeout(now) {
            assert_eq!(e, Error::KeepAliveTimeout);
            return;
        }
        assert!(me.output_len() <= config.max_send_buffer + 64 * 16 + 2 * HEADER_LEN);
        check_output(&me.take_output(), &config);
        if pending.is_empty() && round > 0 {
            break;
        }
    }
}

/// Every frame in `out` parses, and no data frame is longer than the configured frame size.
fn check_output(mut out: &[u8], config: &Config) {
    while !out.is_empty() {
        let h = FrameHeader::parse(out[..HEADER_LEN].try_into().unwrap(), config.version)
            .unwrap_or_else(|e| panic!("this side sent a bad frame: {e}"));
        assert!(usize::from(h.len) <= config.max_frame_size);
        out = &out[HEADER_LEN + usize::from(h.len)..];
    }
}

/// A header parsed with both versions: what parses must encode back to the same bytes.
pub fn header(data: &[u8]) {
    let Some(bytes) = data.get(..HEADER_LEN) else {
        return;
    };
    let bytes: [u8; HEADER_LEN] = bytes.try_into().unwrap();
    for version in [1, 2] {
        if let Ok(h) = FrameHeader::parse(bytes, version) {
            assert_eq!(h.encode(), bytes);
        }
    }
}

/// The snappy decoder on hostile bytes (fed in two parts at `data[0]`), and a round trip of
/// the same bytes through the encoder and the decoder fed byte by byte.
pub fn snappy(data: &[u8]) {
    let [cut, rest @ ..] = data else {
        return;
    };
    let cut = usize::from(*cut).min(rest.len());
    let mut dec = SnappyDecoder::new();
    let mut out = Vec::new();
    if dec.decode(&rest[..cut], &mut out).is_ok() {
        let _ = dec.decode(&rest[cut..], &mut out);
    }
    // A chunk decodes to at most 64 KiB, and a chunk costs at least 4 bytes.
    assert!(out.len() <= (rest.len() / 4 + 1) * 65_536);

    let mut enc = SnappyEncoder::new();
    let mut wire = enc.encode(&rest[..cut]).unwrap();
    wire.extend(enc.encode(&rest[cut..]).unwrap());
    let mut dec = SnappyDecoder::new();
    let mut back = Vec::new();
    for b in wire.chunks(1 + cut % 7) {
        dec.decode(b, &mut back).unwrap();
    }
    assert_eq!(back, rest);
}
