//! Dialing from a reactor: TCP, connected UDP and Unix clients; refused and timed-out
//! connects report `on_close` with a code and no `on_open`. The Unix-only parts (Unix
//! sockets, adopting a file descriptor) are gated so the crate's tests check for Windows.

mod common;

use common::{echo, serve, turn_until};
use riptide::{ConnId, Conns, EngineConfig, Error, EventHandler, Reactor, ReactorConfig};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Log(Vec<String>);

impl Log {
    /// Whether the connection has closed.
    fn closed(&self) -> bool {
        self.0.iter().any(|l| l.starts_with("close"))
    }
}

impl EventHandler for Log {
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        self.0.push("open".into());
        conns.write(id, b"ping").unwrap();
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        self.0
            .push(format!("data {}", String::from_utf8_lossy(data)));
        conns.close(id).unwrap();
    }
    fn on_close(&mut self, _: &mut Conns, _: ConnId, err: Option<&Error>) {
        self.0
            .push(format!("close {}", err.map_or("none", Error::code)));
    }
}

/// Dials `url` from a fresh reactor and turns it until the connection closes.
fn dial(url: &str, timeout: Option<Duration>) -> Vec<String> {
    let mut reactor = Reactor::new(ReactorConfig::default()).unwrap();
    let mut log = Log::default();
    reactor
        .dial(
            url,
            riptide::DialOptions {
                connect_timeout: timeout,
                ..Default::default()
            },
        )
        .unwrap();
    turn_until(&mut reactor, &mut log, 10, Log::closed);
    log.0
}

#[test]
fn tcp_client_connects_writes_and_reads() {
    let (addr, stop, _) = serve("tcp://127.0.0.1:0", EngineConfig::default(), echo);
    assert_eq!(
        dial(&format!("tcp://{addr}"), None),
        vec!["open", "data ping", "close none"]
    );
    stop.stop();
}

#[test]
fn udp_client() {
    #[derive(Clone)]
    struct DatagramEcho;
    impl EventHandler for DatagramEcho {
        fn on_traffic(&mut self, _: &mut Conns, _: ConnId, _: &[u8]) {}
        fn on_datagram(&mut self, conns: &mut Conns, socket: usize, peer: SocketAddr, data: &[u8]) {
            conns.send_to(socket, peer, data).unwrap();
        }
    }
    let (udp, udp_stop, _) = serve("udp://127.0.0.1:0", EngineConfig::default(), DatagramEcho);
    assert_eq!(
        dial(&format!("udp://{udp}"), None),
        vec!["open", "data ping", "close none"]
    );
    udp_stop.stop();
}

/// Unix-domain sockets exist on Unix only.
#[cfg(unix)]
#[test]
fn unix_client() {
    use common::spawn;
    use riptide::Engine;
    let path = std::env::temp_dir().join(format!("riptide-client-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let unix = Engine::bind([format!("unix://{}", path.display())]).unwrap();
    let (_, unix_stop, _) = spawn(unix, echo);
    assert_eq!(
        dial(&format!("unix://{}", path.display()), None),
        vec!["open", "data ping", "close none"]
    );
    unix_stop.stop();
}

#[test]
fn refused_connect_reports_econnrefused_without_open() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert_eq!(
        dial(&format!("tcp://{free}"), None),
        vec!["close ECONNREFUSED"]
    );
}

#[test]
fn connect_timeout_against_a_full_backlog() {
    // A listener that never accepts, with its backlog filled: further SYNs are dropped.
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    s.listen(0).unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    let fillers: Vec<_> = (0..4)
        .filter_map(|_| {
            let c =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
            c.set_nonblocking(true).ok()?;
            let _ = c.connect(&addr.into());
            Some(c)
        })
        .collect();
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let log = dial(&format!("tcp://{addr}"), Some(Duration::from_millis(300)));
    assert_eq!(log, vec!["close ETIMEDOUT"]);
    assert!(started.elapsed() >= Duration::from_millis(290));
    drop(fillers);
}

/// `Reactor::enroll` takes a Unix file descriptor.
#[cfg(unix)]
#[test]
fn enroll_adopts_a_connected_socket() {
    use std::io::{Read, Write};
    use std::os::fd::OwnedFd;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server_side, _) = listener.accept().unwrap();
    let mut reactor = Reactor::new(ReactorConfig::default()).unwrap();
    let mut log = Log::default();
    reactor
        .enroll(OwnedFd::from(std), &riptide::ListenOptions::default())
        .unwrap();
    turn_until(&mut reactor, &mut log, 5, |l| {
        l.0.contains(&"open".to_string())
    });
    let mut ping = [0u8; 4];
    server_side.read_exact(&mut ping).unwrap();
    assert_eq!(&ping, b"ping", "on_open wrote through the adopted socket");
    server_side.write_all(b"pong").unwrap();
    turn_until(&mut reactor, &mut log, 5, Log::closed);
    assert_eq!(log.0, vec!["open", "data pong", "close none"]);
    let file = std::fs::File::open("/dev/null").unwrap();
    let err = reactor
        .enroll(OwnedFd::from(file), &riptide::ListenOptions::default())
        .unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE");
}
