//! `--secure` with per-client keys, end to end: keys from `gen-server` and `gen-client`, the
//! client command line `gen-client` prints run as printed, a listed client forwarding TCP
//! streams byte-exact, an unlisted one getting nothing through, and `--allowed-clients`
//! re-read on SIGHUP: a key added gets in, a key removed gets no new session while its live
//! session keeps forwarding, and a broken file changes nothing.

#![cfg(unix)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::{echo_stream, echo_target_counted, riptide_server_logged, started, Proc};

/// How long a refused client is watched for bytes coming back.
const REFUSED_WATCH: Duration = Duration::from_secs(5);

/// A fresh directory for one test's key files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("riptide-tunnel-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `riptide-tunnel ARGS` to completion; its stdout.
fn generate(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_riptide-tunnel"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The value after `label: ` on a line of `text`.
fn field<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(label)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no {label:?} in\n{text}"))
}

/// What `gen-client` printed: the allowed-clients line and the client command line.
struct ClientKit {
    allowed_line: String,
    command: String,
}

/// `gen-client` for `server_pub` and `remote`, parsed.
fn gen_client(
    server_pub: &str,
    remote: SocketAddr,
    name: &str,
    key_file: Option<&Path>,
) -> ClientKit {
    let remote = remote.to_string();
    let mut args = vec![
        "gen-client",
        "--server-pub",
        server_pub,
        "--remote",
        &remote,
        "--name",
        name,
    ];
    let key_file = key_file.map(|p| p.display().to_string());
    if let Some(path) = &key_file {
        args.extend(["--key-file", path]);
    }
    let out = generate(&args);
    let public = field(&out, "client public key");
    let allowed_line = out
        .lines()
        .find(|l| l.starts_with(public) && l.contains('#'))
        .unwrap();
    assert_eq!(allowed_line, format!("{public}  # {name}"));
    let command = out.lines().last().unwrap().to_string();
    ClientKit {
        allowed_line: allowed_line.to_string(),
        command,
    }
}

/// Runs a client command line as `gen-client` printed it (through `sh`, with this build's
/// binary first on PATH), on a free local port; returns it and that port.
fn run_client(command: &str) -> (Proc, SocketAddr) {
    let bin = Path::new(env!("CARGO_BIN_EXE_riptide-tunnel"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("sh");
    cmd.env("PATH", path)
        .arg("-c")
        .arg(format!("exec {command} --localaddr 127.0.0.1:0 --quiet"));
    let (client, addr, _) = started(cmd, "listening on tcp://");
    (client, addr)
}

/// Sends SIGHUP to `server` and waits for its report line, which it returns.
fn sighup(server: &Proc, log: &Receiver<String>) -> String {
    let pid = libc::pid_t::try_from(server.0.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid with a valid signal number.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = log
            .recv_timeout(left)
            .expect("the server reported the SIGHUP");
        if line.contains("SIGHUP") {
            return line;
        }
    }
}

/// A stream through a refused client: bytes go in, none come back in [`REFUSED_WATCH`], and
/// the target never sees a connection.
fn assert_refused(local: SocketAddr, target_accepts: &AtomicUsize) {
    let before = target_accepts.load(Ordering::SeqCst);
    let mut conn = TcpStream::connect(local).unwrap();
    conn.write_all(&riptide_testkit::pattern(9, 64 * 1024))
        .unwrap();
    conn.set_read_timeout(Some(REFUSED_WATCH)).unwrap();
    let mut buf = [0u8; 1024];
    match conn.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("{n} bytes came back through a refused client"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::ConnectionReset
            ),
            "{e}"
        ),
    }
    assert_eq!(
        target_accepts.load(Ordering::SeqCst),
        before,
        "the target saw a connection"
    );
}

/// The server's `--secure` arguments with `allowed` as its allowed-clients file.
fn server_args(target: SocketAddr, key_file: &Path, allowed: &Path) -> Vec<String> {
    [
        "--listen",
        "127.0.0.1:0",
        "--target",
        &target.to_string(),
        "--secure",
        "--server-key",
        &key_file.display().to_string(),
        "--allowed-clients",
        &allowed.display().to_string(),
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn gen_client_workflow_lets_the_listed_client_in_and_keeps_the_unlisted_out() {
    let dir = scratch("secure-gen");
    let key_file = dir.join("server.key");
    let out = generate(&["gen-server", "--key-file", &key_file.display().to_string()]);
    let server_pub = field(&out, "server public key").to_string();
    assert!(!out.contains(
        &std::fs::read_to_string(&key_file)
            .unwrap()
            .trim()
            .to_string()
    ));
    // An allowed-clients file with no client yet: nobody gets in.
    let allowed = dir.join("clients.txt");
    std::fs::write(&allowed, "# clients of this test\n").unwrap();
    let (target, accepts) = echo_target_counted();
    let (server, kcp, log) = riptide_server_logged(&server_args(target, &key_file, &allowed));

    // Alice: her line appended, the file re-read, her printed command run as is.
    let alice = gen_client(&server_pub, kcp, "alice", None);
    assert!(alice.command.starts_with("env RIPTIDE_TUNNEL_CLIENT_KEY="));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&allowed)
        .unwrap();
    writeln!(file, "{}", alice.allowed_line).unwrap();
    assert!(sighup(&server, &log).contains("1 allowed clients"));
    let (_alice, alice_local) = run_client(&alice.command);
    echo_stream(alice_local, 1, 1 << 20).unwrap();
    echo_stream(alice_local, 2, 100_000).unwrap();
    assert_eq!(accepts.load(Ordering::SeqCst), 2);

    // Mallory has a key pair and the server's public key, but is not listed.
    let mallory_key = dir.join("mallory.key");
    let mallory = gen_client(&server_pub, kcp, "mallory", Some(&mallory_key));
    assert!(mallory.command.contains("--client-key"));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&mallory_key).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the key file is its owner's alone");
    let (_mallory, mallory_local) = run_client(&mallory.command);
    assert_refused(mallory_local, &accepts);
    // A client with no key of its own (Noise NK) is refused by a server with a list too.
    let (_anonymous, anonymous_local) = run_client(&format!(
        "riptide-tunnel client --secure --server-pub {server_pub} --remoteaddr {kcp}"
    ));
    assert_refused(anonymous_local, &accepts);
    // Alice is still served.
    echo_stream(alice_local, 3, 100_000).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn removing_a_key_and_sighup_refuses_new_sessions_and_keeps_the_live_one() {
    let dir = scratch("secure-sighup");
    let key_file = dir.join("server.key");
    let server_pub = field(
        &generate(&["gen-server", "--key-file", &key_file.display().to_string()]),
        "server public key",
    )
    .to_string();
    let allowed = dir.join("clients.txt");
    // The remote address is not known yet: the printed key lines do not depend on it.
    let placeholder: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let alice = gen_client(
        &server_pub,
        placeholder,
        "alice",
        Some(&dir.join("alice.key")),
    );
    let bob = gen_client(&server_pub, placeholder, "bob", Some(&dir.join("bob.key")));
    std::fs::write(
        &allowed,
        format!("{}\n{}\n", alice.allowed_line, bob.allowed_line),
    )
    .unwrap();
    let (target, accepts) = echo_target_counted();
    let (mut server, kcp, log) = riptide_server_logged(&server_args(target, &key_file, &allowed));
    let with_remote = |command: &str| command.replace(&placeholder.to_string(), &kcp.to_string());

    // Alice's client holds one KCP session, live from its first stream on.
    let (_alice, alice_local) = run_client(&with_remote(&alice.command));
    echo_stream(alice_local, 1, 256 * 1024).unwrap();

    // Alice removed (Bob stays), the file re-read.
    std::fs::write(&allowed, format!("# alice removed\n{}\n", bob.allowed_line)).unwrap();
    assert!(sighup(&server, &log).contains("1 allowed clients"));
    // A broken file leaves the list as it was.
    std::fs::write(&allowed, "not a key\n").unwrap();
    let report = sighup(&server, &log);
    assert!(
        report.contains("line 1") && report.contains("unchanged"),
        "{report}"
    );

    // Alice's live session still carries new streams.
    echo_stream(alice_local, 2, 256 * 1024).unwrap();
    // A second client process with Alice's key needs a new session: refused.
    let (_alice_again, again_local) = run_client(&with_remote(&alice.command));
    assert_refused(again_local, &accepts);
    // Bob, still listed, gets in.
    let (_bob, bob_local) = run_client(&with_remote(&bob.command));
    echo_stream(bob_local, 3, 256 * 1024).unwrap();
    echo_stream(alice_local, 4, 64 * 1024).unwrap();
    assert!(server.0.try_wait().unwrap().is_none(), "the server exited");
    let _ = std::fs::remove_dir_all(&dir);
}
