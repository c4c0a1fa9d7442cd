//! TLS under the real engine, stacked with another layer: a PROXY v1 header in front of TLS
//! (what a TCP load balancer sends before the client's own bytes), a rustls client on a
//! blocking socket, an echo handler that sees plaintext, the original peer and the ALPN
//! protocol.

mod common;

use common::serve;
use riptide::codec::ProxyMode;
use riptide::{
    ConnId, Conns, EngineConfig, EventHandler, ListenOptions, TlsClientOptions, TlsServerOptions,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

#[derive(Clone)]
struct Opened(mpsc::Sender<String>);

impl EventHandler for Opened {
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        let peer = conns.peer_addr(id).unwrap();
        let info = conns.tls_info(id).unwrap().cloned().unwrap();
        let alpn = String::from_utf8(info.alpn_protocol.unwrap()).unwrap();
        self.0
            .send(format!("open {peer} {alpn} {}", info.version))
            .unwrap();
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        conns.write(id, data).unwrap();
    }
}

#[test]
fn proxy_header_then_tls_then_plaintext_echo() {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (key.cert.pem(), key.signing_key.serialize_pem());
    let mut server = TlsServerOptions::new(cert.clone(), key);
    server.alpn = vec![b"h2".to_vec(), b"x-echo".to_vec()];
    let config = EngineConfig {
        listen: ListenOptions {
            proxy_protocol: Some(ProxyMode::V1),
            proxy_timeout: Duration::from_secs(5),
            layers: vec![server.factory().unwrap()],
            ..ListenOptions::default()
        },
        ..EngineConfig::default()
    };
    let (tx, rx) = mpsc::channel();
    let (addr, stop, _) = serve("tcp://127.0.0.1:0", config, Opened(tx));

    let mut client = TlsClientOptions::new(cert, "localhost");
    client.alpn = vec![b"x-echo".to_vec()];
    let (client_config, name) = client.config().unwrap();
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\n")
        .unwrap();
    let conn = rustls::ClientConnection::new(client_config, name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    tls.write_all(&data).unwrap();
    let mut back = vec![0u8; data.len()];
    tls.read_exact(&mut back).unwrap();
    assert_eq!(back, data);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        "open 203.0.113.7:51000 x-echo TLSv1.3"
    );
    stop.stop();
}

/// Reports failed handshakes and closes (with their codes) to a channel; echoes.
#[derive(Clone)]
struct Failures(mpsc::Sender<String>);

impl EventHandler for Failures {
    fn on_open(&mut self, _: &mut Conns, _: ConnId) {
        self.0.send("open".into()).unwrap();
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        conns.write(id, data).unwrap();
    }
    fn on_handshake_error(&mut self, err: &riptide::Error, peer: &riptide::PeerAddr) {
        self.0
            .send(format!("handshake {} {peer}", err.code()))
            .unwrap();
    }
    fn on_close(&mut self, _: &mut Conns, _: ConnId, err: Option<&riptide::Error>) {
        let what = err.map_or("none".into(), |e| format!("{} {e}", e.code()));
        self.0.send(format!("close {what}")).unwrap();
    }
}

fn tls_server(handler: Failures, timeout: Duration) -> (std::net::SocketAddr, String) {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (key.cert.pem(), key.signing_key.serialize_pem());
    let mut server = TlsServerOptions::new(cert.clone(), key);
    server.handshake_timeout = timeout;
    let config = EngineConfig {
        listen: ListenOptions {
            layers: vec![server.factory().unwrap()],
            ..ListenOptions::default()
        },
        ..EngineConfig::default()
    };
    let (addr, stop, _) = serve("tcp://127.0.0.1:0", config, handler);
    std::mem::forget(stop);
    (addr, cert)
}

#[test]
fn a_failed_handshake_reaches_on_handshake_error_with_the_client_address() {
    let (tx, rx) = mpsc::channel();
    let (addr, _) = tls_server(Failures(tx), Duration::from_millis(300));
    let next = || rx.recv_timeout(Duration::from_secs(10)).unwrap();

    // Garbage instead of a hello.
    let mut tcp = TcpStream::connect(addr).unwrap();
    let local = tcp.local_addr().unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(next(), format!("handshake ERR_TLS_HANDSHAKE {local}"));
    assert!(next().starts_with("close ERR_TLS_HANDSHAKE"));

    // A client that says nothing: the handshake timeout.
    let tcp2 = TcpStream::connect(addr).unwrap();
    let local = tcp2.local_addr().unwrap();
    assert_eq!(next(), format!("handshake ERR_TLS_HANDSHAKE {local}"));
    assert!(next().contains("did not complete within 300 ms"));

    // A client that gives up half-way through its hello.
    let mut tcp3 = TcpStream::connect(addr).unwrap();
    let local = tcp3.local_addr().unwrap();
    tcp3.write_all(&[22, 3, 1, 0, 200, 1]).unwrap();
    tcp3.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(next(), format!("handshake ECONNRESET {local}"));
    assert!(next().starts_with("close ECONNRESET"));
    drop((tcp, tcp2));
}

#[test]
fn a_corrupted_record_after_the_handshake_closes_with_err_tls_and_an_alert() {
    let (tx, rx) = mpsc::channel();
    let (addr, cert) = tls_server(Failures(tx), Duration::from_secs(10));
    let (config, name) = TlsClientOptions::new(cert, "localhost").config().unwrap();
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    conn.writer().write_all(b"ping").unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    let mut back = [0u8; 4];
    tls.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping");
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "open");
    // A genuine record with one bit flipped on the way.
    conn.writer().write_all(b"pong").unwrap();
    let mut record = Vec::new();
    conn.write_tls(&mut record).unwrap();
    let last = record.len() - 1;
    record[last] ^= 1;
    tcp.write_all(&record).unwrap();
    let close = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(close.starts_with("close ERR_TLS "), "{close}");
    assert!(close.contains("decrypt"), "{close}");
    // The server's alert: the client's rustls reads it as a fatal bad_record_mac.
    let mut alert = Vec::new();
    let _ = tcp.read_to_end(&mut alert);
    let _ = conn.read_tls(&mut alert.as_slice());
    let err = conn.process_new_packets().unwrap_err();
    assert!(err.to_string().contains("BadRecordMac"), "{err}");
}
