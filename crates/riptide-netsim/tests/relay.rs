//! End-to-end: the `riptide-relay` binary between a UDP client and a UDP echo server on
//! loopback.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Lines};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const RELAY: &str = env!("CARGO_BIN_EXE_riptide-relay");

/// A UDP echo server on a thread; stops when the flag is set.
fn spawn_echo(stop: Arc<AtomicBool>) -> (SocketAddr, thread::JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let addr = socket.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let mut buf = [0u8; 65_536];
        while !stop.load(Ordering::SeqCst) {
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                socket.send_to(&buf[..n], from).unwrap();
            }
        }
    });
    (addr, handle)
}

/// Starts the relay and reads its `{"listen":"ADDR"}` line.
fn spawn_relay(args: &[&str]) -> (Child, SocketAddr, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(RELAY)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("{\"listen\":\"")
        .and_then(|s| s.strip_suffix("\"}"))
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .parse()
        .unwrap();
    (child, addr, lines)
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("relay did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Reads counter `name` of `direction` from the relay's stats line.
fn counter(json: &str, direction: &str, name: &str) -> u64 {
    let key = format!("\"{direction}\":{{");
    let section = &json[json.find(&key).unwrap_or_else(|| panic!("{key} in {json}")) + key.len()..];
    let section = &section[..section.find('}').unwrap()];
    let key = format!("\"{name}\":");
    let value = &section[section.find(&key).unwrap() + key.len()..];
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

/// Datagram `i`: its number, then a length and pattern that depend on it.
fn payload(i: u32) -> Vec<u8> {
    let len = 16 + (i as usize * 37) % 1185;
    let mut data = i.to_le_bytes().to_vec();
    data.extend((4..len).map(|j| (i as usize * 31 + j * 7) as u8));
    data
}

#[test]
fn lossy_round_trip_then_clean_exit_on_sigterm() {
    const COUNT: u32 = 2000;
    let stop = Arc::new(AtomicBool::new(false));
    let (echo, echo_thread) = spawn_echo(stop.clone());
    let upstream = echo.to_string();
    let (mut relay, relay_addr, mut lines) = spawn_relay(&[
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream,
        "--loss",
        "0.2",
        "--seed",
        "42",
    ]);

    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.connect(relay_addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let sender = client.try_clone().unwrap();
    let send_thread = thread::spawn(move || {
        for i in 0..COUNT {
            sender.send(&payload(i)).unwrap();
            if i % 20 == 19 {
                thread::sleep(Duration::from_millis(1));
            }
        }
    });

    let mut seen = HashSet::new();
    let mut buf = [0u8; 65_536];
    while let Ok(n) = client.recv(&mut buf) {
        let i = u32::from_le_bytes(buf[..4].try_into().unwrap());
        assert!(i < COUNT, "bogus datagram number {i}");
        assert_eq!(&buf[..n], &payload(i)[..], "payload {i} corrupted");
        assert!(seen.insert(i), "datagram {i} delivered twice");
    }
    send_thread.join().unwrap();

    // Each way survives with 0.8, so a round trip with 0.64: mean 1280, sd about 21.5.
    let survived = seen.len();
    assert!(
        (1150..=1410).contains(&survived),
        "{survived} of {COUNT} came back"
    );

    // SAFETY: kill(2) on the pid of a child we spawned and have not yet reaped.
    let rc = unsafe { libc::kill(relay.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let status = wait_with_timeout(&mut relay, Duration::from_secs(5));
    assert!(status.success(), "relay exited with {status:?}");

    let stats = lines.next().expect("stats line").unwrap();
    assert_eq!(
        counter(&stats, "client_to_server", "sent"),
        u64::from(COUNT)
    );
    let lost_up = counter(&stats, "client_to_server", "lost");
    assert!((300..=500).contains(&lost_up), "{stats}");
    assert_eq!(
        counter(&stats, "client_to_server", "delivered"),
        u64::from(COUNT) - lost_up
    );
    // The relay may have sent more than came back only if the kernel dropped some on the way.
    assert!(counter(&stats, "server_to_client", "delivered") >= survived as u64);
    assert_eq!(counter(&stats, "client_to_server", "duplicated"), 0);

    stop.store(true, Ordering::SeqCst);
    echo_thread.join().unwrap();
}

#[test]
fn delay_and_duration() {
    let stop = Arc::new(AtomicBool::new(false));
    let (echo, echo_thread) = spawn_echo(stop.clone());
    let upstream = echo.to_string();
    let (mut relay, relay_addr, mut lines) = spawn_relay(&[
        "--upstream",
        &upstream,
        "--delay-min",
        "40",
        "--delay-max",
        "60",
        "--duration",
        "1.5",
    ]);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.connect(relay_addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let sent_at = Instant::now();
    client.send(b"ping").unwrap();
    let mut buf = [0u8; 16];
    let n = client.recv(&mut buf).unwrap();
    let rtt = sent_at.elapsed();
    assert_eq!(&buf[..n], b"ping");
    assert!(
        rtt >= Duration::from_millis(80),
        "round trip took only {rtt:?}"
    );

    let status = wait_with_timeout(&mut relay, Duration::from_secs(5));
    assert!(status.success());
    let stats = lines.next().expect("stats line").unwrap();
    assert_eq!(counter(&stats, "server_to_client", "delivered"), 1);
    assert!(stats.contains("\"sessions\":1"), "{stats}");

    stop.store(true, Ordering::SeqCst);
    echo_thread.join().unwrap();
}

#[test]
fn refuses_non_loopback_addresses() {
    for args in [
        &["--upstream", "192.0.2.1:7000"][..],
        &["--listen", "0.0.0.0:0", "--upstream", "127.0.0.1:7000"],
    ] {
        let out = Command::new(RELAY).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("not a loopback address"), "{stderr}");
    }
}
