//! Flow control, time and lifecycle: water marks, write completions, the outbound cap,
//! pause/resume, half-close, close timeout, idle detection, timers, admission, drain.

mod common;

use common::{inet, serve};
use riptide::{Admission, ConnId, Conns, EngineConfig, Error, EventHandler, IdleKind, StopHandle};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

/// Sends every callback to the test as a line; `on_traffic` runs the test's closure.
#[derive(Clone)]
struct Probe<F: Fn(&mut Conns, ConnId, &[u8]) + Clone> {
    tx: mpsc::Sender<String>,
    traffic: F,
}

impl<F: Fn(&mut Conns, ConnId, &[u8]) + Clone> EventHandler for Probe<F> {
    fn on_open(&mut self, _: &mut Conns, id: ConnId) {
        let _ = self.tx.send(format!("open {}", id.slot));
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        (self.traffic)(conns, id, data)
    }
    fn on_close(&mut self, _: &mut Conns, _: ConnId, err: Option<&Error>) {
        let _ = self
            .tx
            .send(format!("close {}", err.map_or("none", Error::code)));
    }
    fn on_writability(&mut self, _: &mut Conns, _: ConnId, writable: bool) {
        let _ = self.tx.send(format!("writable {writable}"));
    }
    fn on_write_done(&mut self, _: &mut Conns, _: ConnId, token: u64, err: Option<&Error>) {
        let _ = self
            .tx
            .send(format!("done {token} {}", err.map_or("ok", Error::code)));
    }
    fn on_end(&mut self, conns: &mut Conns, id: ConnId) {
        let _ = self.tx.send("end".into());
        conns.write(id, &vec![7u8; 1 << 20]).unwrap();
        conns.end(id).unwrap();
    }
    fn on_idle(&mut self, _: &mut Conns, _: ConnId, kind: IdleKind) {
        let _ = self.tx.send(format!("idle {}", kind.as_str()));
    }
    fn on_timer(&mut self, _: &mut Conns, _: ConnId, token: u64) {
        let _ = self.tx.send(format!("timer {token}"));
    }
}

struct Server<F: Fn(&mut Conns, ConnId, &[u8]) + Clone> {
    addr: SocketAddr,
    stop: StopHandle,
    join: Option<thread::JoinHandle<Probe<F>>>,
    rx: mpsc::Receiver<String>,
}

impl<F: Fn(&mut Conns, ConnId, &[u8]) + Clone + Send + 'static> Server<F> {
    fn start(config: EngineConfig, traffic: F) -> Server<F> {
        let (tx, rx) = mpsc::channel();
        let (addr, stop, join) = serve("tcp://127.0.0.1:0", config, Probe { tx, traffic });
        Server {
            addr,
            stop,
            join: Some(join),
            rx,
        }
    }

    /// The next event line, skipping opens and writability changes.
    fn next(&self) -> String {
        self.next_skipping(&["open", "writable"])
    }

    /// The next event line, skipping opens only.
    fn next_any(&self) -> String {
        self.next_skipping(&["open"])
    }

    /// The next event line that starts with none of `skip`; waits up to 10 s for each.
    fn next_skipping(&self, skip: &[&str]) -> String {
        loop {
            let line = self
                .rx
                .recv_timeout(Duration::from_secs(10))
                .expect("an event");
            if !skip.iter().any(|s| line.starts_with(s)) {
                return line;
            }
        }
    }

    /// Whether no event line arrives within `wait`.
    fn quiet_for(&self, wait: Duration) -> bool {
        self.rx.recv_timeout(wait).is_err()
    }
}

impl<F: Fn(&mut Conns, ConnId, &[u8]) + Clone> Drop for Server<F> {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

/// A client whose receive buffer is small from the start, so a non-reading client fills up.
fn slow_client(addr: SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.connect(&addr.into()).unwrap();
    s.into()
}

/// Server config whose accepted sockets have a small send buffer.
fn small_send() -> EngineConfig {
    let mut c = EngineConfig::default();
    c.reactor.socket.send_buffer = Some(4096);
    c
}

#[test]
fn water_marks_signal_once_each_way_and_no_byte_is_lost() {
    let server = Server::start(small_send(), |conns, id, _| {
        let chunk = vec![0xabu8; 64 * 1024];
        for _ in 0..16 {
            conns.write(id, &chunk).unwrap();
        }
        conns.mark(id, 1).unwrap();
    });
    let mut c = slow_client(server.addr);
    c.write_all(b"go").unwrap();
    assert_eq!(server.next_any(), "writable false");
    thread::sleep(Duration::from_millis(50));
    let mut got = vec![0u8; 16 * 64 * 1024];
    c.read_exact(&mut got).unwrap();
    assert!(got.iter().all(|&b| b == 0xab));
    let mut rest = vec![server.next_any(), server.next_any()];
    rest.sort();
    assert_eq!(rest, vec!["done 1 ok", "writable true"]);
}

#[test]
fn max_outbound_closes_with_outbound_full_and_pending_marks_fail() {
    let mut config = small_send();
    config.reactor.flow.max_outbound = Some(256 * 1024);
    let server = Server::start(config, |conns, id, _| {
        conns.write(id, &vec![1u8; 200 * 1024]).unwrap();
        conns.mark(id, 9).unwrap();
        let err = conns.write(id, &vec![1u8; 200 * 1024]).unwrap_err();
        assert_eq!(err.code(), "ERR_OUTBOUND_FULL");
    });
    let mut c = slow_client(server.addr);
    c.write_all(b"go").unwrap();
    let events: Vec<String> = (0..2).map(|_| server.next()).collect();
    assert!(
        events.contains(&"close ERR_OUTBOUND_FULL".to_string()),
        "{events:?}"
    );
    assert!(
        events.contains(&"done 9 ERR_CONN_CLOSED".to_string()),
        "{events:?}"
    );
}

#[test]
fn pause_stops_reading_until_resume() {
    let (tx, rx) = mpsc::channel::<u8>();
    let tx = Arc::new(std::sync::Mutex::new(tx));
    let server = Server::start(EngineConfig::default(), move |conns, id, data| {
        if data == b"pause" {
            conns.pause(id).unwrap();
            let remote_id = id;
            conns
                .set_timer(remote_id, Duration::from_millis(300), 5)
                .unwrap();
        } else {
            for &b in data {
                let _ = tx.lock().unwrap().send(b);
            }
        }
    });
    let mut c = TcpStream::connect(server.addr).unwrap();
    c.write_all(b"pause").unwrap();
    thread::sleep(Duration::from_millis(50));
    c.write_all(b"x").unwrap();
    assert!(
        rx.recv_timeout(Duration::from_millis(150)).is_err(),
        "paused: nothing read"
    );
    assert_eq!(server.next(), "timer 5");
    // The test's timer event arrived; resume from a fresh traffic path is not possible while
    // paused, so resume through the engine's remote.
    drop(server);
}

#[test]
fn resume_reads_what_arrived_while_paused() {
    #[derive(Clone)]
    struct PauseResume(mpsc::Sender<Vec<u8>>);
    impl EventHandler for PauseResume {
        fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
            conns.pause(id).unwrap();
            conns.set_timer(id, Duration::from_millis(200), 0).unwrap();
        }
        fn on_timer(&mut self, conns: &mut Conns, id: ConnId, _: u64) {
            conns.resume(id).unwrap();
        }
        fn on_traffic(&mut self, _: &mut Conns, _: ConnId, data: &[u8]) {
            self.0.send(data.to_vec()).unwrap();
        }
    }
    let (tx, rx) = mpsc::channel();
    let (addr, stop, join) = serve(
        "tcp://127.0.0.1:0",
        EngineConfig::default(),
        PauseResume(tx),
    );
    let started = Instant::now();
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"held back").unwrap();
    let got = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(got, b"held back");
    assert!(
        started.elapsed() >= Duration::from_millis(190),
        "not read while paused"
    );
    stop.stop();
    join.join().unwrap();
}

#[test]
fn a_close_that_arrives_while_paused_is_seen_after_resume() {
    #[derive(Clone)]
    struct PauseResume(mpsc::Sender<String>);
    impl EventHandler for PauseResume {
        fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
            conns.pause(id).unwrap();
            conns.set_timer(id, Duration::from_millis(200), 0).unwrap();
        }
        fn on_timer(&mut self, conns: &mut Conns, id: ConnId, _: u64) {
            conns.resume(id).unwrap();
        }
        fn on_traffic(&mut self, _: &mut Conns, _: ConnId, data: &[u8]) {
            self.0
                .send(String::from_utf8_lossy(data).into_owned())
                .unwrap();
        }
        fn on_close(&mut self, _: &mut Conns, _: ConnId, _: Option<&Error>) {
            self.0.send("closed".into()).unwrap();
        }
    }
    let (tx, rx) = mpsc::channel();
    let (addr, stop, join) = serve(
        "tcp://127.0.0.1:0",
        EngineConfig::default(),
        PauseResume(tx),
    );
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"last words").unwrap();
    // The FIN arrives while the connection is paused: its only poll event comes then.
    drop(c);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        "last words"
    );
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "closed");
    stop.stop();
    join.join().unwrap();
}

#[test]
fn half_open_connection_answers_after_the_peer_fin() {
    let mut config = EngineConfig::default();
    config.reactor.flow.allow_half_open = true;
    let server = Server::start(config, |_, _, _| {});
    let mut c = TcpStream::connect(server.addr).unwrap();
    c.write_all(&vec![3u8; 1 << 20]).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.next(), "end");
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), 1 << 20, "the whole reply, then FIN");
    assert_eq!(server.next(), "close none");
    assert!(server.quiet_for(Duration::from_millis(100)), "onClose once");
}

#[test]
fn close_timeout_resets_a_peer_that_never_reads() {
    let mut config = small_send();
    config.reactor.flow.close_timeout = Some(Duration::from_millis(150));
    let server = Server::start(config, |conns, id, _| {
        conns.write(id, &vec![0u8; 8 << 20]).unwrap();
        conns.close(id).unwrap();
    });
    let mut c = slow_client(server.addr);
    let started = Instant::now();
    c.write_all(b"go").unwrap();
    assert_eq!(server.next(), "close ETIMEDOUT");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[test]
fn destroy_resets_at_once() {
    let server = Server::start(EngineConfig::default(), |conns, id, _| {
        conns.write(id, b"lost?").unwrap();
        conns.destroy(id, None).unwrap();
    });
    let mut c = TcpStream::connect(server.addr).unwrap();
    c.write_all(b"go").unwrap();
    assert_eq!(server.next(), "close none");
    let mut buf = [0u8; 16];
    let r = loop {
        match c.read(&mut buf) {
            Ok(0) => break Ok(0),
            Ok(_) => continue,
            Err(e) => break Err(e.kind()),
        }
    };
    assert_eq!(r, Err(std::io::ErrorKind::ConnectionReset));
}

#[test]
fn read_idle_fires_per_period_and_activity_defers_it() {
    let mut config = EngineConfig::default();
    config.reactor.flow.idle_timeout.read = Some(Duration::from_millis(100));
    let server = Server::start(config, |_, _, _| {});
    let mut c = TcpStream::connect(server.addr).unwrap();
    let started = Instant::now();
    for _ in 0..4 {
        thread::sleep(Duration::from_millis(50));
        c.write_all(b".").unwrap();
    }
    assert_eq!(server.next(), "idle read");
    let first = started.elapsed();
    assert!(
        first >= Duration::from_millis(300),
        "activity deferred the first idle event: {first:?}"
    );
    assert_eq!(server.next(), "idle read");
    let second = started.elapsed();
    assert!(
        second - first >= Duration::from_millis(95),
        "then once per period"
    );
}

#[test]
fn user_timers_fire_no_earlier_than_asked_and_not_after_close() {
    let server = Server::start(EngineConfig::default(), |conns, id, data| {
        if data == b"t" {
            conns.set_timer(id, Duration::from_millis(60), 1).unwrap();
            conns.set_timer(id, Duration::from_millis(20), 2).unwrap();
        } else {
            conns.set_timer(id, Duration::from_millis(50), 3).unwrap();
            conns.close(id).unwrap();
        }
    });
    let mut c = TcpStream::connect(server.addr).unwrap();
    let started = Instant::now();
    c.write_all(b"t").unwrap();
    assert_eq!(server.next(), "timer 2");
    assert!(started.elapsed() >= Duration::from_millis(20));
    assert_eq!(server.next(), "timer 1");
    assert!(started.elapsed() >= Duration::from_millis(60));
    c.write_all(b"c").unwrap();
    assert_eq!(server.next(), "close none");
    assert!(
        server.quiet_for(Duration::from_millis(150)),
        "no timer after close"
    );
}

#[test]
fn admission_caps_total_and_per_ip() {
    let mut config = EngineConfig::default();
    config.reactor.admission = Arc::new(Admission::new(Some(2), None));
    let server = Server::start(config, |conns, id, data| {
        conns.write(id, data).unwrap();
    });
    let mut a = TcpStream::connect(server.addr).unwrap();
    let _b = TcpStream::connect(server.addr).unwrap();
    let mut refused = TcpStream::connect(server.addr).unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1];
    let _ = refused.write_all(b"x");
    let r = refused.read(&mut buf);
    assert!(
        matches!(r, Ok(0)) || r.is_err(),
        "third connection refused: {r:?}"
    );
    a.write_all(b"y").unwrap();
    a.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"y", "admitted connections are served");
}

#[test]
fn drain_lets_readers_finish_and_resets_the_rest_at_the_deadline() {
    let server = Server::start(small_send(), |conns, id, _| {
        conns.write(id, &vec![5u8; 1 << 20]).unwrap();
    });
    let mut reader = TcpStream::connect(server.addr).unwrap();
    let mut sleeper = slow_client(server.addr);
    reader.write_all(b"r").unwrap();
    sleeper.write_all(b"s").unwrap();
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    server.stop.drain(Duration::from_millis(1500));
    let mut got = Vec::new();
    reader.read_to_end(&mut got).unwrap();
    assert_eq!(
        got.len(),
        1 << 20,
        "a reading client gets every byte, then FIN"
    );
    let mut events = vec![server.next(), server.next()];
    events.sort();
    assert_eq!(events, vec!["close ETIMEDOUT", "close none"]);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "no longer accepting"
    );
    let mut sink = Vec::new();
    assert!(
        sleeper.read_to_end(&mut sink).is_err(),
        "the non-reader was reset"
    );
}

/// Notes the connection that opens; ignores its traffic.
struct Open(Option<riptide::ConnId>);

impl riptide::EventHandler for Open {
    fn on_open(&mut self, _: &mut riptide::Conns, id: riptide::ConnId) {
        self.0 = Some(id);
    }
    fn on_traffic(&mut self, _: &mut riptide::Conns, _: riptide::ConnId, _: &[u8]) {}
}

/// A reactor with one accepted connection from the client it returns.
fn one_connection() -> (riptide::Reactor, riptide::ConnId, std::net::TcpStream) {
    let mut reactor = riptide::Reactor::new(Default::default()).unwrap();
    let addr = inet(&reactor.listen("tcp://127.0.0.1:0").unwrap());
    let client = std::net::TcpStream::connect(addr).unwrap();
    let mut h = Open(None);
    while h.0.is_none() {
        reactor
            .turn(&mut h, Some(std::time::Duration::from_millis(10)))
            .unwrap();
    }
    let id = h.0.unwrap();
    (reactor, id, client)
}

#[test]
fn corked_writes_leave_together_in_order_on_uncork() {
    use std::io::Read;
    let (mut reactor, id, mut client) = one_connection();
    let conns = reactor.conns();
    conns.cork();
    for part in [&b"one "[..], b"two ", b"three"] {
        conns.write(id, part).unwrap();
    }
    // Held: nothing reached the socket yet.
    assert_eq!(conns.outbound_len(id).unwrap(), 13);
    client.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    assert!(client.read(&mut buf).is_err(), "nothing before uncork");
    conns.uncork();
    assert_eq!(conns.outbound_len(id).unwrap(), 0);
    client.set_nonblocking(false).unwrap();
    let mut got = Vec::new();
    while got.len() < 13 {
        let n = client.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"one two three");
}

#[test]
fn gathered_writes_go_out_at_once_while_corked_and_only_the_rest_is_queued() {
    use std::io::Read;
    let (mut reactor, id, mut client) = one_connection();
    let conns = reactor.conns();
    conns.cork();
    conns.write_gathered(id, &[b"one ", b"two ", b"three"]);
    // Not held for uncork: the socket took all 13 bytes.
    assert_eq!(conns.outbound_len(id).unwrap(), 0);
    let mut got = vec![0u8; 13];
    client.read_exact(&mut got).unwrap();
    assert_eq!(got, b"one two three");
    // More than the socket takes: only the rest is queued, and it follows in order.
    let big: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let (a, b) = big.split_at(3 * 1024 * 1024);
    conns.write_gathered(id, &[a, b]);
    let queued = conns.outbound_len(id).unwrap();
    assert!(queued > 0 && queued < big.len(), "queued {queued}");
    conns.uncork();
    let reader = std::thread::spawn(move || {
        let mut all = vec![0u8; 8 * 1024 * 1024];
        client.read_exact(&mut all).unwrap();
        all
    });
    while reactor.conns().outbound_len(id).unwrap() > 0 {
        reactor
            .turn(&mut Open(None), Some(std::time::Duration::from_millis(10)))
            .unwrap();
    }
    assert!(reader.join().unwrap() == big);
}
