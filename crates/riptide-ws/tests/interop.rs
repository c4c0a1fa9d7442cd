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
use std::time::Duration;

use riptide_ws::handshake::{accept_response, parse_request};
use riptide_ws::{
    ClientConfig, ClientHandshake, CloseFrame, DeflateConfig, Event, Role, ServerConfig, Session,
    SessionConfig,
};

/// The pinned `websockets` release the venv gets.
const PY_WEBSOCKETS: &str = "websockets==17.4";

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

/// A Python with `websockets`: `RIPTIDE_WS_PYTHON`, or a venv made once under target/.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Some(python) = std::env::var_os("RIPTIDE_WS_PYTHON") {
            return PathBuf::from(python);
        }
        let venv = workspace().join("target/ws-peers/venv");
        let python = venv.join("bin/python");
        let has = |p: &Path| {
            Command::new(p)
                .args(["-c", "import websockets"])
                .status()
                .is_ok_and(|s| s.success())
        };
        if !has(&python) {
            let made = Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(&venv)
                .status()
                .expect("python3 -m venv");
            assert!(made.success(), "python3 -m venv failed");
            let pip = Command::new(venv.join("bin/pip"))
                .args(["install", "-q", PY_WEBSOCKETS])
                .status()
                .expect("pip");
            assert!(pip.success(), "pip install {PY_WEBSOCKETS} failed");
        }
        python
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

/// A session over a blocking socket.
struct Conn {
    stream: TcpStream,
    session: Session,
    pending: Vec<u8>,
}

impl Conn {
    fn flush(&mut self) {
        let out = self.session.take_output();
        self.stream.write_all(&out).expect("write");
    }

    /// The next event; pongs and close echoes go out as they are queued.
    fn next(&mut self) -> Option<Event> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            while !self.pending.is_empty() {
                let r = self
                    .session
                    .receive(&self.pending)
                    .expect("valid traffic from the peer");
                self.pending.drain(..r.consumed);
                self.flush();
                if r.event.is_some() {
                    return r.event;
                }
            }
            let n = self.stream.read(&mut buf).expect("read");
            if n == 0 {
                return None;
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

/// Reads a handshake head off `stream` with `parse`, keeping what follows it.
fn read_head<T>(
    stream: &mut TcpStream,
    mut parse: impl FnMut(&[u8]) -> Option<(T, usize)>,
) -> (T, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((value, len)) = parse(&buf) {
            return (value, buf.split_off(len));
        }
        let n = stream.read(&mut chunk).expect("read head");
        assert!(n > 0, "peer closed during the handshake");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn connect(port: u16, deflate: bool) -> Conn {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(READ_BOUND)).unwrap();
    let config = ClientConfig {
        host: format!("127.0.0.1:{port}"),
        path: "/echo".into(),
        headers: vec![("Origin".into(), "http://127.0.0.1".into())],
        subprotocols: Vec::new(),
        deflate: deflate.then(DeflateConfig::default),
        max_head_size: 8192,
    };
    let handshake = ClientHandshake::new(config).unwrap();
    stream.write_all(&handshake.request()).unwrap();
    let (accepted, pending) = read_head(&mut stream, |b| {
        handshake.parse_response(b).expect("a valid 101")
    });
    assert_eq!(
        accepted.deflate.is_some(),
        deflate,
        "deflate negotiated as asked"
    );
    let session = Session::new(
        Role::Client,
        SessionConfig {
            max_message_size: 64 << 20,
            deflate: accepted.deflate,
            fragment_size: 0,
            ..SessionConfig::default()
        },
    );
    Conn {
        stream,
        session,
        pending,
    }
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
                conn.session.set_fragment_size(fragment_size);
                conn.session.send(&data, binary_message).unwrap();
                conn.flush();
                let event = conn.next().expect("an echo");
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
    conn.session.send_text("ping-me").unwrap();
    conn.flush();
    assert_eq!(conn.next(), Some(Event::Ping(b"hi".to_vec())));
    assert_eq!(
        conn.next(),
        Some(Event::Message {
            data: b"ponged".to_vec(),
            binary: false
        })
    );
    conn.session.ping(b"probe").unwrap();
    conn.flush();
    assert_eq!(conn.next(), Some(Event::Pong(b"probe".to_vec())));
    conn.session.close(4001, "bye").unwrap();
    conn.flush();
    match conn.next() {
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
    let (mut stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(READ_BOUND)).unwrap();
    let config = ServerConfig {
        subprotocols: vec!["chat".into()],
        deflate: deflate.then(DeflateConfig::default),
        ..ServerConfig::default()
    };
    let (request, pending) = read_head(&mut stream, |b| {
        parse_request(b, &config).expect("a valid upgrade")
    });
    assert_eq!(request.deflate.is_some(), deflate);
    let answer = accept_response(
        &request,
        request.protocol.as_deref(),
        request.deflate.as_ref(),
        &[],
    )
    .unwrap();
    stream.write_all(&answer).unwrap();
    let session = Session::new(
        Role::Server,
        SessionConfig {
            max_message_size: 64 << 20,
            deflate: request.deflate,
            fragment_size: 50_000,
            ..SessionConfig::default()
        },
    );
    let mut conn = Conn {
        stream,
        session,
        pending,
    };
    let close = loop {
        match conn.next().expect("the client's close") {
            Event::Message { data, binary } => {
                conn.session.send(&data, binary).unwrap();
                conn.flush();
            }
            Event::Ping(_) | Event::Pong(_) => {}
            Event::Close(frame) => break frame,
        }
    };
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
