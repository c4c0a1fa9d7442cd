//! Fuzz harnesses, shared by the `cargo fuzz` target in `fuzz/` and by the regression test
//! that replays `tests/regressions/<target>/*` through the same function. Each takes the
//! fuzzer's raw bytes and panics when an invariant breaks.
//!
//! - [`tls`]: the TLS stream layer ([`TlsLayer`]) fed hostile bytes. Input layout:
//!   `mode`, `cuts`, then `cuts & 7` cut bytes, then the stream. The stream is handed to the
//!   layer in chunks whose sizes cycle through `1 + c * c` for each cut byte `c` (1 to 65026
//!   bytes; all at once when there are no cut bytes). `mode % 3` picks the side:
//!   0. a fresh server layer (the stream plays a client: hellos, records of any length);
//!   1. a client layer that sent its real ClientHello (SNI `localhost`, ALPN) to a server;
//!      the stream plays the server's answer;
//!   2. a server layer after a real, completed handshake with a client layer; the stream
//!      plays the client's records.
//!
//!   Invariants: no panic; bytes the fuzzer made never complete a handshake nor decrypt to
//!   plaintext; an error is `ERR_TLS_HANDSHAKE` during the handshake and `ERR_TLS` after it,
//!   and the layer is not used after one (as the connection table does not); what a layer
//!   sends back stays under [`REPLY_BOUND`]; the layer holds nothing for the peer
//!   ([`StreamLayer::buffered`] is 0); a handshake deadline passing fails it.
//!
//! Certificates are made once per process with rcgen (no key is committed). Not part of the
//! API (hidden, behind the `fuzzing` feature).

use crate::layer::{LayerReport, LayerStatus, StreamLayer, StreamOut};
use crate::tls_layer::TlsLayer;
use crate::tls_options::{TlsClientOptions, TlsServerOptions};
use rustls::pki_types::ServerName;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The most a layer may send back to one peer's bytes in a run: one server flight (hello,
/// certificate, key exchange) or one client flight, plus alerts and tickets, is a few KiB;
/// anything near this is amplification.
pub const REPLY_BOUND: usize = 32 * 1024;

/// A server and a client configuration that trust each other, made once per process.
struct Fixture {
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("rcgen");
        let (cert, key) = (key.cert.pem(), key.signing_key.serialize_pem());
        let alpn = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let mut server = TlsServerOptions::new(cert.clone(), key);
        server.alpn = alpn.clone();
        let mut client = TlsClientOptions::new(cert, "localhost");
        client.alpn = alpn;
        Fixture {
            server: server.config().expect("server config"),
            client: client.config().expect("client config").0,
        }
    })
}

fn server() -> TlsLayer {
    TlsLayer::server(fixture().server.clone(), Duration::from_secs(10))
}

fn client() -> TlsLayer {
    let name = ServerName::try_from("localhost").expect("name");
    TlsLayer::client(fixture().client.clone(), name, Duration::from_secs(10))
}

/// Runs a real handshake between a client and a server layer through buffers; returns the
/// server, established.
fn established(now: Instant) -> TlsLayer {
    let (mut c, mut s) = (client(), server());
    let mut to_server = Vec::new();
    c.start(now, &mut to_server).expect("client start");
    s.start(now, &mut Vec::new()).expect("server start");
    let mut report = LayerReport::default();
    let (mut plain, mut c_status, mut s_status) =
        (Vec::new(), LayerStatus::Pending, LayerStatus::Pending);
    while c_status == LayerStatus::Pending || s_status == LayerStatus::Pending {
        let mut to_client = Vec::new();
        s_status = s
            .read(
                now,
                &std::mem::take(&mut to_server),
                &mut StreamOut {
                    up: &mut plain,
                    down: &mut to_client,
                    report: &mut report,
                },
            )
            .expect("server handshake");
        c_status = c
            .read(
                now,
                &to_client,
                &mut StreamOut {
                    up: &mut plain,
                    down: &mut to_server,
                    report: &mut report,
                },
            )
            .expect("client handshake");
    }
    assert!(to_server.is_empty() && plain.is_empty());
    s
}

/// The `tls` harness; see the module docs.
pub fn tls(data: &[u8]) {
    let now = Instant::now();
    let [mode, cuts, rest @ ..] = data else {
        return;
    };
    let n = usize::from(cuts & 7).min(rest.len());
    let (sizes, stream) = rest.split_at(n);
    let sizes: Vec<usize> = sizes.iter().map(|&c| 1 + usize::from(c).pow(2)).collect();
    let (mut layer, handshaking) = match mode % 3 {
        0 => {
            let mut s = server();
            let mut first = Vec::new();
            assert_eq!(s.start(now, &mut first).unwrap(), LayerStatus::Pending);
            assert!(first.is_empty(), "a server speaks second");
            (s, true)
        }
        1 => {
            let mut c = client();
            let mut hello = Vec::new();
            assert_eq!(c.start(now, &mut hello).unwrap(), LayerStatus::Pending);
            assert!(!hello.is_empty(), "a client speaks first");
            (c, true)
        }
        _ => (established(now), false),
    };
    let mut report = LayerReport::default();
    let (mut plain, mut reply) = (Vec::new(), Vec::new());
    let mut at = 0;
    let mut sizes = sizes.iter().copied().cycle();
    while at < stream.len() {
        let len = sizes.next().unwrap_or(stream.len()).min(stream.len() - at);
        let chunk = &stream[at..at + len];
        at += len;
        let result = layer.read(
            now,
            chunk,
            &mut StreamOut {
                up: &mut plain,
                down: &mut reply,
                report: &mut report,
            },
        );
        assert!(plain.is_empty(), "fuzz bytes decrypted to plaintext");
        assert!(
            reply.len() <= REPLY_BOUND,
            "{} bytes of replies",
            reply.len()
        );
        assert_eq!(layer.buffered(), 0);
        match result {
            Ok(status) => {
                assert_eq!(
                    status,
                    if handshaking {
                        LayerStatus::Pending
                    } else {
                        LayerStatus::Ready
                    },
                    "fuzz bytes changed the handshake's outcome"
                );
            }
            Err(e) => {
                let expected = if handshaking {
                    "ERR_TLS_HANDSHAKE"
                } else {
                    "ERR_TLS"
                };
                assert_eq!(e.code(), expected, "{e}");
                return;
            }
        }
    }
    if handshaking {
        let due = layer.poll_timeout().expect("a handshake deadline");
        let result = layer.handle_timeout(
            due,
            &mut StreamOut {
                up: &mut plain,
                down: &mut reply,
                report: &mut report,
            },
        );
        assert_eq!(result.map_err(|e| e.code()), Err("ERR_TLS_HANDSHAKE"));
    }
}
