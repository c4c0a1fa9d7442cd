//! A std-socket driver for the endpoint: one UDP socket, one thread, a minimal HTTP/1.1
//! signalling listener on another, and an echo on both channels (reliable echoes queued and
//! flushed on `Writable`, unreliable ones dropped when congested). Shared by the pion interop
//! test and `examples/echo.rs`; riptide's reactor does the same with its timing wheel.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

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
    let socket = UdpSocket::bind((ip, udp_port)).expect("bind UDP");
    let udp = socket.local_addr().unwrap();
    let listener = TcpListener::bind((ip, http_port)).expect("bind TCP");
    let http = listener.local_addr().unwrap();
    let endpoint = Arc::new(Mutex::new(
        Endpoint::new(EndpointConfig::new(udp)).expect("endpoint"),
    ));
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let udp_thread = {
        let (endpoint, stats, stop) = (endpoint.clone(), stats.clone(), stop.clone());
        thread::spawn(move || udp_loop(socket, endpoint, stats, stop))
    };
    let http_thread = {
        let (endpoint, stats, stop) = (endpoint.clone(), stats.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(conn) = conn {
                    serve_signalling(conn, &endpoint, &stats);
                }
            }
        })
    };
    EchoServer {
        http,
        udp,
        endpoint,
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
        let wait = lp
            .timers
            .values()
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
        lp.process(&mut ep);
    }
}

impl Loop {
    /// Sends what the endpoint queued, tracks deadlines, echoes messages.
    fn process(&mut self, ep: &mut Endpoint) {
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

/// One request per connection: `POST /.rtc/offer` with a JSON offer → JSON answer, open to
/// pages of any origin (CORS `*`, preflight answered).
fn serve_signalling(mut conn: TcpStream, endpoint: &Mutex<Endpoint>, stats: &Stats) {
    const MAX: usize = 64 * 1024;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_len, content_length) = loop {
        let Ok(n) = conn.read(&mut chunk) else { return };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            // A browser page from another origin asks first (a JSON POST is not a simple request).
            if head.starts_with(&format!("OPTIONS {OFFER_PATH} ")) {
                respond(&mut conn, "204 No Content", "text/plain", b"");
                return;
            }
            if !head.starts_with(&format!("POST {OFFER_PATH} ")) {
                respond(&mut conn, "404 Not Found", "text/plain", b"not found");
                return;
            }
            break (end + 4, length);
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

fn respond(conn: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\
         access-control-allow-origin: *\r\naccess-control-allow-methods: POST, OPTIONS\r\n\
         access-control-allow-headers: content-type, authorization\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
}
