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
//! - [`http_ws`]: the layer of an HTTP/1.1 listener that upgrades chosen routes
//!   ([`crate::Http1WsLayer`]) fed a hostile client. Input layout: `answer`, `cuts`, then
//!   `cuts & 7` cut bytes (chunk sizes as for `tls`), then the stream. Whenever the layer
//!   sends an upgrade record up, the application answers at once: `answer % 3` is 0 to
//!   accept, 1 to refuse with 403, 2 to first write an HTTP response and then accept; a
//!   declined upgrade is refused with its status, as the TypeScript adapter does. Every
//!   deadline due is run after each chunk.
//!
//!   Invariants: no panic; what comes up always splits into whole records of the
//!   application's codec, each of a kind the layer sends, every HTTP record a well-formed
//!   descriptor; nothing comes up after an HTTP error, a declined upgrade or a refusal; no
//!   HTTP record after an upgrade record, no message before the answer; a refusal is the
//!   last thing that goes down and ends the connection; the bytes sent back stay within the
//!   input's size plus [`REPLY_BOUND`].
//!
//! Certificates are made once per process with rcgen (no key is committed). Not part of the
//! API (hidden, behind the `fuzzing` feature).

use crate::codec::{decode_all, parse_request, Http1Config};
use crate::http_ws_layer::Http1WsOptions;
use crate::layer::{LayerReport, LayerStatus, StreamLayer, StreamOut};
use crate::tls_layer::TlsLayer;
use crate::tls_options::{TlsClientOptions, TlsServerOptions};
use crate::ws_record::kind;
use crate::WsOptions;
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

/// Splits `data` into chunks whose sizes cycle through `1 + c * c` for each cut byte `c` (all
/// of it at once without cut bytes).
fn chunks<'a>(cuts: &[u8], data: &'a [u8]) -> Vec<&'a [u8]> {
    let sizes: Vec<usize> = cuts.iter().map(|&c| 1 + usize::from(c).pow(2)).collect();
    let mut sizes = sizes.iter().copied().cycle();
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let len = sizes.next().unwrap_or(data.len()).min(data.len() - at);
        out.push(&data[at..at + len]);
        at += len;
    }
    out
}

/// Where the connection stands, as the application sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Seen {
    Http,
    /// An upgrade record came and was accepted.
    Open,
    /// Nothing more may come up: an HTTP error, or a refusal went down.
    Over,
}

/// The `http_ws` harness; see the module docs.
pub fn http_ws(data: &[u8]) {
    let now = Instant::now();
    let [answer, cuts, rest @ ..] = data else {
        return;
    };
    let n = usize::from(cuts & 7).min(rest.len());
    let (cuts, stream) = rest.split_at(n);
    let options = Http1WsOptions {
        http: Http1Config {
            max_header_size: 2048,
            max_headers: 16,
            max_body_size: 4096,
        },
        routes: vec!["/chat".into(), "/r/*".into()],
        websocket: WsOptions {
            server: Default::default(),
            session: riptide_ws::SessionConfig {
                max_message_size: 4096,
                ..Default::default()
            },
            timeouts: Default::default(),
        },
    };
    let codec = options.codec_factory();
    let mut layer = options.server_factory().expect("options")();
    let mut seen = Seen::Http;
    let (mut up, mut down, mut report) = (Vec::new(), Vec::new(), LayerReport::default());
    let mut ended = false;
    for chunk in chunks(cuts, stream) {
        let mut out = StreamOut {
            up: &mut up,
            down: &mut down,
            report: &mut report,
        };
        let status = layer.read(now, chunk, &mut out);
        assert_eq!(status.expect("a server layer reads"), LayerStatus::Ready);
        // The records, then the deadlines due (held frames after an answer, the end), twice:
        // a deadline's records may need an answer too.
        for _ in 0..2 {
            let (records, errors, left) = decode_all(&mut *codec.new_codec(), out.up);
            assert!(errors.is_empty(), "records the codec refuses: {errors:?}");
            out.up.drain(..out.up.len() - left);
            for record in records {
                seen = answer_record(&mut *layer, now, seen, *answer, &record, out.down);
            }
            if layer.poll_timeout().is_some_and(|at| at <= now) {
                let status = layer.handle_timeout(now, &mut out);
                assert!(status.is_ok(), "a server layer's deadline does not fail");
            }
            ended |= std::mem::take(&mut out.report.close);
        }
        assert!(
            out.down.len() <= stream.len() + REPLY_BOUND,
            "{} bytes sent back for {}",
            out.down.len(),
            stream.len()
        );
    }
    if ended {
        let mut after = Vec::new();
        layer
            .write(now, &[0, 0, 0, 2, b'T', b'x'], &mut after)
            .expect("a write");
        assert!(after.is_empty(), "bytes after the end");
    }
}

/// Checks one record against where the connection stands and answers it as the application
/// would (`answer` as in the module docs); returns where the connection stands after it.
fn answer_record(
    layer: &mut dyn StreamLayer,
    now: Instant,
    seen: Seen,
    answer: u8,
    record: &[u8],
    down: &mut Vec<u8>,
) -> Seen {
    let k = *record.first().expect("a kind");
    match (k, seen) {
        (kind::HTTP, Seen::Http) => {
            assert!(parse_request(&record[1..]).is_some(), "a bad descriptor");
            Seen::Http
        }
        (kind::HTTP_ERROR, Seen::Http) => Seen::Over,
        (kind::DECLINED, Seen::Http) => {
            let refuse = [kind::REFUSE, record[1], record[2], 0, 0, 0, 0];
            layer.control(now, &refuse, down).expect("the refusal");
            Seen::Over
        }
        (kind::UPGRADE, Seen::Http) => {
            if answer % 3 == 2 {
                let response = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                let mut framed = (response.len() as u32).to_be_bytes().to_vec();
                framed.extend_from_slice(response);
                layer.write(now, &framed, down).expect("an HTTP write");
            }
            if answer % 3 == 1 {
                let refuse = [kind::REFUSE, 0x01, 0x93, 0, 0, 0, 0];
                layer.control(now, &refuse, down).expect("the refusal");
                Seen::Over
            } else {
                let accept = [kind::ACCEPT, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
                layer.control(now, &accept, down).expect("the accept");
                Seen::Open
            }
        }
        (kind::TEXT | kind::BINARY | kind::PING | kind::PONG, Seen::Open) => Seen::Open,
        (k, seen) => panic!("a record of kind {k} when {seen:?}"),
    }
}
