//! A `webrtc://` listener in geckos.io v2 mode on the reactor, over real sockets without a
//! browser: geckos's routes with CORS, `POST /connections` held for the handler (refused:
//! 401; allowed: the server's offer with the handler's `userData`), the other routes, and the
//! half-open peer expiring on the timing wheel. The browser side (the stock client in
//! Chromium) is `__test__/webrtc-geckos.spec.ts`.

mod common;

use riptide::{ConnId, Conns, EventHandler, WebRtcOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Refuses `authorization: deny`; sends any other token back as `userData`.
#[derive(Clone)]
struct Auth;

impl EventHandler for Auth {
    fn on_traffic(&mut self, _: &mut Conns, _: ConnId, _: &[u8]) {}
    fn on_webrtc_offer(&mut self, conns: &mut Conns, offer: &riptide::WebRtcOffer) {
        let token = offer
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.clone());
        match token.as_deref() {
            Some("deny") => conns.webrtc_decide_geckos(offer.request, false, None),
            _ => {
                let user_data = serde_json::json!({ "token": token, "path": offer.path });
                conns.webrtc_decide_geckos(offer.request, true, Some(user_data));
            }
        }
    }
}

/// One HTTP/1.1 request without a body; the whole response.
fn request(addr: SocketAddr, head: &str) -> String {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.write_all(head.as_bytes()).unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).unwrap();
    out
}

/// The body of a response.
fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

fn peers(remote: &riptide::Remote) -> usize {
    let (tx, rx) = mpsc::channel();
    remote
        .execute(move |conns| {
            let _ = tx.send(conns.webrtc_counts().peers);
        })
        .unwrap();
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

#[test]
fn geckos_routes_on_the_reactor() {
    let (addr, remote, stop, runner) = common::serve_webrtc(
        WebRtcOptions {
            geckos: true,
            authorize: true,
            handshake_timeout: Duration::from_millis(500),
            ..WebRtcOptions::default()
        },
        Auth,
    );

    let preflight = request(
        addr,
        "OPTIONS /.wrtc/v2/connections HTTP/1.1\r\norigin: http://a\r\n\r\n",
    );
    assert!(preflight.starts_with("HTTP/1.1 200 OK\r\n"), "{preflight}");
    assert!(preflight.contains("access-control-allow-origin: *\r\n"));
    assert!(preflight.contains("access-control-allow-headers: authorization, content-type\r\n"));

    let refused = request(
        addr,
        "POST /.wrtc/v2/connections HTTP/1.1\r\nauthorization: deny\r\n\r\n",
    );
    assert!(refused.starts_with("HTTP/1.1 401 "), "{refused}");
    assert!(refused.contains("access-control-allow-origin: *\r\n"));
    assert_eq!(peers(&remote), 0);

    let connected = request(
        addr,
        "POST /.wrtc/v2/connections HTTP/1.1\r\nauthorization: t1\r\n\r\n",
    );
    assert!(connected.starts_with("HTTP/1.1 200 OK\r\n"), "{connected}");
    assert!(connected.contains("content-type: application/json\r\n"));
    let json: serde_json::Value = serde_json::from_str(body(&connected)).unwrap();
    assert_eq!(
        json["userData"],
        serde_json::json!({ "token": "t1", "path": "/.wrtc/v2/connections" })
    );
    assert_eq!(json["localDescription"]["type"], "offer");
    let sdp = json["localDescription"]["sdp"].as_str().unwrap();
    assert!(sdp.contains("a=ice-lite"), "{sdp}");
    assert!(sdp.contains(&format!(" {} typ host", addr.port())), "{sdp}");
    let id = json["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 24);
    assert_eq!(peers(&remote), 1);

    let candidates = request(
        addr,
        &format!("GET /.wrtc/v2/connections/{id}/additional-candidates HTTP/1.1\r\n\r\n"),
    );
    assert!(candidates.starts_with("HTTP/1.1 200 "), "{candidates}");
    assert_eq!(body(&candidates), "[]");
    let bad_answer = format!(
        "POST /.wrtc/v2/connections/{id}/remote-description HTTP/1.1\r\ncontent-length: 3\r\n\r\nnot"
    );
    assert!(request(addr, &bad_answer).starts_with("HTTP/1.1 400 "));
    let unknown = "GET /.wrtc/v2/connections/AAAAAAAAAAAAAAAAAAAAAAAA/additional-candidates \
                   HTTP/1.1\r\n\r\n";
    assert!(request(addr, unknown).starts_with("HTTP/1.1 404 "));
    // The default signalling is not served by a geckos listener.
    let default_path = "POST /.rtc/offer HTTP/1.1\r\ncontent-length: 0\r\n\r\n";
    assert!(request(addr, default_path).starts_with("HTTP/1.1 404 "));

    // Never answered over ICE: the half-open peer expires on its wheel entry.
    let start = Instant::now();
    while peers(&remote) != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the peer never expired"
        );
        thread::sleep(Duration::from_millis(50));
    }
    stop.stop();
    runner.join().unwrap();
}

#[test]
fn geckos_without_authorize_offers_at_once() {
    // The handler would refuse everything: it is not asked.
    let (addr, _, stop, runner) = common::serve_webrtc(
        WebRtcOptions {
            geckos: true,
            ..WebRtcOptions::default()
        },
        Auth,
    );
    let connected = request(
        addr,
        "POST /.wrtc/v2/connections HTTP/1.1\r\nauthorization: deny\r\n\r\n",
    );
    assert!(connected.starts_with("HTTP/1.1 200 OK\r\n"), "{connected}");
    let json: serde_json::Value = serde_json::from_str(body(&connected)).unwrap();
    assert_eq!(json["userData"], serde_json::json!({}));
    stop.stop();
    runner.join().unwrap();
}
