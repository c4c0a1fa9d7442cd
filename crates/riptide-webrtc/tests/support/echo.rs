//! A std-socket driver for the endpoint: one UDP socket, one thread, a minimal HTTP/1.1
//! signalling listener on another, and an echo on both channels (reliable echoes queued and
//! flushed on `Writable`, unreliable ones dropped when congested). Shared by the pion interop
//! test and `examples/webrtc_echo.rs`; riptide's reactor does the same with its timing wheel.
//!
//! In geckos mode ([`start_geckos`]) it also serves geckos.io's v2 routes (`/.wrtc/v2/…`, with
//! CORS for any origin) and echoes geckos messages: an `emit` back as the same event with the
//! same data (reliably if it came reliably), a raw message back raw. The client's
//! `Authorization` header comes back in `userData.authorization`; the header `deny` is refused
//! with 401.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use riptide_webrtc::geckos::{http as geckos_http, Decoded, Geckos, GeckosConfig, Repeat};
use riptide_webrtc::{signal, ChannelKind, Endpoint, EndpointConfig, Event, PeerId, SendOutcome};

/// The signalling path.
pub const OFFER_PATH: &str = "/.rtc/offer";

/// Counters the echo keeps.
#[derive(Default)]
pub struct Stats {
    /// Peers whose channels opened.
    pub opened: AtomicU64,
    /// Peers closed.
    pub closed: AtomicU64,
    /// Unreliable echoes dropped because the channel was congested.
    pub unreliable_dropped: AtomicU64,
    /// Signalling requests refused.
    pub offers_refused: AtomicU64,
}

/// A running echo server; stops when dropped.
pub struct EchoServer {
    /// Where clients POST their offer.
    pub http: SocketAddr,
    /// The UDP socket's address.
    pub udp: SocketAddr,
    /// The endpoint (for inspecting peer counts).
    pub endpoint: Arc<Mutex<Endpoint>>,
    /// geckos mode's state (locked after `endpoint`, never alone before it).
    pub geckos: Option<Arc<Mutex<Geckos>>>,
    /// Counters.
    pub stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.http);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Starts the server on `ip` (UDP and TCP, ephemeral ports unless given).
pub fn start(ip: &str, udp_port: u16, http_port: u16) -> EchoServer {
    start_mode(ip, udp_port, http_port, false)
}

/// [`start`] in geckos mode: geckos.io's routes too, and geckos messages echoed.
#[allow(dead_code)] // The pion test does not use it.
pub fn start_geckos(ip: &str, udp_port: u16, http_port: u16) -> EchoServer {
    start_mode(ip, udp_port, http_port, true)
}

fn start_mode(ip: &str, udp_port: u16, http_port: u16, geckos: bool) -> EchoServer {
    let socket = UdpSocket::bind((ip, udp_port)).expect("bind UDP");
    let udp = socket.local_addr().unwrap();
    let listener = TcpListener::bind((ip, http_port)).expect("bind TCP");
    let http = listener.local_addr().unwrap();
    let endpoint = Arc::new(Mutex::new(
        Endpoint::new(EndpointConfig::new(udp)).expect("endpoint"),
    ));
    let geckos = geckos.then(|| {
        Arc::new(Mutex::new(
            Geckos::new(GeckosConfig::default()).expect("geckos"),
        ))
    });
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let udp_thread = {
        let (endpoint, geckos) = (endpoint.clone(), geckos.clone());
        let (stats, stop) = (stats.clone(), stop.clone());
        thread::spawn(move || udp_loop(socket, endpoint, geckos, stats, stop))
    };
    let http_thread = {
        let (endpoint, geckos) = (endpoint.clone(), geckos.clone());
        let (stats, stop) = (stats.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(conn) = conn {
                    serve_signalling(conn, &endpoint, geckos.as_deref(), &stats);
                }
            }
        })
    };
    EchoServer {
        http,
        udp,
        endpoint,
        geckos,
        stats,
        stop,
        threads: vec![udp_thread, http_thread],
    }
}

struct Loop {
    socket: UdpSocket,
    timers: HashMap<PeerId, Instant>,
    pending: HashMap<PeerId, VecDeque<Vec<u8>>>,
    stats: Arc<Stats>,
}

fn udp_loop(
    socket: UdpSocket,
    endpoint: Arc<Mutex<Endpoint>>,
    geckos: Option<Arc<Mutex<Geckos>>>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 65536];
    let mut lp = Loop {
        socket,
        timers: HashMap::new(),
        pending: HashMap::new(),
        stats,
    };
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        let geckos_deadline = geckos.as_ref().and_then(|g| g.lock().unwrap().deadline());
        let wait = lp
            .timers
            .values()
            .copied()
            .chain(geckos_deadline)
            .min()
            .map_or(Duration::from_millis(10), |at| {
                at.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(10));
        lp.socket.set_read_timeout(Some(wait)).unwrap();
        let received = lp.socket.recv_from(&mut buf);
        let mut ep = endpoint.lock().unwrap();
        match received {
            Ok((n, source)) => {
                ep.handle_datagram(Instant::now(), source, &buf[..n]);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("recv_from: {e}"),
        }
        let now = Instant::now();
        let due: Vec<PeerId> = lp
            .timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            lp.timers.remove(&peer);
            ep.handle_timeout(peer, now);
        }
        let mut geckos = geckos.as_ref().map(|g| g.lock().unwrap());
        if let Some(g) = geckos.as_deref_mut() {
            g.handle_timeout(&mut ep, now);
        }
        lp.process(&mut ep, geckos.as_deref_mut());
    }
}

impl Loop {
    /// Sends what the endpoint queued, tracks deadlines, echoes messages.
    fn process(&mut self, ep: &mut Endpoint, mut geckos: Option<&mut Geckos>) {
        loop {
            let mut moved = false;
            while let Some(t) = ep.poll_transmit() {
                moved = true;
                let _ = self.socket.send_to(&t.contents, t.destination);
            }
            while let Some(update) = ep.poll_timer() {
                match update.deadline {
                    Some(at) => self.timers.insert(update.peer, at),
                    None => self.timers.remove(&update.peer),
                };
            }
            while let Some(event) = ep.poll_event() {
                moved = true;
                match event {
                    Event::Open { .. } => {
                        self.stats.opened.fetch_add(1, Ordering::Relaxed);
                    }
                    Event::Message {
                        peer, binary, data, ..
                    } if geckos.as_ref().is_some_and(|g| g.is_geckos(peer)) => {
                        if let Some(g) = geckos.as_deref_mut() {
                            self.echo_geckos(ep, g, peer, binary, &data);
                        }
                    }
                    Event::Message {
                        peer,
                        channel: ChannelKind::Reliable,
                        data,
                        ..
                    } => {
                        self.pending.entry(peer).or_default().push_back(data);
                        self.flush(ep, peer);
                    }
                    Event::Message {
                        peer,
                        channel: ChannelKind::Unreliable,
                        data,
                        ..
                    } => {
                        let sent = ep.send(Instant::now(), peer, ChannelKind::Unreliable, &data);
                        if sent != Ok(SendOutcome::Sent) {
                            self.stats
                                .unreliable_dropped
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Event::Writable { peer } => self.flush(ep, peer),
                    Event::Closed { peer, .. } => {
                        if let Some(g) = geckos.as_deref_mut() {
                            g.closed(peer);
                        }
                        self.pending.remove(&peer);
                        self.stats.closed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// A geckos message back: an emit as the same event and data (reliably if it came
    /// reliably; repeats of a reliable one are not echoed), raw as raw.
    fn echo_geckos(
        &mut self,
        ep: &mut Endpoint,
        g: &mut Geckos,
        peer: PeerId,
        binary: bool,
        data: &[u8],
    ) {
        let now = Instant::now();
        let sent = match g.receive(now, peer, binary, data) {
            Some(Decoded::Emit {
                event,
                data,
                reliable_id,
            }) => {
                let repeat = reliable_id.map(|_| Repeat::default());
                g.emit(ep, now, peer, &event, &data, repeat)
            }
            Some(Decoded::Raw { binary, data }) => g.raw(ep, now, peer, binary, &data),
            Some(Decoded::Unrecognized) | None => return,
        };
        if !matches!(sent, Ok(SendOutcome::Sent)) {
            self.stats
                .unreliable_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&mut self, ep: &mut Endpoint, peer: PeerId) {
        let Some(queue) = self.pending.get_mut(&peer) else {
            return;
        };
        while let Some(front) = queue.front() {
            match ep.send(Instant::now(), peer, ChannelKind::Reliable, front) {
                Ok(SendOutcome::Sent) => {
                    queue.pop_front();
                }
                Ok(SendOutcome::Congested) => return,
                Err(_) => {
                    queue.clear();
                    return;
                }
            }
        }
    }
}

/// A request's head: method, path, `content-length`, `authorization`.
struct Head {
    method: String,
    path: String,
    content_length: usize,
    authorization: Option<String>,
}

fn parse_head(head: &str) -> Head {
    let mut request_line = head.lines().next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_owned();
    let path = request_line.next().unwrap_or("").to_owned();
    let header = |name: &str| {
        head.lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    Head {
        method,
        path,
        content_length: header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        authorization: header("authorization"),
    }
}

/// One request per connection: `POST /.rtc/offer` with a JSON offer → JSON answer, open to
/// pages of any origin (CORS `*`, preflight answered); in geckos mode also geckos's routes.
fn serve_signalling(
    mut conn: TcpStream,
    endpoint: &Mutex<Endpoint>,
    geckos: Option<&Mutex<Geckos>>,
    stats: &Stats,
) {
    const MAX: usize = 64 * 1024;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_len, head) = loop {
        let Ok(n) = conn.read(&mut chunk) else { return };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = parse_head(&String::from_utf8_lossy(&buf[..end]));
            // A browser page from another origin asks first (a JSON POST is not a simple request).
            if head.method == "OPTIONS" && head.path == OFFER_PATH {
                respond(&mut conn, "204 No Content", "text/plain", b"");
                return;
            }
            let ours = (head.method == "POST" && head.path == OFFER_PATH)
                || geckos.is_some() && geckos_http::route(&head.method, &head.path).is_some();
            if !ours {
                respond(&mut conn, "404 Not Found", "text/plain", b"not found");
                return;
            }
            break (end + 4, head);
        }
        if buf.len() > MAX {
            respond(
                &mut conn,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"",
            );
            return;
        }
    };
    let content_length = head.content_length;
    if content_length > MAX {
        respond(&mut conn, "413 Content Too Large", "text/plain", b"");
        return;
    }
    while buf.len() < head_len + content_length {
        let Ok(n) = conn.read(&mut chunk) else { return };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = &buf[head_len..head_len + content_length];
    if let Some(geckos) = geckos {
        if let Some(route) = geckos_http::route(&head.method, &head.path) {
            serve_geckos(&mut conn, endpoint, geckos, route, &head, body, stats);
            return;
        }
    }
    let answered = signal::answer_json(&mut endpoint.lock().unwrap(), Instant::now(), body);
    match answered {
        Ok((_, answer)) => respond(&mut conn, "200 OK", "application/json", &answer),
        Err(e) => {
            stats.offers_refused.fetch_add(1, Ordering::Relaxed);
            respond(
                &mut conn,
                "400 Bad Request",
                "text/plain",
                e.to_string().as_bytes(),
            );
        }
    }
}

/// A geckos route: `POST /connections` checks the `Authorization` header (the value `deny`
/// is refused) and sends it back in `userData`; the rest is [`Geckos::respond`].
fn serve_geckos(
    conn: &mut TcpStream,
    endpoint: &Mutex<Endpoint>,
    geckos: &Mutex<Geckos>,
    route: geckos_http::Route<'_>,
    head: &Head,
    body: &[u8],
    stats: &Stats,
) {
    let mut cors = String::new();
    for (name, value) in geckos_http::cors_headers("*", true) {
        cors.push_str(&format!("{name}: {value}\r\n"));
    }
    let mut ep = endpoint.lock().unwrap();
    let mut g = geckos.lock().unwrap();
    let now = Instant::now();
    let (status, content_type, body) = if route == geckos_http::Route::Connect {
        if head.authorization.as_deref() == Some("deny") {
            (401, "text/plain", b"401: Unauthorized".to_vec())
        } else {
            let user_data = serde_json::json!({ "authorization": head.authorization });
            match g.connect(&mut ep, now, &user_data) {
                Ok((_, body)) => (200, "application/json", body),
                Err(_) => (500, "text/plain", b"500: Internal Server Error".to_vec()),
            }
        }
    } else {
        let response = g.respond(&mut ep, now, route, body);
        (response.status, response.content_type(), response.body)
    };
    if status != 200 {
        stats.offers_refused.fetch_add(1, Ordering::Relaxed);
    }
    let status = format!("{status} {}", if status == 200 { "OK" } else { "Error" });
    respond_with(conn, &status, content_type, &cors, &body);
}

/// A response to the default signalling path, open to pages of any origin.
fn respond(conn: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    const CORS: &str =
        "access-control-allow-origin: *\r\naccess-control-allow-methods: POST, OPTIONS\r\n\
                        access-control-allow-headers: content-type, authorization\r\n";
    respond_with(conn, status, content_type, CORS, body);
}

fn respond_with(conn: &mut TcpStream, status: &str, content_type: &str, extra: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
}
