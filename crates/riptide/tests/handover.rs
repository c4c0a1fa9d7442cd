//! Handing the listening sockets over (an upgrade in place): once every reactor has said it
//! let go of its listeners (`Remote::release_listeners`), the new owner of the duplicates gets
//! every connection, and the engine none, so a drain that counts connections after that
//! misses none. Linux and the BSDs only (descriptors).
#![cfg(unix)]

mod common;

use common::{reuse_port, spawn};
use riptide::{ConnId, Conns, Engine, EventHandler};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts the connections the engine opens, and echoes.
#[derive(Clone)]
struct Counting(Arc<AtomicUsize>);

impl EventHandler for Counting {
    fn on_open(&mut self, _: &mut Conns, _: ConnId) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        let _ = conns.write(id, data);
    }
}

#[test]
fn after_every_reactor_released_its_listeners_the_new_owner_gets_every_connection() {
    let engine = Engine::bind_with(["tcp://127.0.0.1:0"], reuse_port(2)).unwrap();
    let remotes = engine.remotes();
    let opened = Arc::new(AtomicUsize::new(0));
    let (addr, stop, join) = spawn(engine, Counting(opened.clone()));
    let addr = common::inet(&addr);
    // Served before the handover.
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    c.read_exact(&mut one).unwrap();
    // The duplicates of both reactors' sockets: what a new process would inherit.
    let exported: Vec<TcpListener> = remotes
        .iter()
        .flat_map(|r| r.export_listeners().unwrap().recv().unwrap().unwrap())
        .map(|e| TcpListener::from(e.fd))
        .collect();
    assert_eq!(exported.len(), 2);
    let acks: Vec<_> = remotes
        .iter()
        .map(|r| r.release_listeners().unwrap())
        .collect();
    for ack in acks {
        ack.recv_timeout(Duration::from_secs(5)).unwrap();
    }
    let before = opened.load(Ordering::SeqCst);
    for l in &exported {
        l.set_nonblocking(true).unwrap();
    }
    let mut clients = Vec::new();
    let mut taken = 0;
    for _ in 0..200 {
        clients.push(TcpStream::connect(addr).unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while taken < clients.len() && Instant::now() < deadline {
        for l in &exported {
            match l.accept() {
                Ok(_) => taken += 1,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("accept: {e}"),
            }
        }
    }
    assert_eq!(taken, 200, "the new owner accepted every connection");
    assert_eq!(
        opened.load(Ordering::SeqCst),
        before,
        "the engine accepted none after the ack"
    );
    stop.stop();
    join.join().unwrap();
}
