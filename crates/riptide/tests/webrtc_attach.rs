//! `webrtc://` listeners without a signalling port (`signalling: false`), their signalling
//! served by an `http1` listener of another engine through `Remote::webrtc_signal`: the same
//! responses, bounds and `authorize` hold as on the own port, on a keep-alive connection that
//! serves ordinary requests around them; geckos's routes the same way; errors for what is
//! not a `webrtc://` listener or not a request; and the pion v4 client echoing through it.

mod common;

use riptide::codec::{parse_request, CodecSpec, Http1Config};
use riptide::{ConnId, Conns, Engine, Error, EventHandler, Remote, StopHandle, WebRtcOptions};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Responses not yet written, per HTTP connection, in request order, each with its request's
/// serial: `None` while the WebRTC listener has not answered.
type Queue = Arc<Mutex<HashMap<ConnId, VecDeque<(u64, Option<Vec<u8>>)>>>>;

/// Writes the responses at the front of `id`'s queue that are ready.
fn flush(queue: &Queue, conns: &mut Conns, id: ConnId) {
    let mut queues = queue.lock().unwrap();
    let Some(q) = queues.get_mut(&id) else { return };
    while let Some((_, Some(_))) = q.front() {
        if let Some((_, Some(response))) = q.pop_front() {
            let _ = conns.write(id, &response);
        }
    }
    if q.is_empty() {
        queues.remove(&id);
    }
}

/// The HTTP front: hands the WebRTC listener's routes to it and writes what comes back;
/// answers anything else `hello`. Responses keep the order of pipelined requests (frames a
/// read decoded reach `on_traffic` even while paused, so the order is kept here).
#[derive(Clone)]
struct Front {
    rtc: Remote,
    url: String,
    me: Remote,
    queue: Queue,
    /// The serial of the last request handed over.
    serial: u64,
}

impl EventHandler for Front {
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, frame: &[u8]) {
        let Some(req) = parse_request(frame) else {
            return;
        };
        let path = req.path.split(|b| *b == b'?').next().unwrap_or_default();
        let mut queues = self.queue.lock().unwrap();
        if path != b"/.rtc/offer" && !path.starts_with(b"/.wrtc/v2/") {
            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello".to_vec();
            match queues.get_mut(&id) {
                Some(q) => q.push_back((0, Some(ok))),
                None => drop(conns.write(id, &ok)),
            }
            return;
        }
        self.serial += 1;
        let serial = self.serial;
        queues.entry(id).or_default().push_back((serial, None));
        drop(queues);
        let remote = common::inet(&conns.peer_addr(id).unwrap());
        let (me, queue) = (self.me.clone(), self.queue.clone());
        let done = Box::new(move |r: Result<Vec<u8>, Error>| {
            let _ = me.execute(move |conns| match r {
                Ok(response) => {
                    let mut queues = queue.lock().unwrap();
                    let slot = queues
                        .get_mut(&id)
                        .and_then(|q| q.iter_mut().find(|(s, _)| *s == serial));
                    if let Some((_, slot)) = slot {
                        *slot = Some(response);
                    }
                    drop(queues);
                    flush(&queue, conns, id);
                }
                Err(_) => {
                    queue.lock().unwrap().remove(&id);
                    let _ = conns.close(id);
                }
            });
        });
        self.rtc.webrtc_signal(&self.url, frame, remote, done);
    }

    fn on_close(&mut self, _: &mut Conns, id: ConnId, _: Option<&Error>) {
        self.queue.lock().unwrap().remove(&id);
    }
}

/// Decides held offers by their `authorization` header: `deny` refuses; geckos listeners
/// get `userData` `{"ok":true}`. Counts opens.
#[derive(Clone, Default)]
struct Peers {
    opened: Arc<AtomicUsize>,
}

impl EventHandler for Peers {
    fn on_open(&mut self, _: &mut Conns, _: ConnId) {
        self.opened.fetch_add(1, Ordering::SeqCst);
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        conns.write(id, data).unwrap();
    }
    fn on_unreliable(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        let _ = conns.send_unreliable(id, data);
    }
    fn on_webrtc_offer(&mut self, conns: &mut Conns, offer: &riptide::WebRtcOffer) {
        let allow = !offer
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "deny");
        let user_data = Some(serde_json::json!({ "ok": true }));
        conns.webrtc_decide_geckos(offer.request, allow, user_data);
    }
}

/// A WebRTC engine with `options` (signalling off) and an HTTP front attached to it.
struct Pair {
    rtc: SocketAddr,
    http: SocketAddr,
    rtc_remote: Remote,
    stops: Vec<(StopHandle, JoinHandle<()>)>,
}

impl Pair {
    fn new(options: WebRtcOptions, peers: Peers) -> Pair {
        let options = WebRtcOptions {
            signalling: false,
            ..options
        };
        let (rtc, rtc_remote, rtc_stop, rtc_join) = common::serve_webrtc(options, peers);
        let spec = CodecSpec::Http1(Http1Config::default());
        let config = common::framed(Arc::new(spec));
        let engine = Engine::bind_with(["tcp://127.0.0.1:0"], config).unwrap();
        let front = Front {
            rtc: rtc_remote.clone(),
            url: format!("webrtc://{rtc}"),
            me: engine.remotes()[0].clone(),
            queue: Queue::default(),
            serial: 0,
        };
        let (http, http_stop, http_join) = common::spawn(engine, front);
        Pair {
            rtc,
            http: common::inet(&http),
            rtc_remote,
            stops: vec![(http_stop, wait(http_join)), (rtc_stop, wait(rtc_join))],
        }
    }

    fn stop(self) {
        for (stop, join) in self.stops {
            stop.stop();
            join.join().unwrap();
        }
    }
}

/// A thread that joins `runner` (so engines of different handlers stop alike).
fn wait<H: Send + 'static>(runner: JoinHandle<H>) -> JoinHandle<()> {
    std::thread::spawn(move || drop(runner.join().unwrap()))
}

/// One response read off a keep-alive connection: head and body (by content-length).
/// One keep-alive HTTP/1.1 connection to the front: requests written, responses read in order.
struct KeepAlive {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl KeepAlive {
    fn connect(addr: SocketAddr) -> Self {
        let conn = TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        KeepAlive {
            writer: conn.try_clone().unwrap(),
            reader: BufReader::new(conn),
        }
    }

    /// Writes `request` and reads the next response (head, body).
    fn exchange(&mut self, request: &[u8]) -> (String, String) {
        self.writer.write_all(request).unwrap();
        response(&mut self.reader)
    }
}

fn response(reader: &mut BufReader<TcpStream>) -> (String, String) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "closed: {head}");
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}

fn post(path: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\n{headers}content-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// `webrtc_signal` called directly: the error it completes with.
fn signal_error(remote: &Remote, url: &str, frame: &[u8]) -> Error {
    let (tx, rx) = mpsc::channel();
    let from = "127.0.0.1:1".parse().unwrap();
    remote.webrtc_signal(url, frame, from, Box::new(move |r| drop(tx.send(r))));
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap_err()
}

#[test]
fn signalling_through_an_http_listener_keeps_the_connection() {
    let pair = Pair::new(
        WebRtcOptions {
            authorize: true,
            ..WebRtcOptions::default()
        },
        Peers::default(),
    );
    // No signalling port of its own.
    assert!(TcpStream::connect(pair.rtc).is_err());

    let mut front = KeepAlive::connect(pair.http);
    assert_eq!(front.exchange(b"GET / HTTP/1.1\r\n\r\n").1, "hello");

    let (head, body) = front.exchange(&post(
        "/.rtc/offer",
        "",
        b"{\"type\":\"offer\",\"sdp\":\"v=0\"}",
    ));
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    assert!(head.contains("connection: keep-alive\r\n"), "{head}");
    assert!(
        head.contains("access-control-allow-origin: *\r\n"),
        "{head}"
    );
    assert!(body.contains("\"code\":\"bad_offer\""), "{body}");

    let (head, body) = front.exchange(&post("/.rtc/offer", "authorization: deny\r\n", b"{}"));
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
    assert!(body.contains("\"code\":\"forbidden\""), "{body}");

    let big = vec![b' '; 17 * 1024];
    let (head, body) = front.exchange(&post("/.rtc/offer", "", &big));
    assert!(head.starts_with("HTTP/1.1 413 "), "{head}");
    assert!(body.contains("\"code\":\"too_large\""), "{body}");

    let long = format!("x-pad: {}\r\n", "a".repeat(9000));
    let (head, body) = front.exchange(&post("/.rtc/offer", &long, b"{}"));
    assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
    assert!(body.contains("head_too_large"), "{body}");

    let (head, _) = front.exchange(b"OPTIONS /.rtc/offer HTTP/1.1\r\norigin: http://a\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 204 "), "{head}");
    assert!(
        head.contains("access-control-allow-methods: POST"),
        "{head}"
    );
    assert!(head.contains("connection: keep-alive\r\n"), "{head}");

    let (head, body) = front.exchange(b"GET /.rtc/offer HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 405 "), "{head}");
    assert!(body.contains("\"code\":\"method\""), "{body}");

    let offer = common::silent_offer();
    let (head, body) = front.exchange(&post("/.rtc/offer", "", offer.as_bytes()));
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(body.contains("\"type\":\"answer\""), "{body}");

    // Pipelined: the offer's response comes before the GET's.
    let mut both = post("/.rtc/offer", "", b"x");
    both.extend_from_slice(b"GET /after HTTP/1.1\r\n\r\n");
    let (head, _) = front.exchange(&both);
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    assert_eq!(response(&mut front.reader).1, "hello");

    // A request that closes the connection gets `connection: close`.
    let (head, _) = front.exchange(b"OPTIONS /.rtc/offer HTTP/1.1\r\nconnection: close\r\n\r\n");
    assert!(head.contains("connection: close\r\n"), "{head}");

    // Not a webrtc:// listener, not a request.
    let e = signal_error(&pair.rtc_remote, &format!("tcp://{}", pair.rtc), b"");
    assert_eq!(e.code(), "ERR_INVALID_ADDRESS", "{e}");
    let e = signal_error(&pair.rtc_remote, "webrtc://127.0.0.1:1", b"");
    assert_eq!(e.code(), "ERR_INVALID_ADDRESS", "{e}");
    let e = signal_error(
        &pair.rtc_remote,
        &format!("webrtc://{}", pair.rtc),
        b"\x01\x02",
    );
    assert_eq!(e.code(), "ERR_INVALID_ARG_VALUE", "{e}");
    pair.stop();
}

#[test]
fn signalling_false_refuses_static() {
    let options = WebRtcOptions {
        signalling: false,
        static_dir: Some(std::env::temp_dir()),
        ..WebRtcOptions::default()
    };
    let e = options
        .endpoint_config("127.0.0.1:9".parse().unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("static"), "{e}");
}

#[test]
fn geckos_routes_through_an_http_listener() {
    let peers = Peers::default();
    let pair = Pair::new(
        WebRtcOptions {
            geckos: true,
            authorize: true,
            ..WebRtcOptions::default()
        },
        peers,
    );
    let mut front = KeepAlive::connect(pair.http);
    let (head, _) =
        front.exchange(b"OPTIONS /.wrtc/v2/connections HTTP/1.1\r\norigin: http://a\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("access-control-allow-headers: authorization, content-type\r\n"));
    let (head, _) =
        front.exchange(b"POST /.wrtc/v2/connections HTTP/1.1\r\nauthorization: deny\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 401 "), "{head}");
    assert!(head.contains("connection: keep-alive\r\n"), "{head}");
    let (head, body) = front.exchange(b"POST /.wrtc/v2/connections HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["userData"], serde_json::json!({ "ok": true }));
    assert_eq!(json["localDescription"]["type"], "offer");
    let sdp = json["localDescription"]["sdp"].as_str().unwrap();
    assert!(
        sdp.contains(&format!(" {} typ host", pair.rtc.port())),
        "{sdp}"
    );
    let id = json["id"].as_str().unwrap().to_owned();
    let path = format!("/.wrtc/v2/connections/{id}/additional-candidates");
    let (head, body) = front.exchange(format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes());
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(body, "[]");
    let bad = post(
        &format!("/.wrtc/v2/connections/{id}/remote-description"),
        "",
        b"not",
    );
    assert!(front.exchange(&bad).0.starts_with("HTTP/1.1 400 "));
    assert_eq!(front.exchange(b"GET / HTTP/1.1\r\n\r\n").1, "hello");
    pair.stop();
}

#[test]
fn pion_echoes_with_signalling_through_an_http_listener() {
    let Some(peer) = common::go_peer() else {
        return;
    };
    let peers = Peers::default();
    let pair = Pair::new(WebRtcOptions::default(), peers.clone());
    let url = format!("http://{}/.rtc/offer", pair.http);
    let stdout = riptide_testkit::run_go_peer(&peer, &["-url", &url, "-n", "2000"]);
    let result: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON line");
    assert_eq!(result["reliable_received"], 2000, "{result}");
    assert_eq!(result["reliable_in_order_and_exact"], true, "{result}");
    assert_eq!(peers.opened.load(Ordering::SeqCst), 1);
    pair.stop();
}
