//! The crate against WebSocket implementations no one here wrote, over loopback TCP: the
//! `ws` npm package (a devDependency) and Python's `websockets` (installed into
//! `target/ws-peers/venv` on first use, about 15 s, unless `RIPTIDE_WS_PYTHON` names an
//! interpreter that has it). This crate plays the client against their echo servers and the
//! server for their clients: text and binary, 1 B to 16 MiB, whole and fragmented, compressed
//! and not, pings both ways, close codes; every echo compared byte for byte.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use riptide_ws::{
    ClientConfig, ClientHandshake, CloseFrame, ConnEvent, Connection, DeflateConfig, Event,
    ServerConfig, Session, SessionConfig, Timeouts,
};

/// A hung peer fails the test instead of hanging it (a bound, not a timed assertion).
const READ_BOUND: Duration = Duration::from_secs(120);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn peer_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

/// A Python with `websockets`: `RIPTIDE_WS_PYTHON`, or a venv made once under target/
/// (`peers/ws_python.cjs` decides, for these tests and the engine's ava tests alike).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("node")
            .arg(peer_script("ws_python.cjs"))
            .current_dir(workspace())
            .stderr(Stdio::inherit())
            .output()
            .expect("node peers/ws_python.cjs");
        assert!(out.status.success(), "peers/ws_python.cjs failed");
        PathBuf::from(String::from_utf8(out.stdout).expect("a UTF-8 path"))
    })
}

/// A peer process, killed when the test ends.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts an echo server script and reads its port.
fn start_server(program: &Path, script: &str, mode: &str) -> (Peer, u16) {
    let mut child = Command::new(program)
        .arg(peer_script(script))
        .arg(mode)
        .current_dir(workspace())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).expect("the port line") == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let port = String::from_utf8(line)
        .unwrap()
        .trim()
        .parse()
        .expect("a port");
    (Peer(child), port)
}

/// A connection over a blocking socket.
struct Conn {
    stream: TcpStream,
    conn: Connection,
    pending: Vec<u8>,
}

impl Conn {
    fn new(stream: TcpStream, conn: Connection) -> Self {
        stream.set_read_timeout(Some(READ_BOUND)).unwrap();
        let mut conn = Self {
            stream,
            conn,
            pending: Vec::new(),
        };
        conn.flush();
        conn
    }

    fn session(&mut self) -> &mut Session {
        self.conn.session().expect("open")
    }

    fn flush(&mut self) {
        let out = self.conn.take_output();
        self.stream.write_all(&out).expect("write");
    }

    /// The next event; answers (the 101, pongs, close echoes) go out as they are queued.
    fn next(&mut self) -> Option<ConnEvent> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            while !self.pending.is_empty() {
                let r = self
                    .conn
                    .receive(Instant::now(), &self.pending)
                    .expect("valid traffic from the peer");
                self.pending.drain(..r.consumed);
                self.flush();
                if r.event.is_some() {
                    return r.event;
                }
                if r.consumed == 0 {
                    break;
                }
            }
            let n = self.stream.read(&mut buf).expect("read");
            if n == 0 {
                return None;
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
    }

    /// The next message or control event of the open connection.
    fn next_ws(&mut self) -> Option<Event> {
        match self.next()? {
            ConnEvent::Ws(event) => Some(event),
            other => panic!("expected a WebSocket event, got {other:?}"),
        }
    }
}

fn session_config() -> SessionConfig {
    SessionConfig {
        max_message_size: 64 << 20,
        ..SessionConfig::default()
    }
}

fn connect(port: u16, deflate: bool) -> Conn {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let config = ClientConfig {
        host: format!("127.0.0.1:{port}"),
        path: "/echo".into(),
        headers: vec![("Origin".into(), "http://127.0.0.1".into())],
        subprotocols: Vec::new(),
        deflate: deflate.then(DeflateConfig::default),
        max_head_size: 8192,
    };
    let handshake = ClientHandshake::new(config).unwrap();
    let mut conn = Conn::new(
        stream,
        Connection::client(
            handshake,
            session_config(),
            Timeouts::default(),
            Instant::now(),
        ),
    );
    match conn.next() {
        Some(ConnEvent::Open(accepted)) => assert_eq!(
            accepted.deflate.is_some(),
            deflate,
            "deflate negotiated as asked"
        ),
        other => panic!("expected the 101, got {other:?}"),
    }
    conn
}

/// 1- to 4-byte characters, 10 bytes a round, as the peer scripts make them.
fn text(size: usize) -> String {
    "aé☃𝄞".repeat(size / 10) + &"a".repeat(size % 10)
}

fn binary(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 + 7) as u8).collect()
}

/// This crate as the client of an echo server.
fn client_round(port: u16, deflate: bool) {
    let mut conn = connect(port, deflate);
    for size in [1usize, 125, 126, 65_535, 65_536, 1 << 20, 16 << 20] {
        for fragment_size in [0usize, 40_000] {
            for binary_message in [false, true] {
                let data = if binary_message {
                    binary(size)
                } else {
                    text(size).into_bytes()
                };
                conn.session().set_fragment_size(fragment_size);
                conn.session().send(&data, binary_message).unwrap();
                conn.flush();
                let event = conn.next_ws().expect("an echo");
                assert!(
                    event
                        == Event::Message {
                            data,
                            binary: binary_message
                        },
                    "echo of {size} bytes differs"
                );
            }
        }
    }
    conn.session().send_text("ping-me").unwrap();
    conn.flush();
    assert_eq!(conn.next_ws(), Some(Event::Ping(b"hi".to_vec())));
    assert_eq!(
        conn.next_ws(),
        Some(Event::Message {
            data: b"ponged".to_vec(),
            binary: false
        })
    );
    conn.session().ping(b"probe").unwrap();
    conn.flush();
    assert_eq!(conn.next_ws(), Some(Event::Pong(b"probe".to_vec())));
    conn.conn.close(Instant::now(), 4001, "bye").unwrap();
    conn.flush();
    match conn.next_ws() {
        Some(Event::Close(frame)) => assert_eq!(frame.code, 4001),
        other => panic!("expected the close echo, got {other:?}"),
    }
}

/// This crate as the server for a client script; returns the client's close frame.
fn server_round(program: &Path, script: &str, deflate: bool) -> CloseFrame {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mode = if deflate { "deflate" } else { "plain" };
    let child = Command::new(program)
        .arg(peer_script(script))
        .arg(format!("ws://127.0.0.1:{port}/echo"))
        .arg(mode)
        .current_dir(workspace())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let mut peer = Peer(child);
    let (stream, _) = listener.accept().unwrap();
    let config = ServerConfig {
        subprotocols: vec!["chat".into()],
        deflate: deflate.then(DeflateConfig::default),
        ..ServerConfig::default()
    };
    let session = SessionConfig {
        fragment_size: 50_000,
        ..session_config()
    };
    let mut conn = Conn::new(
        stream,
        Connection::server(config, session, Timeouts::default(), Instant::now()),
    );
    let Some(ConnEvent::Upgrade(request)) = conn.next() else {
        panic!("expected an upgrade request")
    };
    assert_eq!(request.deflate.is_some(), deflate);
    conn.conn.accept(request.protocol.as_deref(), &[]).unwrap();
    conn.flush();
    let close = loop {
        match conn.next_ws().expect("the client's close") {
            Event::Message { data, binary } => {
                conn.session().send(&data, binary).unwrap();
                conn.flush();
            }
            Event::Ping(_) | Event::Pong(_) => {}
            Event::Close(frame) => break frame,
        }
    };
    assert!(conn.conn.is_finished());
    drop(conn);
    let status = peer.0.wait().unwrap();
    assert!(status.success(), "{script} failed: {status}");
    close
}

fn node() -> &'static Path {
    Path::new("node")
}

#[test]
fn client_against_ws_echo_server() {
    for mode in ["plain", "deflate"] {
        let (_peer, port) = start_server(node(), "ws_echo_server.cjs", mode);
        client_round(port, mode == "deflate");
    }
}

#[test]
fn client_against_python_websockets_echo_server() {
    for mode in ["plain", "deflate"] {
        let (_peer, port) = start_server(python(), "py_echo_server.py", mode);
        client_round(port, mode == "deflate");
    }
}

#[test]
fn server_for_ws_client() {
    for deflate in [false, true] {
        let close = server_round(node(), "ws_client.cjs", deflate);
        assert_eq!(
            close,
            CloseFrame {
                code: 4002,
                reason: "done".into()
            }
        );
    }
}

#[test]
fn server_for_python_websockets_client() {
    for deflate in [false, true] {
        let close = server_round(python(), "py_client.py", deflate);
        assert_eq!(
            close,
            CloseFrame {
                code: 4002,
                reason: "done".into()
            }
        );
    }
}
