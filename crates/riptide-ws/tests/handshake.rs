//! The opening handshake: RFC 6455's example, a full client-server exchange with
//! subprotocols and permessage-deflate, and every refusal with its status.

use riptide_ws::handshake::{accept_response, parse_request, refuse_response};
use riptide_ws::{
    accept_key, ClientConfig, ClientHandshake, DeflateConfig, HandshakeError, ServerConfig,
};

const REQUEST: &str = "GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn server_config() -> ServerConfig {
    ServerConfig {
        subprotocols: vec!["superchat".into()],
        deflate: Some(DeflateConfig::default()),
        ..ServerConfig::default()
    }
}

#[test]
fn rfc6455_accept_key() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn server_reads_the_rfc_request_in_any_split() {
    let mut bytes = REQUEST.as_bytes().to_vec();
    bytes.extend_from_slice(&[0x81, 0x80]);
    for cut in 0..REQUEST.len() {
        assert_eq!(
            parse_request(&bytes[..cut], &server_config()),
            Ok(None),
            "cut {cut}"
        );
    }
    let (request, len) = parse_request(&bytes, &server_config()).unwrap().unwrap();
    assert_eq!(len, REQUEST.len());
    assert_eq!(request.path, "/chat?room=1");
    assert_eq!(request.protocols, ["chat", "superchat"]);
    assert_eq!(request.protocol.as_deref(), Some("superchat"));
    assert_eq!(request.header("origin"), Some("http://example.com"));
    assert_eq!(request.deflate, None);
    let answer = accept_response(
        &request,
        request.protocol.as_deref(),
        None,
        &[("X-Id".into(), "7".into())],
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(answer).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: superchat\r\nX-Id: 7\r\n\r\n"
    );
    assert_eq!(
        accept_response(&request, Some("other"), None, &[]),
        Err(HandshakeError::UnofferedProtocol("other".into()))
    );
    assert!(accept_response(&request, None, None, &[("X".into(), "a\r\nb".into())]).is_err());
}

#[test]
fn refusals_and_their_statuses() {
    let cases: [(&str, &str, u16); 8] = [
        ("GET / HTTP/1.1\r\n", "POST / HTTP/1.1\r\n", 405),
        ("GET / HTTP/1.1\r\n", "GET / HTTP/1.0\r\n", 400),
        ("Upgrade: websocket\r\n", "Upgrade: h2c\r\n", 400),
        (
            "Connection: keep-alive, Upgrade\r\n",
            "Connection: keep-alive\r\n",
            400,
        ),
        (
            "Sec-WebSocket-Version: 13\r\n",
            "Sec-WebSocket-Version: 8\r\n",
            426,
        ),
        (
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\n",
            400,
        ),
        ("Host: server.example.com\r\n", "", 400),
        (
            "Sec-WebSocket-Protocol: chat, superchat\r\n",
            "Sec-WebSocket-Protocol: chat, a b\r\n",
            400,
        ),
    ];
    let request = "GET / HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert!(parse_request(request.as_bytes(), &server_config())
        .unwrap()
        .is_some());
    for (from, to, status) in cases {
        let bad = request.replacen(from, to, 1);
        let err = parse_request(bad.as_bytes(), &server_config()).unwrap_err();
        assert_eq!(err.status(), status, "{to:?}: {err}");
    }
    let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(9000));
    assert_eq!(
        parse_request(huge.as_bytes(), &server_config()),
        Err(HandshakeError::HeadTooLarge(8192))
    );
    assert_eq!(
        parse_request(&[b'a'; 8192], &server_config()).map_err(|e| e.status()),
        Err(431)
    );
    let malformed = b"GET / HTTP/1.1\r\nno colon here\r\n\r\n";
    assert_eq!(
        parse_request(malformed, &server_config()).map_err(|e| e.status()),
        Err(400)
    );
    let refusal = String::from_utf8(refuse_response(426, &[]).unwrap()).unwrap();
    assert!(
        refusal.starts_with("HTTP/1.1 426 Upgrade Required\r\n")
            && refusal.contains("Sec-WebSocket-Version: 13\r\n")
    );
    assert!(refuse_response(200, &[]).is_err());
}

fn client_config(deflate: Option<DeflateConfig>) -> ClientConfig {
    ClientConfig {
        host: "localhost:9000".into(),
        path: "/ws".into(),
        headers: vec![("Origin".into(), "http://localhost".into())],
        subprotocols: vec!["chat".into(), "superchat".into()],
        deflate,
        max_head_size: 8192,
    }
}

#[test]
fn client_and_server_agree() {
    for deflate in [
        None,
        Some(DeflateConfig {
            client_max_window_bits: 11,
            ..DeflateConfig::default()
        }),
    ] {
        let client = ClientHandshake::new(client_config(deflate)).unwrap();
        let (request, len) = parse_request(&client.request(), &server_config())
            .unwrap()
            .unwrap();
        assert_eq!(len, client.request().len());
        assert_eq!(request.deflate.is_some(), deflate.is_some());
        let answer = accept_response(
            &request,
            request.protocol.as_deref(),
            request.deflate.as_ref(),
            &[],
        )
        .unwrap();
        for cut in 0..answer.len() {
            assert_eq!(client.parse_response(&answer[..cut]), Ok(None));
        }
        let (accepted, used) = client.parse_response(&answer).unwrap().unwrap();
        assert_eq!(used, answer.len());
        assert_eq!(accepted.protocol.as_deref(), Some("superchat"));
        assert_eq!(
            accepted.deflate,
            request.deflate.map(|d| riptide_ws::DeflateParams {
                client_max_window_bits: 11,
                ..d
            })
        );
    }
}

#[test]
fn client_refuses_a_bad_answer() {
    let client = ClientHandshake::with_key(client_config(None), [0; 16]).unwrap();
    let key = accept_key("AAAAAAAAAAAAAAAAAAAAAA==");
    let good = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {key}\r\n\r\n");
    assert!(client.parse_response(good.as_bytes()).unwrap().is_some());
    let cases = [
        (
            good.replace("101 Switching Protocols", "200 OK"),
            HandshakeError::Status(200),
        ),
        (
            good.replace(&key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            HandshakeError::BadAccept,
        ),
        (
            good.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: other\r\n\r\n"),
            HandshakeError::UnofferedProtocol("other".into()),
        ),
        (
            good.replace(
                "\r\n\r\n",
                "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            ),
            HandshakeError::UnofferedExtension("permessage-deflate".into()),
        ),
        (
            good.replace("Upgrade: websocket\r\n", ""),
            HandshakeError::NotUpgrade("no Upgrade: websocket"),
        ),
    ];
    for (answer, error) in cases {
        assert_eq!(client.parse_response(answer.as_bytes()), Err(error));
    }
    let bad_path = ClientConfig {
        path: "/a b".into(),
        ..client_config(None)
    };
    assert!(ClientHandshake::new(bad_path).is_err());
    let bad_header = ClientConfig {
        headers: vec![("X".into(), "a\nb".into())],
        ..client_config(None)
    };
    assert!(ClientHandshake::new(bad_header).is_err());
}
