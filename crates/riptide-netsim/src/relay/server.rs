//! The relay's event loop: sockets and a monotonic clock on one side, links on the other.

use std::collections::HashMap;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

use super::args::Args;
use super::report::Totals;
use super::session::{bind_udp, Session};
use super::signal::stop_requested;

const LISTENER: Token = Token(0);
/// Longest single wait, so a signal landing just before `poll` is noticed promptly.
const MAX_WAIT: Duration = Duration::from_millis(50);
/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_536;

/// A bound relay, ready to run.
pub struct Relay {
    args: Args,
    poll: Poll,
    listener: UdpSocket,
    /// Sessions by slot; slot `i` is registered as `Token(i + 1)`.
    sessions: Vec<Option<Session>>,
    by_client: HashMap<SocketAddr, usize>,
    free_slots: Vec<usize>,
    totals: Totals,
    start: Instant,
    buf: Vec<u8>,
}

impl Relay {
    /// Binds the client-facing socket.
    pub fn bind(args: Args) -> io::Result<Relay> {
        let poll = Poll::new()?;
        let mut listener = bind_udp(args.listen)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Relay {
            args,
            poll,
            listener,
            sessions: Vec::new(),
            by_client: HashMap::new(),
            free_slots: Vec::new(),
            totals: Totals::default(),
            start: Instant::now(),
            buf: vec![0; MAX_DATAGRAM],
        })
    }

    /// The address clients should send to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Relays until SIGTERM/SIGINT or `--duration`, then returns the counters.
    pub fn run(mut self) -> io::Result<Totals> {
        let mut events = Events::with_capacity(256);
        let deadline = self.args.duration.map(|d| self.start + d);
        loop {
            let now = Instant::now();
            self.deliver_due(self.millis(now));
            self.expire_idle(now);
            if stop_requested() || deadline.is_some_and(|d| now >= d) {
                break;
            }
            let timeout = self.wait_time(now, deadline);
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.read_clients()?,
                    Token(t) => self.read_upstream(t - 1),
                }
            }
        }
        for session in self.sessions.iter().flatten() {
            Totals::add(&mut self.totals.to_server, session.to_server.stats());
            Totals::add(&mut self.totals.to_client, session.to_client.stats());
        }
        Ok(self.totals)
    }

    fn millis(&self, now: Instant) -> u64 {
        now.duration_since(self.start).as_millis() as u64
    }

    fn wait_time(&self, now: Instant, deadline: Option<Instant>) -> Duration {
        let mut wait = MAX_WAIT;
        let next_ms = self
            .sessions
            .iter()
            .flatten()
            .filter_map(Session::next_delivery)
            .min();
        if let Some(ms) = next_ms {
            let due = self.start + Duration::from_millis(ms);
            wait = wait.min(due.saturating_duration_since(now));
        }
        if let Some(d) = deadline {
            wait = wait.min(d.saturating_duration_since(now));
        }
        wait
    }

    fn read_clients(&mut self) -> io::Result<()> {
        loop {
            let (len, client) = match self.listener.recv_from(&mut self.buf) {
                Ok(r) => r,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if transient(&e) => continue,
                Err(e) => return Err(e),
            };
            let now = Instant::now();
            let now_ms = self.millis(now);
            let slot = match self.by_client.get(&client) {
                Some(&slot) => slot,
                None => self.open_session(client, now)?,
            };
            if let Some(session) = self.sessions[slot].as_mut() {
                session.last_seen = now;
                session.to_server.send(now_ms, &self.buf[..len]);
            }
        }
    }

    fn read_upstream(&mut self, slot: usize) {
        let start = self.start;
        let Some(Some(session)) = self.sessions.get_mut(slot) else {
            return;
        };
        loop {
            match session.upstream.recv(&mut self.buf) {
                Ok(len) => {
                    let now = Instant::now();
                    session.last_seen = now;
                    let now_ms = now.duration_since(start).as_millis() as u64;
                    session.to_client.send(now_ms, &self.buf[..len]);
                }
                Err(e) if transient(&e) => continue,
                // WouldBlock, or a hard error on one session's socket: idle expiry reaps it.
                Err(_) => return,
            }
        }
    }

    fn open_session(&mut self, client: SocketAddr, now: Instant) -> io::Result<usize> {
        let number = self.totals.sessions;
        let mut session = Session::open(
            client,
            self.args.upstream,
            &self.args.link,
            self.args.seed,
            number,
            now,
        )?;
        let slot = self.free_slots.pop().unwrap_or(self.sessions.len());
        self.poll.registry().register(
            &mut session.upstream,
            Token(slot + 1),
            Interest::READABLE,
        )?;
        if slot == self.sessions.len() {
            self.sessions.push(Some(session));
        } else {
            self.sessions[slot] = Some(session);
        }
        self.by_client.insert(client, slot);
        self.totals.sessions += 1;
        Ok(slot)
    }

    fn deliver_due(&mut self, now_ms: u64) {
        for session in self.sessions.iter_mut().flatten() {
            while let Some(datagram) = session.to_server.poll(now_ms) {
                if session.upstream.send(&datagram).is_err() {
                    self.totals.send_errors += 1;
                }
            }
            while let Some(datagram) = session.to_client.poll(now_ms) {
                if self.listener.send_to(&datagram, session.client).is_err() {
                    self.totals.send_errors += 1;
                }
            }
        }
    }

    fn expire_idle(&mut self, now: Instant) {
        for slot in 0..self.sessions.len() {
            let idle = self.sessions[slot]
                .as_ref()
                .is_some_and(|s| now.duration_since(s.last_seen) >= self.args.idle_timeout);
            if !idle {
                continue;
            }
            if let Some(mut session) = self.sessions[slot].take() {
                let _ = self.poll.registry().deregister(&mut session.upstream);
                Totals::add(&mut self.totals.to_server, session.to_server.stats());
                Totals::add(&mut self.totals.to_client, session.to_client.stats());
                self.by_client.remove(&session.client);
                self.free_slots.push(slot);
            }
        }
    }
}

/// Errors after which reading the same socket again makes sense: an ICMP port-unreachable
/// reported on a UDP socket, or a signal.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    )
}
