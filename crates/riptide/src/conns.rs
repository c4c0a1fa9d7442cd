//! The reactor's connection table and the operations handlers call on it: write (straight to
//! the socket when nothing is queued), close, end, destroy, pause/resume, timers, socket
//! setters and address look-ups. Anything that must reach a handler (writability changes,
//! completed writes, half-closes, closes) is queued as a notice and delivered in order by the
//! reactor, never from inside the call that caused it.

use crate::admission::Admission;
use crate::flow::{FlowConfig, IdleKind, Timer};
use crate::kcp_session::KcpSession;
use crate::outbound::Outbound;
use crate::slab::Slab;
use crate::socket::{set_keep_alive, KeepAlive, SocketOptions};
use crate::stream::{PeerAddr, Stream};
use crate::timer_wheel::TimerWheel;
use crate::{ConnId, Error, SharedCodec};
use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};
use riptide_codec::Codec;
use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One connection.
pub(crate) struct Connection {
    pub(crate) stream: Stream,
    pub(crate) outbound: Outbound,
    pub(crate) peer: PeerAddr,
    pub(crate) state: State,
    /// Last datagram from the peer, for UDP sessions (idle expiry); `None` for streams.
    pub(crate) last_active: Option<Instant>,
    pub(crate) last_read: Instant,
    pub(crate) last_write: Instant,
    /// Bytes handed to the kernel so far; write markers are positions in this count.
    sent: u64,
    /// `(position, token)` of writes whose completion was asked for, in position order.
    pub(crate) markers: VecDeque<(u64, u64)>,
    /// Above the high water mark (and not yet back under the low one).
    pub(crate) unwritable: bool,
    /// Reading stopped by [`Conns::pause`].
    pub(crate) paused: bool,
    /// The peer's FIN arrived (half-open connections keep writing).
    pub(crate) read_closed: bool,
    /// A poll event said the peer closed or errored: keep reading until the read that
    /// reports it (edge-triggered polling will not say it again).
    pub(crate) hup_seen: bool,
    /// [`Conns::end`] was called: shut the write side once the queue drains.
    end_requested: bool,
    write_closed: bool,
    /// Counted against the engine's [`Admission`].
    admitted: bool,
    /// The connection's framing, if its listener has one: one instance decodes (it is taken
    /// out while frames are delivered), another encodes writes made meanwhile.
    pub(crate) decoder: Option<Box<dyn Codec>>,
    encoder: Option<Box<dyn Codec>>,
    /// Bytes received but not yet delivered: a partial frame, or what the handler retained.
    pub(crate) inbound: Vec<u8>,
    /// Since when `inbound` has held a partial frame (for the frame timeout).
    pub(crate) partial_since: Option<Instant>,
    /// Waiting for a PROXY protocol header of this kind (the connection is not open yet).
    pub(crate) proxy: Option<riptide_codec::ProxyMode>,
    /// The PROXY header the connection arrived with.
    /// Boxed: rare, and large next to the rest (an idle connection's size is the M1 figure).
    pub(crate) proxy_header: Option<Box<riptide_codec::ProxyHeader>>,
    /// The KCP state of a `kcp://` connection: its bytes go through KCP, not the socket.
    pub(crate) kcp: Option<Box<KcpSession>>,
}

/// Where a connection is in its life. Only `Open` accepts writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Dialed and not yet connected: writes queue until it is.
    Connecting,
    Open,
    /// [`Conns::close`] was called with bytes still queued: close once they are written.
    Closing,
    /// The close is decided and queued for `on_close`.
    Doomed,
}

/// Something a handler must hear about, delivered in order by the reactor.
pub(crate) enum Notice {
    /// The connection crossed a water mark (`true`: writable again).
    Writability(ConnId, bool),
    /// The bytes written before the marker `token` reached the kernel.
    Written(ConnId, u64),
    /// The peer closed its write side (half-open connections).
    End(ConnId),
    /// A dialed connection connected: report `on_open`.
    Connected(ConnId),
    /// The connection is closing: report `on_close` (after failing its pending markers).
    Close(ConnId, Option<Error>),
    /// A write made on the handler's behalf failed without closing (a message the codec
    /// cannot express): report `on_error`.
    Error(ConnId, Error),
}

/// All live connections of one reactor.
pub struct Conns {
    pub(crate) slab: Slab<Connection>,
    registry: Registry,
    options: SocketOptions,
    write_buffer_cap: usize,
    pub(crate) flow: FlowConfig,
    admission: Arc<Admission>,
    /// Open connections, shared with the load balancer.
    load: Arc<AtomicUsize>,
    pub(crate) notices: VecDeque<Notice>,
    /// Connections resumed since the last turn; the reactor reads them again.
    pub(crate) resumed: Vec<ConnId>,
    pub(crate) timers: TimerWheel<Timer>,
    /// The reactor's UDP sockets, by index.
    pub(crate) udp: Vec<UdpSocket>,
    /// UDP sessions by socket and peer.
    pub(crate) sessions: HashMap<(usize, SocketAddr), ConnId>,
    /// KCP sessions by socket, peer and conv (one peer may run several conversations).
    pub(crate) kcp_sessions: HashMap<(usize, SocketAddr, u32), ConnId>,
    /// Scratch buffer for encoding outbound frames.
    encoded: Vec<u8>,
    /// Time zero of the KCP clock.
    pub(crate) kcp_epoch: Instant,
    /// KCP sessions touched this turn, flushed at its end.
    pub(crate) kcp_dirty: Vec<ConnId>,
    /// Scratch buffer one outgoing KCP datagram is built in.
    pub(crate) kcp_out: Vec<u8>,
    /// Datagrams KCP rejected.
    pub(crate) kcp_input_errors: u64,
    /// Admission state of the `kcp://` listeners: per-IP counts, eviction order, budgets.
    pub(crate) kcp_table: crate::kcp_session::KcpTable,
    /// Unconfirmed KCP sessions evicted.
    pub(crate) kcp_evictions: u64,
    /// While corked, writes queue instead of going to the socket; `uncork` flushes them.
    corked: bool,
    /// Connections with bytes queued while corked.
    corked_conns: Vec<ConnId>,
}

impl Conns {
    pub(crate) fn new(
        registry: Registry,
        config: &crate::ReactorConfig,
        load: Arc<AtomicUsize>,
    ) -> Self {
        Conns {
            slab: Slab::default(),
            registry,
            options: config.socket.clone(),
            write_buffer_cap: config.write_buffer_cap,
            flow: config.flow.clone(),
            admission: config.admission.clone(),
            load,
            notices: VecDeque::new(),
            resumed: Vec::new(),
            timers: TimerWheel::new(Instant::now()),
            udp: Vec::new(),
            sessions: HashMap::new(),
            kcp_sessions: HashMap::new(),
            encoded: Vec::new(),
            kcp_epoch: Instant::now(),
            kcp_dirty: Vec::new(),
            kcp_out: vec![0; 64 * 1024],
            kcp_input_errors: 0,
            kcp_table: Default::default(),
            kcp_evictions: 0,
            corked: false,
            corked_conns: Vec::new(),
        }
    }

    /// Number of open connections.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// True when no connection is open.
    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// True when something waits for the reactor (a close or another notice to deliver, a
    /// resumed connection to read): a driver that changed the table outside a turn should
    /// make the reactor run soon (see [`crate::Reactor::waker`]).
    pub fn needs_turn(&self) -> bool {
        !self.notices.is_empty() || !self.resumed.is_empty() || self.kcp_pending()
    }

    /// Ids of all open connections.
    pub fn ids(&self) -> Vec<ConnId> {
        self.slab.ids()
    }

    /// The engine-wide admission counters.
    pub(crate) fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Applies the socket options, registers the stream and returns its id. `admitted` says
    /// whether the connection holds an admission place to give back when it closes.
    pub(crate) fn insert(
        &mut self,
        mut stream: Stream,
        peer: PeerAddr,
        admitted: bool,
        codec: Option<&SharedCodec>,
    ) -> Result<ConnId, Error> {
        let id = self.slab.vacant_id().ok_or(Error::TooManyConnections)?;
        let now = Instant::now();
        let last_active = match stream {
            Stream::Datagram { .. } => Some(now),
            _ => {
                self.options.apply(&stream)?;
                self.registry.register(
                    &mut stream,
                    Token(id.slot as usize),
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                None
            }
        };
        let conn = Connection {
            stream,
            outbound: Outbound::default(),
            peer,
            state: State::Open,
            last_active,
            last_read: now,
            last_write: now,
            sent: 0,
            markers: VecDeque::new(),
            unwritable: false,
            paused: false,
            read_closed: false,
            hup_seen: false,
            end_requested: false,
            write_closed: false,
            admitted,
            decoder: codec.map(|f| f.new_codec()),
            encoder: codec.map(|f| f.new_codec()),
            inbound: Vec::new(),
            partial_since: None,
            proxy: None,
            proxy_header: None,
            kcp: None,
        };
        let id = self
            .slab
            .insert(conn)
            .map_err(|_| Error::TooManyConnections)?;
        self.load.fetch_add(1, Ordering::Relaxed);
        if last_active.is_none() {
            let idle = self.flow.idle;
            for (kind, timeout) in [
                (IdleKind::Read, idle.read),
                (IdleKind::Write, idle.write),
                (IdleKind::All, idle.all),
            ] {
                if let Some(t) = timeout {
                    self.timers.insert(now + t, Timer::Idle(id, kind));
                }
            }
        }
        Ok(id)
    }

    /// The connection if it still accepts writes.
    fn live(&mut self, id: ConnId) -> Result<&mut Connection, Error> {
        match self.slab.get_mut(id) {
            Some(c) if matches!(c.state, State::Open | State::Connecting) && !c.end_requested => {
                Ok(c)
            }
            _ => Err(Error::ConnClosed),
        }
    }

    fn get(&self, id: ConnId) -> Result<&Connection, Error> {
        self.slab.get(id).ok_or(Error::ConnClosed)
    }

    /// Queues `data` behind anything already queued, writing straight to the socket when the
    /// queue is empty. Accepted bytes are never dropped while the connection lives; a socket
    /// error closes the connection and is reported by `on_close`. Past the high water mark the
    /// connection turns unwritable (`on_writability(.., false)`); past `max_outbound` it is
    /// closed with [`Error::OutboundFull`] and the bytes are refused.
    pub fn write(&mut self, id: ConnId, data: &[u8]) -> Result<(), Error> {
        self.writev(id, &[data])
    }

    /// Writes several buffers in order as one message (`writev(2)` when nothing is queued).
    /// With a codec the message is framed first; a message the codec cannot express is
    /// refused with [`Error::Frame`] and nothing is written.
    pub fn writev(&mut self, id: ConnId, bufs: &[&[u8]]) -> Result<(), Error> {
        let mut framed = std::mem::take(&mut self.encoded);
        framed.clear();
        let conn = self.live(id)?;
        let Some(codec) = conn.encoder.as_mut() else {
            self.encoded = framed;
            return self.write_raw(id, bufs);
        };
        let encoded = match bufs {
            [one] => codec.encode(one, &mut framed),
            _ => codec.encode(&bufs.concat(), &mut framed),
        };
        let result = match encoded {
            Ok(()) => self.write_raw(id, &[&framed]),
            Err(e) => Err(e.into()),
        };
        self.encoded = framed;
        result
    }

    /// Writes bytes as they are, past the connection's codec (interim replies a codec asks
    /// for, such as HTTP's `100 Continue`).
    pub fn write_unframed(&mut self, id: ConnId, data: &[u8]) -> Result<(), Error> {
        self.write_raw(id, &[data])
    }

    /// Writes bytes as they are, past the codec.
    fn write_raw(&mut self, id: ConnId, bufs: &[&[u8]]) -> Result<(), Error> {
        let conn = self.live(id)?;
        if conn.kcp.is_some() {
            return self.kcp_write(id, bufs);
        }
        if conn.state == State::Connecting {
            // Queued until the connect completes (then flushed in order).
            for b in bufs {
                conn.outbound.push(b);
            }
            return Ok(());
        }
        let track_idle = self.flow.idle.write.is_some() || self.flow.idle.all.is_some();
        let (high, max) = (self.flow.write_high_water_mark, self.flow.max_outbound);
        let corked = self.corked;
        let conn = self.live(id)?;
        if let Stream::Datagram { socket, peer } = conn.stream {
            // One write is one datagram.
            return self.send_to(socket, peer, &bufs.concat());
        }
        if let Stream::Udp(udp) = &conn.stream {
            // A connected UDP client: one datagram, dropped if the kernel cannot take it now.
            return match udp.send(&bufs.concat()) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if max.is_some_and(|m| conn.outbound.len() + total > m) {
            self.doom(id, Some(Error::OutboundFull));
            return Err(Error::OutboundFull);
        }
        if track_idle {
            conn.last_write = Instant::now();
        }
        let mut written = 0;
        // Corked: the first held write lists the connection for `uncork`.
        let hold = corked && conn.outbound.is_empty() && total > 0;
        if conn.outbound.is_empty() && !hold {
            while written < total {
                let result = match skip(bufs, written) {
                    (first, []) => conn.stream.write(first),
                    (first, rest) => {
                        let mut v = Vec::with_capacity(rest.len() + 1);
                        v.push(IoSlice::new(first));
                        v.extend(rest.iter().map(|b| IoSlice::new(b)));
                        conn.stream.write_vectored(&v)
                    }
                };
                match result {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.doom(id, Some(e.into()));
                        return Ok(());
                    }
                }
            }
            conn.sent += written as u64;
        }
        let mut skipped = 0;
        for b in bufs {
            if skipped + b.len() > written {
                let from = written.saturating_sub(skipped);
                conn.outbound.push(&b[from..]);
            }
            skipped += b.len();
        }
        if !conn.unwritable && conn.outbound.len() > high {
            conn.unwritable = true;
            self.notices.push_back(Notice::Writability(id, false));
        }
        if hold {
            self.corked_conns.push(id);
        }
        Ok(())
    }

    /// Holds writes back until [`Conns::uncork`]: each connection's writes made meanwhile
    /// then reach the socket together, in one syscall (a batch of pipelined responses, say),
    /// codec frames and all. Drivers that apply many writes at once cork around them.
    pub fn cork(&mut self) {
        self.corked = true;
    }

    /// Writes what was held since [`Conns::cork`].
    pub fn uncork(&mut self) {
        self.corked = false;
        let mut held = std::mem::take(&mut self.corked_conns);
        for id in held.drain(..) {
            self.flush(id);
        }
        self.corked_conns = held;
    }

    /// Asks to hear (`on_write_done(.., token, Ok)`) when everything written so far has reached
    /// the kernel; if the connection closes first, `on_write_done` reports
    /// [`Error::ConnClosed`]. Each token is reported exactly once.
    /// On a KCP connection the bytes must also be acknowledged by the peer.
    pub fn mark(&mut self, id: ConnId, token: u64) -> Result<(), Error> {
        let busy = self.kcp_busy(id);
        let conn = self.live(id)?;
        if conn.outbound.is_empty() && !busy {
            self.notices.push_back(Notice::Written(id, token));
        } else {
            let at = conn.sent + conn.outbound.len() as u64;
            conn.markers.push_back((at, token));
        }
        Ok(())
    }

    /// [`Conns::write`] for writers that cannot take an error back (batched writes applied
    /// later): a framing error (or a KCP message too large) is reported through `on_error` instead; a closed connection is
    /// ignored (its close is reported already).
    pub fn write_or_report(&mut self, id: ConnId, data: &[u8]) {
        if let Err(e @ (Error::Frame(_) | Error::MessageTooLarge { .. })) = self.write(id, data) {
            self.notices.push_back(Notice::Error(id, e));
        }
    }

    /// Keeps `bytes` (the unconsumed end of what `on_traffic` was given) and delivers them
    /// again, in front of the next bytes that arrive (knet's model of custom framing in the
    /// handler). Replaces anything retained before.
    pub fn retain(&mut self, id: ConnId, bytes: &[u8]) -> Result<(), Error> {
        let conn = self.slab.get_mut(id).ok_or(Error::ConnClosed)?;
        if conn.encoder.is_some() {
            return Err(Error::InvalidOption(
                "retain is for connections without a codec (a codec keeps partial frames itself)"
                    .into(),
            ));
        }
        conn.inbound.clear();
        conn.inbound.extend_from_slice(bytes);
        self.note_partial(id);
        Ok(())
    }

    /// Bytes received and held for the next delivery (a partial frame or retained bytes).
    pub fn inbound_len(&self, id: ConnId) -> Result<usize, Error> {
        Ok(self.get(id)?.inbound.len())
    }

    /// True when the connection frames its messages with a codec.
    pub fn has_codec(&self, id: ConnId) -> bool {
        self.slab.get(id).is_some_and(|c| c.encoder.is_some())
    }

    /// True when each write is one message (framed by a codec, or one datagram or KCP
    /// message), so writes batched elsewhere must not be joined before they get here.
    pub fn keeps_boundaries(&self, id: ConnId) -> bool {
        self.slab
            .get(id)
            .is_some_and(|c| c.encoder.is_some() || c.stream.is_datagram())
    }

    /// Starts or stops the partial-frame clock after `inbound` changed.
    pub(crate) fn note_partial(&mut self, id: ConnId) {
        let timeout = self.flow.frame_timeout;
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        if conn.inbound.is_empty() {
            conn.partial_since = None;
        } else if conn.partial_since.is_none() {
            let now = Instant::now();
            conn.partial_since = Some(now);
            if let Some(t) = timeout {
                self.timers.insert(now + t, Timer::Frame(id));
            }
        }
    }

    /// Promises an `on_writability(.., true)` to a producer that was told to wait (by an
    /// estimate made before its writes reached this table): at once when the queue is already
    /// at or below the low water mark, else when it drains there.
    pub fn expect_drain(&mut self, id: ConnId) -> Result<(), Error> {
        if self.is_kcp(id) {
            self.kcp_expect_drain(id);
            return Ok(());
        }
        let low = self.flow.write_low_water_mark;
        let conn = self.slab.get_mut(id).ok_or(Error::ConnClosed)?;
        if !conn.unwritable {
            if conn.outbound.len() <= low {
                self.notices.push_back(Notice::Writability(id, true));
            } else {
                conn.unwritable = true;
            }
        }
        Ok(())
    }

    /// True while the connection is under its high water mark (or back under the low one).
    pub fn is_writable(&self, id: ConnId) -> Result<bool, Error> {
        Ok(!self.get(id)?.unwritable)
    }

    /// Closes the connection after everything already accepted for it has been written
    /// (within the close timeout, after which it is reset). Writes after this fail with
    /// [`Error::ConnClosed`].
    pub fn close(&mut self, id: ConnId) -> Result<(), Error> {
        let timeout = self.flow.close_timeout;
        let busy = self.kcp_busy(id);
        let conn = match self.slab.get_mut(id) {
            Some(c) if c.state == State::Open => c,
            _ => return Err(Error::ConnClosed),
        };
        if conn.outbound.is_empty() && !busy {
            self.doom(id, None);
        } else {
            conn.state = State::Closing;
            if let Some(t) = timeout {
                self.timers.insert(Instant::now() + t, Timer::Close(id));
            }
        }
        Ok(())
    }

    /// Half-closes: sends FIN once the queued bytes are written, keeps reading. The
    /// connection closes when the peer's FIN has arrived too. Writes after this fail.
    /// KCP has no half-close: `end` closes a KCP connection (after its queue is acknowledged).
    pub fn end(&mut self, id: ConnId) -> Result<(), Error> {
        if self.is_kcp(id) {
            return self.close(id);
        }
        let conn = self.live(id)?;
        conn.end_requested = true;
        if conn.outbound.is_empty() {
            self.shut_write(id);
        }
        Ok(())
    }

    /// Resets the connection now (`SO_LINGER` 0, then close): queued bytes are dropped and
    /// pending write completions fail with [`Error::ConnClosed`]. `on_close` gets `err`.
    pub fn destroy(&mut self, id: ConnId, err: Option<Error>) -> Result<(), Error> {
        let conn = match self.slab.get_mut(id) {
            Some(c) if c.state != State::Doomed => c,
            _ => return Err(Error::ConnClosed),
        };
        if let Some(s) = conn.stream.sock_ref() {
            let _ = s.set_linger(Some(Duration::ZERO));
        }
        self.doom(id, err);
        Ok(())
    }

    /// Stops reading the connection: its kernel buffer fills and TCP's window closes on the
    /// peer. Writes continue.
    pub fn pause(&mut self, id: ConnId) -> Result<(), Error> {
        self.slab.get_mut(id).ok_or(Error::ConnClosed)?.paused = true;
        Ok(())
    }

    /// Starts reading a paused connection again.
    pub fn resume(&mut self, id: ConnId) -> Result<(), Error> {
        let conn = self.slab.get_mut(id).ok_or(Error::ConnClosed)?;
        if conn.paused {
            conn.paused = false;
            self.resumed.push(id);
        }
        Ok(())
    }

    /// Calls `on_timer(id, token)` after `delay`, unless the connection closes first. Timers
    /// are one-shot; to cancel, ignore the token.
    pub fn set_timer(&mut self, id: ConnId, delay: Duration, token: u64) -> Result<(), Error> {
        self.get(id)?;
        self.timers
            .insert(Instant::now() + delay, Timer::User(id, token));
        Ok(())
    }

    /// The peer's address.
    pub fn peer_addr(&self, id: ConnId) -> Result<PeerAddr, Error> {
        Ok(self.get(id)?.peer.clone())
    }

    /// The local address the connection was accepted on.
    pub fn local_addr(&self, id: ConnId) -> Result<PeerAddr, Error> {
        match self.get(id)?.stream {
            Stream::Datagram { socket, .. } => Ok(PeerAddr::Inet(self.udp[socket].local_addr()?)),
            ref s => Ok(s.local_addr()?),
        }
    }

    /// Sends one datagram from the reactor's UDP socket `socket` to `peer` (gnet's `SendTo`).
    /// UDP is lossy: a datagram the kernel cannot take now is dropped, not queued.
    pub fn send_to(&mut self, socket: usize, peer: SocketAddr, data: &[u8]) -> Result<(), Error> {
        let udp = self
            .udp
            .get(socket)
            .ok_or_else(|| Error::InvalidOption(format!("no UDP socket {socket}")))?;
        match udp.send_to(data, peer) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The session of `peer` on UDP socket `socket`, made (with `max` sessions at most) if
    /// new; `(id, true)` when it was just made. `None` when the table is full.
    pub(crate) fn session(
        &mut self,
        socket: usize,
        peer: SocketAddr,
        max: usize,
    ) -> Option<(ConnId, bool)> {
        if let Some(&id) = self.sessions.get(&(socket, peer)) {
            if let Some(conn) = self.slab.get_mut(id) {
                conn.last_active = Some(Instant::now());
                return Some((id, false));
            }
        }
        if self.sessions.len() >= max {
            return None;
        }
        let id = self.insert_session(socket, peer, None)?;
        self.sessions.insert((socket, peer), id);
        Some((id, true))
    }

    /// Adds a connection for a session of `peer` on UDP socket `socket` (UDP or KCP; the
    /// caller indexes it). `None` when the table is full.
    pub(crate) fn insert_session(
        &mut self,
        socket: usize,
        peer: SocketAddr,
        codec: Option<&SharedCodec>,
    ) -> Option<ConnId> {
        self.insert(
            Stream::Datagram { socket, peer },
            PeerAddr::Inet(peer),
            false,
            codec,
        )
        .ok()
    }

    /// The UDP socket index of a UDP session; `None` for streams and KCP sessions.
    pub fn udp_socket(&self, id: ConnId) -> Option<usize> {
        let conn = self.slab.get(id)?;
        match conn.stream {
            Stream::Datagram { socket, .. } if conn.kcp.is_none() => Some(socket),
            _ => None,
        }
    }

    /// True while any UDP session is open.
    pub(crate) fn has_sessions(&self) -> bool {
        !self.sessions.is_empty()
    }

    /// Closes UDP sessions idle for `timeout` or longer.
    pub(crate) fn expire_sessions(&mut self, now: Instant, timeout: Duration) {
        let idle: Vec<ConnId> = self
            .sessions
            .values()
            .copied()
            .filter(|&id| {
                self.slab
                    .get(id)
                    .and_then(|c| c.last_active)
                    .is_some_and(|t| now.duration_since(t) >= timeout)
            })
            .collect();
        for id in idle {
            self.doom(id, None);
        }
    }

    /// Bytes accepted for the connection and not yet taken by the kernel.
    /// For KCP, the segments waiting to be sent or acknowledged, at one MSS each.
    pub fn outbound_len(&self, id: ConnId) -> Result<usize, Error> {
        let conn = self.get(id)?;
        Ok(self.kcp_outbound(id).unwrap_or(conn.outbound.len()))
    }

    /// Sets `TCP_NODELAY` (a no-op on Unix sockets).
    pub fn set_no_delay(&self, id: ConnId, on: bool) -> Result<(), Error> {
        let conn = self.get(id)?;
        if let (true, Some(s)) = (conn.stream.is_tcp(), conn.stream.sock_ref()) {
            s.set_tcp_nodelay(on)?;
        }
        Ok(())
    }

    /// Turns TCP keep-alive on with the given timing, or off with `None`.
    pub fn set_keep_alive(&self, id: ConnId, ka: Option<KeepAlive>) -> Result<(), Error> {
        let conn = self.get(id)?;
        if let (true, Some(s)) = (conn.stream.is_tcp(), conn.stream.sock_ref()) {
            set_keep_alive(&s, ka)?;
        }
        Ok(())
    }

    /// Sets `SO_LINGER`: `Some(0)` makes close send a reset.
    pub fn set_linger(&self, id: ConnId, linger: Option<Duration>) -> Result<(), Error> {
        Ok(self.sock(id)?.set_linger(linger)?)
    }

    /// Sets `SO_RCVBUF`.
    pub fn set_recv_buffer(&self, id: ConnId, bytes: usize) -> Result<(), Error> {
        Ok(self.sock(id)?.set_recv_buffer_size(bytes)?)
    }

    /// Sets `SO_SNDBUF`.
    pub fn set_send_buffer(&self, id: ConnId, bytes: usize) -> Result<(), Error> {
        Ok(self.sock(id)?.set_send_buffer_size(bytes)?)
    }

    /// The connection's own socket, for per-socket options; UDP sessions have none.
    fn sock(&self, id: ConnId) -> Result<socket2::SockRef<'_>, Error> {
        self.get(id)?.stream.sock_ref().ok_or_else(|| {
            Error::InvalidOption("UDP sessions share their listener's socket".into())
        })
    }

    /// Writes queued bytes after the socket became writable; reports completed markers and a
    /// return under the low water mark; completes a pending close or half-close.
    pub(crate) fn flush(&mut self, id: ConnId) {
        let (keep, low) = (self.write_buffer_cap, self.flow.write_low_water_mark);
        let observe = self.flow.idle.observe_output;
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        if conn.outbound.is_empty() || conn.state == State::Connecting {
            return;
        }
        let before = conn.sent;
        let result = conn
            .outbound
            .write_to(&mut conn.stream, keep, &mut conn.sent);
        if observe && conn.sent > before {
            conn.last_write = Instant::now();
        }
        while conn.markers.front().is_some_and(|&(at, _)| at <= conn.sent) {
            let (_, token) = conn.markers.pop_front().expect("checked");
            self.notices.push_back(Notice::Written(id, token));
        }
        if conn.unwritable && conn.outbound.len() <= low {
            conn.unwritable = false;
            self.notices.push_back(Notice::Writability(id, true));
        }
        let (state, end) = (conn.state, conn.end_requested);
        match result {
            Ok(true) if state == State::Closing => self.doom(id, None),
            Ok(true) if end => self.shut_write(id),
            Ok(_) => {}
            Err(e) => self.doom(id, Some(e.into())),
        }
    }

    /// Sends FIN; a connection whose peer already sent FIN is then done.
    fn shut_write(&mut self, id: ConnId) {
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        if conn.write_closed {
            return;
        }
        conn.write_closed = true;
        if let Some(s) = conn.stream.sock_ref() {
            let _ = s.shutdown(Shutdown::Write);
        }
        if conn.read_closed {
            self.doom(id, None);
        }
    }

    /// The peer sent FIN. Half-open connections stay writable (`on_end`); others close after
    /// flushing what was accepted.
    pub(crate) fn peer_ended(&mut self, id: ConnId) {
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        conn.read_closed = true;
        if !self.flow.allow_half_open {
            let _ = self.close(id);
        } else if conn.write_closed {
            self.doom(id, None);
        } else {
            self.notices.push_back(Notice::End(id));
        }
    }

    /// Adds a dialed connection, still connecting; it opens when [`Conns::check_connected`]
    /// sees the connect succeed.
    pub(crate) fn insert_dialed(
        &mut self,
        stream: Stream,
        peer: PeerAddr,
        codec: Option<&SharedCodec>,
    ) -> Result<ConnId, Error> {
        let id = self.insert(stream, peer, false, codec)?;
        if let Some(conn) = self.slab.get_mut(id) {
            conn.state = State::Connecting;
        }
        Ok(id)
    }

    /// Adds an accepted connection that must first send a PROXY header: it stays unopened
    /// (writes queue) until [`Conns::proxy_parsed`], or closes at `timeout`.
    pub(crate) fn insert_awaiting_proxy(
        &mut self,
        stream: Stream,
        peer: PeerAddr,
        options: &crate::ListenOptions,
    ) -> Result<ConnId, Error> {
        let id = self.insert(stream, peer, true, options.codec.as_ref())?;
        if let Some(conn) = self.slab.get_mut(id) {
            conn.state = State::Connecting;
            conn.proxy = options.proxy;
        }
        self.timers
            .insert(Instant::now() + options.proxy_timeout, Timer::Connect(id));
        Ok(id)
    }

    /// Feeds bytes to a connection waiting for its PROXY header. Returns what follows the
    /// header once it is complete (the connection is then open and `on_open` queued), `None`
    /// while more is needed or after a bad header closed the connection.
    pub(crate) fn proxy_parsed(&mut self, id: ConnId, fresh: &[u8]) -> Option<Vec<u8>> {
        let conn = self.slab.get_mut(id)?;
        let mode = conn.proxy?;
        conn.inbound.extend_from_slice(fresh);
        match riptide_codec::parse_proxy(&conn.inbound, mode) {
            Ok(riptide_codec::ProxyParse::NeedMore) => None,
            Ok(riptide_codec::ProxyParse::Done { consumed, header }) => {
                let rest = conn.inbound.split_off(consumed);
                conn.inbound.clear();
                let before = match conn.peer {
                    PeerAddr::Inet(a) => Some(a.ip()),
                    PeerAddr::Unix(_) => None,
                };
                let client = header.source.map(|a| a.ip()).or(before);
                // Accepted without a per-IP place: take it for the client now (or the
                // balancer itself when the header names nobody, a LOCAL or UNKNOWN header).
                if let (true, Some(client)) = (conn.admitted, client) {
                    if !self.admission.rehome(None, client) {
                        // Still awaiting its header: released without a per-IP place.
                        let _ = self.destroy(id, Some(Error::TooManyConnections));
                        return None;
                    }
                }
                if let Some(src) = header.source {
                    conn.peer = PeerAddr::Inet(src);
                }
                conn.proxy_header = Some(Box::new(header));
                conn.proxy = None;
                conn.state = State::Open;
                self.notices.push_back(Notice::Connected(id));
                self.flush(id);
                Some(rest)
            }
            Err(e) => {
                let _ = self.destroy(id, Some(e.into()));
                None
            }
        }
    }

    /// True while the connection waits for its PROXY header.
    pub(crate) fn awaiting_proxy(&self, id: ConnId) -> bool {
        self.slab.get(id).is_some_and(|c| c.proxy.is_some())
    }

    /// The PROXY protocol header the connection arrived with, if its listener expects one.
    pub fn proxy_header(&self, id: ConnId) -> Result<Option<&riptide_codec::ProxyHeader>, Error> {
        Ok(self.get(id)?.proxy_header.as_deref())
    }

    /// For a connecting connection, looks whether the connect finished: on success it opens
    /// (`on_open` follows) and queued writes go out; on failure it closes with the error.
    /// Returns true while the connection is still connecting.
    pub(crate) fn check_connected(&mut self, id: ConnId) -> bool {
        let Some(conn) = self.slab.get_mut(id) else {
            return false;
        };
        if conn.state != State::Connecting || conn.proxy.is_some() {
            return false;
        }
        match conn.stream.connect_result() {
            Ok(false) => true,
            Ok(true) => {
                conn.state = State::Open;
                let _ = self.options.apply(&conn.stream);
                self.notices.push_back(Notice::Connected(id));
                self.flush(id);
                false
            }
            Err(e) => {
                self.doom(id, Some(e.into()));
                false
            }
        }
    }

    /// True while the connection is still connecting.
    pub(crate) fn is_connecting(&self, id: ConnId) -> bool {
        self.slab
            .get(id)
            .is_some_and(|c| c.state == State::Connecting)
    }

    /// Decides the close of `id`; the reactor reports it through `on_close` once.
    pub(crate) fn doom(&mut self, id: ConnId, err: Option<Error>) {
        if let Some(conn) = self.slab.get_mut(id) {
            if conn.state != State::Doomed {
                conn.state = State::Doomed;
                self.notices.push_back(Notice::Close(id, err));
            }
        }
    }

    /// Removes a doomed connection from the table and deregisters its socket, which closes
    /// it. Returns the tokens of write markers that will now never complete.
    pub(crate) fn remove(&mut self, id: ConnId) -> Vec<u64> {
        let Some(mut conn) = self.slab.remove(id) else {
            return Vec::new();
        };
        match conn.stream {
            Stream::Datagram { socket, peer } => match &mut conn.kcp {
                Some(session) => {
                    // An evicted session's key may already belong to a newer session.
                    let key = (socket, peer, session.kcp.conv());
                    if self.kcp_sessions.get(&key) == Some(&id) {
                        self.kcp_sessions.remove(&key);
                    }
                    self.kcp_forget(session);
                }
                None => {
                    self.sessions.remove(&(socket, peer));
                }
            },
            _ => {
                let _ = self.registry.deregister(&mut conn.stream);
            }
        }
        if conn.admitted {
            // A connection still awaiting its PROXY header holds no per-IP place yet.
            let ip = match conn.peer {
                PeerAddr::Inet(a) if conn.proxy.is_none() => Some(a.ip()),
                _ => None,
            };
            self.admission.release(ip);
        }
        self.load.fetch_sub(1, Ordering::Relaxed);
        conn.markers.into_iter().map(|(_, t)| t).collect()
    }
}

/// The part of `bufs` after the first `written` bytes: the tail of the first unfinished buffer
/// and the whole buffers after it.
fn skip<'a>(bufs: &'a [&'a [u8]], written: usize) -> (&'a [u8], &'a [&'a [u8]]) {
    let mut at = 0;
    for (i, b) in bufs.iter().enumerate() {
        if at + b.len() > written {
            return (&b[written - at..], &bufs[i + 1..]);
        }
        at += b.len();
    }
    (&[], &[])
}
