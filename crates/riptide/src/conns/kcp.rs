//! KCP sessions as connections: the table routes a listener's datagrams to sessions through
//! the [`KcpTable`](crate::kcp_table::KcpTable), drives each [`KcpSession`] with the clock and
//! the carrier, and applies the outcomes it returns (dead link, writability, acknowledged
//! writes, deadlines, evictions). Sessions touched during a turn (input, writes) are flushed
//! once at its end, so acks and replies to a burst share datagrams.

use super::connection::{Place, State, Transport};
use super::lifecycle::NewConn;
use super::{count_bytes, Conns, Notice};
use crate::carried::DatagramSocket;
use crate::carrier::{Carrier, Counted, Via};
use crate::config::SharedCodec;
use crate::flow::Timer;
use crate::kcp_options::KcpOptions;
use crate::kcp_session::{session_key, Input, KcpSession};
use crate::kcp_table::{KcpTable, SessionKey};
use crate::layer::{Gate, PacketGate, PacketLayer};
use crate::slab::ConnId;
use crate::stats::{Counters, ListenerCounts};
use crate::stream::{PeerAddr, Stream};
use crate::Error;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

impl Conns {
    /// The KCP clock: milliseconds since this table was made, wrapping like KCP's own.
    fn kcp_clock(&self) -> (Instant, u32) {
        let now = Instant::now();
        (now, now.duration_since(self.kcp_epoch).as_millis() as u32)
    }

    /// The session a datagram from `peer` on `kcp://` listener socket `socket` belongs to:
    /// `(id, false)` for a known one (feed it with [`Conns::kcp_input_from`]), `(id, true)`
    /// for a session the datagram just opened (and was fed to; its `on_open` is queued).
    /// `None` drops the datagram: not KCP, not a data segment from an unknown conversation,
    /// answered or refused by the listener's gate, or no room (see [`Conns::kcp_make_room`]).
    pub(crate) fn kcp_accept(
        &mut self,
        socket: usize,
        peer: SocketAddr,
        datagram: &[u8],
        options: &KcpOptions,
        codec: Option<&SharedCodec>,
        max: usize,
    ) -> Option<(ConnId, bool)> {
        let (now, ms) = self.kcp_clock();
        let (key, gated) = match self.gate(socket, now, peer, datagram) {
            Gated::Ungated => (session_key(socket, peer, datagram, options)?, None),
            Gated::Session(key) => {
                let id = self.kcp_table.find(&SessionKey::Gated(socket, key))?;
                return Some((id, false));
            }
            Gated::Open(key, layers) => (SessionKey::Gated(socket, key), Some(layers)),
            Gated::Done => return None,
        };
        if let Some(id) = self.kcp_table.find(&key) {
            if gated.is_none() {
                return Some((id, false));
            }
            // The gate opens a key anew: the session that held it is over.
            self.kcp_replace(id);
        }
        if max == 0 {
            return None;
        }
        let session = match gated {
            Some(layers) => {
                KcpSession::accept_gated(options, layers, &self.gate_out.opened, now, ms)
            }
            None => KcpSession::accept(options, datagram, now, ms),
        };
        let Some(session) = session else {
            // Not a data segment KCP takes: stray or hostile input.
            self.kcp_input_errors = self.kcp_input_errors.wrapping_add(1);
            self.counters.kcp.in_errs.add(1);
            return None;
        };
        if !self.kcp_make_room(socket, peer.ip().to_canonical(), options, max) {
            return None;
        }
        let id = self
            .insert(NewConn {
                transport: Transport::Kcp(Stream::Datagram { socket, peer }, Box::new(session)),
                peer: PeerAddr::Inet(peer),
                place: Place::None,
                codec,
                layers: Vec::new(),
                connecting: false,
                listener: self.socket_listener(socket),
            })
            .ok()?;
        let admitted = self.kcp_table.admit(id, key, (socket, peer), options);
        if let Some(session) = self.kcp_mut(id) {
            session.admitted = Some(admitted);
        }
        // Unconfirmed: it expires after the handshake timeout, not the idle timeout.
        for t in [options.handshake_timeout, options.idle_timeout]
            .into_iter()
            .flatten()
        {
            self.timers.insert(now + t, Timer::KcpExpire(id));
        }
        self.kcp_mark_dirty(id);
        Some((id, true))
    }

    /// Gives a listener's gate (if it has one) the datagram, and sends the replies it makes.
    fn gate(&mut self, socket: usize, now: Instant, peer: SocketAddr, datagram: &[u8]) -> Gated {
        let Some(gate) = self.gates.get_mut(&socket) else {
            return Gated::Ungated;
        };
        self.gate_out.clear();
        let decision = gate.admit(now, peer, datagram, &mut self.gate_out);
        if let Some(inner) = self.sockets.get(socket).and_then(|s| s.carrier()) {
            let counted = Counted::new(inner);
            for (_, reply) in self.gate_out.reply.iter() {
                // Lossy like any datagram: the peer retries.
                let _ = counted.send_datagram(reply, peer);
            }
            let listener = self.socket_listener(socket);
            report_sent(&counted, &self.counters, &self.listener_counts, listener);
        }
        match decision {
            Gate::Session(key) => Gated::Session(key),
            Gate::Open { key, layers } => Gated::Open(key, layers),
            Gate::Done => Gated::Done,
        }
    }

    /// Takes a listener session out of the admission bookkeeping, and tells its gate (if it
    /// has one) that the key is free.
    pub(super) fn kcp_forget(&mut self, id: ConnId, admitted: crate::kcp_table::Admitted) {
        if let Some((socket, key)) = self.kcp_table.forget(id, admitted) {
            if let Some(gate) = self.gates.get_mut(&socket) {
                gate.closed(key);
            }
        }
    }

    /// Gives `kcp://` listener socket `socket` a gate that sees its datagrams first.
    pub(crate) fn set_gate(&mut self, socket: usize, gate: Box<dyn PacketGate>) {
        self.gates.insert(socket, gate);
    }

    /// Ends a listener session whose peer started a new conversation from the same address
    /// (a restarted kcp-go client): it leaves the table now, so the peer's datagram can open
    /// the new one, and the application gets `on_close` with `ECONNRESET`.
    pub(crate) fn kcp_replace(&mut self, id: ConnId) {
        if let Some(admitted) = self.kcp_mut(id).and_then(|s| s.admitted.take()) {
            self.kcp_forget(id, admitted);
        }
        let reset = io::Error::new(
            io::ErrorKind::ConnectionReset,
            "the peer started a new KCP conversation",
        );
        self.doom(id, Some(reset.into()));
    }

    /// Adds a dialed KCP session over `stream` (a connected UDP socket, or a carrier's peer),
    /// with a random conv; the server learns it from the first segment, so the client speaks
    /// first.
    pub(crate) fn kcp_dial(
        &mut self,
        stream: Stream,
        peer: SocketAddr,
        options: &KcpOptions,
        codec: Option<&SharedCodec>,
    ) -> Result<ConnId, Error> {
        let (now, ms) = self.kcp_clock();
        let session = KcpSession::new(random_conv(), options, now, ms)?;
        let id = self.insert(NewConn {
            transport: Transport::Kcp(stream, Box::new(session)),
            peer: PeerAddr::Inet(peer),
            place: Place::None,
            codec,
            layers: Vec::new(),
            connecting: true,
            listener: None,
        })?;
        if let Some(t) = options.idle_timeout {
            self.timers.insert(now + t, Timer::KcpExpire(id));
        }
        Ok(id)
    }

    fn kcp_mut(&mut self, id: ConnId) -> Option<&mut KcpSession> {
        self.slab.get_mut(id)?.transport.kcp_mut()
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
        while self.kcp_table.len() >= max {
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
        let Some(admitted) = self.kcp_mut(id).and_then(|s| s.admitted.take()) else {
            return;
        };
        self.kcp_forget(id, admitted);
        self.kcp_evictions = self.kcp_evictions.wrapping_add(1);
        let evicted = io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "unconfirmed KCP session evicted to admit another",
        );
        self.doom(id, Some(evicted.into()));
    }

    /// Feeds a datagram that came from `from` to the session (a listener's session; `None`
    /// for a dialed one's connected socket). A rejected one is dropped and counted; what the
    /// session accepted before stays. A gated session moves to `from` when the datagram was
    /// authenticated and newer than any before (NAT rebinding).
    pub(crate) fn kcp_input_from(
        &mut self,
        id: ConnId,
        from: Option<SocketAddr>,
        datagram: &[u8],
    ) -> Input {
        let (now, ms) = self.kcp_clock();
        let Some(conn) = self.slab.get_mut(id) else {
            return Input::Rejected;
        };
        let Transport::Kcp(stream, session) = &mut conn.transport else {
            return Input::Rejected;
        };
        self.counters.kcp.in_pkts.add(1);
        self.counters.kcp.in_bytes.add(datagram.len() as u64);
        let gated = session.admitted.as_ref().is_some_and(KcpTable::is_gated);
        let input = match session.input(now, ms, datagram) {
            // A gate's session is found by its key, not its conv: no kcp-go reset there.
            Input::NewConversation if gated => Input::Rejected,
            input => input,
        };
        match input {
            Input::Rejected => {
                self.kcp_input_errors = self.kcp_input_errors.wrapping_add(1);
                self.counters.kcp.in_errs.add(1);
                return input;
            }
            Input::NewConversation => return input,
            Input::Accepted => {}
        }
        if let (Stream::Datagram { peer, .. }, Some(from)) = (stream, from) {
            if *peer != from && gated && session.may_migrate() {
                *peer = from;
                conn.peer = PeerAddr::Inet(from);
            }
        }
        self.kcp_mark_dirty(id);
        input
    }

    /// Sends one message on the unreliable channel of a KCP session: outside KCP (no
    /// retransmission, no order), sealed by the session's packet layers, one of which must
    /// mark it (FEC's out-of-band shard, the secure mode's type). A datagram the kernel cannot
    /// take now is dropped. On a WebRTC peer: its unreliable data channel, and `false` when
    /// the message was dropped because the channel is congested.
    pub fn send_unreliable(&mut self, id: ConnId, data: &[u8]) -> Result<bool, Error> {
        self.settle();
        if self
            .slab
            .get(id)
            .is_some_and(|c| c.transport.rtc().is_some())
        {
            return self.rtc_send_unreliable(id, data);
        }
        let Conns {
            slab,
            sockets,
            counters,
            listener_counts,
            ..
        } = self;
        let conn = slab.get_mut(id).ok_or(Error::ConnClosed)?;
        if !matches!(conn.state, State::Open | State::Closing) {
            return Err(Error::ConnClosed);
        }
        let Transport::Kcp(stream, session) = &mut conn.transport else {
            return Err(Error::InvalidOption(
                "the unreliable channel is a KCP session's or a WebRTC peer's".into(),
            ));
        };
        let (via, peer) = carrier(stream, &conn.peer, sockets).ok_or(Error::ConnClosed)?;
        let counted = Counted::new(&via);
        let sent = session.send_unreliable(Instant::now(), data, &counted, peer);
        report_sent(&counted, counters, listener_counts, conn.listener);
        sent.map(|()| true)
    }

    /// The next message that arrived on a KCP session's unreliable channel.
    pub(crate) fn kcp_recv_unreliable(&mut self, id: ConnId) -> Option<Vec<u8>> {
        let conn = self.slab.get_mut(id)?;
        if conn.paused || !matches!(conn.state, State::Open | State::Closing) {
            return None;
        }
        conn.transport.kcp_mut()?.recv_unreliable()
    }

    /// Moves the next received message (or, in stream mode, the next segment's bytes) into
    /// `buf`. False when there is none, or while the connection is paused: unread messages
    /// then fill KCP's receive window and the peer stops sending (real backpressure).
    pub(crate) fn kcp_recv(&mut self, id: ConnId, buf: &mut Vec<u8>) -> bool {
        let Some(conn) = self.slab.get_mut(id) else {
            return false;
        };
        if conn.paused || !matches!(conn.state, State::Open | State::Closing) {
            return false;
        }
        let received = conn.transport.kcp_mut().is_some_and(|s| s.recv(buf));
        if received {
            // A receive frees window: let the flush tell the peer.
            self.kcp_mark_dirty(id);
        }
        received
    }

    /// Queues one message (the buffers joined) on a KCP session. The message is accepted even
    /// past the send window (`on_writability(.., false)` then tells the writer to wait, as a
    /// Node stream's `write() → false`); only a message larger than KCP can carry is refused.
    pub(super) fn kcp_write(&mut self, id: ConnId, bufs: &[&[u8]]) -> Result<(), Error> {
        let max_outbound = self.flow.max_outbound;
        let track_idle =
            self.flow.idle_timeout.write.is_some() || self.flow.idle_timeout.all.is_some();
        let conn = self.slab.get_mut(id).ok_or(Error::ConnClosed)?;
        let session = conn.transport.kcp_mut().ok_or(Error::ConnClosed)?;
        let joined;
        let data: &[u8] = match bufs {
            [one] => one,
            _ => {
                joined = bufs.concat();
                &joined
            }
        };
        let full = match session.enqueue(data, max_outbound) {
            Ok(full) => full,
            Err(Error::OutboundFull) => {
                self.doom(id, Some(Error::OutboundFull));
                return Err(Error::OutboundFull);
            }
            Err(e) => return Err(e),
        };
        if track_idle {
            conn.last_write = Instant::now();
        }
        if full && !conn.unwritable {
            conn.unwritable = true;
            self.notices.push_back(Notice::Writability(id, false));
        }
        self.kcp_mark_dirty(id);
        Ok(())
    }

    /// Queues the session for the end-of-turn flush.
    fn kcp_mark_dirty(&mut self, id: ConnId) {
        if self.kcp_mut(id).is_some_and(|s| s.mark_dirty()) {
            self.kcp_dirty.push(id);
        }
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
            if let Some(session) = self.kcp_mut(id) {
                session.flush(ms);
                self.kcp_settle(id, now, ms);
            }
        }
        self.kcp_dirty = dirty;
    }

    /// A session's protocol deadline fired: run KCP's update (retransmissions, probes,
    /// interval flush) and its packet layers' deadlines.
    pub(super) fn kcp_timeout(&mut self, id: ConnId) {
        let (now, ms) = self.kcp_clock();
        if self.kcp_mut(id).is_some_and(|s| s.handle_timeout(now, ms)) {
            self.kcp_settle(id, now, ms);
        }
    }

    /// Closes a session whose peer has been silent for its idle timeout, or looks again when
    /// it could next be.
    pub(super) fn kcp_expire(&mut self, id: ConnId, now: Instant) {
        let Some(session) = self.slab.get(id).and_then(|c| c.transport.kcp()) else {
            return;
        };
        match session.silence(now) {
            Ok(()) => self.time_out(id, "KCP peer silent"),
            Err(Some(at)) => self.timers.insert(at, Timer::KcpExpire(id)),
            Err(None) => {}
        }
    }

    /// After KCP ran: sends what it produced, keeps the listener's admission counts, then
    /// applies the outcome (dead link, writability, completed writes, pending close, next
    /// deadline).
    fn kcp_settle(&mut self, id: ConnId, now: Instant, ms: u32) {
        let Conns {
            slab,
            sockets,
            kcp_out,
            kcp_batch,
            kcp_table,
            counters,
            listener_counts,
            ..
        } = self;
        let Some(conn) = slab.get_mut(id) else {
            return;
        };
        let Transport::Kcp(stream, session) = &mut conn.transport else {
            return;
        };
        let Some((via, peer)) = carrier(stream, &conn.peer, sockets) else {
            return;
        };
        let counted = Counted::new(&via);
        session.transmit(now, ms, &counted, peer, kcp_out, kcp_batch);
        report_sent(&counted, counters, listener_counts, conn.listener);
        let stats = session.stats();
        counters.kcp.add_session(&session.reported, &stats);
        session.reported = stats;
        let (acked, buffered) = (session.peer_acked(), session.buffered_bytes());
        let mut budget = None;
        if let Some(a) = session.admitted.as_mut() {
            if acked {
                kcp_table.confirm(a);
            }
            kcp_table.account(a, buffered);
            if kcp_table.buffered_on(a.socket) >= a.max_buffered {
                budget = Some((a.socket, a.max_buffered));
            }
        }
        let settled = session.settle(now, ms, conn.unwritable);
        if let Some((socket, max)) = budget {
            // Over budget: unconfirmed sessions go, oldest first (this one, maybe).
            self.kcp_enforce_budget(socket, max);
        }
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        if conn.state == State::Doomed {
            return;
        }
        if let Some(e) = settled.dead {
            self.doom(id, Some(e));
            return;
        }
        if settled.drained {
            conn.unwritable = false;
            self.notices.push_back(Notice::Writability(id, true));
        }
        if settled.all_acked {
            // Everything written so far is acknowledged: complete the write callbacks.
            while let Some(token) = conn.pop_marker(u64::MAX) {
                self.notices.push_back(Notice::Written(id, token));
            }
            if conn.state == State::Closing {
                self.doom(id, None);
                return;
            }
        }
        if let Some(at) = settled.arm {
            self.timers.insert(at, Timer::Kcp(id));
        }
    }

    /// KCP statistics of a session (RTT, RTO, retransmissions, windows).
    pub fn kcp_stats(&self, id: ConnId) -> Result<riptide_kcp::Stats, Error> {
        let conn = self.get(id)?;
        conn.transport
            .kcp()
            .map(|s| s.stats())
            .ok_or_else(|| Error::InvalidOption("not a KCP connection".into()))
    }

    /// The named counters of a KCP session's packet layers (FEC's `fecRecovered`...).
    pub fn kcp_counters(&self, id: ConnId) -> Result<Vec<(&'static str, u64)>, Error> {
        let conn = self.get(id)?;
        conn.transport
            .kcp()
            .map(|s| s.counters())
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
        self.kcp_table.sessions_of_ip(ip.to_canonical())
    }
}

/// What carries a session's datagrams, and to whom: a listener's socket (or carrier) to the
/// session's peer, a carried dial's carrier to its peer, or a dialed session's connected
/// socket.
fn carrier<'a>(
    stream: &'a Stream,
    peer: &PeerAddr,
    sockets: &'a [DatagramSocket],
) -> Option<(Via<'a>, SocketAddr)> {
    match (stream, peer) {
        (Stream::Datagram { socket, peer }, _) => {
            Some((Via::Socket(sockets.get(*socket)?.carrier()?), *peer))
        }
        (Stream::Udp(s), PeerAddr::Inet(peer)) => Some((Via::Connected(s), *peer)),
        _ => None,
    }
}

/// Adds what `counted` sent to the reactor's KCP and byte counts and to `listener`'s.
fn report_sent(
    counted: &Counted<'_>,
    counters: &Counters,
    list: &[Arc<ListenerCounts>],
    listener: Option<u16>,
) {
    let (datagrams, bytes) = counted.sent();
    if datagrams > 0 {
        counters.kcp.out_pkts.add(datagrams);
        counters.kcp.out_bytes.add(bytes);
        count_bytes(counters, list, listener, bytes as usize, false);
    }
}

/// What a listener's gate said, with the reply already sent.
enum Gated {
    /// The listener has no gate.
    Ungated,
    /// A datagram of the session with this key.
    Session(u64),
    /// A new session with this key and these bottom layers (`gate_out.opened` holds the
    /// opened datagram).
    Open(u64, Vec<Box<dyn PacketLayer>>),
    /// Answered or dropped.
    Done,
}

/// A random KCP conv for a client (the server learns it from the first segment).
fn random_conv() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() as u32).max(1)
}
