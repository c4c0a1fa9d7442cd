//! Operator metrics over real sockets: bytes, connections and messages counted per reactor
//! and per listener, the queued-bytes gauge back at zero once connections close, and KCP's
//! SNMP-style counters moving when a session talks.

mod common;

use common::{echo, framed, inet, spawn};
use riptide::codec::{CodecSpec, LineConfig};
use riptide::{Engine, ReactorMetrics, Remote};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Polls `remote`'s metrics until `done` holds (counts land on the reactor thread).
fn wait_for(remote: &Remote, done: impl Fn(&ReactorMetrics) -> bool) -> ReactorMetrics {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let m = remote.metrics();
        if done(&m) || Instant::now() > until {
            return m;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn bytes_connections_and_listeners_are_counted() {
    let engine = Engine::bind(["tcp://127.0.0.1:0", "tcp://127.0.0.1:0"]).unwrap();
    let addrs: Vec<_> = engine.local_addrs().iter().map(inet).collect();
    let remote = engine.remotes()[0].clone();
    let (_, stop, join) = spawn(engine, echo);
    let data = vec![7u8; 100_000];
    for (i, addr) in addrs.iter().enumerate() {
        // Listener 0 gets one connection, listener 1 two.
        for _ in 0..=i {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(&data).unwrap();
            let mut got = vec![0; data.len()];
            s.read_exact(&mut got).unwrap();
            assert_eq!(got, data);
        }
    }
    let m = wait_for(&remote, |m| m.closed == 3);
    assert_eq!((m.accepted, m.dialed, m.closed, m.open), (3, 0, 3, 0));
    assert_eq!(m.bytes_in, 300_000);
    assert_eq!(m.bytes_out, 300_000);
    assert_eq!(m.queued_bytes, 0, "the gauge returns to zero");
    assert_eq!(m.listeners.len(), 2);
    let (a, b) = (m.listeners[0], m.listeners[1]);
    assert_eq!((a.accepted, a.opened, a.closed, a.open()), (1, 1, 1, 0));
    assert_eq!((b.accepted, b.opened, b.closed), (2, 2, 2));
    assert_eq!((a.bytes_in, a.bytes_out), (100_000, 100_000));
    assert_eq!((b.bytes_in, b.bytes_out), (200_000, 200_000));
    assert_eq!(
        (m.messages_in, m.messages_out),
        (0, 0),
        "no codec, no messages"
    );
    stop.stop();
    join.join().unwrap();
}

#[test]
fn codec_messages_are_counted_both_ways() {
    let config = framed(Arc::new(CodecSpec::Line(LineConfig::default())));
    let engine = Engine::bind_with(["tcp://127.0.0.1:0"], config).unwrap();
    let addr = inet(&engine.local_addrs()[0]);
    let remote = engine.remotes()[0].clone();
    let (_, stop, join) = spawn(engine, echo);
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"a\nbb\nccc\n").unwrap();
    let mut got = vec![0; 9];
    s.read_exact(&mut got).unwrap();
    let m = wait_for(&remote, |m| m.messages_out == 3);
    assert_eq!((m.messages_in, m.messages_out), (3, 3));
    assert_eq!(
        (m.listeners[0].messages_in, m.listeners[0].messages_out),
        (3, 3)
    );
    assert_eq!(m.open, 1);
    drop(s);
    stop.stop();
    join.join().unwrap();
}
