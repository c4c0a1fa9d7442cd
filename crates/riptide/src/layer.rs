//! The two layer traits every protocol between a transport and the codec is written against
//! (see `docs/architecture.md`, "Protocol layers"). A layer is a sans-IO state machine: it
//! never touches a socket or a clock. Bytes or datagrams and `now` go in; bytes, datagrams and
//! the layer's next deadline come out, and the connection table applies what it reports.
//!
//! - A [`StreamLayer`] sits on a byte stream (TCP, Unix, KCP in stream mode) and transforms
//!   bytes both ways, possibly producing bytes of its own (a handshake, an alert): the shape of
//!   TLS, of a PROXY protocol header (which completes and removes itself), of a smux stream.
//! - A [`PacketLayer`] sits under KCP and seals or opens whole datagrams, possibly turning one
//!   into several (parity shards) or several into one: the shape of FEC and of packet AEAD.
//!
//! A listener or a dial takes factories, one instance per connection, bottom layer first:
//!
//! ```
//! use riptide::{Error, LayerStatus, ListenOptions, StreamLayer, StreamOut};
//! use std::sync::Arc;
//! use std::time::Instant;
//!
//! /// XORs every byte both ways (a toy transform: no state, no handshake).
//! struct Xor(u8);
//!
//! impl StreamLayer for Xor {
//!     fn read(&mut self, _: Instant, data: &[u8], out: &mut StreamOut<'_>) -> Result<LayerStatus, Error> {
//!         out.up.extend(data.iter().map(|b| b ^ self.0));
//!         Ok(LayerStatus::Ready)
//!     }
//!     fn write(&mut self, _: Instant, data: &[u8], down: &mut Vec<u8>) -> Result<(), Error> {
//!         down.extend(data.iter().map(|b| b ^ self.0));
//!         Ok(())
//!     }
//! }
//!
//! let options = ListenOptions {
//!     layers: vec![Arc::new(|| Box::new(Xor(0x5a)) as Box<dyn StreamLayer>)],
//!     ..ListenOptions::default()
//! };
//! let mut reactor = riptide::Reactor::new(Default::default())?;
//! reactor.listen_with("tcp://127.0.0.1:0", options)?;
//! # Ok::<(), Error>(())
//! ```

use crate::stream::PeerAddr;
use crate::Error;
use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Where a stream layer stands after it handled input or a timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerStatus {
    /// Still negotiating: the connection does not open (`on_open` waits) until every layer of
    /// its stack is past this.
    Pending,
    /// Passing bytes.
    Ready,
    /// Finished: the layer leaves the stack and bytes pass it by from now on (a PROXY header
    /// once read). Whatever it held was already handed on.
    Done,
}

/// What a stream layer can tell the connection besides bytes, applied by the table.
#[derive(Default)]
pub struct LayerReport {
    /// The peer is really this address (a PROXY header names the original client): the
    /// connection's peer address and its per-IP admission place move to it.
    pub peer: Option<PeerAddr>,
    /// Facts about the connection other code may ask for with [`crate::Conns::extension`]
    /// (the PROXY header, a negotiated ALPN protocol...), from every layer that ran.
    pub extensions: Vec<Box<dyn Any + Send>>,
    /// The layer just finished negotiating and can hand its work to the kernel (kernel TLS):
    /// the table tries the socket, and if it agrees calls [`StreamLayer::into_kernel`];
    /// otherwise the layer goes on in user space.
    pub kernel_tls: bool,
    /// The layer's protocol has ended (a WebSocket close handshake, a violation answered
    /// with a close frame): the table closes the connection gracefully, after flushing what
    /// was written, and `on_close` reports the layer's [`StreamLayer::outcome`].
    pub close: bool,
}

/// The buffers a stream layer writes into while it handles bytes.
pub struct StreamOut<'a> {
    /// Bytes for the side above (toward the codec and the application).
    pub up: &'a mut Vec<u8>,
    /// Bytes of the layer's own for the peer (handshake, alerts), sent below it.
    pub down: &'a mut Vec<u8>,
    /// Facts for the connection.
    pub report: &'a mut LayerReport,
}

/// A byte-stream transform stacked on a connection: `read` takes bytes from the peer side,
/// `write` bytes from the application side.
pub trait StreamLayer: Send {
    /// The transport is connected: the layer may speak first (a TLS client's hello) into
    /// `down`. Returns whether it passes bytes at once or negotiates first.
    fn start(&mut self, now: Instant, down: &mut Vec<u8>) -> Result<LayerStatus, Error> {
        let _ = (now, down);
        Ok(LayerStatus::Ready)
    }

    /// Bytes from the peer. Appends what they decode to for the side above to `out.up`, and
    /// any bytes the layer must answer with to `out.down`. An error closes the connection
    /// with it; what the layer put in `out.down` before failing (an alert) is still sent.
    fn read(
        &mut self,
        now: Instant,
        data: &[u8],
        out: &mut StreamOut<'_>,
    ) -> Result<LayerStatus, Error>;

    /// Bytes from the application side; appends what goes toward the peer to `down`. A layer
    /// that cannot send yet (a handshake in progress) keeps them and counts them in
    /// [`StreamLayer::buffered`].
    fn write(&mut self, now: Instant, data: &[u8], down: &mut Vec<u8>) -> Result<(), Error>;

    /// The connection is closing from this side: appends any last bytes for the peer (a TLS
    /// `close_notify`) to `down`.
    fn close(&mut self, now: Instant, down: &mut Vec<u8>) {
        let _ = (now, down);
    }

    /// When [`StreamLayer::handle_timeout`] is next due, if ever.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// The deadline from [`StreamLayer::poll_timeout`] passed. May produce bytes or fail
    /// (a handshake that took too long).
    fn handle_timeout(
        &mut self,
        now: Instant,
        out: &mut StreamOut<'_>,
    ) -> Result<LayerStatus, Error> {
        let _ = (now, out);
        Ok(LayerStatus::Ready)
    }

    /// Why the layer ended the connection, once it asked to ([`LayerReport::close`]): what
    /// `on_close` reports when nothing else went wrong. Taken once.
    fn outcome(&mut self) -> Option<Error> {
        None
    }

    /// Bytes the layer holds on their way to the peer; counted with the connection's
    /// outbound queue against its water marks.
    fn buffered(&self) -> usize {
        0
    }

    /// Which shared encoding of the connection's codec a published message takes
    /// ([`riptide_codec::CodecFactory::encode_shared`]), when the layer decides it (a
    /// WebSocket's negotiated compression); `None` leaves it to the codec's encoder. Asked of
    /// the top layer only, before each publication it is sent.
    fn shared_variant(&mut self) -> Option<u32> {
        None
    }

    /// Offered a record shared by many connections (a publication, framed once by the
    /// codec's `encode_shared`) instead of [`StreamLayer::write`]: the layer may say its
    /// bytes are already in its own wire format (a WebSocket frame made once for every
    /// subscriber), so the shared buffer goes below it as it is. Asked of the top layer only.
    fn write_shared(&mut self, now: Instant, record: &[u8]) -> SharedWrite {
        let _ = (now, record);
        SharedWrite::Write
    }

    /// A message from the application for this layer outside the byte stream
    /// ([`crate::Conns::control`]): after the writes made before it, and never taken for
    /// their bytes (an HTTP listener's answer to a WebSocket upgrade, which follows the HTTP
    /// responses written before it, whatever bytes those hold). Appends what goes toward
    /// the peer to `down`. Asked of the top layer only; an error closes the connection with
    /// it. A layer that takes none refuses every message.
    fn control(&mut self, now: Instant, message: &[u8], down: &mut Vec<u8>) -> Result<(), Error> {
        let _ = (now, message, down);
        Err(Error::InvalidOption(
            "this connection's layers take no control messages".into(),
        ))
    }

    /// Gives the layer's keys to the kernel, which carries its records from now on (kernel
    /// TLS); the layer leaves the stack. Asked only of a layer that reported
    /// [`LayerReport::kernel_tls`], once the socket accepted the kernel's `tls` protocol.
    #[cfg(target_os = "linux")]
    fn into_kernel(self: Box<Self>) -> Result<crate::KernelTls, Error> {
        Err(Error::Tls(
            "this layer has nothing to hand to the kernel".into(),
        ))
    }
}

/// What a layer does with a shared record ([`StreamLayer::write_shared`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedWrite {
    /// Nothing special: the record goes to [`StreamLayer::write`] as any bytes.
    Write,
    /// The record's bytes from this offset on are already what the layer would send: they go
    /// below it unchanged (by reference, when no layer is below).
    Pass(usize),
    /// Nothing is sent: the layer cannot take a message now (a WebSocket closing).
    Skip,
}

/// What a datagram between packet layers carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// KCP segments.
    Kcp,
    /// KCP segments rebuilt from parity by FEC rather than received: KCP takes them without
    /// sampling the RTT or the peer's window ([`riptide_kcp::Kcp::input_recovered`]).
    Recovered,
    /// One message of the unreliable channel, sent outside KCP (no retransmission, no
    /// order).
    Unreliable,
}

/// Datagrams a packet layer produces, each with what it carries: a list kept in one reusable
/// buffer, so sealing and opening allocate nothing in steady state.
#[derive(Default)]
pub struct Datagrams {
    bytes: Vec<u8>,
    ends: Vec<(usize, Payload)>,
}

impl Datagrams {
    /// Appends one datagram of KCP segments.
    pub fn push(&mut self, datagram: &[u8]) {
        self.push_as(Payload::Kcp, datagram);
    }

    /// Appends one datagram carrying `payload`.
    pub fn push_as(&mut self, payload: Payload, datagram: &[u8]) {
        self.bytes.extend_from_slice(datagram);
        self.ends.push((self.bytes.len(), payload));
    }

    /// Number of datagrams held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when none is held.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The datagrams with what each carries, in the order pushed.
    pub fn iter(&self) -> impl Iterator<Item = (Payload, &[u8])> {
        let starts = std::iter::once(0).chain(self.ends.iter().map(|&(end, _)| end));
        starts
            .zip(self.ends.iter().copied())
            .filter_map(|(start, (end, payload))| Some((payload, self.bytes.get(start..end)?)))
    }

    /// Forgets every datagram, keeping the memory.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }
}

/// A datagram transform stacked under KCP: `seal` on the way to the peer, `open` on the way
/// in. Each datagram comes with what it carries ([`Payload`]); a layer that marks the kind in
/// its own framing (FEC's out-of-band shards, a secure header's type) passes [`Payload::Kcp`]
/// down and restores the kind on open; one that does not passes the kind through.
pub trait PacketLayer: Send {
    /// Bytes the layer adds to a datagram at most: KCP's segments shrink by the stack's total
    /// so a sealed datagram still fits the configured MTU.
    fn overhead(&self) -> usize;

    /// One datagram going to the peer: pushes what goes below (itself transformed, plus any
    /// datagrams of the layer's own, such as parity shards) to `out`.
    fn seal(&mut self, now: Instant, payload: Payload, datagram: &[u8], out: &mut Datagrams);

    /// One datagram from the peer: pushes what it opens to for the layer above (none while a
    /// group is incomplete, several when a lost one is recovered) to `out`. An error drops
    /// the datagram and is counted as rejected input; the session goes on.
    fn open(
        &mut self,
        now: Instant,
        payload: Payload,
        datagram: &[u8],
        out: &mut Datagrams,
    ) -> Result<(), Error>;

    /// True when the layer marks [`Payload::Unreliable`] datagrams in its own framing, so the
    /// peer can tell them from KCP's: a session can send on the unreliable channel only when
    /// some layer of its stack does.
    fn carries_unreliable(&self) -> bool {
        false
    }

    /// True when the datagram last opened may move its session to the address it came from:
    /// it was authenticated and newer than any before (a client behind a NAT that changed its
    /// port). Only layers that authenticate datagrams can say so.
    fn may_migrate(&self) -> bool {
        false
    }

    /// Named counters for operators (FEC's recovered datagrams, a secure mode's rejected
    /// packets...), gathered by [`crate::Conns::kcp_counters`].
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// When [`PacketLayer::handle_timeout`] is next due, if ever.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// The deadline passed: pushes any datagrams due for the peer to `out`. An error (a
    /// handshake that never completed) closes the session with it.
    fn handle_timeout(&mut self, now: Instant, out: &mut Datagrams) -> Result<(), Error> {
        let _ = (now, out);
        Ok(())
    }
}

/// What a [`PacketGate`] decided about a datagram that reached a `kcp://` listener.
pub enum Gate {
    /// It belongs to the session with this key (found by key, whatever address it came
    /// from): the session's layers open it.
    Session(u64),
    /// It opens a new session with this key, whose bottom packet layers are `layers` (seeded
    /// by the gate, say with the keys of a handshake); the listener's own packet layers go on
    /// top. [`GateOut::opened`] holds what the gate already opened of the datagram.
    Open {
        /// The key later datagrams of the session come with.
        key: u64,
        /// The session's bottom packet layers.
        layers: Vec<Box<dyn PacketLayer>>,
    },
    /// Nothing more to do with it (answered through [`GateOut::reply`], or dropped).
    Done,
}

/// What a [`PacketGate`] produces besides its decision.
#[derive(Default)]
pub struct GateOut {
    /// Datagrams to send back to the datagram's source (a handshake response, a cookie).
    pub reply: Datagrams,
    /// For [`Gate::Open`]: what the gate's layers opened the datagram to.
    pub opened: Datagrams,
}

impl GateOut {
    /// Empties both lists, keeping the memory.
    pub fn clear(&mut self) {
        self.reply.clear();
        self.opened.clear();
    }
}

/// A listener's front door under KCP: it sees every datagram of a `kcp://` listener before
/// any session does, routes datagrams to sessions by a key of its own instead of by address,
/// answers handshakes, and decides when a session may exist (the shape of a secure mode:
/// sessions only after a handshake proved the client's address).
pub trait PacketGate: Send {
    /// Classifies a datagram from `peer`.
    fn admit(&mut self, now: Instant, peer: SocketAddr, datagram: &[u8], out: &mut GateOut)
        -> Gate;

    /// The session with `key` is gone (closed, evicted, replaced): the key may be reused.
    fn closed(&mut self, key: u64) {
        let _ = key;
    }

    /// True when the session ids this gate hands out carry the process's upgrade generation
    /// where a reuseport program finds it (the secure mode): during an upgrade in place the
    /// listener's socket then keeps serving its sessions while the new process's socket gets
    /// the rest (docs/deploy.md). False by default.
    fn routes_by_generation(&self) -> bool {
        false
    }
}

/// Makes each connection's own instance of a stream layer (a listener's option, called once
/// per accepted connection).
pub type StreamLayerFactory = Arc<dyn Fn() -> Box<dyn StreamLayer> + Send + Sync>;

/// Makes each KCP session's own instance of a packet layer.
pub type PacketLayerFactory = Arc<dyn Fn() -> Box<dyn PacketLayer> + Send + Sync>;

/// Makes a `kcp://` listener's gate (one per listener).
pub type PacketGateFactory = Arc<dyn Fn() -> Box<dyn PacketGate> + Send + Sync>;
