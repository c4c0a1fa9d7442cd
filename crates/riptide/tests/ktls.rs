//! Kernel TLS (`ktls: true`) under the real engine, over loopback: a riptide server echoes to
//! a riptide client presenting a client certificate and to rustls clients limited to each
//! cipher suite (TLS 1.2 and 1.3), byte-exact, and every connection reports whether the kernel carries its records. Where
//! the kernel lists the `tls` upper-layer protocol (`/proc/sys/net/ipv4/tcp_available_ulp`)
//! they must say kernel; elsewhere user space (the fallback). Each close is clean on the server:
//! the peer's `close_notify` read through the kernel is end of stream, not an error. `RIPTIDE_EXPECT_KTLS=1` makes a
//! missing `tls` protocol a failure (the VM run of `scripts/ktls-vm.sh` sets it).

mod common;

use common::{serve, turn_until};
use riptide::{
    ConnId, Conns, DialOptions, EngineConfig, Error, EventHandler, ListenOptions, Reactor,
    ReactorConfig, TlsClientOptions, TlsServerOptions,
};
use rustls::crypto::ring::cipher_suite as suite;
use rustls::SupportedCipherSuite;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Whether this kernel offers the `tls` upper-layer protocol.
fn kernel_has_tls() -> bool {
    let listed = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_ulp")
        .unwrap_or_default()
        .split_whitespace()
        .any(|u| u == "tls");
    if std::env::var("RIPTIDE_EXPECT_KTLS").as_deref() == Ok("1") {
        assert!(
            listed,
            "RIPTIDE_EXPECT_KTLS=1 but the kernel lists no tls ULP"
        );
    }
    listed
}

/// Test data: `len` bytes no two neighbouring windows of which repeat soon.
fn data(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// What the server saw of one connection.
#[derive(Debug, PartialEq)]
enum Seen {
    /// Opened, with its `kernel` flag.
    Open(bool),
    /// Closed, with the error if any (a `close_notify` from the peer is a clean end).
    Close(Option<String>),
}

/// Echoes, and reports each connection's `kernel` flag when it opens and how it closed.
#[derive(Clone)]
struct Echo(mpsc::Sender<Seen>);

impl EventHandler for Echo {
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        let info = conns.tls_info(id).unwrap().cloned().unwrap();
        let _ = self.0.send(Seen::Open(info.kernel));
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        conns.write(id, data).unwrap();
    }
    fn on_close(&mut self, _: &mut Conns, _: ConnId, err: Option<&Error>) {
        let _ = self.0.send(Seen::Close(err.map(|e| e.to_string())));
    }
}

fn certificate() -> (String, String) {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    (key.cert.pem(), key.signing_key.serialize_pem())
}

/// A kTLS echo server presenting `cert`; with `client_ca`, clients must present a certificate
/// it issued.
fn ktls_server(
    cert: &str,
    key: &str,
    client_ca: Option<&str>,
) -> (SocketAddr, riptide::StopHandle, mpsc::Receiver<Seen>) {
    let mut options = TlsServerOptions::new(cert, key);
    options.ktls = true;
    options.client_ca_pem = client_ca.map(|ca| vec![ca.into()]);
    let config = EngineConfig {
        listen: ListenOptions {
            layers: vec![options.factory().unwrap()],
            ..ListenOptions::default()
        },
        ..EngineConfig::default()
    };
    let (tx, rx) = mpsc::channel();
    let (addr, stop, _) = serve("tcp://127.0.0.1:0", config, Echo(tx));
    (addr, stop, rx)
}

/// A rustls client in user space, limited to `suite`, sends `payload` in uneven writes and
/// reads it back, then closes with `close_notify`.
fn rustls_echo(addr: SocketAddr, cert: &str, suite: SupportedCipherSuite, payload: &[u8]) {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = vec![suite];
    let version = match suite {
        SupportedCipherSuite::Tls12(_) => &rustls::version::TLS12,
        SupportedCipherSuite::Tls13(_) => &rustls::version::TLS13,
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile_certs(cert) {
        roots.add(c).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = rustls::ClientConnection::new(
        Arc::new(config),
        rustls::pki_types::ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut back = vec![0u8; payload.len()];
    let mut sent = 0;
    let mut got = 0;
    let mut step = 1;
    while got < payload.len() {
        if sent < payload.len() {
            let end = (sent + step * 977).min(payload.len());
            tls.write_all(&payload[sent..end]).unwrap();
            sent = end;
            step = step % 40 + 1;
        }
        if sent == payload.len() || got + 64 * 1024 < sent {
            let n = tls.read(&mut back[got..]).unwrap();
            assert!(n > 0, "{suite:?}: the server closed after {got} bytes");
            got += n;
        }
    }
    assert!(back == payload, "{suite:?}: the echo differs");
    tls.conn.send_close_notify();
    tls.flush().unwrap();
}

/// The certificates of a PEM text.
fn rustls_pemfile_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(Result::unwrap)
        .collect()
}

#[test]
fn every_suite_echoes_through_a_ktls_server() {
    let expected = kernel_has_tls();
    let (cert, key) = certificate();
    let (addr, stop, opened) = ktls_server(&cert, &key, None);
    let payload = data(1 << 20);
    for suite in [
        suite::TLS13_AES_128_GCM_SHA256,
        suite::TLS13_AES_256_GCM_SHA384,
        suite::TLS13_CHACHA20_POLY1305_SHA256,
        suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ] {
        rustls_echo(addr, &cert, suite, &payload);
        let seen = opened.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(seen, Seen::Open(expected), "{suite:?}: kernel TLS taken");
        let closed = opened.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(
            closed,
            Seen::Close(None),
            "{suite:?}: close_notify is a clean end"
        );
        println!("ktls server {suite:?}: kernel={expected} echo ok, clean close");
    }
    stop.stop();
}

/// A riptide client: writes the payload once open, closes once it came back whole.
struct Client {
    payload: Vec<u8>,
    back: Vec<u8>,
    kernel: Option<bool>,
    closed: Option<Option<String>>,
}

impl EventHandler for Client {
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        self.kernel = conns.tls_info(id).unwrap().map(|i| i.kernel);
        for chunk in self.payload.chunks(70_001) {
            conns.write(id, chunk).unwrap();
        }
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        self.back.extend_from_slice(data);
        if self.back.len() >= self.payload.len() {
            conns.close(id).unwrap();
        }
    }
    fn on_close(&mut self, _: &mut Conns, _: ConnId, err: Option<&Error>) {
        self.closed = Some(err.map(|e| e.to_string()));
    }
}

/// Mutual TLS too: the server requires a client certificate, which the client presents (the
/// kernel takes over after the handshake, so client authentication changes nothing for it).
#[test]
fn a_ktls_client_and_a_ktls_server_echo() {
    let expected = kernel_has_tls();
    let (cert, key) = certificate();
    let (client_cert, client_key) = certificate();
    let (addr, stop, opened) = ktls_server(&cert, &key, Some(&client_cert));
    let mut options = TlsClientOptions::new(cert, "localhost");
    options.ktls = true;
    options.cert_pem = Some(client_cert.into());
    options.key_pem = Some(client_key.into());
    let mut reactor = Reactor::new(ReactorConfig::default()).unwrap();
    reactor
        .dial(
            &format!("tcp://{addr}"),
            DialOptions {
                layers: vec![options.factory().unwrap()],
                ..DialOptions::default()
            },
        )
        .unwrap();
    let mut client = Client {
        payload: data(3 << 20),
        back: Vec::new(),
        kernel: None,
        closed: None,
    };
    turn_until(&mut reactor, &mut client, 30, |c| c.closed.is_some());
    assert_eq!(client.closed, Some(None), "the client closed cleanly");
    assert!(client.back == client.payload, "the echo differs");
    assert_eq!(client.kernel, Some(expected), "client: kernel TLS taken");
    let server = opened.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(server, Seen::Open(expected), "server: kernel TLS taken");
    let closed = opened.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        closed,
        Seen::Close(None),
        "server: the client's close_notify is a clean end"
    );
    println!("ktls client and server: kernel={expected} echo ok, clean close");
    stop.stop();
}

/// A server layer's offer to the kernel when the client's last handshake flight arrives in one
/// read with `extra` bytes after it: `(offered, plaintext that came up)`.
fn offer_with(extra: impl Fn(&[u8]) -> Vec<u8>, ktls: bool) -> (bool, Vec<u8>) {
    use riptide::{LayerReport, StreamOut};
    let now = std::time::Instant::now();
    let (cert, key) = certificate();
    let mut server_options = TlsServerOptions::new(cert.clone(), key);
    server_options.ktls = ktls;
    let mut server = server_options.factory().unwrap()();
    let mut client = TlsClientOptions::new(cert, "localhost").factory().unwrap()();
    let (mut hello, mut nothing) = (Vec::new(), Vec::new());
    client.start(now, &mut hello).unwrap();
    server.start(now, &mut nothing).unwrap();
    let read = |layer: &mut Box<dyn riptide::StreamLayer>, data: &[u8]| {
        let (mut up, mut down, mut report) = (Vec::new(), Vec::new(), LayerReport::default());
        let out = &mut StreamOut {
            up: &mut up,
            down: &mut down,
            report: &mut report,
        };
        layer.read(now, data, out).unwrap();
        (up, down, report.kernel_tls)
    };
    let (_, flight, offered) = read(&mut server, &hello);
    assert!(!offered, "not before the handshake is done");
    let (_, finished, _) = read(&mut client, &flight);
    let mut record = Vec::new();
    client
        .write(now, b"after the handshake", &mut record)
        .unwrap();
    let mut wire = finished;
    wire.extend(extra(&record));
    let (up, _, offered) = read(&mut server, &wire);
    (offered, up)
}

#[test]
fn the_kernel_is_offered_the_connection_only_at_a_record_boundary() {
    let linux = cfg!(target_os = "linux");
    assert_eq!(offer_with(|_| Vec::new(), true), (linux, Vec::new()));
    // A whole record after the Finished: decrypted by rustls, then the offer.
    let (offered, up) = offer_with(|r| r.to_vec(), true);
    assert_eq!((offered, &up[..]), (linux, &b"after the handshake"[..]));
    // Part of a record, or of a header, would be lost to the kernel: no offer, user space.
    assert_eq!(
        offer_with(|r| r[..r.len() / 2].to_vec(), true),
        (false, Vec::new())
    );
    assert_eq!(offer_with(|r| r[..3].to_vec(), true), (false, Vec::new()));
    // Without the option, never.
    assert_eq!(offer_with(|_| Vec::new(), false), (false, Vec::new()));
}
