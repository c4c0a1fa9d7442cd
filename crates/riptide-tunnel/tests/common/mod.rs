//! What the tunnel's integration tests share: the tunnel binary and the Go kcptun stand-in as
//! child processes (killed on drop), a TCP echo target, the lossy relay, and parallel streams
//! checked by SHA-256.

#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// Hang protection only: a stuck exchange fails instead of blocking the suite.
pub const GIVE_UP: Duration = Duration::from_secs(240);

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// The child's resident memory in KiB (Linux `/proc`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

/// Reads lines from a child's output on a thread until one contains `marker`, and returns the
/// address after it (the rest of the output keeps being drained, so the child never blocks).
fn address_after<R: Read + Send + 'static>(out: R, marker: &'static str) -> SocketAddr {
    address_and_lines(out, marker).0
}

/// Like [`address_after`], and every line after the marker's goes to the receiver.
fn address_and_lines<R: Read + Send + 'static>(
    out: R,
    marker: &'static str,
) -> (SocketAddr, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let (lines_tx, lines) = mpsc::channel();
    thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if std::env::var_os("TUNNEL_TEST_LOG").is_some() {
                eprintln!("  | {line}");
            }
            match tx.take() {
                None => {
                    // The receiver may be gone: then nobody asked for the lines.
                    let _ = lines_tx.send(line);
                }
                Some(sender) => match line.split(marker).nth(1) {
                    Some(rest) => {
                        let _ = sender.send(rest.trim().to_string());
                    }
                    None => tx = Some(sender),
                },
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the child printed its address");
    let addr = addr
        .trim_end_matches(['"', '}'])
        .parse()
        .expect("a socket address");
    (addr, lines)
}

/// Starts `cmd` with its stderr piped; returns it, the address it printed after `marker`,
/// and the lines it writes to stderr after that one. Keys and passphrases come from the
/// arguments only, whatever the environment of the tests holds.
pub fn started(
    mut cmd: Command,
    marker: &'static str,
) -> (Proc, SocketAddr, mpsc::Receiver<String>) {
    let mut child = cmd
        .env_remove("KCPTUN_KEY")
        .env_remove("RIPTIDE_TUNNEL_SERVER_KEY")
        .env_remove("RIPTIDE_TUNNEL_CLIENT_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let err: ChildStderr = child.stderr.take().unwrap();
    let (addr, lines) = address_and_lines(err, marker);
    (Proc(child), addr, lines)
}

/// Starts `riptide-tunnel ROLE --quiet ARGS...`; returns it and its listening address.
pub fn riptide_tunnel(role: &str, args: &[String]) -> (Proc, SocketAddr) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_riptide-tunnel"));
    cmd.arg(role).arg("--quiet").args(args);
    let (tunnel, addr, _) = started(cmd, "listening on tcp://");
    (tunnel, addr)
}

/// Like [`riptide_tunnel`] for the server, whose address is a `kcp://` one.
pub fn riptide_server(args: &[String]) -> (Proc, SocketAddr) {
    let (server, addr, _) = riptide_server_logged(args);
    (server, addr)
}

/// Like [`riptide_server`], with the server's later stderr lines.
pub fn riptide_server_logged(args: &[String]) -> (Proc, SocketAddr, mpsc::Receiver<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_riptide-tunnel"));
    cmd.arg("server").arg("--quiet").args(args);
    started(cmd, "listening on kcp://")
}

/// Builds the Go kcptun stand-in once per test binary; `None` without a Go toolchain.
pub fn go_peer() -> Option<PathBuf> {
    riptide_testkit::go_build(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/kcptun"),
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("kcptun-peer"),
        "the kcptun interop test",
    )
}

/// Starts the Go peer as `ROLE ARGS...`; returns it and the address it printed.
pub fn go_tunnel(bin: &Path, role: &str, args: &[String]) -> (Proc, SocketAddr) {
    let mut child = Command::new(bin)
        .arg(role)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn kcptun-peer");
    let out: ChildStdout = child.stdout.take().unwrap();
    let addr = address_after(out, "ready ");
    (Proc(child), addr)
}

/// A TCP echo server on a thread per connection; returns its address.
pub fn echo_target() -> SocketAddr {
    echo_target_counted().0
}

/// Like [`echo_target`], with the count of connections it accepted.
pub fn echo_target_counted() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            thread::spawn(move || {
                let mut back = conn.try_clone().unwrap();
                let _ = std::io::copy(&mut conn, &mut back);
                let _ = back.shutdown(Shutdown::Write);
            });
        }
    });
    (addr, accepted)
}

/// The lossy relay (`riptide-relay` from riptide-netsim) in front of `upstream`, dropping
/// `loss` of the datagrams each way; built first when missing, as the TS tests do.
pub fn lossy_relay(upstream: SocketAddr, loss: f64, seed: u64) -> (Proc, SocketAddr) {
    let dir = Path::new(env!("CARGO_BIN_EXE_riptide-tunnel"))
        .parent()
        .unwrap();
    let bin = dir.join("riptide-relay");
    if !bin.exists() {
        let built = Command::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "riptide-net-netsim",
                "--bin",
                "riptide-relay",
            ])
            .status()
            .expect("run cargo build");
        assert!(built.success(), "could not build riptide-relay");
    }
    let mut child = Command::new(bin)
        .args([
            "--upstream",
            &upstream.to_string(),
            "--loss",
            &loss.to_string(),
        ])
        .args(["--seed", &seed.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn riptide-relay");
    let out: ChildStdout = child.stdout.take().unwrap();
    let addr = address_after(out, "\"listen\":\"");
    (Proc(child), addr)
}

/// Sends `size` patterned bytes on one connection to `addr` and reads the echo; true when
/// it is SHA-256-identical.
pub fn echo_stream(addr: SocketAddr, seed: u64, size: usize) -> Result<(), String> {
    let data = riptide_testkit::pattern(seed, size);
    let want = Sha256::digest(&data);
    let mut conn = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(GIVE_UP)).unwrap();
    let mut writer = conn.try_clone().unwrap();
    let sender = thread::spawn(move || writer.write_all(&data));
    let mut got = vec![0u8; size];
    conn.read_exact(&mut got)
        .map_err(|e| format!("stream {seed}: {e}"))?;
    sender
        .join()
        .unwrap()
        .map_err(|e| format!("stream {seed}: send: {e}"))?;
    if Sha256::digest(&got) != want {
        return Err(format!("stream {seed}: SHA-256 differs"));
    }
    Ok(())
}

/// Runs `streams` parallel echo streams of `size` bytes each through `addr`.
pub fn parallel_streams(addr: SocketAddr, streams: usize, size: usize) {
    let handles: Vec<_> = (0..streams)
        .map(|i| thread::spawn(move || echo_stream(addr, i as u64 + 1, size)))
        .collect();
    let failures: Vec<String> = handles
        .into_iter()
        .filter_map(|h| h.join().unwrap().err())
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
}
