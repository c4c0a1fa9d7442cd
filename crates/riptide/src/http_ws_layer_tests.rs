//! The HTTP listener's upgrading layer on its own: requests in, records up; HTTP bytes and
//! the answer down; against the crate's WebSocket client session.

use super::*;
use crate::ws_layer::tests::{framed, peer_reads, read, timeout};
use crate::ws_record::put_count;
use proptest::prelude::*;
use riptide_ws::{
    ClientConfig, ClientHandshake, ConnEvent, Connection, Event, Role, ServerConfig, Session,
    SessionConfig, Timeouts,
};

fn options(routes: &[&str]) -> Http1WsOptions {
    Http1WsOptions {
        http: Http1Config::default(),
        routes: routes.iter().map(|r| r.to_string()).collect(),
        websocket: WsOptions {
            server: ServerConfig::default(),
            session: SessionConfig::default(),
            timeouts: Timeouts::default(),
        },
    }
}

fn layer(routes: &[&str]) -> Box<dyn StreamLayer> {
    options(routes).server_factory().expect("options")()
}

/// The records in `up`, checked whole by the codec the application reads them with.
fn up(up: &[u8]) -> Vec<Vec<u8>> {
    let codec = options(&["/"]).codec_factory();
    let (frames, errors, left) = crate::codec::decode_all(&mut *codec.new_codec(), up);
    assert!(errors.is_empty() && left == 0, "{errors:?} {left}");
    frames
}

/// A write of `bytes` from the application, framed by the codec as `conn.write` frames it.
fn write(layer: &mut dyn StreamLayer, now: Instant, bytes: &[u8]) -> Vec<u8> {
    let mut down = Vec::new();
    layer.write(now, &framed(bytes), &mut down).expect("write");
    down
}

fn accept() -> Vec<u8> {
    let mut record = vec![kind::ACCEPT];
    put_count(&mut record, u32::MAX as usize);
    put_count(&mut record, 0);
    record
}

fn refuse(status: u16) -> Vec<u8> {
    let mut record = vec![kind::REFUSE];
    record.extend_from_slice(&status.to_be_bytes());
    put_count(&mut record, 0);
    record
}

fn control(layer: &mut dyn StreamLayer, now: Instant, record: &[u8]) -> Result<Vec<u8>, Error> {
    let mut down = Vec::new();
    layer.control(now, record, &mut down).map(|()| down)
}

/// A client's upgrade request for `path`, and its connection waiting for the 101.
fn client(path: &str, now: Instant) -> (Vec<u8>, Connection) {
    let handshake = ClientHandshake::new(ClientConfig {
        host: "x".into(),
        path: path.into(),
        headers: Vec::new(),
        subprotocols: Vec::new(),
        deflate: None,
        max_head_size: 8192,
    })
    .expect("handshake");
    let mut conn = Connection::client(
        handshake,
        SessionConfig::default(),
        Timeouts::default(),
        now,
    );
    (conn.take_output(), conn)
}

/// Masked frames of `text`, as a client sends them.
fn client_text(text: &str) -> Vec<u8> {
    let mut session = Session::new(Role::Client, SessionConfig::default());
    session.send_text(text).expect("send");
    session.take_output()
}

const GET: &[u8] = b"GET /page?x=1 HTTP/1.1\r\nHost: x\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";

#[test]
fn plain_requests_come_up_as_descriptors_and_writes_pass_as_bytes() {
    let now = Instant::now();
    let mut l = layer(&["/chat"]);
    let post = b"POST /chat HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n";
    // A plain GET on a listed route is an ordinary request too.
    let plain_chat = b"GET /chat HTTP/1.1\r\nUpgrade: h2c\r\n\r\n";
    let got = read(&mut *l, now, &[GET, &post[..], &plain_chat[..]].concat());
    assert!(got.down.is_empty());
    let records = up(&got.up);
    assert_eq!(records.len(), 3);
    let requests: Vec<_> = records
        .iter()
        .map(|r| {
            assert_eq!(r[0], kind::HTTP);
            parse_request(&r[1..]).expect("a descriptor")
        })
        .collect();
    assert_eq!(requests[0].path, b"/page?x=1");
    assert_eq!(
        (requests[1].method, requests[1].body),
        (&b"POST"[..], &b"ab"[..])
    );
    assert_eq!(requests[2].header("upgrade"), Some(&b"h2c"[..]));
    // Each write is one record: its bytes go down as they are, whatever they hold.
    assert_eq!(write(&mut *l, now, RESPONSE), RESPONSE);
    assert_eq!(
        write(&mut *l, now, b"T\x00\x00\x00\x05hello"),
        b"T\x00\x00\x00\x05hello"
    );
    assert_eq!(l.poll_timeout(), None);
    // Nothing waits for an answer: a control message is refused.
    assert!(control(&mut *l, now, &accept()).is_err());
}

#[test]
fn a_request_before_the_upgrade_is_answered_first_and_frames_after_it_are_the_websockets() {
    let now = Instant::now();
    let mut l = layer(&["/chat"]);
    let (request, mut peer) = client("/chat?room=1", now);
    // One read: a request, the upgrade, and a message the client sent too early.
    let got = read(
        &mut *l,
        now,
        &[GET, &request, &client_text("early")].concat(),
    );
    let records = up(&got.up);
    assert_eq!(
        records.len(),
        2,
        "the request and the upgrade, nothing more yet"
    );
    assert_eq!(records[0][0], kind::HTTP);
    assert_eq!(records[1][0], kind::UPGRADE);
    assert!(String::from_utf8_lossy(&records[1]).contains("/chat?room=1"));
    assert!(got.down.is_empty());
    // The response to the request goes first, as HTTP bytes; then the answer.
    let mut wire = write(&mut *l, now, RESPONSE);
    wire.extend(control(&mut *l, now, &accept()).expect("accept"));
    let (response, rest) = wire.split_at(RESPONSE.len());
    assert_eq!(response, RESPONSE);
    assert!(matches!(
        &peer_reads(&mut peer, now, rest)[..],
        [ConnEvent::Open(_)]
    ));
    // The held message comes up at the next deadline, due now.
    assert_eq!(l.poll_timeout(), Some(now));
    let released = timeout(&mut *l, now);
    assert_eq!(up(&released.up), vec![b"Tearly".to_vec()]);
    // From now on writes are records of the WebSocket.
    let down = write(&mut *l, now, b"Bbin");
    assert_eq!(
        peer_reads(&mut peer, now, &down),
        vec![ConnEvent::Ws(Event::Message {
            data: b"bin".to_vec(),
            binary: true
        })]
    );
    peer.session().expect("open").send_text("hi").expect("send");
    assert_eq!(
        up(&read(&mut *l, now, &peer.take_output()).up),
        vec![b"Thi".to_vec()]
    );
    // A second answer has nothing to answer.
    assert!(control(&mut *l, now, &accept()).is_err());
}

#[test]
fn routes_are_exact_paths_or_prefixes_and_anything_else_is_declined_with_404() {
    let now = Instant::now();
    for (path, routed) in [
        ("/chat", true),
        ("/chat?x=/y", true),
        ("/chat/", false),
        ("/chatroom", false),
        ("/rooms/7", true),
        ("/rooms/", true),
        ("/rooms", false),
        ("/", false),
    ] {
        let mut l = layer(&["/chat", "/rooms/*"]);
        let (request, _) = client(path, now);
        let records = up(&read(&mut *l, now, &request).up);
        if routed {
            assert_eq!(records[0][0], kind::UPGRADE, "{path}");
        } else {
            assert_eq!(records, vec![vec![kind::DECLINED, 0x01, 0x94]], "{path}");
        }
    }
}

#[test]
fn a_declined_upgrade_is_refused_after_the_responses_and_nothing_after_it_is_read() {
    let now = Instant::now();
    let mut l = layer(&["/chat"]);
    let (request, _) = client("/other", now);
    let got = read(
        &mut *l,
        now,
        &[GET, &request, &client_text("x"), GET].concat(),
    );
    let records = up(&got.up);
    assert_eq!(records.len(), 2);
    assert_eq!(records[1], [kind::DECLINED, 0x01, 0x94]);
    assert!(
        got.down.is_empty(),
        "the refusal waits for the response before it"
    );
    assert!(
        read(&mut *l, now, GET).up.is_empty(),
        "bytes after it are dropped"
    );
    assert_eq!(write(&mut *l, now, RESPONSE), RESPONSE);
    let refusal = control(&mut *l, now, &refuse(404)).expect("refuse");
    assert!(refusal.starts_with(b"HTTP/1.1 404 "), "{refusal:?}");
    assert!(
        write(&mut *l, now, RESPONSE).is_empty(),
        "the refusal is the last thing out"
    );
    assert_eq!(l.poll_timeout(), Some(now));
    assert!(timeout(&mut *l, now).report.close);
    assert_eq!(
        l.outcome().map(|e| e.code()),
        Some("ERR_WS_UPGRADE_REFUSED")
    );
    assert!(read(&mut *l, now, GET).up.is_empty());
}

#[test]
fn bad_handshakes_on_a_listed_route_are_declined_with_their_status() {
    let now = Instant::now();
    let good = String::from_utf8(client("/chat", now).0).expect("ascii");
    let key = good
        .lines()
        .find(|l| l.starts_with("Sec-WebSocket-Key"))
        .expect("a key")
        .to_string();
    for (request, status) in [
        (good.replace(&key, "Sec-WebSocket-Key: c2hvcnQ="), 400u16),
        (good.replace(&format!("{key}\r\n"), ""), 400),
        (
            good.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
            426,
        ),
        (good.replacen("GET", "POST", 1), 405),
        (
            good.replacen("\r\n\r\n", "\r\nContent-Length: 2\r\n\r\nab", 1),
            400,
        ),
        (
            good.replacen(
                "\r\n\r\n",
                &format!("\r\nX: {}\r\n\r\n", "a".repeat(9000)),
                1,
            ),
            431,
        ),
    ] {
        let mut l = layer(&["/chat"]);
        let records = up(&read(&mut *l, now, request.as_bytes()).up);
        let [record] = &records[..] else {
            panic!("{records:?}")
        };
        assert_eq!(
            record[..],
            [&[kind::DECLINED][..], &status.to_be_bytes()].concat(),
            "{request}"
        );
        let refusal = control(&mut *l, now, &refuse(status)).expect("refuse");
        assert!(refusal.starts_with(format!("HTTP/1.1 {status} ").as_bytes()));
    }
}

#[test]
fn http_errors_come_up_once_and_the_http_limits_hold_until_the_upgrade() {
    let now = Instant::now();
    let mut l = layer(&["/chat"]);
    // A head over maxHeaderSize (16 KiB), sent in pieces: refused as it passes the limit.
    let head = [
        &b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nX: "[..],
        &[b'a'; 20_000],
    ]
    .concat();
    let mut records = Vec::new();
    for piece in head.chunks(1000) {
        records.extend(up(&read(&mut *l, now, piece).up));
    }
    let [record] = &records[..] else {
        panic!("{records:?}")
    };
    assert_eq!(record[0], kind::HTTP_ERROR);
    let mut r = Reader(&record[1..]);
    let n = r.u32_le().expect("code");
    assert_eq!(r.string(n).expect("code"), "ERR_HTTP_HEADER_TOO_LARGE");
    assert!(
        read(&mut *l, now, GET).up.is_empty(),
        "nothing is read after it"
    );
    // The application answers as an http1 handler does.
    assert_eq!(write(&mut *l, now, RESPONSE), RESPONSE);
    // `Expect: 100-continue` is answered by the layer, as by the codec.
    let mut l = layer(&["/chat"]);
    let got = read(
        &mut *l,
        now,
        b"PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
    );
    assert_eq!(got.down, b"HTTP/1.1 100 Continue\r\n\r\n");
}

#[test]
fn a_refused_upgrade_ends_the_connection_and_the_frames_after_it_never_come_up() {
    let now = Instant::now();
    let mut l = layer(&["/chat"]);
    let (request, _) = client("/chat", now);
    read(&mut *l, now, &[&request[..], &client_text("held")].concat());
    let refusal = control(&mut *l, now, &refuse(403)).expect("refuse");
    assert!(refusal.starts_with(b"HTTP/1.1 403 "));
    let end = timeout(&mut *l, now);
    assert!(end.up.is_empty() && end.report.close);
    assert!(read(&mut *l, now, &client_text("later")).up.is_empty());
    assert_eq!(
        l.outcome().map(|e| e.code()),
        Some("ERR_WS_UPGRADE_REFUSED")
    );
}

#[test]
fn publications_go_to_an_http_connection_as_bytes_and_to_a_websocket_as_frames() {
    let now = Instant::now();
    let options = options(&["/chat"]);
    let codec = options.codec_factory();
    let mut publication = Vec::new();
    codec
        .encode_shared(0, b"Tdata: x\n\n", &mut publication)
        .expect("encode");
    let mut l = layer(&["/chat"]);
    read(&mut *l, now, GET);
    assert_eq!(l.shared_variant(), None);
    assert_eq!(
        l.write_shared(now, &publication),
        SharedWrite::Pass(LENGTH + 1)
    );
    assert_eq!(&publication[LENGTH + 1..], b"data: x\n\n");
    // A WebSocket takes them as a `codecs.websocket()` connection does: the plain frame.
    let (request, _) = client("/chat", now);
    read(&mut *l, now, &request);
    control(&mut *l, now, &accept()).expect("accept");
    let variant = l.shared_variant().expect("a WebSocket's variant");
    let mut frames = Vec::new();
    codec
        .encode_shared(variant, b"Thi", &mut frames)
        .expect("encode");
    assert_eq!(l.write_shared(now, &frames), SharedWrite::Pass(LENGTH + 1));
}

#[test]
fn options_are_checked_and_the_largest_request_fits_a_record() {
    for routes in [
        &[][..],
        &["chat"],
        &["/a?b"],
        &["/a b"],
        &["/a*b"],
        &["*"],
        &["/a#"],
    ] {
        assert!(options(routes).server_factory().is_err(), "{routes:?}");
    }
    let mut bad = options(&["/"]);
    bad.http.max_headers = 0;
    assert!(bad.server_factory().is_err());
    // A head of the most, shortest fields there can be, and the largest body.
    let mut o = options(&["/"]);
    o.http = Http1Config {
        max_header_size: 4096,
        max_headers: 1000,
        max_body_size: 10,
    };
    let mut request = b"P / HTTP/1.1\r\n".to_vec();
    // 999 fields of 4 bytes, and `Content-Length`: 1000 fields in 4035 bytes.
    for _ in 0..999 {
        request.extend_from_slice(b"a:\r\n");
    }
    request.extend_from_slice(b"Content-Length:10\r\n\r\n0123456789");
    let mut l = o.server_factory().expect("options")();
    let got = read(&mut *l, Instant::now(), &request);
    let (records, errors, _) =
        crate::codec::decode_all(&mut *o.codec_factory().new_codec(), &got.up);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        records[0][0],
        kind::HTTP,
        "{:?}",
        &records[0][..20.min(records[0].len())]
    );
    assert_eq!(
        parse_request(&records[0][1..]).expect("a descriptor").body,
        b"0123456789"
    );
}

proptest! {
    /// However the peer's bytes are cut, the same records come up: requests, the upgrade,
    /// and (after the answer) the messages sent early.
    #[test]
    fn any_cut_of_the_wire_gives_the_same_records(cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
        let now = Instant::now();
        let (request, _) = client("/chat", now);
        let wire = [GET, GET, &request[..], &client_text("one"), &client_text("two")].concat();
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
        at.extend([0, wire.len()]);
        at.sort_unstable();
        let mut l = layer(&["/chat"]);
        let mut got = Vec::new();
        for w in at.windows(2) {
            got.extend(read(&mut *l, now, &wire[w[0]..w[1]]).up);
        }
        control(&mut *l, now, &accept()).expect("accept");
        got.extend(timeout(&mut *l, now).up);
        let kinds: Vec<u8> = up(&got).iter().map(|r| r[0]).collect();
        prop_assert_eq!(kinds, vec![kind::HTTP, kind::HTTP, kind::UPGRADE, kind::TEXT, kind::TEXT]);
    }
}
