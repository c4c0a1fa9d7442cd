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
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// KCP's PUSH command: only a data segment may open a session on a listener.
const CMD_PUSH: u8 = 81;

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
}

impl Default for KcpOptions {
    /// ikcp's defaults, message mode, sessions expire after 90 s of silence.
    fn default() -> Self {
        KcpOptions {
            config: riptide_kcp::Config::default(),
            idle_timeout: Some(Duration::from_secs(90)),
        }
    }
}

impl KcpOptions {
    /// Checks the parameters once, so a bad option fails at listen or dial time rather than
    /// at the first datagram.
    pub fn validate(&self) -> Result<(), Error> {
        Kcp::new(0, &self.config)
            .map(drop)
            .map_err(|e| Error::InvalidOption(format!("kcp: {e}")))
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
}

impl KcpSession {
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
    /// KCP, not a data segment from an unknown conversation, or the table is full.
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
        if datagram[4] != CMD_PUSH || self.kcp_sessions.len() >= max {
            return None;
        }
        let id = self.insert_session(socket, peer, codec)?;
        if self.attach_kcp(id, conv, options).is_err() {
            self.remove(id);
            return None;
        }
        self.kcp_sessions.insert((socket, peer, conv), id);
        Some((id, true))
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
        let (Some(last), Some(timeout)) = (
            conn.last_active,
            conn.kcp.as_ref().and_then(|s| s.idle_timeout),
        ) else {
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
            slab, udp, kcp_out, ..
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
}
