//! An echo server on the endpoint over std sockets: `cargo run --release -p riptide-net-webrtc
//! --example webrtc_echo -- 127.0.0.1 9208 9208` serves signalling on `http://IP:TCP/.rtc/offer` and
//! WebRTC on `IP:UDP`, and echoes every message on the channel it came on.
//! `tests/interop/webrtc` (pion) is a client: `webrtc-peer -url http://127.0.0.1:9208/.rtc/offer`.
//!
//! With `--geckos` last it also speaks geckos.io v2 (`http://IP:TCP/.wrtc/v2/…`): the stock
//! `@geckos.io/client` connects with `{ url: 'http://IP', port: TCP }`, and its emits and raw
//! messages come back (`__test__/webrtc-geckos.spec.ts` drives it from Chromium).

#[path = "../tests/support/echo.rs"]
mod echo;

use std::sync::atomic::Ordering;
use std::time::Duration;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let geckos = args.last().is_some_and(|a| a == "--geckos");
    if geckos {
        args.pop();
    }
    let ip = args.first().map_or("127.0.0.1", String::as_str);
    let port = |i: usize| -> u16 { args.get(i).map_or(0, |p| p.parse().expect("a port number")) };
    let server = if geckos {
        echo::start_geckos(ip, port(1), port(2))
    } else {
        echo::start(ip, port(1), port(2))
    };
    println!(
        "ready http://{}{} udp {}{}",
        server.http,
        echo::OFFER_PATH,
        server.udp,
        if geckos { " geckos" } else { "" }
    );
    loop {
        std::thread::sleep(Duration::from_secs(10));
        let s = &server.stats;
        let geckos_peers = server
            .geckos
            .as_ref()
            .map_or(0, |g| g.lock().unwrap().peer_count());
        eprintln!(
            "peers {} (geckos {}) opened {} closed {} unreliable dropped {} offers refused {}",
            server.endpoint.lock().unwrap().peer_count(),
            geckos_peers,
            s.opened.load(Ordering::Relaxed),
            s.closed.load(Ordering::Relaxed),
            s.unreliable_dropped.load(Ordering::Relaxed),
            s.offers_refused.load(Ordering::Relaxed),
        );
    }
}
