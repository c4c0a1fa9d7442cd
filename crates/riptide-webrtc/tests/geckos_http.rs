//! geckos mode's HTTP side over a real socket (`support/echo.rs` in geckos mode), without a
//! browser: the CORS preflight, the `Authorization` check and `userData`, the offer's shape,
//! `additional-candidates`, bad answers, unknown ids, and the default route still served.
//! The full client is `__test__/webrtc-geckos.spec.ts` (Chromium).

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::echo;

/// One request; returns the status code, the lower-cased head and the body.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, String, String) {
    let mut conn = TcpStream::connect(addr).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\n{headers}content-length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[test]
fn geckos_routes_over_http() {
    let server = echo::start_geckos("127.0.0.1", 0, 0);
    let geckos = server.geckos.clone().unwrap();
    let connections = "/.wrtc/v2/connections";

    let (status, head, _) = request(server.http, "OPTIONS", connections, "", b"");
    assert_eq!(status, 200);
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    assert!(head.contains("access-control-allow-headers: authorization, content-type"));

    let (status, head, _) = request(
        server.http,
        "POST",
        connections,
        "authorization: deny\r\n",
        b"",
    );
    assert_eq!(status, 401);
    assert!(head.contains("access-control-allow-origin: *"));
    assert_eq!(server.endpoint.lock().unwrap().peer_count(), 0);

    let (status, head, body) = request(
        server.http,
        "POST",
        connections,
        "authorization: t0k\r\n",
        b"",
    );
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("content-type: application/json"));
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["userData"],
        serde_json::json!({"authorization": "t0k"})
    );
    let id = body["id"].as_str().unwrap().to_owned();
    let sdp = body["localDescription"]["sdp"].as_str().unwrap();
    assert_eq!(body["localDescription"]["type"], "offer");
    assert!(
        sdp.contains("m=application") && sdp.contains("a=ice-lite"),
        "{sdp}"
    );
    assert!(
        sdp.contains(&format!("{} typ host", server.udp.port())),
        "{sdp}"
    );
    let peer = geckos.lock().unwrap().peer_of(&id).unwrap();
    assert_eq!(server.endpoint.lock().unwrap().peer_count(), 1);

    let candidates = format!("{connections}/{id}/additional-candidates");
    let (status, _, body) = request(server.http, "GET", &candidates, "", b"");
    assert_eq!((status, body.as_str()), (200, "[]"));
    let unknown = format!("{connections}/{}/additional-candidates", "A".repeat(24));
    assert_eq!(request(server.http, "GET", &unknown, "", b"").0, 404);
    assert_eq!(
        request(server.http, "GET", "/.wrtc/v2/nothing", "", b"").0,
        404
    );

    // A body that is not an answer: 400, and the peer still waits; then one str0m refuses.
    let answer = format!("{connections}/{id}/remote-description");
    assert_eq!(
        request(server.http, "POST", &answer, "", b"{\"type\":\"offer\"}").0,
        400
    );
    assert_eq!(server.endpoint.lock().unwrap().peer_count(), 1);
    let bad =
        br#"{"type":"answer","sdp":"v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"}"#;
    assert_eq!(request(server.http, "POST", &answer, "", bad).0, 400);
    let deadline = Instant::now() + Duration::from_secs(5);
    while geckos.lock().unwrap().peer_of(&id).is_some() {
        assert!(
            Instant::now() < deadline,
            "the refused peer's close was not reported"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!geckos.lock().unwrap().is_geckos(peer));
    assert_eq!(server.endpoint.lock().unwrap().peer_count(), 0);

    // The default mode's route is still served alongside.
    let (status, _, _) = request(server.http, "POST", echo::OFFER_PATH, "", b"not json");
    assert_eq!(status, 400);
    // Refused: 401, two 404s, two 400s for geckos, one 400 for the default route.
    let refused = server
        .stats
        .offers_refused
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(refused, 6);
}

#[test]
fn the_default_mode_has_no_geckos_routes() {
    let server = echo::start("127.0.0.1", 0, 0);
    assert!(server.geckos.is_none());
    let (status, _, _) = request(server.http, "POST", "/.wrtc/v2/connections", "", b"");
    assert_eq!(status, 404);
}
