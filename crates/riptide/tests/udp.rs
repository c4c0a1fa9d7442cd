//! UDP: gnet's per-datagram model, and sessions with idle expiry.

mod common;

use common::serve;
use riptide::{ConnId, Conns, EngineConfig, Error, EventHandler};
use std::net::{SocketAddr, UdpSocket};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Udp {
    events: Arc<Mutex<Vec<String>>>,
    closed: mpsc::Sender<()>,
}

impl Udp {
    /// How many sessions have opened so far.
    fn opens(&self) -> usize {
        let events = self.events.lock().unwrap();
        events.iter().filter(|e| e.starts_with("open")).count()
    }
}

impl EventHandler for Udp {
    fn on_datagram(&mut self, conns: &mut Conns, socket: usize, peer: SocketAddr, data: &[u8]) {
        let mut reply = b"echo:".to_vec();
        reply.extend_from_slice(data);
        conns.send_to(socket, peer, &reply).unwrap();
    }
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        let peer = conns.peer_addr(id).unwrap();
        self.events.lock().unwrap().push(format!("open {peer}"));
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        self.events
            .lock()
            .unwrap()
            .push(format!("data {}", String::from_utf8_lossy(data)));
        conns.write(id, data).unwrap();
    }
    fn on_close(&mut self, _: &mut Conns, _: ConnId, err: Option<&Error>) {
        self.events
            .lock()
            .unwrap()
            .push(format!("close {:?}", err.map(Error::code)));
        let _ = self.closed.send(());
    }
}

fn start(
    config: EngineConfig,
) -> (
    SocketAddr,
    riptide::StopHandle,
    thread::JoinHandle<Udp>,
    Udp,
    mpsc::Receiver<()>,
) {
    let (tx, rx) = mpsc::channel();
    let handler = Udp {
        events: Default::default(),
        closed: tx,
    };
    let (addr, stop, join) = serve("udp://127.0.0.1:0", config, handler.clone());
    (addr, stop, join, handler, rx)
}

fn client() -> UdpSocket {
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c
}

#[test]
fn datagrams_are_answered_to_their_sender() {
    let (addr, stop, join, _, _) = start(EngineConfig::default());
    let (a, b) = (client(), client());
    for i in 0..100u32 {
        for (c, tag) in [(&a, "a"), (&b, "b")] {
            let msg = format!("{tag}{i}");
            c.send_to(msg.as_bytes(), addr).unwrap();
            let mut buf = [0u8; 64];
            let (n, from) = c.recv_from(&mut buf).unwrap();
            assert_eq!(from, addr);
            assert_eq!(&buf[..n], format!("echo:{msg}").as_bytes());
        }
    }
    stop.stop();
    join.join().unwrap();
}

/// A burst from two peers, read in batches (`recvmmsg` on Linux) over turns the event budget
/// cuts short: every datagram is answered once, byte for byte, to its own sender, in order.
#[test]
fn a_burst_is_answered_datagram_by_datagram_whatever_the_budget() {
    for budget in [1024, 3] {
        let mut config = EngineConfig::default();
        config.reactor.event_budget = budget;
        let (addr, stop, join, _, _) = start(config);
        let (a, b) = (client(), client());
        let size = |i: usize| if i == 7 { 30_000 } else { i * 61 };
        let message = |tag: u8, i: usize| -> Vec<u8> {
            (0..size(i)).map(|k| tag ^ (k as u8) ^ (i as u8)).collect()
        };
        for i in 0..24 {
            a.send_to(&message(b'a', i), addr).unwrap();
            b.send_to(&message(b'b', i), addr).unwrap();
        }
        let mut buf = vec![0u8; 65_536];
        for (c, tag) in [(&a, b'a'), (&b, b'b')] {
            for i in 0..24 {
                let (n, from) = c.recv_from(&mut buf).unwrap();
                assert_eq!(from, addr);
                let mut expected = b"echo:".to_vec();
                expected.extend_from_slice(&message(tag, i));
                assert_eq!(
                    &buf[..n],
                    &expected[..],
                    "datagram {i} of peer {}",
                    tag as char
                );
            }
        }
        stop.stop();
        join.join().unwrap();
    }
}

#[test]
fn sessions_open_per_peer_and_expire_when_idle() {
    let mut config = EngineConfig::default();
    config.reactor.udp_session_timeout = Some(Duration::from_millis(100));
    let (addr, stop, join, handler, closed) = start(config);
    let c = client();
    let started = Instant::now();
    for msg in ["one", "two"] {
        c.send_to(msg.as_bytes(), addr).unwrap();
        let mut buf = [0u8; 16];
        let n = c.recv(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            msg.as_bytes(),
            "conn.write replies to the session's peer"
        );
    }
    closed
        .recv_timeout(Duration::from_secs(5))
        .expect("expiry closes the session");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(100),
        "not before the timeout: {waited:?}"
    );
    let events = handler.events.lock().unwrap().clone();
    assert_eq!(
        events,
        vec![
            format!("open {}", c.local_addr().unwrap()),
            "data one".into(),
            "data two".into(),
            "close None".into()
        ]
    );
    // A new datagram after expiry opens a new session.
    c.send_to(b"three", addr).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(c.recv(&mut buf).unwrap(), 5);
    stop.stop();
    join.join().unwrap();
    assert_eq!(handler.opens(), 2);
}

#[test]
fn session_table_is_bounded() {
    let mut config = EngineConfig::default();
    config.reactor.udp_session_timeout = Some(Duration::from_secs(60));
    config.reactor.max_udp_sessions = 3;
    let (addr, stop, join, handler, _) = start(config);
    let clients: Vec<_> = (0..5).map(|_| client()).collect();
    for c in &clients {
        c.send_to(b"hi", addr).unwrap();
    }
    let mut answered = 0;
    for c in &clients {
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 8];
        if c.recv(&mut buf).is_ok() {
            answered += 1;
        }
    }
    assert_eq!(answered, 3, "peers beyond the cap are dropped");
    stop.stop();
    join.join().unwrap();
    assert_eq!(handler.opens(), 3);
}
