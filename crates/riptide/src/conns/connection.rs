//! One connection of the table: its transport, the stack of layers over it, its codec and the
//! flow-control state the table keeps for every connection alike.

use crate::config::SharedCodec;
use crate::kcp_session::KcpSession;
use crate::outbound::Outbound;
use crate::slab::ConnId;
use crate::stream::{PeerAddr, Stream};
use crate::stream_stack::StreamStack;
use crate::Error;
use riptide_codec::Codec;
use std::any::Any;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

/// What carries a connection's bytes.
pub(crate) enum Transport {
    /// A socket of its own (TCP, Unix stream, connected UDP) or a peer of a UDP listener: bytes
    /// go to the socket as they are (one write is one datagram on UDP).
    Plain(Stream),
    /// A KCP session whose datagrams travel over the stream (a connected UDP socket, or a peer
    /// of a `kcp://` listener's socket).
    Kcp(Stream, Box<KcpSession>),
    /// A WebRTC peer of a `webrtc://` listener's socket (a [`Stream::Datagram`] naming the
    /// socket and where the peer was last heard from).
    Rtc(Stream, Box<super::RtcPeer>),
}

impl Transport {
    /// The socket, or the peer of a listener's socket, the bytes travel through.
    pub(crate) fn stream(&self) -> &Stream {
        match self {
            Transport::Plain(s) | Transport::Kcp(s, _) | Transport::Rtc(s, _) => s,
        }
    }

    /// The socket, for registration with the poll.
    pub(crate) fn stream_mut(&mut self) -> &mut Stream {
        match self {
            Transport::Plain(s) | Transport::Kcp(s, _) | Transport::Rtc(s, _) => s,
        }
    }

    /// The KCP session, if this is one.
    pub(crate) fn kcp(&self) -> Option<&KcpSession> {
        match self {
            Transport::Kcp(_, session) => Some(session),
            Transport::Plain(_) | Transport::Rtc(..) => None,
        }
    }

    /// The WebRTC peer, if this is one.
    pub(crate) fn rtc(&self) -> Option<&super::RtcPeer> {
        match self {
            Transport::Rtc(_, peer) => Some(peer),
            _ => None,
        }
    }

    /// The KCP session, if this is one.
    pub(crate) fn kcp_mut(&mut self) -> Option<&mut KcpSession> {
        match self {
            Transport::Kcp(_, session) => Some(session),
            Transport::Plain(_) | Transport::Rtc(..) => None,
        }
    }
}

/// The place a connection holds in the engine's [`crate::Admission`] counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Not counted (dialed connections, UDP and KCP sessions).
    None,
    /// A place in the total and, for `Some(ip)`, in that IP's count.
    Held(Option<IpAddr>),
    /// A place in the total only, until a layer names the real peer (a PROXY header).
    Deferred,
}

/// A connection's codec: one instance decodes (it is taken out while frames are delivered),
/// another encodes writes made meanwhile.
pub(crate) struct Framing {
    pub(crate) decoder: Option<Box<dyn Codec>>,
    pub(crate) encoder: Box<dyn Codec>,
    /// The factory of the codec: connections sharing it are sent the same published frames.
    pub(crate) codec: SharedCodec,
}

impl Framing {
    /// A decoder and an encoder from `codec`.
    pub(crate) fn new(codec: &SharedCodec) -> Framing {
        Framing {
            decoder: Some(codec.new_codec()),
            encoder: codec.new_codec(),
            codec: codec.clone(),
        }
    }
}

/// One connection.
pub(crate) struct Connection {
    pub(crate) transport: Transport,
    pub(crate) outbound: Outbound,
    pub(crate) peer: PeerAddr,
    pub(crate) state: State,
    pub(crate) last_read: Instant,
    pub(crate) last_write: Instant,
    /// Bytes handed to the kernel so far; write markers are positions in this count.
    pub(crate) sent: u64,
    /// `(position, token)` of writes whose completion was asked for, in position order.
    /// Boxed on first use: most connections never ask, and the size of an idle connection is
    /// the M1 figure: 8 bytes where an empty `VecDeque` takes 32.
    #[allow(clippy::box_collection)]
    pub(crate) markers: Option<Box<VecDeque<(u64, u64)>>>,
    /// Above the high water mark (and not yet back under the low one).
    pub(crate) unwritable: bool,
    /// Reading stopped by [`crate::Conns::pause`].
    pub(crate) paused: bool,
    /// The peer's FIN arrived (half-open connections keep writing).
    pub(crate) read_closed: bool,
    /// A poll event said the peer closed or errored: keep reading until the read that
    /// reports it (edge-triggered polling will not say it again).
    pub(crate) hup_seen: bool,
    /// [`crate::Conns::end`] was called: shut the write side once the queue drains.
    pub(crate) end_requested: bool,
    pub(crate) write_closed: bool,
    pub(crate) place: Place,
    /// The index of the listener that accepted it (`None`: dialed), for its counts.
    pub(crate) listener: Option<u16>,
    /// The connection's framing, if it has one. Boxed: an unframed connection pays one
    /// pointer for it.
    pub(crate) framing: Option<Box<Framing>>,
    /// Bytes received but not yet delivered: a partial frame, or what the handler retained.
    pub(crate) inbound: Vec<u8>,
    /// Since when `inbound` has held a partial frame (for the frame timeout).
    pub(crate) partial_since: Option<Instant>,
    /// Stream layers between the transport and the codec (`None` when there are none, or
    /// once all removed themselves).
    pub(crate) layers: Option<Box<StreamStack>>,
    /// Facts layers left about the connection (the PROXY header...). Boxed: rare, and the
    /// size of an idle connection is the M1 figure.
    pub(crate) extensions: Option<Box<[Box<dyn Any + Send>]>>,
}

impl Connection {
    /// A connection over `transport`, open unless a caller says otherwise.
    pub(crate) fn new(transport: Transport, peer: PeerAddr, place: Place, now: Instant) -> Self {
        Connection {
            transport,
            outbound: Outbound::default(),
            peer,
            state: State::Open,
            last_read: now,
            last_write: now,
            sent: 0,
            markers: None,
            unwritable: false,
            paused: false,
            read_closed: false,
            hup_seen: false,
            end_requested: false,
            write_closed: false,
            place,
            listener: None,
            framing: None,
            inbound: Vec::new(),
            partial_since: None,
            layers: None,
            extensions: None,
        }
    }

    /// Asks to hear when the byte at `at` (a position in `sent`) has left: `token`.
    pub(crate) fn push_marker(&mut self, at: u64, token: u64) {
        self.markers.get_or_insert_default().push_back((at, token));
    }

    /// The token of the oldest write marker at or before `upto`, taken off the list.
    pub(crate) fn pop_marker(&mut self, upto: u64) -> Option<u64> {
        let markers = self.markers.as_mut()?;
        if markers.front().is_some_and(|&(at, _)| at <= upto) {
            return markers.pop_front().map(|(_, token)| token);
        }
        None
    }

    /// The socket (or the peer of a listener's socket) the connection's bytes travel through.
    pub(crate) fn stream(&self) -> &Stream {
        self.transport.stream()
    }

    /// Bytes accepted and not yet taken by the kernel (for KCP, waiting to be sent or
    /// acknowledged), plus what the layers hold: the level the water marks compare.
    pub(crate) fn queued(&self) -> usize {
        let below = match (&self.transport, self.transport.kcp()) {
            (_, Some(session)) => session.outbound_bytes(),
            (Transport::Rtc(_, peer), _) => peer.pending_bytes(),
            _ => self.outbound.len(),
        };
        below.saturating_add(self.layers.as_ref().map_or(0, |l| l.buffered()))
    }

    /// True while bytes wait to be written or acknowledged, or a layer holds some.
    pub(crate) fn busy(&self) -> bool {
        !self.outbound.is_empty()
            || self.transport.kcp().is_some_and(|s| s.waiting() > 0)
            || self.transport.rtc().is_some_and(|p| p.pending_bytes() > 0)
            || self.layers.as_ref().is_some_and(|l| l.buffered() > 0)
    }
}

/// Where a connection is in its life. Only `Open` accepts writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Dialed and not yet connected: writes queue until it is.
    Connecting,
    /// Connected, and a stream layer still negotiates (a PROXY header, a TLS handshake):
    /// bytes flow, `on_open` waits.
    Negotiating,
    Open,
    /// [`crate::Conns::close`] was called with bytes still queued: close once they are
    /// written.
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
    /// The connection opened (connected, and its layers are ready): report `on_open`.
    Opened(ConnId),
    /// The connection is closing: report `on_close` (after failing its pending markers).
    /// `true` when it is an accepted connection that failed before it opened (its layers
    /// were still negotiating): `on_handshake_error` comes first.
    Close(ConnId, Option<Error>, bool),
    /// A write made on the handler's behalf failed without closing (a message the codec
    /// cannot express): report `on_error`.
    Error(ConnId, Error),
    /// A message arrived on a WebRTC peer's reliable (`true`) or unreliable channel: deliver
    /// it (through the codec) or report `on_unreliable`.
    Message(ConnId, bool, Vec<u8>),
}
