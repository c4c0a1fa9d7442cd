//! The engine serving real sockets on loopback: echo is byte-exact, closes are reported once,
//! and stale handles are rejected.

mod common;

use common::{echo, serve};
use riptide::{ConnId, Conns, Engine, EngineConfig, Error, EventHandler};
use riptide_testkit::pattern;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;
use std::thread;

#[test]
fn echo_is_byte_exact_across_connections() {
    let (addr, stop, join) = serve("tcp://127.0.0.1:0", EngineConfig::default(), echo);
    let clients: Vec<_> = (0..16u64)
        .map(|i| {
            thread::spawn(move || {
                let data = pattern(i, 256 * 1024 + i as usize * 7);
                let mut s = TcpStream::connect(addr).unwrap();
                let mut r = s.try_clone().unwrap();
                let expect = data.clone();
                let reader = thread::spawn(move || {
                    let mut got = vec![0; expect.len()];
                    r.read_exact(&mut got).unwrap();
                    assert!(got == expect, "echo differs");
                });
                let mut off = 0;
                let mut step = 1 + i as usize;
                while off < data.len() {
                    let end = (off + step).min(data.len());
                    s.write_all(&data[off..end]).unwrap();
                    off = end;
                    step = (step * 7 + 13) % 9000 + 1;
                }
                reader.join().unwrap();
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    stop.stop();
    let _ = join.join().unwrap();
}

/// Records opens and closes; on each open, writes to the ids of closed connections.
#[derive(Default, Clone)]
struct Recorder {
    events: Vec<String>,
    closed: Vec<ConnId>,
    stale_write: Vec<&'static str>,
    done: Option<mpsc::Sender<()>>,
}

impl Recorder {
    /// A recorder that signals each close on the returned receiver.
    fn reporting() -> (Recorder, mpsc::Receiver<()>) {
        let (tx, rx) = mpsc::channel();
        let recorder = Recorder {
            done: Some(tx),
            ..Recorder::default()
        };
        (recorder, rx)
    }
}

impl EventHandler for Recorder {
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        for &old in &self.closed {
            let err = conns.write(old, b"x").unwrap_err();
            self.stale_write.push(err.code());
            assert!(matches!(conns.close(old), Err(Error::ConnClosed)));
        }
        self.events.push(format!("open {}", id.slot));
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        conns.write(id, data).unwrap();
        conns.close(id).unwrap();
        assert!(matches!(conns.write(id, b"late"), Err(Error::ConnClosed)));
    }
    fn on_close(&mut self, _: &mut Conns, id: ConnId, err: Option<&Error>) {
        self.closed.push(id);
        self.events
            .push(format!("close {} {:?}", id.slot, err.map(|e| e.code())));
        if let Some(done) = &self.done {
            done.send(()).unwrap();
        }
    }
}

#[test]
fn close_flushes_and_stale_ids_are_rejected() {
    let (recorder, rx) = Recorder::reporting();
    let (addr, stop, join) = serve("tcp://127.0.0.1:0", EngineConfig::default(), recorder);
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"bye").unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"bye", "accepted bytes are flushed before FIN");
        rx.recv().unwrap();
    }
    stop.stop();
    let rec = join.join().unwrap();
    assert_eq!(rec.stale_write, vec!["ERR_CONN_CLOSED"]);
    assert_eq!(
        rec.events,
        vec!["open 0", "close 0 None", "open 0", "close 0 None"],
        "slot 0 reused with a new generation"
    );
}

#[test]
fn peer_close_and_shutdown_report_every_connection() {
    let (recorder, rx) = Recorder::reporting();
    let (addr, stop, join) = serve("tcp://127.0.0.1:0", EngineConfig::default(), recorder);
    let quiet = TcpStream::connect(addr).unwrap();
    let leaving = TcpStream::connect(addr).unwrap();
    leaving.shutdown(Shutdown::Both).unwrap();
    rx.recv().unwrap();
    stop.stop();
    let rec = join.join().unwrap();
    assert_eq!(
        rec.events.iter().filter(|e| e.starts_with("close")).count(),
        2
    );
    drop(quiet);
}

#[test]
fn address_in_use_has_its_code() {
    let engine = Engine::bind(["tcp://127.0.0.1:0"]).unwrap();
    let taken = format!("tcp://{}", engine.local_addrs()[0]);
    assert!(taken.starts_with("tcp://127.0.0.1:"));
    let err = Engine::bind([taken]).err().unwrap();
    assert_eq!(err.code(), "ERR_ADDRESS_IN_USE");
}
