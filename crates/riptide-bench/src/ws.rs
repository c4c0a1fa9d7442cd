//! WebSocket load (workloads W1 and W2), spoken with riptide-ws's client handshake and
//! `Session` (masked frames, as any browser sends), so every server is driven by the same
//! client. `ws-echo`: each connection keeps `depth` binary messages in flight and checks the
//! sequence number each echo carries. `ws-pubsub`: `conns` subscribers open `/sub`, then one
//! publisher opens `/pub` and sends binary messages the server publishes to every
//! subscriber; the publisher stays at most `window` messages ahead of the slowest
//! subscriber, and every subscriber checks it gets every message, in order.

use crate::args::{EchoArgs, PubSubArgs};
use crate::clients::{read_available, Progress};
use crate::echo::EchoReport;
use crate::window::{us, Window};
use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use riptide::ws::{
    ClientConfig, ClientHandshake, ConnEvent, Connection, Event, Session, SessionConfig, Timeouts,
};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One client connection after its handshake.
struct WsClient {
    stream: TcpStream,
    conn: Connection,
    out: Vec<u8>,
    out_pos: usize,
    inbuf: Vec<u8>,
    /// The sequence number the next message must carry.
    expect_seq: u64,
    progress: Progress,
}

impl WsClient {
    /// Connects to `addr`, upgrades on `path` (blocking, before the load starts) and
    /// registers the socket with `poll` under `token`.
    fn open(poll: &Poll, addr: SocketAddr, path: &str, token: Token) -> Result<Self, String> {
        let mut std =
            std::net::TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        std.set_nodelay(true).map_err(|e| e.to_string())?;
        let handshake = ClientHandshake::new(ClientConfig {
            host: addr.to_string(),
            path: path.into(),
            headers: Vec::new(),
            subprotocols: Vec::new(),
            deflate: None,
            max_head_size: 8192,
        })
        .map_err(|e| e.to_string())?;
        let now = Instant::now();
        let mut conn = Connection::client(
            handshake,
            SessionConfig::default(),
            Timeouts::default(),
            now,
        );
        std.write_all(&conn.take_output())
            .map_err(|e| format!("upgrade request: {e}"))?;
        let mut buf = [0u8; 4096];
        let mut rest = Vec::new();
        loop {
            let n = std.read(&mut buf).map_err(|e| format!("upgrade: {e}"))?;
            if n == 0 {
                return Err(format!("{addr} closed during the upgrade"));
            }
            rest.extend_from_slice(&buf[..n]);
            let r = conn
                .receive(now, &rest)
                .map_err(|e| format!("upgrade: {e}"))?;
            rest.drain(..r.consumed);
            match r.event {
                Some(ConnEvent::Open(_)) => break,
                Some(other) => return Err(format!("upgrade: unexpected {other:?}")),
                None => {}
            }
        }
        std.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut stream = TcpStream::from_std(std);
        poll.registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| e.to_string())?;
        Ok(WsClient {
            stream,
            conn,
            out: Vec::new(),
            out_pos: 0,
            inbuf: rest,
            expect_seq: 0,
            progress: Progress::new(now),
        })
    }

    fn session(&mut self) -> &mut Session {
        self.conn.session().expect("open after the upgrade")
    }

    /// Queues a binary message of `size` bytes carrying `seq` in its first 8.
    fn queue(&mut self, seq: u64, size: usize, payload: &mut Vec<u8>) -> Result<(), String> {
        payload.clear();
        payload.resize(size, 0xa5);
        payload[..8].copy_from_slice(&seq.to_le_bytes());
        self.session()
            .send_binary(payload)
            .map_err(|e| e.to_string())?;
        let framed = self.session().take_output();
        self.out.extend_from_slice(&framed);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("write: {e}")),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(())
    }

    /// Reads what the socket has and calls `message` with each message's sequence number,
    /// after checking it is the next one and `size` bytes long.
    fn read(
        &mut self,
        buf: &mut [u8],
        size: usize,
        mut message: impl FnMut(u64),
    ) -> Result<(), String> {
        let mut inbuf = std::mem::take(&mut self.inbuf);
        read_available(&mut self.stream, buf, &mut inbuf)?;
        let mut at = 0;
        while at < inbuf.len() {
            let r = self
                .session()
                .receive(&inbuf[at..])
                .map_err(|e| format!("protocol: {e}"))?;
            at += r.consumed;
            match r.event {
                Some(Event::Message { data, binary }) => {
                    if !binary || data.len() != size {
                        return Err(format!("a message of {} bytes, not {size}", data.len()));
                    }
                    let seq = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
                    if seq != self.expect_seq {
                        return Err(format!("expected message {} got {seq}", self.expect_seq));
                    }
                    self.expect_seq += 1;
                    message(seq);
                }
                Some(Event::Close(frame)) => return Err(format!("server closed: {frame:?}")),
                Some(_) => {}
                None if r.consumed == 0 => break,
                None => {}
            }
        }
        inbuf.clear();
        self.inbuf = inbuf;
        // Pongs the session answered with.
        let pongs = self.session().take_output();
        self.out.extend_from_slice(&pongs);
        Ok(())
    }
}

/// W1: echo of `size`-byte binary messages, `depth` in flight per connection.
pub fn echo(args: &EchoArgs) -> Result<EchoReport, String> {
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(1024);
    let mut payload = Vec::new();
    let mut clients = Vec::with_capacity(args.conns);
    let mut sent: Vec<VecDeque<Instant>> = Vec::with_capacity(args.conns);
    for i in 0..args.conns {
        let mut c = WsClient::open(&poll, args.addr, "/", Token(i))?;
        let now = Instant::now();
        for seq in 0..args.depth as u64 {
            c.queue(seq, args.size, &mut payload)?;
        }
        c.flush()?;
        clients.push(c);
        sent.push((0..args.depth).map(|_| now).collect());
    }
    let mut rtt = Histogram::<u64>::new_with_bounds(100, 60_000_000_000, 3).expect("bounds");
    let mut window = Window::new(args.warmup, args.duration);
    let measure_from = window.measure_from;
    let (mut messages, mut stalls) = (0u64, 0u64);
    let mut buf = vec![0u8; 256 * 1024];
    while let Some(left) = window.remaining(Instant::now()) {
        poll.poll(&mut events, Some(left.min(Duration::from_millis(100))))
            .map_err(|e| e.to_string())?;
        let now = Instant::now();
        let measuring = window.measuring(now);
        for ev in events.iter() {
            let i = ev.token().0;
            let c = &mut clients[i];
            if ev.is_readable() || ev.is_read_closed() {
                let mut done = 0u64;
                c.read(&mut buf, args.size, |_| done += 1)?;
                for _ in 0..done {
                    let at = sent[i].pop_front().ok_or("echo of a message never sent")?;
                    if measuring && at >= measure_from {
                        messages += 1;
                        let _ = rtt.record(now.duration_since(at).as_nanos() as u64);
                    }
                }
                // The next message follows the ones still in flight.
                for _ in 0..done {
                    let seq = c.expect_seq + sent[i].len() as u64;
                    c.queue(seq, args.size, &mut payload)?;
                    sent[i].push_back(now);
                }
                if done > 0 {
                    c.progress.made(now);
                }
            }
            c.flush()?;
        }
        if measuring {
            for c in clients.iter_mut() {
                stalls += u64::from(c.progress.newly_stalled(now));
            }
        }
    }
    Ok(EchoReport {
        messages,
        elapsed: args.duration,
        rtt,
        stalls,
        cpu_seconds: window.cpu_seconds(),
    })
}

/// What a pub/sub run measured.
pub struct PubSubReport {
    /// Messages delivered (one per subscriber per message) in the measured window.
    pub delivered: u64,
    /// Messages the publisher sent in the measured window.
    pub published: u64,
    /// Measured window length.
    pub elapsed: Duration,
    /// Time from a message's send to each subscriber's receipt, in nanoseconds.
    pub latency: Histogram<u64>,
    /// Subscribers that made no progress for a second or more during the window.
    pub stalls: u64,
    /// The load generator's CPU seconds over the window.
    pub cpu_seconds: f64,
}

impl PubSubReport {
    /// The JSON line the runner reads (`messages` and `rate` count deliveries).
    pub fn json(&self, args: &PubSubArgs) -> String {
        let secs = self.elapsed.as_secs_f64();
        format!(
            "{{\"workload\":\"ws-pubsub\",\"subscribers\":{},\"size\":{},\"window\":{},\"seconds\":{},\"messages\":{},\"published\":{},\"rate\":{:.1},\"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\"stalls\":{},\"loadgen_cpu_s\":{:.3}}}",
            args.subscribers,
            args.size,
            args.window,
            secs,
            self.delivered,
            self.published,
            self.delivered as f64 / secs,
            us(&self.latency, 0.5),
            us(&self.latency, 0.99),
            us(&self.latency, 0.999),
            self.stalls,
            self.cpu_seconds
        )
    }
}

/// W2: one publisher, `subscribers` subscribers.
pub fn pubsub(args: &PubSubArgs) -> Result<PubSubReport, String> {
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(4096);
    let mut subs = (0..args.subscribers)
        .map(|i| WsClient::open(&poll, args.addr, "/sub", Token(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut publisher = WsClient::open(&poll, args.addr, "/pub", Token(args.subscribers))?;
    let mut payload = Vec::new();
    // Send times of the messages not yet received by every subscriber, from `oldest` on.
    let (mut sent, mut oldest, mut next) = (VecDeque::<Instant>::new(), 0u64, 0u64);
    let mut latency = Histogram::<u64>::new_with_bounds(100, 60_000_000_000, 3).expect("bounds");
    let mut window = Window::new(args.warmup, args.duration);
    let measure_from = window.measure_from;
    let (mut delivered, mut published, mut stalls) = (0u64, 0u64, 0u64);
    let mut buf = vec![0u8; 256 * 1024];
    let mut now = Instant::now();
    while let Some(left) = window.remaining(now) {
        // The publisher stays within `window` messages of the slowest subscriber.
        let slowest = subs.iter().map(|s| s.expect_seq).min().unwrap_or(next);
        let done = slowest.saturating_sub(oldest) as usize;
        sent.drain(..done.min(sent.len()));
        oldest = slowest;
        let measuring = window.measuring(now);
        while next < slowest + args.window as u64 {
            publisher.queue(next, args.size, &mut payload)?;
            sent.push_back(now);
            if measuring {
                published += 1;
            }
            next += 1;
        }
        publisher.flush()?;
        poll.poll(&mut events, Some(left.min(Duration::from_millis(100))))
            .map_err(|e| e.to_string())?;
        now = Instant::now();
        let measuring = window.measuring(now);
        for ev in events.iter() {
            let i = ev.token().0;
            let c = if i == args.subscribers {
                &mut publisher
            } else {
                &mut subs[i]
            };
            if ev.is_readable() || ev.is_read_closed() {
                let mut got = 0u64;
                c.read(&mut buf, args.size, |seq| {
                    got += 1;
                    let at = sent[(seq - oldest) as usize];
                    if measuring && at >= measure_from {
                        delivered += 1;
                        let _ = latency.record(now.duration_since(at).as_nanos() as u64);
                    }
                })?;
                if got > 0 {
                    c.progress.made(now);
                }
            }
            c.flush()?;
        }
        if measuring {
            for c in subs.iter_mut() {
                stalls += u64::from(c.progress.newly_stalled(now));
            }
        }
    }
    Ok(PubSubReport {
        delivered,
        published,
        elapsed: args.duration,
        latency,
        stalls,
        cpu_seconds: window.cpu_seconds(),
    })
}
