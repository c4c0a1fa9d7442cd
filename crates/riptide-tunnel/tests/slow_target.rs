//! A target that stops reading: one stream's target never reads, the client keeps writing.
//! The tunnel must stop taking that stream's bytes (backpressure back to the writer), its
//! processes' memory must stay bounded, and with smux v2 the other streams keep flowing.
//! With v1 (no per-stream window, as in smux) the stuck stream may stall the session once it
//! fills the session buffer; memory stays bounded there too.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{echo_stream, parallel_streams, riptide_server, riptide_tunnel};

/// What the writer tries to push into the stuck stream: far more than any buffer on the way.
const PUSH: u64 = 512 << 20;
/// The most the stuck stream may take: the tunnel's own bounds (client: one TCP read, smux's
/// 1 MiB send buffer, KCP's send queue; server: the 2 MiB stream window, KCP's receive queue,
/// the TCP high-water mark) plus the kernel's loopback socket buffers on four sockets, which
/// autotune up to `tcp_rmem`'s maximum (32 MiB on the project machine): the RSS check below is
/// the tight one.
const MAX_ACCEPTED: u64 = 128 << 20;
/// How much either tunnel process may grow while the stream is stuck.
const MAX_RSS_GROWTH_KIB: u64 = 32 << 10;

/// A target whose second connection (the first after the warm-up) is never read; the others
/// echo.
fn stuck_then_echo_target() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut held = Vec::new();
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            if i == 1 {
                held.push(conn);
                continue;
            }
            thread::spawn(move || {
                let mut back = conn.try_clone().unwrap();
                let _ = std::io::copy(&mut conn, &mut back);
            });
        }
    });
    addr
}

/// Writes into `conn` until a write blocks for 3 s; counts the bytes taken.
fn push_until_stuck(mut conn: TcpStream, taken: Arc<AtomicU64>) {
    conn.set_write_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let chunk = vec![0x5a; 64 * 1024];
    while taken.load(Ordering::Relaxed) < PUSH {
        match conn.write(&chunk) {
            Ok(n) => {
                taken.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(_) => return,
        }
    }
}

fn run(smuxver: &str) {
    let target = stuck_then_echo_target();
    let (server, kcp) = riptide_server(&[
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--target".into(),
        target.to_string(),
        "--smuxver".into(),
        smuxver.into(),
    ]);
    let (client, local) = riptide_tunnel(
        "client",
        &[
            "--localaddr".into(),
            "127.0.0.1:0".into(),
            "--remoteaddr".into(),
            kcp.to_string(),
            "--smuxver".into(),
            smuxver.into(),
        ],
    );
    // The session is up and the processes warmed before the baseline.
    echo_stream(local, 99, 64 * 1024).unwrap();
    let base = (server.rss_kib(), client.rss_kib());

    let stuck = TcpStream::connect(local).unwrap();
    let taken = Arc::new(AtomicU64::new(0));
    let writer = {
        let taken = taken.clone();
        thread::spawn(move || push_until_stuck(stuck, taken))
    };
    if smuxver == "2" {
        // The other streams flow while the stuck one is full.
        thread::sleep(Duration::from_secs(1));
        let started = Instant::now();
        parallel_streams(local, 8, 1 << 20);
        eprintln!(
            "v{smuxver}: 8 × 1 MiB beside the stuck stream in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    writer.join().unwrap();
    let taken = taken.load(Ordering::Relaxed);
    let rss = (server.rss_kib(), client.rss_kib());
    eprintln!(
        "v{smuxver}: stuck stream took {:.1} MiB of {} MiB; RSS server {} → {} KiB, client {} → {} KiB",
        taken as f64 / 1_048_576.0,
        PUSH >> 20,
        base.0,
        rss.0,
        base.1,
        rss.1
    );
    assert!(taken < MAX_ACCEPTED, "the stuck stream took {taken} bytes");
    assert!(
        rss.0 < base.0 + MAX_RSS_GROWTH_KIB,
        "server RSS grew {base:?} → {rss:?}"
    );
    assert!(
        rss.1 < base.1 + MAX_RSS_GROWTH_KIB,
        "client RSS grew {base:?} → {rss:?}"
    );
}

#[test]
fn slow_target_v2_bounded_and_others_flow() {
    run("2");
}

#[test]
fn slow_target_v1_bounded() {
    run("1");
}
