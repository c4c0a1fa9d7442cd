//! Interop with xtaci/smux (the Go library kcptun uses): `tests/interop/smux` built with
//! `go build`, over plain TCP on loopback, smux v1 and v2, with and without kcptun's snappy
//! framing, both ways round: riptide as the client of a Go echo server, and a Go client that
//! checks its echoes against riptide as the server. 20 parallel streams of 256 KiB each,
//! byte-exact. Skipped, with a note, when `go` is not on PATH.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use riptide_smux::{Config, Role, Session, SnappyDecoder, SnappyEncoder};
use riptide_testkit::pattern;

const STREAMS: usize = 20;
const SIZE: usize = 256 * 1024;
/// Hang protection only: a stuck exchange fails instead of blocking the suite.
const GIVE_UP: Duration = Duration::from_secs(300);

/// Builds the Go peer once per test binary run; `None` without a Go toolchain.
fn go_peer() -> Option<PathBuf> {
    riptide_testkit::go_build(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/smux"),
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("smux-peer"),
        "the xtaci/smux interop test",
    )
}

/// One end of a session over a non-blocking TCP stream, with optional snappy framing.
struct Peer {
    tcp: TcpStream,
    session: Session,
    comp: Option<(SnappyEncoder, SnappyDecoder)>,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
    eof: bool,
}

impl Peer {
    fn new(tcp: TcpStream, role: Role, version: u8, comp: bool) -> Peer {
        tcp.set_nonblocking(true).unwrap();
        tcp.set_nodelay(true).unwrap();
        let config = Config {
            version,
            ..Config::default()
        };
        Peer {
            tcp,
            session: Session::new(role, config, Instant::now()).unwrap(),
            comp: comp.then(|| (SnappyEncoder::new(), SnappyDecoder::new())),
            inbox: Vec::new(),
            outbox: Vec::new(),
            eof: false,
        }
    }

    /// Moves bytes between the socket and the session; returns whether anything moved.
    fn pump(&mut self) -> bool {
        let mut moved = false;
        let mut buf = [0u8; 65536];
        while !self.eof && self.inbox.len() < 256 * 1024 {
            match self.tcp.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    moved = true;
                    match &mut self.comp {
                        Some((_, dec)) => dec.decode(&buf[..n], &mut self.inbox).unwrap(),
                        None => self.inbox.extend_from_slice(&buf[..n]),
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        let now = Instant::now();
        let used = self.session.receive(&self.inbox, now).unwrap();
        self.inbox.drain(..used);
        moved |= used > 0;
        if self.session.poll_timeout().is_some_and(|t| t <= now) {
            self.session.handle_timeout(now).unwrap();
        }
        self.flush();
        moved
    }

    fn flush(&mut self) {
        let out = self.session.take_output();
        if !out.is_empty() {
            match &mut self.comp {
                Some((enc, _)) => self.outbox.extend(enc.encode(&out).unwrap()),
                None => self.outbox.extend(out),
            }
        }
        while !self.outbox.is_empty() {
            match self.tcp.write(&self.outbox) {
                Ok(n) => drop(self.outbox.drain(..n)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("write: {e}"),
            }
        }
    }
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// riptide opens the streams; the Go server echoes them.
fn riptide_client_go_server(bin: &Path, version: u8, comp: bool) {
    let mut args = vec!["server".to_string(), format!("-ver={version}")];
    if comp {
        args.push("-comp".into());
    }
    let mut child = Command::new(bin)
        .args(&args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _child = Kill(child);
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .expect("server address");
    let mut peer = Peer::new(
        TcpStream::connect(addr).unwrap(),
        Role::Client,
        version,
        comp,
    );

    struct Flow {
        sid: u32,
        sent: Vec<u8>,
        offset: usize,
        got: Vec<u8>,
        done: bool,
    }
    let mut flows: Vec<Flow> = (0..STREAMS)
        .map(|i| Flow {
            sid: peer.session.open().unwrap(),
            sent: pattern(i as u64, SIZE),
            offset: 0,
            got: Vec::new(),
            done: false,
        })
        .collect();
    let start = Instant::now();
    let mut buf = vec![0u8; 65536];
    while !flows.iter().all(|f| f.done) {
        assert!(start.elapsed() < GIVE_UP, "v{version} comp={comp}: stuck");
        let mut moved = peer.pump();
        for f in flows.iter_mut().filter(|f| !f.done) {
            if f.offset < SIZE {
                let n = peer.session.write(f.sid, &f.sent[f.offset..]).unwrap();
                f.offset += n;
                moved |= n > 0;
                if f.offset == SIZE {
                    peer.session.close_write(f.sid).unwrap();
                }
            }
            while let Some(n) = peer.session.read(f.sid, &mut buf).unwrap() {
                moved = true;
                if n == 0 {
                    f.done = true;
                    break;
                }
                f.got.extend_from_slice(&buf[..n]);
            }
        }
        peer.flush();
        assert!(!peer.eof || moved, "v{version} comp={comp}: server hung up");
        if !moved {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    for (i, f) in flows.iter().enumerate() {
        assert!(
            f.got == f.sent,
            "v{version} comp={comp}: stream {i} echo differs"
        );
    }
    assert_eq!(
        peer.session.stream_ids().count(),
        0,
        "finished streams are gone"
    );
}

/// The Go client opens the streams and checks the echoes; riptide echoes.
fn go_client_riptide_server(bin: &Path, version: u8, comp: bool) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut args = vec![
        "client".to_string(),
        format!("-addr={}", listener.local_addr().unwrap()),
        format!("-ver={version}"),
        format!("-streams={STREAMS}"),
        format!("-size={SIZE}"),
    ];
    if comp {
        args.push("-comp".into());
    }
    let child = Command::new(bin)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Kill(child);
    let (tcp, _) = listener.accept().unwrap();
    let mut peer = Peer::new(tcp, Role::Server, version, comp);
    // Per stream: bytes read but not yet echoed (at most one read buffer's worth).
    let mut pending: std::collections::HashMap<u32, Vec<u8>> = Default::default();
    let mut buf = vec![0u8; 65536];
    let start = Instant::now();
    let mut echoed = 0usize;
    loop {
        assert!(start.elapsed() < GIVE_UP, "v{version} comp={comp}: stuck");
        let mut moved = peer.pump();
        while let Some(sid) = peer.session.accept() {
            pending.insert(sid, Vec::new());
            moved = true;
        }
        let mut finished = Vec::new();
        for (&sid, out) in pending.iter_mut() {
            if !out.is_empty() {
                let n = peer.session.write(sid, out).unwrap();
                out.drain(..n);
                echoed += n;
                moved |= n > 0;
            }
            if out.is_empty() {
                match peer.session.read(sid, &mut buf).unwrap() {
                    Some(0) => finished.push(sid),
                    Some(n) => {
                        out.extend_from_slice(&buf[..n]);
                        moved = true;
                    }
                    None => {}
                }
            }
        }
        for sid in finished {
            peer.session.close_stream(sid).unwrap();
            pending.remove(&sid);
            moved = true;
        }
        peer.flush();
        if peer.eof && peer.inbox.is_empty() {
            break;
        }
        if !moved {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let out = child.0.wait_with_output_ref();
    assert!(
        out.0.success() && out.1.trim() == "ok",
        "v{version} comp={comp}: Go client failed: {}",
        out.2
    );
    assert_eq!(echoed, STREAMS * SIZE, "v{version} comp={comp}");
}

trait WaitRef {
    fn wait_with_output_ref(&mut self) -> (std::process::ExitStatus, String, String);
}

impl WaitRef for Child {
    fn wait_with_output_ref(&mut self) -> (std::process::ExitStatus, String, String) {
        let mut stdout = String::new();
        let mut stderr = String::new();
        self.stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        self.stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (self.wait().unwrap(), stdout, stderr)
    }
}

#[test]
fn xtaci_smux_both_ways_v1_v2_with_and_without_snappy() {
    let Some(bin) = go_peer() else { return };
    for version in [1, 2] {
        for comp in [false, true] {
            riptide_client_go_server(&bin, version, comp);
            go_client_riptide_server(&bin, version, comp);
        }
    }
}
