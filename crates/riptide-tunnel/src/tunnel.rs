//! The tunnel's event handler: TCP connections on one side, smux streams over KCP sessions on
//! the other, bytes moved between them with backpressure in both directions.
//!
//! - TCP → smux: a TCP read goes into its stream's `upload`; whatever smux does not take (v2:
//!   the peer's window is spent; both: the session's send buffer is full because KCP is not
//!   writable) stays there and the TCP connection is paused until it is taken.
//! - smux → TCP: a stream is read only while its TCP connection is writable (its queue under
//!   the engine's high-water mark). Unread data stays in smux: in v2 the peer stops at the
//!   stream's window; in v1 (and in v2 once the session buffer is full) the session stops
//!   taking input, the KCP connection is paused, and KCP's receive window closes on the peer.
//! - smux → KCP: output is written only while the KCP connection is writable (its queue under
//!   the send window); smux's own send buffer ([`SEND_BUFFER`]) bounds the rest.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use riptide::{ConnId, Conns, Error, EventHandler};
use riptide_smux::Role;

use crate::mux::{Link, Mux};
use crate::settings::Settings;
use crate::stats::Stats;

/// smux's send buffer per session (bytes queued for KCP beyond what KCP holds itself).
pub const SEND_BUFFER: usize = 1 << 20;
/// Largest smux read moved to TCP at once.
const READ_CHUNK: usize = 64 * 1024;
/// Passes of the pump per event (each may unblock the next).
const PUMP_ROUNDS: usize = 8;

/// Which end this is.
#[derive(Debug, Clone)]
pub enum Side {
    /// Accepts TCP, opens streams over one KCP session dialed to the server.
    Client,
    /// Accepts KCP sessions, dials the target for every stream.
    Server,
}

/// A connection the run loop must dial for the handler (handlers cannot dial themselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dial {
    /// The client's KCP session to the server.
    Kcp,
    /// The server's TCP connection to the target for stream `sid` of session `kcp`.
    Tcp {
        /// The KCP connection the stream belongs to.
        kcp: ConnId,
        /// The stream.
        sid: u32,
    },
}

/// The tunnel's state, one per reactor.
pub struct Tunnel {
    side: Side,
    settings: Settings,
    muxes: HashMap<ConnId, Mux>,
    /// Each TCP connection's session and stream.
    tcp: HashMap<ConnId, (ConnId, u32)>,
    /// Client: the session new streams go to, and accepted connections waiting for one.
    current: Option<ConnId>,
    waiting: Vec<ConnId>,
    dials: Vec<Dial>,
    buf: Vec<u8>,
    /// Counters for the stats line and the SNMP log.
    pub stats: Stats,
}

impl Tunnel {
    /// A tunnel end with checked settings.
    pub fn new(side: Side, settings: Settings, stats: Stats) -> Tunnel {
        Tunnel {
            side,
            settings,
            muxes: HashMap::new(),
            tcp: HashMap::new(),
            current: None,
            waiting: Vec::new(),
            dials: Vec::new(),
            buf: vec![0; READ_CHUNK],
            stats,
        }
    }

    /// The dials requested since the last call.
    pub fn take_dials(&mut self) -> Vec<Dial> {
        std::mem::take(&mut self.dials)
    }

    /// The settings (the run loop dials with them).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The client's KCP dial returned `id` (it opens later, in `on_open`).
    pub fn kcp_dialed(&mut self, id: ConnId) {
        let config = self.smux_config();
        match Mux::new(Role::Client, config, self.settings.compress, Instant::now()) {
            Ok(mux) => {
                self.muxes.insert(id, mux);
                self.current = Some(id);
            }
            Err(e) => eprintln!("riptide-tunnel: smux: {e}"),
        }
    }

    /// The client's KCP dial failed at once: the waiting connections are dropped.
    pub fn kcp_dial_failed(&mut self, conns: &mut Conns, err: &Error) {
        eprintln!("riptide-tunnel: dial failed: {err}");
        for tcp in self.waiting.drain(..) {
            let _ = conns.close(tcp);
        }
    }

    /// The server's TCP dial for stream `sid` returned `id`.
    pub fn tcp_dialed(&mut self, kcp: ConnId, sid: u32, id: ConnId) {
        if let Some(link) = self.muxes.get_mut(&kcp).and_then(|m| m.links.get_mut(&sid)) {
            link.tcp = Some(id);
            self.tcp.insert(id, (kcp, sid));
        }
    }

    /// The server's TCP dial for stream `sid` failed at once: the stream is closed.
    pub fn tcp_dial_failed(&mut self, conns: &mut Conns, kcp: ConnId, sid: u32, err: &Error) {
        eprintln!("riptide-tunnel: dial target: {err}");
        if let Some(link) = self.muxes.get_mut(&kcp).and_then(|m| m.links.get_mut(&sid)) {
            link.tcp_closed = true;
        }
        self.pump(conns, kcp);
    }

    fn smux_config(&self) -> riptide_smux::Config {
        riptide_smux::Config {
            max_send_buffer: SEND_BUFFER,
            ..self.settings.smux.clone()
        }
    }

    /// Opens a stream for an accepted TCP connection on the client's session.
    fn attach(&mut self, conns: &mut Conns, tcp: ConnId) {
        let Some(kcp) = self.current.filter(|k| self.muxes.contains_key(k)) else {
            if self.waiting.is_empty() {
                self.dials.push(Dial::Kcp);
            }
            let _ = conns.pause(tcp);
            self.waiting.push(tcp);
            return;
        };
        let Some(mux) = self.muxes.get_mut(&kcp) else {
            return;
        };
        match mux.session.open() {
            Ok(sid) => {
                mux.links.insert(
                    sid,
                    Link {
                        tcp: Some(tcp),
                        connected: true,
                        ..Link::default()
                    },
                );
                self.tcp.insert(tcp, (kcp, sid));
                self.stats.stream_opened();
            }
            Err(e) => {
                eprintln!("riptide-tunnel: open stream: {e}");
                let _ = conns.close(tcp);
            }
        }
    }

    /// Moves everything that can move on session `kcp`, then arms its keepalive timer and
    /// pauses or resumes its KCP connection. A protocol error closes the session.
    fn pump(&mut self, conns: &mut Conns, kcp: ConnId) {
        let Some(mux) = self.muxes.get_mut(&kcp) else {
            return;
        };
        let now = Instant::now();
        let result = pump_mux(
            mux,
            conns,
            kcp,
            &self.side,
            &mut self.dials,
            &mut self.buf,
            &mut self.stats,
            now,
        );
        if let Err(e) = result {
            eprintln!("riptide-tunnel: session closed: {e}");
            let _ = conns.close(kcp);
            return;
        }
        if mux.has_backlog() != mux.paused {
            mux.paused = !mux.paused;
            let _ = if mux.paused {
                conns.pause(kcp)
            } else {
                conns.resume(kcp)
            };
        }
        if let Some(at) = mux.session.poll_timeout() {
            if mux.timer_at.is_none_or(|armed| at < armed) {
                mux.timer_at = Some(at);
                let _ = conns.set_timer(kcp, at.saturating_duration_since(now), 0);
            }
        }
    }

    /// Every session, for the stats line: (KCP connection, open streams).
    pub fn sessions(&self) -> impl Iterator<Item = (ConnId, usize)> + '_ {
        self.muxes.iter().map(|(id, m)| (*id, m.links.len()))
    }
}

/// One pump of a session (see [`Tunnel::pump`]), over the tunnel's parts.
#[allow(clippy::too_many_arguments)]
fn pump_mux(
    mux: &mut Mux,
    conns: &mut Conns,
    kcp: ConnId,
    side: &Side,
    dials: &mut Vec<Dial>,
    buf: &mut [u8],
    stats: &mut Stats,
    now: Instant,
) -> Result<(), riptide_smux::Error> {
    for _ in 0..PUMP_ROUNDS {
        let mut progress = mux.feed(now)?;
        while let Some(sid) = mux.session.accept() {
            progress = true;
            match side {
                Side::Server => {
                    mux.links.insert(sid, Link::default());
                    dials.push(Dial::Tcp { kcp, sid });
                    stats.stream_opened();
                }
                // kcptun's client never accepts streams.
                Side::Client => mux.session.close_stream(sid)?,
            }
        }
        let mut gone = Vec::new();
        for (&sid, link) in mux.links.iter_mut() {
            // smux → TCP, while TCP takes it.
            if let (Some(tcp), true, false) = (link.tcp, link.connected, link.eof_delivered) {
                while conns.is_writable(tcp).unwrap_or(false) {
                    match mux.session.read(sid, buf)? {
                        Some(0) => {
                            link.eof_delivered = true;
                            let _ = conns.close(tcp);
                            break;
                        }
                        Some(n) => {
                            let _ = conns.write(tcp, buf.get(..n).unwrap_or_default());
                            stats.bytes_down(n);
                            progress = true;
                        }
                        None => break,
                    }
                }
            }
            // TCP → smux, while smux takes it.
            if !link.upload.is_empty() {
                let n = mux.session.write(sid, &link.upload)?;
                link.upload.drain(..n);
                progress |= n > 0;
            }
            if link.upload.is_empty() {
                if link.tcp_closed {
                    gone.push(sid);
                } else if link.paused {
                    link.paused = false;
                    if let Some(tcp) = link.tcp {
                        let _ = conns.resume(tcp);
                    }
                }
            }
        }
        for sid in gone {
            mux.links.remove(&sid);
            mux.session.close_stream(sid)?;
            stats.stream_closed();
        }
        if mux.open && conns.is_writable(kcp).unwrap_or(false) {
            let out = mux.take_output()?;
            if !out.is_empty() {
                write_stream(conns, kcp, &out);
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    Ok(())
}

/// Writes a byte stream to a KCP connection in pieces it accepts (a write is at most 127
/// segments, even in stream mode). A closed connection takes nothing: `on_close` follows.
fn write_stream(conns: &mut Conns, kcp: ConnId, mut data: &[u8]) {
    let mut piece = READ_CHUNK;
    while !data.is_empty() {
        let (head, tail) = data.split_at(piece.min(data.len()));
        match conns.write(kcp, head) {
            Ok(()) => data = tail,
            Err(Error::MessageTooLarge { max, .. }) if max > 0 && max < piece => piece = max,
            Err(_) => return,
        }
    }
}

impl EventHandler for Tunnel {
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        if let Some(mux) = self.muxes.get_mut(&id) {
            // The client's session is up: its waiting connections get streams.
            mux.open = true;
            for tcp in std::mem::take(&mut self.waiting) {
                let _ = conns.resume(tcp);
                self.attach(conns, tcp);
            }
            self.pump(conns, id);
        } else if let Some(&(kcp, sid)) = self.tcp.get(&id) {
            if let Some(link) = self.muxes.get_mut(&kcp).and_then(|m| m.links.get_mut(&sid)) {
                link.connected = true;
            }
            self.pump(conns, kcp);
        } else {
            match self.side {
                Side::Client => {
                    self.attach(conns, id);
                    if let Some(&(kcp, _)) = self.tcp.get(&id) {
                        self.pump(conns, kcp);
                    }
                }
                Side::Server => {
                    let config = self.smux_config();
                    match Mux::new(Role::Server, config, self.settings.compress, Instant::now()) {
                        Ok(mut mux) => {
                            mux.open = true;
                            self.muxes.insert(id, mux);
                            self.pump(conns, id);
                        }
                        Err(e) => {
                            eprintln!("riptide-tunnel: smux: {e}");
                            let _ = conns.close(id);
                        }
                    }
                }
            }
        }
    }

    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        if let Some(mux) = self.muxes.get_mut(&id) {
            mux.offer(data);
            self.pump(conns, id);
        } else if let Some(&(kcp, sid)) = self.tcp.get(&id) {
            let Some(link) = self.muxes.get_mut(&kcp).and_then(|m| m.links.get_mut(&sid)) else {
                return;
            };
            link.upload.extend_from_slice(data);
            self.stats.bytes_up(data.len());
            self.pump(conns, kcp);
            if let Some(link) = self.muxes.get_mut(&kcp).and_then(|m| m.links.get_mut(&sid)) {
                if !link.upload.is_empty() && !link.paused {
                    link.paused = true;
                    let _ = conns.pause(id);
                }
            }
        }
    }

    fn on_writability(&mut self, conns: &mut Conns, id: ConnId, writable: bool) {
        if !writable {
            return;
        }
        if self.muxes.contains_key(&id) {
            self.pump(conns, id);
        } else if let Some(&(kcp, _)) = self.tcp.get(&id) {
            self.pump(conns, kcp);
        }
    }

    fn on_timer(&mut self, conns: &mut Conns, id: ConnId, _token: u64) {
        let Some(mux) = self.muxes.get_mut(&id) else {
            return;
        };
        mux.timer_at = None;
        if let Err(e) = mux.session.handle_timeout(Instant::now()) {
            eprintln!("riptide-tunnel: session closed: {e}");
            let _ = conns.close(id);
            return;
        }
        self.pump(conns, id);
    }

    fn on_close(&mut self, conns: &mut Conns, id: ConnId, err: Option<&Error>) {
        if let Some(mux) = self.muxes.remove(&id) {
            match err {
                Some(e) => eprintln!("riptide-tunnel: KCP session closed: {e}"),
                None => eprintln!("riptide-tunnel: KCP session closed"),
            }
            for link in mux.links.values() {
                if let Some(tcp) = link.tcp {
                    self.tcp.remove(&tcp);
                    let _ = conns.close(tcp);
                }
                self.stats.stream_closed();
            }
            if self.current == Some(id) {
                self.current = None;
                // Connections that arrived before the session opened go with it.
                for tcp in self.waiting.drain(..) {
                    let _ = conns.close(tcp);
                }
            }
        } else if let Some((kcp, sid)) = self.tcp.remove(&id) {
            if let Some(link) = self.muxes.get_mut(&kcp).and_then(|m| m.links.get_mut(&sid)) {
                link.tcp = None;
                link.tcp_closed = true;
            }
            self.pump(conns, kcp);
        } else {
            self.waiting.retain(|&w| w != id);
        }
    }

    fn on_tick(&mut self, conns: &mut Conns) -> Option<Duration> {
        let sessions: Vec<(ConnId, usize)> = self.sessions().collect();
        self.stats.tick(conns, &sessions);
        Some(crate::stats::TICK)
    }
}
