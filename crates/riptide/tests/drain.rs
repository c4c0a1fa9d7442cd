//! Graceful stops that drop nothing: `on_drain` for every open connection, the FIN at the
//! deadline, and the reuseport steer that sends new connections to the other engine on the
//! port while a draining one still accepts the handshakes it had begun.

mod common;

use common::{reuse_port, serve};
use riptide::{ConnId, Conns, EngineConfig, EventHandler};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Echoes each read prefixed with its name; on a drain sends "GOAWAY" and stays open.
#[derive(Clone)]
struct Named(&'static str);

impl EventHandler for Named {
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        let _ = conns.write(id, format!("{}:", self.0).as_bytes());
        let _ = conns.write(id, data);
    }
    fn on_drain(&mut self, conns: &mut Conns, id: ConnId) {
        let _ = conns.write(id, b"GOAWAY\n");
    }
}

fn line(reader: &mut BufReader<TcpStream>) -> String {
    let mut s = String::new();
    reader.read_line(&mut s).unwrap();
    s
}

#[test]
fn drain_tells_each_connection_then_closes_with_fin_at_the_deadline() {
    let (addr, stop, join) = serve("tcp://127.0.0.1:0", EngineConfig::default(), Named("a"));
    let mut clients: Vec<BufReader<TcpStream>> = (0..10)
        .map(|_| BufReader::new(TcpStream::connect(addr).unwrap()))
        .collect();
    for c in &mut clients {
        c.get_mut().write_all(b"hi\n").unwrap();
        assert_eq!(line(c), "a:hi\n");
    }
    let started = Instant::now();
    stop.drain(Duration::from_millis(300));
    for c in &mut clients {
        assert_eq!(line(c), "GOAWAY\n");
        // Still served during the drain.
        c.get_mut().write_all(b"again\n").unwrap();
        assert_eq!(line(c), "a:again\n");
    }
    for c in &mut clients {
        // FIN (a read of 0), not a reset, at the deadline.
        assert_eq!(line(c), "");
    }
    assert!(started.elapsed() >= Duration::from_millis(250));
    join.join().unwrap();
}

#[test]
fn a_draining_reuseport_listener_steers_new_connections_to_the_other_engine() {
    let (addr, stop_a, join_a) = serve("tcp://127.0.0.1:0", reuse_port(1), Named("a"));
    let (_, stop_b, join_b) = serve(&format!("tcp://{addr}"), reuse_port(1), Named("b"));
    // Both serve before the drain (the kernel hashes over the two).
    let mut before = std::collections::HashSet::new();
    for _ in 0..64 {
        let mut c = BufReader::new(TcpStream::connect(addr).unwrap());
        c.get_mut().write_all(b"x\n").unwrap();
        before.insert(line(&mut c));
    }
    assert_eq!(before.len(), 2, "{before:?}");
    // A drains; its listener keeps accepting for the handshake grace, yet every new
    // connection goes to B.
    stop_a.drain(Duration::from_secs(3));
    std::thread::sleep(Duration::from_millis(50));
    for _ in 0..200 {
        let mut c = BufReader::new(TcpStream::connect(addr).unwrap());
        c.get_mut().write_all(b"y\n").unwrap();
        assert_eq!(line(&mut c), "b:y\n");
    }
    join_a.join().unwrap();
    // With A gone the program's index (1) is past the group's end: B takes all by the hash.
    let mut c = BufReader::new(TcpStream::connect(addr).unwrap());
    c.get_mut().write_all(b"z\n").unwrap();
    assert_eq!(line(&mut c), "b:z\n");
    stop_b.stop();
    join_b.join().unwrap();
}
