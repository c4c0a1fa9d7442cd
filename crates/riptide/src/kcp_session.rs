//! KCP sessions on the reactor: each session is a connection of the table (same handles,
//! callbacks, timers and backpressure as TCP) whose bytes go through a sans-IO
//! [`riptide_kcp::Kcp`] and out through a [`Carrier`]. A `kcp://` listener keys sessions by
//! peer address and conv, learned from the client's first segment; a dialed `kcp://`
//! connection picks a random conv. Protocol deadlines sit on the reactor's timing wheel and an
//! idle session (nothing to send, nothing to ack) has none. Sessions touched during a turn
//! (input, writes) are flushed once at its end, so acks and replies to a burst share datagrams.

use crate::carrier::Carrier;
use crate::conns::{Conns, Notice, State};
use crate::flow::Timer;
use crate::stream::{PeerAddr, Stream};
use crate::{ConnId, Error, SharedCodec};
use riptide_kcp::Kcp;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// KCP's PUSH command: only a data segment may open a session on a listener.
const CMD_PUSH: u8 = 81;

/// Smallest [`KcpOptions::max_buffered`] accepted: 64 KiB.
const MIN_BUFFERED: usize = 1 << 16;

/// How KCP runs on a `kcp://` listener's sessions or a dialed `kcp://` connection.
#[derive(Clone, Debug)]
pub struct KcpOptions {
    /// Protocol parameters: nodelay, interval, fast resend, congestion window, windows, MTU,
    /// stream mode (`stream: false`, the default, keeps message boundaries).
    pub config: riptide_kcp::Config,
    /// A session whose peer sent nothing for this long is closed with `ETIMEDOUT`. KCP has no
    /// close handshake, so this is how a quiet, vanished peer is noticed (a peer that vanishes
    /// while data is in flight is noticed sooner, as a dead link). `None`: never.
    pub idle_timeout: Option<Duration>,
    /// Listener only: sessions one source IP may hold on the listener (`0`: no cap). When an
    /// IP is at the cap, its oldest *unconfirmed* session (see [`KcpOptions::handshake_timeout`])
    /// makes room for the new one; if all its sessions are confirmed, the new one is refused.
    /// One datagram per conv from one socket otherwise fills the whole session table.
    /// Default 64: a NAT with dozens of clients behind one address, while one host costs at
    /// most 64 sessions' worth of memory.
    pub max_sessions_per_ip: usize,
    /// Listener only: how long an *unconfirmed* session lives without hearing from its peer
    /// (instead of `idle_timeout`). A session is confirmed once the peer acknowledged a data
    /// segment the server sent ([`Kcp::peer_acked`]): proof that it receives at its address
    /// and runs KCP, which a spoofed or one-shot datagram cannot give. Unconfirmed sessions
    /// are also the ones evicted, oldest first, when a new peer needs room (table full, IP
    /// at its cap, memory budget spent); confirmed ones never are. `None`: `idle_timeout`.
    /// Default 5 s: several initial RTOs (200 ms, doubling), so a real client whose first
    /// reply or ack was lost still confirms.
    pub handshake_timeout: Option<Duration>,
    /// Listener only: memory budget in bytes for the segments buffered by all its sessions
    /// ([`Kcp::buffered_bytes`]: segments × MSS). Past it, unconfirmed sessions are closed,
    /// oldest first, until it holds, and no new session opens while confirmed ones alone
    /// exceed it. Default 256 MiB.
    pub max_buffered: usize,
}

impl Default for KcpOptions {
    /// ikcp's defaults, message mode, sessions expire after 90 s of silence (5 s until
    /// confirmed), 64 sessions per source IP, 256 MiB buffered per listener.
    fn default() -> Self {
        KcpOptions {
            config: riptide_kcp::Config::default(),
            idle_timeout: Some(Duration::from_secs(90)),
            max_sessions_per_ip: 64,
            handshake_timeout: Some(Duration::from_secs(5)),
            max_buffered: 256 << 20,
        }
    }
}

impl KcpOptions {
    /// Checks the parameters once, so a bad option fails at listen or dial time rather than
    /// at the first datagram.
    pub fn validate(&self) -> Result<(), Error> {
        Kcp::new(0, &self.config)
            .map(drop)
            .map_err(|e| Error::InvalidOption(format!("kcp: {e}")))?;
        // A smaller budget would refuse every session (TS enforces the same floor).
        if self.max_buffered < MIN_BUFFERED {
            return Err(Error::InvalidOption(format!(
                "kcp: max_buffered {} is below the minimum of {MIN_BUFFERED}",
                self.max_buffered
            )));
        }
        Ok(())
    }
}

/// The KCP state of one connection.
pub(crate) struct KcpSession {
    pub(crate) kcp: Kcp,
    /// The earliest protocol deadline on the timing wheel, if one is armed.
    armed: Option<Instant>,
    idle_timeout: Option<Duration>,
    /// Queued for the end-of-turn flush.
    dirty: bool,
    /// A listener's session: its place in the admission bookkeeping. `None` for dialed
    /// sessions and once forgotten (evicted or removed).
    admitted: Option<Admitted>,
}

/// Admission bookkeeping of one listener session.
struct Admitted {
    /// Listener socket and source IP, the keys of the per-IP count and the budget.
    socket: usize,
    ip: IpAddr,
    /// Admission order, the eviction order of unconfirmed sessions.
    seq: u64,
    /// The peer acknowledged our data ([`Kcp::peer_acked`]); never evicted from then on.
    confirmed: bool,
    /// `buffered_bytes` as last added to the listener's total.
    buffered: usize,
    handshake_timeout: Option<Duration>,
    max_buffered: usize,
}

/// Admission state of the `kcp://` listeners of one reactor: per-IP counts, unconfirmed
/// sessions in admission order, buffered bytes per listener.
#[derive(Default)]
pub(crate) struct KcpTable {
    next_seq: u64,
    /// Unconfirmed listener sessions, oldest first: `seq → (socket, id)`.
    unconfirmed: BTreeMap<u64, (usize, ConnId)>,
    /// Per listener socket and source IP.
    per_ip: HashMap<(usize, IpAddr), PerIp>,
    /// Sum of the sessions' `buffered_bytes` per listener socket.
    buffered: HashMap<usize, usize>,
}

/// The sessions of one source IP on one listener.
#[derive(Default)]
struct PerIp {
    sessions: usize,
    /// Its unconfirmed sessions, oldest first: `seq → id`.
    unconfirmed: BTreeMap<u64, ConnId>,
}

impl KcpTable {
    /// Sessions `ip` holds on listener `socket`.
    fn sessions_of(&self, socket: usize, ip: IpAddr) -> usize {
        self.per_ip.get(&(socket, ip)).map_or(0, |p| p.sessions)
    }

    /// Bytes buffered by the sessions of listener `socket`.
    fn buffered_on(&self, socket: usize) -> usize {
        self.buffered.get(&socket).copied().unwrap_or(0)
    }

    /// The oldest unconfirmed session of `ip` on `socket`.
    fn oldest_of(&self, socket: usize, ip: IpAddr) -> Option<ConnId> {
        let p = self.per_ip.get(&(socket, ip))?;
        p.unconfirmed.values().next().copied()
    }

    /// The oldest unconfirmed session on any listener, or on `socket` only.
    fn oldest(&self, socket: Option<usize>) -> Option<ConnId> {
        self.unconfirmed
            .values()
            .find(|(s, _)| socket.is_none_or(|socket| *s == socket))
            .map(|&(_, id)| id)
    }

    /// Records a new unconfirmed session.
    fn admit(&mut self, id: ConnId, socket: usize, ip: IpAddr, options: &KcpOptions) -> Admitted {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.unconfirmed.insert(seq, (socket, id));
        let p = self.per_ip.entry((socket, ip)).or_default();
        p.sessions = p.sessions.saturating_add(1);
        p.unconfirmed.insert(seq, id);
        Admitted {
            socket,
            ip,
            seq,
            confirmed: false,
            buffered: 0,
            handshake_timeout: options.handshake_timeout,
            max_buffered: options.max_buffered,
        }
    }

    /// Moves a session out of the eviction order.
    fn confirm(&mut self, a: &mut Admitted) {
        if !a.confirmed {
            a.confirmed = true;
            self.unconfirmed.remove(&a.seq);
            if let Some(p) = self.per_ip.get_mut(&(a.socket, a.ip)) {
                p.unconfirmed.remove(&a.seq);
            }
        }
    }

    /// Brings the listener's total in line with the session's `buffered_bytes` now.
    fn account(&mut self, a: &mut Admitted, now: usize) {
        let total = self.buffered.entry(a.socket).or_default();
        *total = total.saturating_sub(a.buffered).saturating_add(now);
        a.buffered = now;
    }

    /// Drops every trace of a session leaving the table.
    fn forget(&mut self, mut a: Admitted) {
        self.account(&mut a, 0);
        self.confirm(&mut a);
        if let Some(p) = self.per_ip.get_mut(&(a.socket, a.ip)) {
            p.sessions = p.sessions.saturating_sub(1);
            if p.sessions == 0 {
                self.per_ip.remove(&(a.socket, a.ip));
            }
        }
    }
}

impl KcpSession {
    /// Silence after which the session closes: the idle timeout, shortened to the handshake
    /// timeout until the session is confirmed (a listener's session).
    fn expiry(&self) -> Option<Duration> {
        match (&self.admitted, self.idle_timeout) {
            (Some(a), idle) if !a.confirmed => match (a.handshake_timeout, idle) {
                (Some(h), Some(i)) => Some(h.min(i)),
                (h, i) => h.or(i),
            },
            (_, idle) => idle,
        }
    }

    /// Outbound level for water marks: segments waiting to be sent or acked.
    fn waiting(&self) -> usize {
        self.kcp.wait_snd()
    }

    /// The send window in segments: the high water mark.
    fn window(&self) -> usize {
        self.kcp.stats().snd_wnd as usize
    }
}

impl Conns {
    /// The KCP clock: milliseconds since this table was made, wrapping like KCP's own.
    fn kcp_clock(&self) -> (Instant, u32) {
        let now = Instant::now();
        (now, now.duration_since(self.kcp_epoch).as_millis() as u32)
    }

    /// The session of `peer` and the datagram's conv on `kcp://` listener socket `socket`,
    /// made for a first data segment if new (`(id, true)`). `None` drops the datagram: not
    /// KCP, not a data segment from an unknown conversation, or no room (see
    /// [`Conns::kcp_make_room`]).
    pub(crate) fn kcp_session(
        &mut self,
        socket: usize,
        peer: SocketAddr,
        datagram: &[u8],
        options: &KcpOptions,
        codec: Option<&SharedCodec>,
        max: usize,
    ) -> Option<(ConnId, bool)> {
        let conv = riptide_kcp::conv_of(datagram)?;
        if let Some(&id) = self.kcp_sessions.get(&(socket, peer, conv)) {
            return Some((id, false));
        }
        if datagram.get(4) != Some(&CMD_PUSH) || max == 0 {
            return None;
        }
        let ip = peer.ip().to_canonical();
        if !self.kcp_make_room(socket, ip, options, max) {
            return None;
        }
        let id = self.insert_session(socket, peer, codec)?;
        if self.attach_kcp(id, conv, options).is_err() {
            self.remove(id);
            return None;
        }
        let admitted = self.kcp_table.admit(id, socket, ip, options);
        if let Some(session) = self.slab.get_mut(id).and_then(|c| c.kcp.as_mut()) {
            session.admitted = Some(admitted);
        }
        // Unconfirmed: it expires after the handshake timeout, not the idle timeout.
        if let Some(t) = options.handshake_timeout {
            self.timers.insert(Instant::now() + t, Timer::KcpExpire(id));
        }
        self.kcp_sessions.insert((socket, peer, conv), id);
        Some((id, true))
    }

    /// Makes room for a new session of `ip` on listener `socket`, evicting unconfirmed
    /// sessions (oldest first) where a limit is reached: `ip`'s own when it is at
    /// `max_sessions_per_ip`, anyone's when the table holds `max` sessions, the listener's
    /// while its buffered bytes are at `max_buffered`. False (nothing opens) when a limit is
    /// reached and only confirmed sessions hold it.
    fn kcp_make_room(
        &mut self,
        socket: usize,
        ip: IpAddr,
        options: &KcpOptions,
        max: usize,
    ) -> bool {
        let cap = options.max_sessions_per_ip;
        if cap > 0 && self.kcp_table.sessions_of(socket, ip) >= cap {
            match self.kcp_table.oldest_of(socket, ip) {
                Some(victim) => self.kcp_evict(victim),
                None => return false,
            }
        }
        while self.kcp_sessions.len() >= max {
            match self.kcp_table.oldest(None) {
                Some(victim) => self.kcp_evict(victim),
                None => return false,
            }
        }
        self.kcp_enforce_budget(socket, options.max_buffered)
    }

    /// Evicts unconfirmed sessions of listener `socket`, oldest first, while its buffered
    /// bytes are at or over `budget`; false when confirmed sessions alone reach it.
    fn kcp_enforce_budget(&mut self, socket: usize, budget: usize) -> bool {
        while self.kcp_table.buffered_on(socket) >= budget {
            match self.kcp_table.oldest(Some(socket)) {
                Some(victim) => self.kcp_evict(victim),
                None => return false,
            }
        }
        true
    }

    /// Closes an unconfirmed session to make room: it leaves the session table and the
    /// admission counts now (its peer's next datagram would open a new session), and the
    /// application gets `on_close` with `ECONNABORTED`.
    fn kcp_evict(&mut self, id: ConnId) {
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        let peer = match conn.stream {
            Stream::Datagram { peer, .. } => peer,
            _ => return,
        };
        let Some(session) = conn.kcp.as_mut() else {
            return;
        };
        let conv = session.kcp.conv();
        if let Some(a) = session.admitted.take() {
            let key = (a.socket, peer, conv);
            if self.kcp_sessions.get(&key) == Some(&id) {
                self.kcp_sessions.remove(&key);
            }
            self.kcp_table.forget(a);
        }
        self.kcp_evictions = self.kcp_evictions.wrapping_add(1);
        let evicted = io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "unconfirmed KCP session evicted to admit another",
        );
        self.doom(id, Some(evicted.into()));
    }

    /// Removal hook of [`Conns::remove`]: a listener session leaves the admission counts.
    pub(crate) fn kcp_forget(&mut self, session: &mut KcpSession) {
        if let Some(a) = session.admitted.take() {
            self.kcp_table.forget(a);
        }
    }

    /// Makes connection `id` a KCP session with `conv`.
    pub(crate) fn attach_kcp(
        &mut self,
        id: ConnId,
        conv: u32,
        options: &KcpOptions,
    ) -> Result<(), Error> {
        let mut kcp =
            Kcp::new(conv, &options.config).map_err(|e| Error::InvalidOption(e.to_string()))?;
        let (now, ms) = self.kcp_clock();
        // Start KCP's clock (its flush schedule counts from the first update).
        kcp.handle_timeout(ms);
        let conn = self.slab.get_mut(id).ok_or(Error::ConnClosed)?;
        conn.last_active = Some(now);
        conn.kcp = Some(Box::new(KcpSession {
            kcp,
            armed: None,
            idle_timeout: options.idle_timeout,
            dirty: false,
            admitted: None,
        }));
        if let Some(t) = options.idle_timeout {
            self.timers.insert(now + t, Timer::KcpExpire(id));
        }
        Ok(())
    }

    /// True when `id` is a KCP session.
    pub(crate) fn is_kcp(&self, id: ConnId) -> bool {
        self.slab.get(id).is_some_and(|c| c.kcp.is_some())
    }

    /// Feeds a datagram from the peer to the session; false when KCP rejected it (wrong conv,
    /// malformed: dropped and counted; what the session accepted before stays).
    pub(crate) fn kcp_input(&mut self, id: ConnId, datagram: &[u8]) -> bool {
        let (now, ms) = self.kcp_clock();
        let Some(session) = self.slab.get_mut(id).and_then(|c| c.kcp.as_mut()) else {
            return false;
        };
        if session.kcp.input(ms, datagram).is_err() {
            self.kcp_input_errors += 1;
            return false;
        }
        if let Some(conn) = self.slab.get_mut(id) {
            conn.last_active = Some(now);
        }
        self.mark_dirty(id);
        true
    }

    /// Moves the next received message (or, in stream mode, the next segment's bytes) into `buf`.
    /// False when there is none, or while the connection is paused: unread messages then fill
    /// KCP's receive window and the peer stops sending (real backpressure).
    pub(crate) fn kcp_recv(&mut self, id: ConnId, buf: &mut Vec<u8>) -> bool {
        let Some(conn) = self.slab.get_mut(id) else {
            return false;
        };
        if conn.paused || !matches!(conn.state, State::Open | State::Closing) {
            return false;
        }
        let Some(session) = conn.kcp.as_mut() else {
            return false;
        };
        let Some(size) = session.kcp.peek_size() else {
            return false;
        };
        buf.resize(size, 0);
        match session.kcp.recv(buf) {
            Ok(n) => {
                buf.truncate(n);
                // A receive frees window: let the flush tell the peer.
                self.mark_dirty(id);
                true
            }
            Err(_) => false,
        }
    }

    /// Queues one message (the buffers joined) on a KCP session. The message is accepted even
    /// past the send window (`on_writability(.., false)` then tells the writer to wait, as a
    /// Node stream's `write() → false`); only a message larger than KCP can carry is refused.
    pub(crate) fn kcp_write(&mut self, id: ConnId, bufs: &[&[u8]]) -> Result<(), Error> {
        let max_outbound = self.flow.max_outbound;
        let track_idle = self.flow.idle.write.is_some() || self.flow.idle.all.is_some();
        let conn = self.slab.get_mut(id).ok_or(Error::ConnClosed)?;
        let session = conn.kcp.as_mut().ok_or(Error::ConnClosed)?;
        let joined;
        let data: &[u8] = match bufs {
            [one] => one,
            _ => {
                joined = bufs.concat();
                &joined
            }
        };
        let mss = session.kcp.mss();
        if max_outbound.is_some_and(|m| (session.waiting() + data.len().div_ceil(mss)) * mss > m) {
            self.doom(id, Some(Error::OutboundFull));
            return Err(Error::OutboundFull);
        }
        match session.kcp.enqueue(data) {
            Ok(()) => {}
            Err(_) => {
                return Err(Error::MessageTooLarge {
                    size: data.len(),
                    max: session.kcp.max_message(),
                })
            }
        }
        if track_idle {
            conn.last_write = Instant::now();
        }
        if !conn.unwritable && session.waiting() >= session.window() {
            conn.unwritable = true;
            self.notices.push_back(Notice::Writability(id, false));
        }
        self.mark_dirty(id);
        Ok(())
    }

    /// Queues the session for the end-of-turn flush.
    fn mark_dirty(&mut self, id: ConnId) {
        if let Some(session) = self.slab.get_mut(id).and_then(|c| c.kcp.as_mut()) {
            if !session.dirty {
                session.dirty = true;
                self.kcp_dirty.push(id);
            }
        }
    }

    /// True when KCP sessions wait for their flush.
    pub(crate) fn kcp_pending(&self) -> bool {
        !self.kcp_dirty.is_empty()
    }

    /// Flushes every session touched since the last flush: acks, window updates and new data
    /// go out now rather than at the next interval (kcp-go's immediate flush, wire-compatible).
    pub(crate) fn kcp_flush_dirty(&mut self) {
        if self.kcp_dirty.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut self.kcp_dirty);
        let (now, ms) = self.kcp_clock();
        for id in dirty.drain(..) {
            let Some(session) = self.slab.get_mut(id).and_then(|c| c.kcp.as_mut()) else {
                continue;
            };
            session.dirty = false;
            session.kcp.flush(ms);
            self.kcp_settle(id, now, ms);
        }
        self.kcp_dirty = dirty;
    }

    /// A session's protocol deadline fired: run KCP's update (retransmissions, probes,
    /// interval flush). Later entries left on the wheel by an earlier re-arm are ignored.
    pub(crate) fn kcp_timeout(&mut self, id: ConnId) {
        let (now, ms) = self.kcp_clock();
        let Some(session) = self.slab.get_mut(id).and_then(|c| c.kcp.as_mut()) else {
            return;
        };
        if session.armed.is_some_and(|at| at > now) {
            return;
        }
        session.armed = None;
        session.kcp.handle_timeout(ms);
        self.kcp_settle(id, now, ms);
    }

    /// Closes a session whose peer has been silent for its idle timeout, or looks again when
    /// it could next be.
    pub(crate) fn kcp_expire(&mut self, id: ConnId, now: Instant) {
        let Some(conn) = self.slab.get(id) else {
            return;
        };
        let (Some(last), Some(timeout)) =
            (conn.last_active, conn.kcp.as_ref().and_then(|s| s.expiry()))
        else {
            return;
        };
        if now.duration_since(last) >= timeout {
            let silent = io::Error::new(io::ErrorKind::TimedOut, "KCP peer silent");
            let _ = self.destroy(id, Some(silent.into()));
        } else {
            self.timers.insert(last + timeout, Timer::KcpExpire(id));
        }
    }

    /// After KCP ran: sends what it produced, then closes a dead link, reports writability
    /// and completed writes, finishes a pending close and re-arms the protocol deadline.
    fn kcp_settle(&mut self, id: ConnId, now: Instant, ms: u32) {
        let Conns {
            slab,
            udp,
            kcp_out,
            kcp_table,
            ..
        } = self;
        let Some(conn) = slab.get_mut(id) else {
            return;
        };
        let Some(session) = conn.kcp.as_mut() else {
            return;
        };
        let (carrier, peer): (&dyn Carrier, SocketAddr) = match &conn.stream {
            Stream::Datagram { socket, peer } => (&udp[*socket], *peer),
            Stream::Udp(s) => match &conn.peer {
                PeerAddr::Inet(peer) => (s, *peer),
                PeerAddr::Unix(_) => return,
            },
            _ => return,
        };
        while let Some(n) = session.kcp.poll_transmit(ms, kcp_out) {
            // A datagram the kernel cannot take now is lost like any other: KCP resends it.
            let _ = carrier.send_datagram(&kcp_out[..n], peer);
        }
        let mut budget = None;
        if let Some(a) = session.admitted.as_mut() {
            if session.kcp.peer_acked() {
                kcp_table.confirm(a);
            }
            kcp_table.account(a, session.kcp.buffered_bytes());
            if kcp_table.buffered_on(a.socket) >= a.max_buffered {
                budget = Some((a.socket, a.max_buffered));
            }
        }
        if let Some((socket, max)) = budget {
            // Over budget: unconfirmed sessions go, oldest first (this one, maybe).
            self.kcp_enforce_budget(socket, max);
            if self.slab.get(id).is_none_or(|c| c.state == State::Doomed) {
                return;
            }
        }
        self.kcp_settle_rest(id, now, ms);
    }

    /// The second half of [`Conns::kcp_settle`], after the datagrams went out: dead link,
    /// writability, completed writes, pending close, next deadline.
    fn kcp_settle_rest(&mut self, id: ConnId, now: Instant, ms: u32) {
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        let Some(session) = conn.kcp.as_mut() else {
            return;
        };
        if session.kcp.is_dead() {
            self.doom(id, Some(Error::KcpDeadLink));
            return;
        }
        let waiting = session.waiting();
        if conn.unwritable && waiting <= session.window() / 2 {
            conn.unwritable = false;
            self.notices.push_back(Notice::Writability(id, true));
        }
        if waiting == 0 {
            // Everything written so far is acknowledged: complete the write callbacks.
            while let Some((_, token)) = conn.markers.pop_front() {
                self.notices.push_back(Notice::Written(id, token));
            }
            if conn.state == State::Closing {
                self.doom(id, None);
                return;
            }
        }
        if let Some(at) = session.kcp.poll_timeout() {
            let wait = at.wrapping_sub(ms) as i32;
            let deadline = now + Duration::from_millis(wait.max(0) as u64);
            if session.armed.is_none_or(|armed| deadline < armed) {
                session.armed = Some(deadline);
                self.timers.insert(deadline, Timer::Kcp(id));
            }
        }
    }

    /// Bytes waiting in a KCP session's send queue and unacknowledged window, estimated from
    /// its segments (a segment holds at most one MSS).
    pub(crate) fn kcp_outbound(&self, id: ConnId) -> Option<usize> {
        let session = self.slab.get(id)?.kcp.as_ref()?;
        Some(session.waiting() * session.kcp.mss())
    }

    /// `true` while the session still has segments to send or to see acknowledged.
    pub(crate) fn kcp_busy(&self, id: ConnId) -> bool {
        self.slab
            .get(id)
            .and_then(|c| c.kcp.as_ref())
            .is_some_and(|s| s.waiting() > 0)
    }

    /// [`Conns::expect_drain`] for a KCP session: a writable event now if the queue is at the
    /// low mark, else when it gets there.
    pub(crate) fn kcp_expect_drain(&mut self, id: ConnId) {
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        let Some(session) = conn.kcp.as_ref() else {
            return;
        };
        if !conn.unwritable {
            if session.waiting() <= session.window() / 2 {
                self.notices.push_back(Notice::Writability(id, true));
            } else {
                conn.unwritable = true;
            }
        }
    }

    /// KCP statistics of a session (RTT, RTO, retransmissions, windows).
    pub fn kcp_stats(&self, id: ConnId) -> Result<riptide_kcp::Stats, Error> {
        let conn = self.slab.get(id).ok_or(Error::ConnClosed)?;
        conn.kcp
            .as_ref()
            .map(|s| s.kcp.stats())
            .ok_or_else(|| Error::InvalidOption("not a KCP connection".into()))
    }

    /// Datagrams KCP rejected on this reactor (wrong conv, malformed): hostile or stray input.
    pub fn kcp_input_errors(&self) -> u64 {
        self.kcp_input_errors
    }

    /// Unconfirmed KCP sessions closed to admit others or to keep a listener's memory budget.
    pub fn kcp_evictions(&self) -> u64 {
        self.kcp_evictions
    }

    /// KCP sessions `ip` holds on this reactor's listeners: the figure `max_sessions_per_ip`
    /// caps (per listener).
    pub fn kcp_sessions_of(&self, ip: IpAddr) -> usize {
        let ip = ip.to_canonical();
        self.kcp_table
            .per_ip
            .iter()
            .filter(|((_, i), _)| *i == ip)
            .map(|(_, p)| p.sessions)
            .sum()
    }
}
