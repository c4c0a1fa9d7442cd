//! The reactor's connection table and the operations handlers call on it. A connection is a
//! transport ([`connection::Transport`]) plus an ordered stack of stream layers plus an
//! optional codec; the table applies what each of them reports. Anything that must reach a
//! handler (writability changes, completed writes, half-closes, closes) is queued as a notice
//! and delivered in order by the reactor, never from inside the call that caused it.
//!
//! The table's methods are spread over files by concern: `write` (the write path, corking,
//! markers), `lifecycle` (open, close, end, destroy, removal), `inbound` (reads and the stream
//! layers on the way in), `timers` (what the timing wheel fires), `udp` and `kcp` (the
//! session tables and the KCP transport), `webrtc` (WebRTC peers), `geckos` (their geckos.io mode), `carriers` (application
//! carriers under KCP),
//! `sockets` (addresses and socket options).

mod carriers;
mod connection;
mod geckos;
mod inbound;
mod kcp;
mod kernel_tls;
mod lifecycle;
mod publish;
mod retire;
mod sockets;
mod timers;
mod udp;
mod webrtc;
mod write;

pub(crate) use crate::kcp_session::Input;
pub(crate) use carriers::CarriedRoute;
pub(crate) use connection::{Notice, Place, Transport};
pub(crate) use geckos::GeckosResponse;
pub(crate) use inbound::Read;
pub(crate) use lifecycle::NewConn;
pub(crate) use timers::Fired;
pub use webrtc::WebRtcCounts;
pub(crate) use webrtc::{RtcDecision, RtcPeer};

use crate::admission::Admission;
use crate::carried::DatagramSocket;
use crate::config::ReactorConfig;
use crate::flow::{FlowConfig, Timer};
use crate::kcp_table::KcpTable;
use crate::layer::{GateOut, PacketGate};
use crate::publication::Publication;
use crate::pubsub::PubSub;
use crate::slab::{ConnId, Slab};
use crate::socket::SocketOptions;
use crate::stats::{Counters, ListenerCounts};
use crate::timer_wheel::TimerWheel;
use crate::topics::TopicIndex;
use crate::udp_batch::RecvBatch;
use crate::udp_sessions::UdpSessions;
use crate::webrtc_table::RtcListener;
use crate::Error;
use connection::{Connection, State};
use mio::net::UdpSocket;
use mio::Registry;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Instant;

/// All live connections of one reactor.
pub struct Conns {
    slab: Slab<Connection>,
    registry: Registry,
    options: SocketOptions,
    write_buffer_cap: usize,
    flow: FlowConfig,
    admission: Arc<Admission>,
    /// Open connections, shared with the load balancer.
    load: Arc<AtomicUsize>,
    notices: VecDeque<Notice>,
    /// Connections resumed since the last turn; the reactor reads them again.
    resumed: Vec<ConnId>,
    timers: TimerWheel<Timer>,
    /// The reactor's datagram sockets (UDP, or an application's carrier), by index.
    sockets: Vec<DatagramSocket>,
    /// Indices of the carried ones in `sockets`.
    carried: Vec<usize>,
    /// UDP sessions by socket and peer.
    udp_sessions: UdpSessions,
    /// KCP listener sessions: routing and admission.
    kcp_table: KcpTable,
    /// The `webrtc://` listeners, by datagram socket.
    rtc: HashMap<usize, RtcListener>,
    /// Decisions on held WebRTC offers, for the reactor.
    rtc_decisions: Vec<RtcDecision>,
    /// Sockets of `webrtc://` listeners whose endpoint took datagrams, sends, offers or
    /// timeouts since it was last settled, each once.
    rtc_marked: Vec<usize>,
    /// WebRTC connections whose peer closed, doomed once the notices ahead of the close (its
    /// last messages) are delivered ([`Conns::rtc_apply_closes`]).
    rtc_closes: Vec<(ConnId, Option<Error>)>,
    /// The gates of `kcp://` listeners that have one, by socket.
    gates: HashMap<usize, Box<dyn PacketGate>>,
    /// Listener sockets handed to a new process that still serve their own sessions, and
    /// close once those are gone (`retire.rs`).
    retiring: Vec<usize>,
    /// Scratch output of a gate.
    gate_out: GateOut,
    /// Scratch buffer for encoding outbound frames.
    encoded: Vec<u8>,
    /// Scratch buffers for what stream layers produce (toward the socket, toward the app).
    layer_wire: Vec<u8>,
    layer_app: Vec<u8>,
    /// Time zero of the KCP clock.
    kcp_epoch: Instant,
    /// KCP sessions touched this turn, flushed at its end.
    kcp_dirty: Vec<ConnId>,
    /// Scratch buffer one outgoing KCP datagram is built in.
    kcp_out: Vec<u8>,
    /// A session's outgoing datagrams, gathered to go out in batches.
    kcp_batch: crate::layer::Datagrams,
    /// Datagrams KCP rejected.
    kcp_input_errors: u64,
    /// Unconfirmed KCP sessions evicted.
    kcp_evictions: u64,
    /// While corked, writes queue instead of going to the socket; `uncork` flushes them.
    corked: bool,
    /// Connections with bytes queued while corked.
    corked_conns: Vec<ConnId>,
    /// Which of this reactor's connections subscribe to which topic.
    topics: TopicIndex,
    /// What the engine's reactors share for pub/sub.
    pubsub: Arc<PubSub>,
    /// This reactor's serial in `pubsub` (its own publishes are delivered directly).
    reactor_serial: u64,
    /// Scratch list of a publication's subscribers.
    subscriber_scratch: Vec<ConnId>,
    /// Publications for this reactor's subscribers, in order, until the table settles
    /// (`publish.rs`).
    held: Vec<Arc<Publication>>,
    /// The bytes of the bodies in `held`.
    held_bytes: usize,
    /// The reactor's operator counters.
    counters: Arc<Counters>,
    /// The counts of each listener by index (the same `Arc`s `counters` lists).
    listener_counts: Vec<Arc<ListenerCounts>>,
    /// The listener each datagram socket serves (same index as `sockets`; `None` for a dial's
    /// carrier).
    socket_listeners: Vec<Option<u16>>,
}

impl Conns {
    pub(crate) fn new(
        registry: Registry,
        config: &ReactorConfig,
        load: Arc<AtomicUsize>,
        reactor_serial: u64,
        counters: Arc<Counters>,
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
            sockets: Vec::new(),
            carried: Vec::new(),
            udp_sessions: UdpSessions::default(),
            kcp_table: KcpTable::default(),
            rtc: HashMap::new(),
            rtc_decisions: Vec::new(),
            rtc_marked: Vec::new(),
            rtc_closes: Vec::new(),
            gates: HashMap::new(),
            retiring: Vec::new(),
            gate_out: GateOut::default(),
            encoded: Vec::new(),
            layer_wire: Vec::new(),
            layer_app: Vec::new(),
            kcp_epoch: Instant::now(),
            kcp_dirty: Vec::new(),
            kcp_out: vec![0; crate::carrier::MAX_DATAGRAM],
            kcp_batch: crate::layer::Datagrams::default(),
            kcp_input_errors: 0,
            kcp_evictions: 0,
            corked: false,
            corked_conns: Vec::new(),
            topics: TopicIndex::default(),
            pubsub: config.pubsub.clone(),
            reactor_serial,
            subscriber_scratch: Vec::new(),
            held: Vec::new(),
            held_bytes: 0,
            counters,
            listener_counts: Vec::new(),
            socket_listeners: Vec::new(),
        }
    }

    /// The counts of listener `index`, made on first use (a worker reactor serves listeners
    /// it did not bind).
    pub(crate) fn listener_counts(&mut self, index: u16) -> &ListenerCounts {
        let i = usize::from(index);
        if i >= self.listener_counts.len() {
            self.listener_counts = self.counters.listeners_through(i);
        }
        &self.listener_counts[i]
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
        !self.notices.is_empty()
            || !self.resumed.is_empty()
            || !self.kcp_dirty.is_empty()
            || (!self.corked && !self.corked_conns.is_empty())
            || !self.held.is_empty()
            || !self.rtc_decisions.is_empty()
            || self.rtc_unsettled()
            || !self.rtc_closes.is_empty()
    }

    /// Ids of all open connections.
    pub fn ids(&self) -> Vec<ConnId> {
        self.slab.ids()
    }

    /// True while `id` names a connection of this table.
    pub fn contains(&self, id: ConnId) -> bool {
        self.slab.get(id).is_some()
    }

    /// The engine-wide admission counters.
    pub(crate) fn admission(&self) -> &Admission {
        &self.admission
    }

    /// The connection in `slot`, whatever its generation (a poll token names a slot).
    pub(crate) fn id_of_slot(&mut self, slot: u32) -> Option<ConnId> {
        self.slab.get_by_slot_mut(slot).map(|(id, _)| id)
    }

    /// The next notice for the handler, in order.
    pub(crate) fn next_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    /// Connections resumed since the last call: the reactor reads them again.
    pub(crate) fn take_resumed(&mut self) -> Vec<ConnId> {
        std::mem::take(&mut self.resumed)
    }

    /// The earliest timer on the wheel.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Adds a bound UDP socket (a `udp://` or `kcp://` listener's); returns its index.
    /// `listener` is the index of the listener it serves.
    pub(crate) fn add_udp(&mut self, socket: UdpSocket, listener: u16) -> usize {
        self.sockets.push(DatagramSocket::Udp(socket));
        let index = self.sockets.len() - 1;
        self.set_socket_listener(index, Some(listener));
        index
    }

    /// UDP socket `socket`, if it is one (not a carrier).
    #[cfg(unix)]
    pub(crate) fn udp_at(&self, socket: usize) -> Option<&UdpSocket> {
        self.sockets.get(socket).and_then(DatagramSocket::udp)
    }

    /// Notes the listener datagram socket `socket` serves (`None`: a dial's carrier), and
    /// makes that listener's counts.
    pub(super) fn set_socket_listener(&mut self, socket: usize, listener: Option<u16>) {
        if self.socket_listeners.len() <= socket {
            self.socket_listeners.resize(socket + 1, None);
        }
        self.socket_listeners[socket] = listener;
        if let Some(listener) = listener {
            self.listener_counts(listener);
        }
    }

    /// The listener datagram socket `socket` serves.
    pub(crate) fn socket_listener(&self, socket: usize) -> Option<u16> {
        self.socket_listeners.get(socket).copied().flatten()
    }

    /// Receives up to `max` datagrams on UDP socket `socket` into `batch`; returns how many.
    pub(crate) fn recv_batch(
        &self,
        socket: usize,
        batch: &mut RecvBatch,
        max: usize,
    ) -> std::io::Result<usize> {
        let udp = self
            .sockets
            .get(socket)
            .and_then(DatagramSocket::udp)
            .ok_or(std::io::ErrorKind::NotFound)?;
        let n = batch.recv(udp, max)?;
        self.count_socket(socket, batch.bytes(), true);
        Ok(n)
    }

    /// Counts a message decoded (`inbound`) or written by a connection's codec.
    pub(crate) fn count_message(&self, id: ConnId, inbound: bool) {
        if inbound {
            let listener = self.slab.get(id).and_then(|c| c.listener);
            self.counters.messages_in.add(1);
            if let Some(l) = listener_in(&self.listener_counts, listener) {
                l.messages_in.add(1);
            }
        } else {
            self.count_messages_out(id, 1);
        }
    }

    /// Counts `n` messages written by a connection's codec.
    pub(crate) fn count_messages_out(&self, id: ConnId, n: u64) {
        let listener = self.slab.get(id).and_then(|c| c.listener);
        self.counters.messages_out.add(n);
        if let Some(l) = listener_in(&self.listener_counts, listener) {
            l.messages_out.add(n);
        }
    }

    /// Counts `n` bytes received (`inbound`) or sent on UDP socket `socket`, for the reactor
    /// and the socket's listener.
    pub(crate) fn count_socket(&self, socket: usize, n: usize, inbound: bool) {
        let listener = self.socket_listener(socket);
        count_bytes(&self.counters, &self.listener_counts, listener, n, inbound);
    }

    /// The connection if it still accepts writes.
    fn live(&mut self, id: ConnId) -> Result<&mut Connection, Error> {
        live_in(&mut self.slab, id)
    }

    fn get(&self, id: ConnId) -> Result<&Connection, Error> {
        self.slab.get(id).ok_or(Error::ConnClosed)
    }

    /// True while the connection is open (not connecting, not closing).
    pub(crate) fn is_open(&self, id: ConnId) -> bool {
        self.slab.get(id).is_some_and(|c| c.state == State::Open)
    }

    /// True while the connection is under its high water mark (or back under the low one).
    pub fn is_writable(&mut self, id: ConnId) -> Result<bool, Error> {
        self.settle();
        Ok(!self.get(id)?.unwritable)
    }

    /// Bytes accepted for the connection and not yet taken by the kernel, plus what its
    /// layers hold. For KCP, the segments waiting to be sent or acknowledged, at one MSS each.
    pub fn outbound_len(&mut self, id: ConnId) -> Result<usize, Error> {
        self.settle();
        Ok(self.get(id)?.queued())
    }

    /// Bytes received and held for the next delivery (a partial frame or retained bytes).
    pub fn inbound_len(&self, id: ConnId) -> Result<usize, Error> {
        Ok(self.get(id)?.inbound.len())
    }

    /// True when the connection frames its messages with a codec.
    pub fn has_codec(&self, id: ConnId) -> bool {
        self.slab.get(id).is_some_and(|c| c.framing.is_some())
    }

    /// True when each write is one message (framed by a codec, or one datagram or KCP
    /// message), so writes batched elsewhere must not be joined before they get here.
    pub fn keeps_boundaries(&self, id: ConnId) -> bool {
        self.slab
            .get(id)
            .is_some_and(|c| c.framing.is_some() || c.stream().is_datagram())
    }

    /// A fact a layer left about the connection, by type (the PROXY header is a
    /// [`riptide_codec::ProxyHeader`]).
    pub fn extension<T: 'static>(&self, id: ConnId) -> Result<Option<&T>, Error> {
        let conn = self.get(id)?;
        Ok(conn
            .extensions
            .iter()
            .flat_map(|list| list.iter())
            .find_map(|e| e.downcast_ref::<T>()))
    }

    /// The PROXY protocol header the connection arrived with, if its listener expects one.
    pub fn proxy_header(&self, id: ConnId) -> Result<Option<&riptide_codec::ProxyHeader>, Error> {
        self.extension(id)
    }

    /// What the connection's TLS handshake negotiated (ALPN, version); none without TLS.
    pub fn tls_info(&self, id: ConnId) -> Result<Option<&crate::TlsInfo>, Error> {
        self.extension(id)
    }

    /// Stops reading the connection: its kernel buffer fills and TCP's window closes on the
    /// peer (KCP's receive window, on a KCP connection). Writes continue.
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
}

/// The counts of listener `listener` in `list`, if it has any.
fn listener_in(list: &[Arc<ListenerCounts>], listener: Option<u16>) -> Option<&ListenerCounts> {
    list.get(usize::from(listener?)).map(|l| &**l)
}

/// Counts `n` bytes read from the wire (`inbound`) or taken by the kernel to send, on the
/// reactor and on `listener`. A free function so callers can hold a connection borrowed.
fn count_bytes(
    counters: &Counters,
    list: &[Arc<ListenerCounts>],
    listener: Option<u16>,
    n: usize,
    inbound: bool,
) {
    let n = n as u64;
    let l = listener_in(list, listener);
    if inbound {
        counters.bytes_in.add(n);
        if let Some(l) = l {
            l.bytes_in.add(n);
        }
    } else {
        counters.bytes_out.add(n);
        if let Some(l) = l {
            l.bytes_out.add(n);
        }
    }
}

/// [`Conns::live`] on the slab alone, so the caller can use the table's other fields (its
/// counters) while holding the connection.
fn live_in(slab: &mut Slab<Connection>, id: ConnId) -> Result<&mut Connection, Error> {
    match slab.get_mut(id) {
        Some(c)
            if matches!(
                c.state,
                State::Open | State::Connecting | State::Negotiating
            ) && !c.end_requested =>
        {
            Ok(c)
        }
        _ => Err(Error::ConnClosed),
    }
}
