//! Interop with an independent WebRTC stack: `tests/interop/webrtc`, a pion/webrtc v4 client
//! built from the Go module proxy, against the endpoint on a std UDP socket on loopback
//! (`support/echo.rs`). Skipped, with a note, when no Go toolchain is on `PATH`.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use support::echo;

fn go_peer() -> Option<std::path::PathBuf> {
    riptide_testkit::go_build(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/webrtc"),
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("webrtc-peer"),
        "the pion WebRTC interop test",
    )
}

fn post(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> String {
    let mut conn = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn pion_echoes_ten_thousand_messages_on_each_channel() {
    let Some(peer) = go_peer() else { return };
    let server = echo::start("127.0.0.1", 0, 0);
    assert!(
        server.geckos.is_none(),
        "the default mode has no geckos routes"
    );

    // Bad signalling first: refused, and the server keeps serving.
    let refused = post(
        server.http,
        echo::OFFER_PATH,
        b"{\"type\":\"offer\",\"sdp\":\"v=0\"}",
    );
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    let refused = post(server.http, echo::OFFER_PATH, b"not json");
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    assert!(post(server.http, "/elsewhere", b"").starts_with("HTTP/1.1 404"));
    assert_eq!(server.stats.offers_refused.load(Ordering::Relaxed), 2);

    // 10,000 random and truncated STUN/DTLS/SCTP-looking datagrams to the UDP port.
    let noise = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..10_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 1200) as usize;
        let mut d: Vec<u8> = (0..len).map(|j| (x >> (j % 57)) as u8).collect();
        match (i % 4, d.first_mut()) {
            (0, Some(b)) => *b = 0,  // STUN
            (1, Some(b)) => *b = 22, // DTLS handshake
            (2, Some(b)) => *b = 23, // DTLS application data (SCTP inside)
            _ => {}
        }
        let _ = noise.send_to(&d, server.udp);
    }

    let url = format!("http://{}{}", server.http, echo::OFFER_PATH);
    let stdout = riptide_testkit::run_go_peer(&peer, &["-url", &url, "-n", "10000"]);
    let result: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON line");
    eprintln!(
        "pion result: {result}; unreliable echoes dropped by the server as congested: {}",
        server.stats.unreliable_dropped.load(Ordering::Relaxed)
    );
    assert_eq!(result["reliable_received"], 10000);
    assert_eq!(result["reliable_in_order_and_exact"], true);
    assert_eq!(result["unreliable_corrupt"], 0);
    assert_eq!(result["unreliable_duplicates"], 0);
    // Loss is reported above, not asserted on: it is what "unreliable" means. Some must arrive.
    assert!(result["unreliable_received"].as_u64().unwrap() > 0);
    assert_eq!(server.stats.opened.load(Ordering::Relaxed), 1);

    // pion closed its PeerConnection on exit: the peer goes, and with it its state.
    let start = Instant::now();
    while server.endpoint.lock().unwrap().peer_count() != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the closed peer lingers"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.endpoint.lock().unwrap().address_count(), 0);
    assert_eq!(server.stats.closed.load(Ordering::Relaxed), 1);
}
