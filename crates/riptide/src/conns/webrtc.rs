//! WebRTC peers as connections: the table feeds a `webrtc://` listener's [`Endpoint`] its
//! datagrams, offers and timeouts, sends what it transmits, keeps each peer's one live
//! timing-wheel entry, and turns its events into connections (a peer becomes one when both its
//! channels open), messages, writability and closes. `write` goes to the reliable channel,
//! queued while the endpoint is congested; `send_unreliable` to the unreliable one.
//!
//! The endpoint is settled (driven, its output sent and applied) once per reactor turn, not
//! after each datagram or send: every call marks its listener, and the reactor settles the
//! marked ones when the turn's input is in and again after each batch of the handler's writes
//! ([`Conns::rtc_settle_marked`]).
//!
//! [`Endpoint`]: riptide_webrtc::Endpoint

use super::connection::{Place, State, Transport};
use super::lifecycle::NewConn;
use super::{count_bytes, Conns, Notice};
use crate::flow::Timer;
use crate::slab::ConnId;
use crate::stream::{PeerAddr, Stream};
use crate::webrtc_table::{Fire, RtcListener};
use crate::Error;
use riptide_webrtc::{
    signal, ChannelKind, CloseReason, DatagramOutcome, Event, OfferError, PeerId, SendError,
    SendOutcome,
};
use serde_json::Value;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// The WebRTC side of a connection: its peer on the listener's endpoint, and the reliable
/// messages the endpoint has not taken yet (it refuses them while its send buffer is full).
pub(crate) struct RtcPeer {
    pub(crate) peer: PeerId,
    /// The largest message either channel takes (the client's `a=max-message-size`, capped
    /// by the send buffer).
    max_message_size: usize,
    pending: VecDeque<Vec<u8>>,
    pending_bytes: usize,
    /// The held signalling request the peer came from (an `authorize` listener's).
    request: Option<u64>,
}

/// A handler's decision on a held signalling request: its id, whether it is allowed, and
/// the geckos `userData` to send.
pub(crate) type RtcDecision = (u64, bool, Option<Value>);

/// What a reactor's `webrtc://` listeners hold ([`Conns::webrtc_counts`]): each figure
/// returns to zero once every peer is gone, the measure of half-open peers expiring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebRtcCounts {
    /// Peers of the endpoints, half-open ones included.
    pub peers: usize,
    /// Peers whose channels opened: connections.
    pub open: usize,
    /// Peers whose source address the table notes.
    pub addresses: usize,
    /// Peers with a live timing-wheel entry.
    pub deadlines: usize,
    /// Unreliable messages dropped because the channel was congested.
    pub congested: u64,
}

impl RtcPeer {
    /// Bytes written and not yet taken by the endpoint.
    pub(crate) fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }
}

impl Conns {
    /// Serves `listener`'s peers on datagram socket `socket`.
    pub(crate) fn rtc_listen(&mut self, socket: usize, listener: RtcListener) {
        self.rtc.insert(socket, listener);
    }

    /// The signalling path, largest request body and static directory of the `webrtc://`
    /// listener on `socket`.
    pub(crate) fn rtc_signal_limits(
        &self,
        socket: usize,
    ) -> Option<(&str, usize, Option<&std::path::Path>)> {
        self.rtc
            .get(&socket)
            .map(|l| (l.path.as_str(), l.max_body, l.static_dir.as_deref()))
    }

    /// A datagram from `from` for the `webrtc://` listener on `socket`.
    pub(crate) fn rtc_datagram(&mut self, socket: usize, from: SocketAddr, data: &[u8]) {
        let Some(l) = self.rtc.get_mut(&socket) else {
            return;
        };
        if let DatagramOutcome::Delivered(peer) =
            l.endpoint.handle_datagram(Instant::now(), from, data)
        {
            l.heard(peer, from);
        }
        self.rtc_mark(socket);
    }

    /// True when the `webrtc://` listener on `socket` holds offers for the handler.
    pub(crate) fn rtc_authorizes(&self, socket: usize) -> bool {
        self.rtc.get(&socket).is_some_and(|l| l.authorize)
    }

    /// A signalling request's body (`request`: the held request it was, if authorized): the
    /// answer's body, or why the offer was refused.
    pub(crate) fn rtc_offer(
        &mut self,
        socket: usize,
        body: &[u8],
        request: Option<u64>,
    ) -> Result<Vec<u8>, OfferError> {
        let Some(l) = self.rtc.get_mut(&socket) else {
            return Err(OfferError::Full(0));
        };
        let answered = signal::answer_json(&mut l.endpoint, Instant::now(), body);
        if let (Ok((peer, _)), Some(request)) = (&answered, request) {
            l.requested(*peer, request);
        }
        self.rtc_mark(socket);
        answered.map(|(_, answer)| answer)
    }

    /// Answers (`allow`) or refuses (`403`; geckos: `401`) an offer held for
    /// [`crate::EventHandler::on_webrtc_offer`]; a request whose client is gone is ignored.
    pub fn webrtc_decide(&mut self, request: u64, allow: bool) {
        self.rtc_decisions.push((request, allow, None));
    }

    /// [`Conns::webrtc_decide`] for a geckos listener's `POST /connections`: allowed with
    /// `user_data` sent to the client as its `userData` (`None` or a falsy value: `{}`).
    pub fn webrtc_decide_geckos(&mut self, request: u64, allow: bool, user_data: Option<Value>) {
        self.rtc_decisions.push((request, allow, user_data));
    }

    /// The decisions made since the reactor last looked.
    pub(crate) fn take_rtc_decisions(&mut self) -> Vec<RtcDecision> {
        std::mem::take(&mut self.rtc_decisions)
    }

    /// The held signalling request ([`crate::WebRtcOffer::request`]) a WebRTC peer's
    /// connection came from; `None` without `authorize` or for another transport.
    pub fn webrtc_request(&self, id: ConnId) -> Option<u64> {
        self.slab.get(id)?.transport.rtc()?.request
    }

    /// A peer's wheel entry fired.
    pub(super) fn rtc_timer(&mut self, socket: usize, peer: PeerId, now: Instant) {
        let Some(l) = self.rtc.get_mut(&socket) else {
            return;
        };
        match l.fired(peer, now) {
            Fire::Stale => {}
            Fire::Rearm(at) => self.timers.insert(at, Timer::Rtc(socket, peer.0)),
            Fire::Due => {
                l.endpoint.handle_timeout(peer, now);
                self.rtc_mark(socket);
            }
        }
    }

    /// Notes that the endpoint of `socket` took input or sends to settle before the turn ends.
    pub(super) fn rtc_mark(&mut self, socket: usize) {
        if !self.rtc_marked.contains(&socket) {
            self.rtc_marked.push(socket);
        }
    }

    /// True when an endpoint took input or sends since it was last settled.
    pub(crate) fn rtc_unsettled(&self) -> bool {
        !self.rtc_marked.is_empty()
    }

    /// Settles every endpoint marked since the last call, and those its events mark (a
    /// writable peer's queued messages): one drive per peer that took anything.
    pub(crate) fn rtc_settle_marked(&mut self) {
        while !self.rtc_marked.is_empty() {
            let mut marked = std::mem::take(&mut self.rtc_marked);
            for socket in marked.drain(..) {
                self.rtc_settle(socket);
            }
            if self.rtc_marked.is_empty() {
                self.rtc_marked = marked;
            }
        }
    }

    /// Dooms the connections whose peers closed at the last settle, now that the handler has
    /// had their last messages; true when there were any.
    pub(crate) fn rtc_apply_closes(&mut self) -> bool {
        let closes = std::mem::take(&mut self.rtc_closes);
        let any = !closes.is_empty();
        for (id, err) in closes {
            self.doom(id, err);
        }
        any
    }

    /// Drains the endpoint of `socket`: datagrams to the socket, deadlines to the wheel,
    /// events to the connections, until it has nothing more.
    fn rtc_settle(&mut self, socket: usize) {
        let listener = self.socket_listener(socket);
        loop {
            let Conns {
                rtc,
                sockets,
                timers,
                counters,
                listener_counts,
                ..
            } = self;
            let Some(l) = rtc.get_mut(&socket) else {
                return;
            };
            let udp = sockets.get(socket).and_then(|s| s.udp());
            while let Some(t) = l.endpoint.poll_transmit() {
                // Lossy like any datagram: a full socket buffer drops it, and the protocols
                // above (SCTP, DTLS, ICE) retransmit.
                if let Some(Ok(n)) = udp.map(|u| u.send_to(&t.contents, t.destination)) {
                    count_bytes(counters, listener_counts, listener, n, false);
                }
            }
            while let Some(update) = l.endpoint.poll_timer() {
                if let Some(at) = l.deadline(update.peer, update.deadline) {
                    timers.insert(at, Timer::Rtc(socket, update.peer.0));
                }
            }
            let Some(event) = l.endpoint.poll_event() else {
                if l.geckos.is_some() {
                    self.rtc_geckos_arm(socket);
                }
                return;
            };
            self.rtc_event(socket, event);
        }
    }

    /// Applies one endpoint event.
    fn rtc_event(&mut self, socket: usize, event: Event) {
        let Some(l) = self.rtc.get_mut(&socket) else {
            return;
        };
        match event {
            Event::Open {
                peer,
                max_message_size,
            } => {
                let from = l.source(peer).unwrap_or(l.endpoint.config().public_addr);
                let codec = l.codec.clone();
                let opened = self.insert(NewConn {
                    transport: Transport::Rtc(
                        Stream::Datagram { socket, peer: from },
                        Box::new(RtcPeer {
                            peer,
                            max_message_size,
                            pending: VecDeque::new(),
                            pending_bytes: 0,
                            request: None,
                        }),
                    ),
                    peer: PeerAddr::Inet(from),
                    place: Place::None,
                    codec: codec.as_ref(),
                    layers: Vec::new(),
                    connecting: false,
                    listener: self.socket_listener(socket),
                });
                let Some(l) = self.rtc.get_mut(&socket) else {
                    return;
                };
                match opened {
                    Ok(id) => {
                        let request = l.opened(peer, id);
                        if let Some(Transport::Rtc(_, p)) =
                            self.slab.get_mut(id).map(|c| &mut c.transport)
                        {
                            p.request = request;
                        }
                    }
                    // No room in the table: the peer goes.
                    Err(_) => l.endpoint.close(peer),
                }
            }
            Event::Message {
                peer,
                channel,
                binary,
                data,
            } => {
                if let (Some(id), true) = (l.conn(peer), l.geckos.is_some()) {
                    self.rtc_geckos_message(socket, id, peer, binary, &data);
                } else if let Some(id) = l.conn(peer) {
                    let reliable = channel == ChannelKind::Reliable;
                    self.notices.push_back(Notice::Message(id, reliable, data));
                }
            }
            Event::Writable { peer } => {
                if let Some(id) = l.conn(peer) {
                    self.rtc_flush(id);
                }
            }
            Event::Closed { peer, reason } => {
                if let Some(g) = l.geckos.as_mut() {
                    g.closed(peer);
                }
                // Messages settled with the close reach the handler first.
                if let Some(id) = l.closed(peer) {
                    self.rtc_closes.push((id, close_error(reason)));
                }
            }
        }
    }

    /// Hands the endpoint the connection's queued reliable messages, in order, until it is
    /// congested; then completes write markers, reports the drain below the low water mark,
    /// and finishes a pending close once nothing is queued.
    fn rtc_flush(&mut self, id: ConnId) {
        let low = self.flow.write_low_water_mark;
        let Conns { slab, rtc, .. } = self;
        let Some(conn) = slab.get_mut(id) else {
            return;
        };
        let Transport::Rtc(Stream::Datagram { socket, .. }, p) = &mut conn.transport else {
            return;
        };
        let Some(l) = rtc.get_mut(socket) else {
            return;
        };
        let now = Instant::now();
        while let Some(front) = p.pending.front() {
            let len = front.len();
            match l.endpoint.send(now, p.peer, ChannelKind::Reliable, front) {
                Ok(SendOutcome::Congested) => break,
                // Sent, or refused for good (the peer is closing): it leaves the queue.
                Ok(SendOutcome::Sent) | Err(_) => {
                    p.pending.pop_front();
                    p.pending_bytes = p.pending_bytes.saturating_sub(len);
                    conn.sent = conn.sent.saturating_add(len as u64);
                }
            }
        }
        let (peer, empty) = (p.peer, p.pending.is_empty());
        super::write::settle_markers(&mut self.notices, id, conn, low);
        if empty && conn.state == State::Closing {
            l.endpoint.close(peer);
            self.doom(id, None);
        }
    }

    /// Queues one message (the buffers joined) on the peer's reliable channel and sends what
    /// the endpoint takes. Refused when larger than the peer's maximum message size.
    pub(super) fn rtc_write(&mut self, id: ConnId, bufs: &[&[u8]]) -> Result<(), Error> {
        let (high, max_outbound) = (self.flow.write_high_water_mark, self.flow.max_outbound);
        let conn = self.slab.get(id).ok_or(Error::ConnClosed)?;
        let Transport::Rtc(Stream::Datagram { socket, .. }, _) = &conn.transport else {
            return Err(Error::ConnClosed);
        };
        let socket = *socket;
        if self.rtc_is_geckos(socket) {
            // geckos has one channel: a write is a raw message on it.
            return self.geckos_raw(id, &bufs.concat()).map(|_| ());
        }
        let Some(Transport::Rtc(_, p)) = self.slab.get_mut(id).map(|c| &mut c.transport) else {
            return Err(Error::ConnClosed);
        };
        let size = bufs.iter().map(|b| b.len()).sum::<usize>();
        if size > p.max_message_size {
            return Err(Error::MessageTooLarge {
                size,
                max: p.max_message_size,
            });
        }
        if size == 0 {
            // A data channel carries no empty messages; nothing to send.
            return Ok(());
        }
        if max_outbound.is_some_and(|m| p.pending_bytes.saturating_add(size) > m) {
            self.doom(id, Some(Error::OutboundFull));
            return Err(Error::OutboundFull);
        }
        p.pending.push_back(bufs.concat());
        p.pending_bytes = p.pending_bytes.saturating_add(size);
        self.rtc_flush(id);
        if let Some(conn) = self.slab.get_mut(id) {
            if !conn.unwritable && conn.queued() > high {
                conn.unwritable = true;
                self.notices.push_back(Notice::Writability(id, false));
            }
        }
        self.rtc_mark(socket);
        Ok(())
    }

    /// Sends one message on the peer's unreliable channel (unordered, never retransmitted).
    /// False when it was dropped because the channel is congested, or because the peer closed
    /// in this turn (a reply to one of its last messages; its close follows).
    pub(super) fn rtc_send_unreliable(&mut self, id: ConnId, data: &[u8]) -> Result<bool, Error> {
        let conn = self.slab.get(id).ok_or(Error::ConnClosed)?;
        if conn.state != State::Open {
            return Err(Error::ConnClosed);
        }
        let Transport::Rtc(Stream::Datagram { socket, .. }, p) = &conn.transport else {
            return Err(Error::ConnClosed);
        };
        let (socket, peer, max) = (*socket, p.peer, p.max_message_size);
        if self.rtc_is_geckos(socket) {
            return self.geckos_raw(id, data);
        }
        let l = self.rtc.get_mut(&socket).ok_or(Error::ConnClosed)?;
        let sent = match l
            .endpoint
            .send(Instant::now(), peer, ChannelKind::Unreliable, data)
        {
            Ok(SendOutcome::Sent) => Ok(true),
            Ok(SendOutcome::Congested) => {
                l.congested = l.congested.wrapping_add(1);
                Ok(false)
            }
            Err(SendError::TooLarge { .. }) => Err(Error::MessageTooLarge {
                size: data.len(),
                max,
            }),
            Err(SendError::Empty) => Err(Error::InvalidOption(
                "a data channel message cannot be empty".into(),
            )),
            Err(SendError::UnknownPeer) => Ok(false),
            Err(_) => Err(Error::ConnClosed),
        };
        self.rtc_mark(socket);
        sent
    }

    /// A peer's connection left the table: the peer closes (str0m sends its DTLS close) and
    /// leaves the listener's maps.
    pub(super) fn rtc_forget(&mut self, socket: usize, peer: PeerId) {
        if let Some(l) = self.rtc.get_mut(&socket) {
            l.closed(peer);
            l.endpoint.close(peer);
            self.rtc_mark(socket);
        }
    }

    /// What this reactor's `webrtc://` listeners hold: peers (half-open ones included), open
    /// ones, what is tracked per peer, unreliable messages dropped.
    pub fn webrtc_counts(&self) -> WebRtcCounts {
        let mut counts = WebRtcCounts::default();
        for l in self.rtc.values() {
            let (open, addresses, deadlines) = l.tracked();
            counts.peers += l.endpoint.peer_count();
            counts.open += open;
            counts.addresses += addresses;
            counts.deadlines += deadlines;
            counts.congested = counts.congested.wrapping_add(l.congested);
        }
        counts
    }
}

/// The error a peer's connection closes with: none for an orderly close by either side.
fn close_error(reason: CloseReason) -> Option<Error> {
    let (kind, why) = match reason {
        CloseReason::Remote | CloseReason::Local => return None,
        CloseReason::HandshakeTimeout => (io::ErrorKind::TimedOut, "WebRTC handshake timed out"),
        CloseReason::Disconnected => (
            io::ErrorKind::TimedOut,
            "WebRTC peer silent (ICE consent lapsed)",
        ),
        CloseReason::Failed => (io::ErrorKind::ConnectionAborted, "WebRTC protocol error"),
        CloseReason::Panicked => (io::ErrorKind::Other, "WebRTC stack failed for this peer"),
    };
    Some(io::Error::new(kind, why).into())
}
