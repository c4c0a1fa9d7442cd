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
