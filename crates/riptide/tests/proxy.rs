//! PROXY protocol listeners: `on_open` reports the original client from the header, data
//! after the header flows on, and a bad or missing header closes the connection.

mod common;

use common::serve;
use riptide::codec::ProxyMode;
use riptide::{ConnId, Conns, EngineConfig, Error, EventHandler, ListenOptions, StopHandle};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

#[derive(Clone)]
struct Who(mpsc::Sender<String>);

impl EventHandler for Who {
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        let peer = conns.peer_addr(id).unwrap();
        let tlvs = conns.proxy_header(id).unwrap().map_or(0, |h| h.tlvs.len());
        self.0.send(format!("open {peer} tlvs {tlvs}")).unwrap();
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        conns.write(id, data).unwrap();
    }
    fn on_close(&mut self, _: &mut Conns, _: ConnId, err: Option<&Error>) {
        self.0
            .send(format!("close {}", err.map_or("none", Error::code)))
            .unwrap();
    }
}

/// Serves [`Who`] on loopback TCP with PROXY headers in `mode` (200 ms to arrive); returns
/// the address, the stop handle and the handler's event lines.
fn start(mode: ProxyMode) -> (SocketAddr, StopHandle, mpsc::Receiver<String>) {
    let config = EngineConfig {
        listen: ListenOptions {
            proxy_protocol: Some(mode),
            proxy_timeout: Duration::from_millis(200),
            ..ListenOptions::default()
        },
        ..EngineConfig::default()
    };
    let (tx, rx) = mpsc::channel();
    let (addr, stop, _) = serve("tcp://127.0.0.1:0", config, Who(tx));
    (addr, stop, rx)
}

#[test]
fn v1_and_v2_headers_set_the_peer_and_traffic_follows() {
    let (addr, stop, rx) = start(ProxyMode::Any);
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\nhello")
        .unwrap();
    assert_eq!(rx.recv().unwrap(), "open 203.0.113.7:51000 tlvs 0");
    let mut back = [0u8; 5];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");

    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11".to_vec();
    let body = [
        198, 51, 100, 9, 10, 0, 0, 1, 0x30, 0x39, 0x01, 0xbb, 0x01, 0x00, 0x02, b'h', b'2',
    ];
    v2.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v2.extend_from_slice(&body);
    let mut c2 = TcpStream::connect(addr).unwrap();
    for chunk in v2.chunks(5) {
        c2.write_all(chunk).unwrap();
        thread::sleep(Duration::from_millis(5));
    }
    c2.write_all(b"after").unwrap();
    assert_eq!(rx.recv().unwrap(), "open 198.51.100.9:12345 tlvs 1");
    let mut back = [0u8; 5];
    c2.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"after");
    stop.stop();
}

#[test]
fn bad_or_missing_headers_close_without_open() {
    let (addr, stop, rx) = start(ProxyMode::V2);
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(rx.recv().unwrap(), "close ERR_PROXY_PROTOCOL");
    let _silent = TcpStream::connect(addr).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(3)).unwrap(),
        "close ETIMEDOUT"
    );
    stop.stop();
}
