//! Helpers shared by the integration tests: engines run on a thread of their own, reactors
//! that listen, dial and turn until a condition holds, a handler that echoes and records, the
//! fast KCP options, framed listener configs and reproducible test data. Each lives here once;
//! a test file takes them with `mod common;`.

// Every test file is its own crate and compiles this module anew, using only some of it: the
// helpers one binary leaves unused would otherwise warn as dead code there.
#![allow(dead_code)]

use riptide::codec::{CodecSpec, LengthFieldConfig};
use riptide::kcp::Config;
use riptide::{
    ConnId, Conns, DialOptions, Engine, EngineConfig, Error, EventHandler, KcpOptions,
    ListenOptions, PeerAddr, Reactor, ReactorConfig, Remote, SharedCodec, SocketOptions,
    StopHandle, WebRtcOptions,
};
use riptide_netsim::{Link, LinkConfig};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The socket address of an inet listener or peer; panics on a Unix path, which a test that
/// bound an inet URL never gets.
pub fn inet(addr: &PeerAddr) -> SocketAddr {
    match addr {
        PeerAddr::Inet(a) => *a,
        PeerAddr::Unix(p) => panic!("not inet: {p}"),
    }
}

/// An engine of `reactors` reactors whose listeners bind with `SO_REUSEPORT`: each reactor has
/// its own socket, and other engines (or processes) may join the port's group.
pub fn reuse_port(reactors: usize) -> EngineConfig {
    EngineConfig {
        reactors,
        reactor: ReactorConfig {
            socket: SocketOptions {
                reuse_port: true,
                ..SocketOptions::default()
            },
            ..ReactorConfig::default()
        },
        ..EngineConfig::default()
    }
}

/// Runs `engine` with `handler` on a thread of its own, so the test can play the client:
/// returns the first listener's address, the stop handle, and the thread, which hands the
/// handler back once stopped.
pub fn spawn<H: EventHandler + Clone + Send + 'static>(
    engine: Engine,
    handler: H,
) -> (PeerAddr, StopHandle, JoinHandle<H>) {
    let addr = engine.local_addrs()[0].clone();
    let stop = engine.stop_handle();
    let join = thread::spawn(move || engine.run(handler).unwrap());
    (addr, stop, join)
}

/// Binds the inet `url` with `config` and [`spawn`]s the engine with `handler`; the address
/// comes back as a socket address.
pub fn serve<H: EventHandler + Clone + Send + 'static>(
    url: &str,
    config: EngineConfig,
    handler: H,
) -> (SocketAddr, StopHandle, JoinHandle<H>) {
    let (addr, stop, join) = spawn(Engine::bind_with([url], config).unwrap(), handler);
    (inet(&addr), stop, join)
}

/// Binds `webrtc://127.0.0.1:0` with `options` and [`spawn`]s the engine with `handler`:
/// the listener's address (UDP and TCP share the port), its reactor (for
/// `Remote::webrtc_counts`), the stop handle and the thread.
pub fn serve_webrtc<H: EventHandler + Clone + Send + 'static>(
    options: WebRtcOptions,
    handler: H,
) -> (SocketAddr, Remote, StopHandle, JoinHandle<H>) {
    let config = EngineConfig {
        listen: ListenOptions {
            webrtc: Some(options),
            ..ListenOptions::default()
        },
        ..EngineConfig::default()
    };
    let engine = Engine::bind_with(["webrtc://127.0.0.1:0"], config).unwrap();
    let remote = engine.remotes()[0].clone();
    let (addr, stop, join) = spawn(engine, handler);
    (inet(&addr), remote, stop, join)
}

/// The pion v4 client of `tests/interop/webrtc`, built once per test binary; `None` (with a
/// note) without Go.
pub fn go_peer() -> Option<std::path::PathBuf> {
    riptide_testkit::go_build(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/webrtc"),
        &std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("webrtc-peer"),
        "the pion WebRTC interop test",
    )
}

/// A real WebRTC offer as JSON (both channels, one host candidate) from a str0m client that
/// will never run ICE.
pub fn silent_offer() -> String {
    let mut rtc = str0m::Rtc::builder().build(Instant::now());
    let candidate = str0m::Candidate::host("127.0.0.1:9".parse().unwrap(), "udp").unwrap();
    rtc.add_local_candidate(candidate);
    let mut api = rtc.sdp_api();
    api.add_channel("u".into());
    let (offer, _) = api.apply().unwrap();
    let sdp = offer.to_sdp_string();
    serde_json::json!({ "type": "offer", "sdp": sdp }).to_string()
}

/// The plainest handler: writes every byte back on the connection it came from.
pub fn echo(conns: &mut Conns, id: ConnId, data: &[u8]) {
    conns.write(id, data).unwrap();
}

/// One reactor playing both ends: echoes on every connection but `client`, whose traffic it
/// records, and counts opens and logs closes on all, so a test can await and check each.
#[derive(Default)]
pub struct Chat {
    pub client: Option<ConnId>,
    pub received: Vec<Vec<u8>>,
    pub opened: usize,
    pub closed: Vec<(ConnId, Option<&'static str>)>,
}

impl Chat {
    /// A chat whose client is `client`.
    pub fn with_client(client: ConnId) -> Chat {
        Chat {
            client: Some(client),
            ..Chat::default()
        }
    }
}

impl EventHandler for Chat {
    fn on_open(&mut self, _: &mut Conns, _: ConnId) {
        self.opened += 1;
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        if Some(id) == self.client {
            self.received.push(data.to_vec());
        } else {
            conns.write(id, data).unwrap();
        }
    }
    fn on_close(&mut self, _: &mut Conns, id: ConnId, err: Option<&Error>) {
        self.closed.push((id, err.map(Error::code)));
    }
}

/// A length-field codec whose `header`-byte big-endian length precedes each frame of at most
/// `max` bytes (the header is stripped on decode and written again on encode).
pub fn length_field(header: usize, max: u64) -> SharedCodec {
    let spec = CodecSpec::LengthField(LengthFieldConfig {
        max_frame_length: max,
        length_field_length: header,
        initial_bytes_to_strip: header,
        ..LengthFieldConfig::default()
    });
    spec.validate().unwrap();
    Arc::new(spec)
}

/// An engine config whose listeners frame their connections with `codec`.
pub fn framed(codec: SharedCodec) -> EngineConfig {
    EngineConfig {
        listen: ListenOptions {
            codec: Some(codec),
            ..ListenOptions::default()
        },
        ..EngineConfig::default()
    }
}

/// Adds a listener on `url` with `options` to `reactor`; returns its (inet) address.
pub fn listen(reactor: &mut Reactor, url: &str, options: ListenOptions) -> SocketAddr {
    inet(&reactor.listen_with(url, options).unwrap())
}

/// KCP tuned for loopback tests (nodelay, 10 ms interval, fast resend, no congestion window,
/// 128-segment send window), so exchanges take milliseconds; idle sessions end after 30 s.
pub fn turbo() -> KcpOptions {
    KcpOptions {
        config: Config {
            nodelay: 1,
            interval: 10,
            resend: 2,
            nc: true,
            snd_wnd: 128,
            ..Config::default()
        },
        idle_timeout: Some(Duration::from_secs(30)),
        ..KcpOptions::default()
    }
}

/// Adds a `kcp://` listener on loopback with `kcp` to `reactor`; returns its address.
pub fn kcp_listen(reactor: &mut Reactor, kcp: KcpOptions) -> SocketAddr {
    let options = ListenOptions {
        kcp: Some(kcp),
        ..ListenOptions::default()
    };
    listen(reactor, "kcp://127.0.0.1:0", options)
}

/// Dials `kcp://{addr}` from `reactor` with `kcp`; returns the client session's id.
pub fn kcp_dial(reactor: &mut Reactor, addr: SocketAddr, kcp: KcpOptions) -> ConnId {
    let options = DialOptions {
        kcp: Some(kcp),
        ..DialOptions::default()
    };
    reactor.dial(&format!("kcp://{addr}"), options).unwrap()
}

/// Turns `reactor` in 5 ms steps until `done(handler)` holds; panics after `secs` seconds, so
/// a test that waits on an event fails instead of hanging.
pub fn turn_until<H: EventHandler>(
    reactor: &mut Reactor,
    handler: &mut H,
    secs: u64,
    done: impl Fn(&H) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done(handler) {
        assert!(Instant::now() < deadline, "timed out");
        reactor
            .turn(handler, Some(Duration::from_millis(5)))
            .unwrap();
    }
}

/// Turns `reactor` `times` times, each waiting at most `step`: time for traffic already sent
/// to arrive and be handled, when there is no event to wait for.
pub fn turn_for<H: EventHandler>(
    reactor: &mut Reactor,
    handler: &mut H,
    times: usize,
    step: Duration,
) {
    for _ in 0..times {
        reactor.turn(handler, Some(step)).unwrap();
    }
}

/// How [`relay`] treats the datagrams between a client and a server.
#[derive(Clone, Default)]
pub struct RelayConfig {
    /// Each direction's link (loss, duplication, delay); `None`: a perfect link.
    pub link: Option<LinkConfig>,
    /// After this many client datagrams, forward the client's from a second socket (a NAT
    /// rebinding the client's port).
    pub switch_after: Option<usize>,
    /// Also send every client datagram a second time, 5 ms later (a replaying attacker).
    pub replay: bool,
}

/// A UDP relay on loopback in front of `server`; returns its client-facing address and a flag
/// that stops it. Every datagram passes a seeded lossy [`Link`] each way when configured.
pub fn relay(server: SocketAddr, config: RelayConfig) -> (SocketAddr, Arc<AtomicBool>) {
    let front = UdpSocket::bind("127.0.0.1:0").unwrap();
    let backs = [
        UdpSocket::bind("127.0.0.1:0").unwrap(),
        UdpSocket::bind("127.0.0.1:0").unwrap(),
    ];
    for s in backs.iter().chain([&front]) {
        s.set_nonblocking(true).unwrap();
    }
    let addr = front.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    thread::spawn(move || {
        let link = config.link.clone().unwrap_or(LinkConfig {
            delay_min_ms: 0,
            delay_max_ms: 0,
            ..LinkConfig::default()
        });
        let (mut up, mut down) = (Link::new(link.clone(), 1), Link::new(link, 2));
        let start = Instant::now();
        let (mut client, mut forwarded) = (None, 0usize);
        let mut replays: std::collections::VecDeque<(u64, Vec<u8>)> = Default::default();
        let mut buf = [0u8; 65_536];
        while !stopped.load(Ordering::Relaxed) {
            let now = start.elapsed().as_millis() as u64;
            let mut idle = true;
            if let Ok((n, from)) = front.recv_from(&mut buf) {
                client = Some(from);
                up.send(now, &buf[..n]);
                if config.replay {
                    replays.push_back((now + 5, buf[..n].to_vec()));
                }
                idle = false;
            }
            let back = &backs[usize::from(config.switch_after.is_some_and(|s| forwarded >= s))];
            while let Some(d) = up.poll(now) {
                let _ = back.send_to(&d, server);
                forwarded += 1;
            }
            while replays.front().is_some_and(|(at, _)| *at <= now) {
                if let Some((_, d)) = replays.pop_front() {
                    let _ = back.send_to(&d, server);
                }
            }
            for b in &backs {
                if let Ok(n) = b.recv(&mut buf) {
                    down.send(now, &buf[..n]);
                    idle = false;
                }
            }
            if let Some(client) = client {
                while let Some(d) = down.poll(now) {
                    let _ = front.send_to(&d, client);
                }
            }
            if idle {
                thread::sleep(Duration::from_micros(200));
            }
        }
    });
    (addr, stop)
}

/// A seeded link losing `loss` of the datagrams, 1–3 ms of delay.
pub fn lossy(loss: f64) -> LinkConfig {
    LinkConfig {
        loss,
        delay_min_ms: 1,
        delay_max_ms: 3,
        ..LinkConfig::default()
    }
}
