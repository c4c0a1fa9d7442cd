//! The endpoint: str0m `Rtc`s keyed by peer, the demultiplexer in front of them, and the
//! queues of datagrams, events and deadline changes behind them.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::ice::StunMessage;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, IceConnectionState, IceCreds, Input, Output, Rtc};

use crate::config::EndpointConfig;
use crate::error::{ConfigError, OfferError, SendError};
use crate::sdp::{inspect_offer, negotiated_max_message_size};

mod server_offer;

pub use server_offer::{OfferedChannel, MAX_LABEL_LEN};

/// Datagrams a peer takes in before it is driven, whether or not anything is polled: str0m's
/// DTLS (dimpl) holds at most 30 received datagrams per peer until the peer is polled, and
/// refuses more.
const DRIVE_EVERY: u32 = 16;

/// Bytes of messages a peer may send before its channels open, held and delivered right after
/// [`Event::Open`]; more are dropped, as the network might. A client may send as soon as its
/// own end of a channel opens, and on a channel the server opened in band (geckos) its first
/// unordered message can be read before its ordered DCEP ACK, which is what opens the
/// server's end (str0m reads the stream's unordered data first).
const EARLY_BYTES: usize = 64 * 1024;

/// A peer of the endpoint. Ids are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

/// Which of a peer's data channels. A peer made by [`Endpoint::accept_offer`] has both,
/// pre-negotiated; a peer made by [`Endpoint::offer`] has one channel, the one it offered,
/// reported as [`ChannelKind::Unreliable`] whatever its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// Stream id 0, label `u`: unordered, no retransmissions.
    Unreliable,
    /// Stream id 1, label `r`: reliable and ordered.
    Reliable,
}

impl ChannelKind {
    /// The SCTP stream id both sides use (`negotiated: true, id`).
    pub const fn stream_id(self) -> u16 {
        match self {
            ChannelKind::Unreliable => 0,
            ChannelKind::Reliable => 1,
        }
    }

    /// The channel label.
    pub const fn label(self) -> &'static str {
        match self {
            ChannelKind::Unreliable => "u",
            ChannelKind::Reliable => "r",
        }
    }

    fn config(self) -> ChannelConfig {
        let (ordered, reliability) = match self {
            ChannelKind::Unreliable => (false, Reliability::MaxRetransmits { retransmits: 0 }),
            ChannelKind::Reliable => (true, Reliability::Reliable),
        };
        ChannelConfig {
            label: self.label().to_owned(),
            ordered,
            reliability,
            negotiated: Some(self.stream_id()),
            protocol: String::new(),
        }
    }
}

/// A datagram for the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub destination: SocketAddr,
    /// The bytes.
    pub contents: Vec<u8>,
}

/// Why a peer closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Its channels were not open within the handshake timeout.
    HandshakeTimeout,
    /// ICE consent lapsed (no more checks from the client).
    Disconnected,
    /// The client closed DTLS/SCTP, or a channel.
    Remote,
    /// [`Endpoint::close`] was called.
    Local,
    /// str0m reported a protocol error for it.
    Failed,
    /// str0m panicked while handling it (a str0m bug); only this peer is lost.
    Panicked,
}

/// What happened, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Both channels are open: the peer can send and receive.
    Open {
        /// The peer.
        peer: PeerId,
        /// The largest message [`Endpoint::send`] accepts for it.
        max_message_size: usize,
    },
    /// A message arrived.
    Message {
        /// From this peer.
        peer: PeerId,
        /// On this channel.
        channel: ChannelKind,
        /// Whether the client sent it as binary (an `ArrayBuffer`) rather than text.
        binary: bool,
        /// The message.
        data: Vec<u8>,
    },
    /// The reliable channel, congested by an earlier send, drained to
    /// [`EndpointConfig::reliable_low_water`]: sends are accepted again.
    Writable {
        /// The peer.
        peer: PeerId,
    },
    /// The peer is gone; its id is dead from now on.
    Closed {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: CloseReason,
    },
}

/// A peer's next deadline changed; a timing wheel keeps one entry per peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerUpdate {
    /// The peer.
    pub peer: PeerId,
    /// When to call [`Endpoint::handle_timeout`] for it; `None` cancels (the peer is gone).
    pub deadline: Option<Instant>,
}

/// Where a datagram went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatagramOutcome {
    /// Handed to this peer.
    Delivered(PeerId),
    /// Dropped, for this reason.
    Dropped(DropReason),
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Not STUN, DTLS, RTP or RTCP, or a STUN message that does not parse.
    Malformed,
    /// From an unknown address, and not STUN naming a peer's ufrag.
    UnknownSource,
    /// STUN naming a peer whose credentials it fails.
    Rejected,
    /// The peer refused it (str0m error); the peer lives on.
    PeerError,
}

/// Whether a send was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Queued for the peer.
    Sent,
    /// The channel is congested and the message was not taken. Unreliable: it is dropped.
    /// Reliable: retry after [`Event::Writable`].
    Congested,
}

struct Peer {
    rtc: Rtc,
    ufrag: String,
    addrs: Vec<SocketAddr>,
    unreliable: ChannelId,
    /// `None` for a peer made by [`Endpoint::offer`]: it has only the one channel.
    reliable: Option<ChannelId>,
    opened: [bool; 2],
    /// A peer made by [`Endpoint::offer`], until [`Endpoint::accept_answer`].
    pending: Option<str0m::change::SdpPendingOffer>,
    open: bool,
    /// Until both channels open: the handshake deadline.
    expires: Option<Instant>,
    /// str0m's next timeout.
    rtc_deadline: Instant,
    /// The deadline last reported through [`Endpoint::poll_timer`].
    reported: Option<Instant>,
    /// Queued in `timer_dirty` (once, however many calls touch the peer between polls).
    timer_queued: bool,
    /// Queued in `undriven`: input or sends it has not been driven for since.
    drive_queued: bool,
    /// Datagrams handled since its last drive.
    datagrams: u32,
    /// The latest time it was handed (the drive's `now` when a poll drives it).
    last_input: Instant,
    max_message_size: usize,
    /// The reliable channel refused a send; report [`Event::Writable`] when it drains.
    reliable_blocked: bool,
    /// Messages that arrived before the channels opened (at most [`EARLY_BYTES`] of data),
    /// delivered after [`Event::Open`].
    early: Vec<Event>,
    early_bytes: usize,
}

impl Peer {
    fn deadline(&self) -> Instant {
        self.expires
            .map_or(self.rtc_deadline, |e| e.min(self.rtc_deadline))
    }

    fn kind_of(&self, id: ChannelId) -> Option<ChannelKind> {
        if id == self.unreliable {
            Some(ChannelKind::Unreliable)
        } else if Some(id) == self.reliable {
            Some(ChannelKind::Reliable)
        } else {
            None
        }
    }
}

/// Every WebRTC peer of one UDP socket. See the crate docs for the call pattern.
pub struct Endpoint {
    config: EndpointConfig,
    crypto: Arc<CryptoProvider>,
    cert: DtlsCert,
    next_id: u64,
    peers: HashMap<PeerId, Peer>,
    by_addr: HashMap<SocketAddr, PeerId>,
    by_ufrag: HashMap<String, PeerId>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// Peers whose deadline may have changed since the last [`Endpoint::poll_timer`], each
    /// once.
    timer_dirty: Vec<PeerId>,
    /// Cancellations for peers that are gone.
    timer_cancel: VecDeque<PeerId>,
    /// Peers with datagrams or sends not yet driven, each once (see [`Endpoint::drive_undriven`]).
    undriven: Vec<PeerId>,
}

impl Endpoint {
    /// An endpoint with no peers. Generates the one DTLS certificate all peers share.
    pub fn new(config: EndpointConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let cert = crypto
            .dtls_provider
            .generate_certificate()
            .ok_or(ConfigError::Certificate)?;
        Ok(Endpoint {
            config,
            crypto,
            cert,
            next_id: 0,
            peers: HashMap::new(),
            by_addr: HashMap::new(),
            by_ufrag: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            timer_dirty: Vec::new(),
            timer_cancel: VecDeque::new(),
            undriven: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// How many peers exist, half-open ones included.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// How many source addresses map to peers (bounded by peers × `max_addresses_per_peer`).
    pub fn address_count(&self) -> usize {
        self.by_addr.len()
    }

    pub(crate) fn check_offer_size(&self, len: usize) -> Result<(), OfferError> {
        if len > self.config.max_offer_size {
            return Err(OfferError::TooLarge {
                len,
                max: self.config.max_offer_size,
            });
        }
        Ok(())
    }

    /// Makes a peer from a client's SDP offer and returns it with the SDP answer. The offer
    /// must have a data-channel section and no media; the peer expires unless both channels
    /// open within the handshake timeout.
    pub fn accept_offer(
        &mut self,
        now: Instant,
        offer: &str,
    ) -> Result<(PeerId, String), OfferError> {
        self.check_offer_size(offer.len())?;
        if self.peers.len() >= self.config.max_peers {
            return Err(OfferError::Full(self.peers.len()));
        }
        let facts = inspect_offer(offer)?;
        let offer = str0m::change::SdpOffer::from_sdp_string(offer)
            .map_err(|e| OfferError::Sdp(e.to_string()))?;
        let creds = self.fresh_creds();
        let ufrag = creds.ufrag.clone();
        let built = catch_unwind(AssertUnwindSafe(|| {
            let mut rtc = self.build_rtc(now, creds)?;
            let answer = rtc
                .sdp_api()
                .accept_offer(offer)
                .map_err(|e| OfferError::Sdp(e.to_string()))?;
            let mut direct = rtc.direct_api();
            let unreliable = direct.create_data_channel(ChannelKind::Unreliable.config());
            let reliable = direct.create_data_channel(ChannelKind::Reliable.config());
            if let Some(mut channel) = rtc.channel(reliable) {
                channel.set_buffered_amount_low_threshold(self.config.reliable_low_water);
            }
            Ok((rtc, answer.to_sdp_string(), unreliable, reliable))
        }));
        let (rtc, answer, unreliable, reliable) = built.map_err(|_| OfferError::Panicked)??;
        let max_message_size = negotiated_max_message_size(facts, self.config.send_buffer);
        let channels = (unreliable, Some(reliable));
        let peer = self.insert_peer(now, rtc, ufrag, channels, max_message_size, None);
        Ok((peer, answer))
    }

    /// A fresh ICE ufrag/password pair whose ufrag no peer uses.
    fn fresh_creds(&self) -> IceCreds {
        loop {
            let creds = IceCreds::new();
            if !self.by_ufrag.contains_key(&creds.ufrag) {
                return creds;
            }
        }
    }

    /// An ICE-lite `Rtc` with the shared certificate, `creds` and the one host candidate.
    fn build_rtc(&self, now: Instant, creds: IceCreds) -> Result<Rtc, OfferError> {
        let mut rtc = Rtc::builder()
            .set_crypto_provider(self.crypto.clone())
            .set_dtls_cert(self.cert.clone())
            .set_ice_lite(true)
            .set_local_ice_credentials(creds)
            .set_sctp_max_buffered_amount(self.config.send_buffer)
            .build(now);
        let candidate = Candidate::host(self.config.public_addr, "udp")
            .map_err(|e| OfferError::Sdp(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        Ok(rtc)
    }

    /// Registers a new peer (half-open, expiring after the handshake timeout) and drives it.
    fn insert_peer(
        &mut self,
        now: Instant,
        rtc: Rtc,
        ufrag: String,
        (unreliable, reliable): (ChannelId, Option<ChannelId>),
        max_message_size: usize,
        pending: Option<str0m::change::SdpPendingOffer>,
    ) -> PeerId {
        let peer = PeerId(self.next_id);
        self.next_id += 1;
        self.by_ufrag.insert(ufrag.clone(), peer);
        self.peers.insert(
            peer,
            Peer {
                rtc,
                ufrag,
                addrs: Vec::new(),
                unreliable,
                reliable,
                opened: [false; 2],
                pending,
                open: false,
                expires: Some(now + self.config.handshake_timeout),
                rtc_deadline: now,
                reported: None,
                timer_queued: false,
                drive_queued: false,
                datagrams: 0,
                last_input: now,
                max_message_size,
                reliable_blocked: false,
                early: Vec::new(),
                early_bytes: 0,
            },
        );
        self.drive(peer, now);
        peer
    }

    /// Routes a datagram from `source` to its peer and lets the peer handle it. STUN is routed
    /// by the local ufrag in its USERNAME (and, once its integrity checks out, teaches the
    /// endpoint the source address); everything else by source address.
    ///
    /// What the datagram causes (its acknowledgement, the messages it carried) is produced
    /// when the peer is next driven: at the next poll, after [`DRIVE_EVERY`] datagrams, or by
    /// a timeout. Feeding all of a socket wake's datagrams before polling lets one drive answer
    /// them all, and lets the sends made meanwhile share SCTP packets.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        datagram: &[u8],
    ) -> DatagramOutcome {
        let stun_peer = match stun_local_ufrag(datagram) {
            Some(Ok(ufrag)) => self.by_ufrag.get(ufrag).copied(),
            Some(Err(())) => return DatagramOutcome::Dropped(DropReason::Malformed),
            None => None,
        };
        let (peer_id, learn) = match stun_peer {
            Some(peer) => (peer, true),
            None => match self.by_addr.get(&source) {
                Some(&peer) => (peer, false),
                None => return DatagramOutcome::Dropped(DropReason::UnknownSource),
            },
        };
        let Some(peer) = self.peers.get_mut(&peer_id) else {
            return DatagramOutcome::Dropped(DropReason::UnknownSource);
        };
        // Parsed only once routed: a stranger's datagram costs a hash lookup.
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.config.public_addr, datagram)
        else {
            return DatagramOutcome::Dropped(DropReason::Malformed);
        };
        let input = Input::Receive(now, receive);
        let handled = catch_unwind(AssertUnwindSafe(|| {
            if learn && !peer.rtc.accepts(&input) {
                return Err(DropReason::Rejected);
            }
            peer.rtc
                .handle_input(input)
                .map_err(|_| DropReason::PeerError)
        }));
        let outcome = match handled {
            Err(_) => {
                self.remove(peer_id, CloseReason::Panicked);
                return DatagramOutcome::Dropped(DropReason::PeerError);
            }
            Ok(Err(reason)) => DatagramOutcome::Dropped(reason),
            Ok(Ok(())) => {
                if learn {
                    self.learn_address(peer_id, source);
                }
                DatagramOutcome::Delivered(peer_id)
            }
        };
        self.defer(peer_id, now, true);
        outcome
    }

    /// Notes that the peer took input or a send at `now` and must be driven before the next
    /// poll; drives it at once after [`DRIVE_EVERY`] datagrams.
    fn defer(&mut self, peer_id: PeerId, now: Instant, datagram: bool) {
        let Some(peer) = self.peers.get_mut(&peer_id) else {
            return;
        };
        peer.last_input = peer.last_input.max(now);
        peer.datagrams += u32::from(datagram);
        if peer.datagrams >= DRIVE_EVERY {
            self.drive(peer_id, now);
        } else if !peer.drive_queued {
            peer.drive_queued = true;
            self.undriven.push(peer_id);
        }
    }

    /// Drives every peer that took datagrams or sends since its last drive. Each poll runs it
    /// first, so a caller never sees output that is not up to date.
    fn drive_undriven(&mut self) {
        while let Some(peer_id) = self.undriven.pop() {
            let Some(peer) = self.peers.get(&peer_id) else {
                continue;
            };
            if peer.drive_queued {
                let now = peer.last_input;
                self.drive(peer_id, now);
            }
        }
    }

    /// Maps `source` to `peer`, taking it from any other peer; the peer's oldest address goes
    /// when it has `max_addresses_per_peer` already.
    fn learn_address(&mut self, peer_id: PeerId, source: SocketAddr) {
        if let Some(previous) = self.by_addr.insert(source, peer_id) {
            if previous == peer_id {
                return;
            }
            if let Some(old) = self.peers.get_mut(&previous) {
                old.addrs.retain(|a| *a != source);
            }
        }
        let max = self.config.max_addresses_per_peer;
        let Some(peer) = self.peers.get_mut(&peer_id) else {
            return;
        };
        if peer.addrs.len() >= max {
            let oldest = peer.addrs.remove(0);
            self.by_addr.remove(&oldest);
        }
        peer.addrs.push(source);
    }

    /// The peer's timer fired (or any time before it): advance it to `now`, expiring it if
    /// its handshake is overdue.
    pub fn handle_timeout(&mut self, peer_id: PeerId, now: Instant) {
        let Some(peer) = self.peers.get_mut(&peer_id) else {
            return;
        };
        if peer.expires.is_some_and(|e| now >= e) {
            self.remove(peer_id, CloseReason::HandshakeTimeout);
            return;
        }
        let handled = catch_unwind(AssertUnwindSafe(|| {
            peer.rtc.handle_input(Input::Timeout(now))
        }));
        match handled {
            Err(_) => self.remove(peer_id, CloseReason::Panicked),
            Ok(Err(_)) => self.remove(peer_id, CloseReason::Failed),
            Ok(Ok(())) => self.drive(peer_id, now),
        }
    }

    /// The peer's next deadline as of its last drive, if it exists (a poll drives every peer
    /// with datagrams or sends pending).
    pub fn deadline(&self, peer: PeerId) -> Option<Instant> {
        self.peers.get(&peer).map(Peer::deadline)
    }

    /// The largest message [`Endpoint::send`] takes for the peer.
    pub fn max_message_size(&self, peer: PeerId) -> Option<usize> {
        self.peers.get(&peer).map(|p| p.max_message_size)
    }

    /// Whether the peer's channels are both open.
    pub fn is_open(&self, peer: PeerId) -> bool {
        self.peers.get(&peer).is_some_and(|p| p.open)
    }

    /// Sends a binary message on one of the peer's channels: [`Endpoint::send_message`] with
    /// `binary: true`.
    pub fn send(
        &mut self,
        now: Instant,
        peer_id: PeerId,
        channel: ChannelKind,
        data: &[u8],
    ) -> Result<SendOutcome, SendError> {
        self.send_message(now, peer_id, channel, true, data)
    }

    /// Sends a message on one of the peer's channels, as binary (an `ArrayBuffer` at a
    /// browser) or as text (a string; `data` must then be UTF-8, which is not checked). It
    /// leaves at the next poll (see [`Endpoint::handle_datagram`]), with the peer's other sends
    /// of the meantime.
    ///
    /// Unreliable: dropped ([`SendOutcome::Congested`]) when the channel holds
    /// [`EndpointConfig::unreliable_high_water`] bytes or the send buffer is full. Reliable:
    /// refused ([`SendOutcome::Congested`]) when the send buffer is full, and
    /// [`Event::Writable`] follows once it drains.
    pub fn send_message(
        &mut self,
        now: Instant,
        peer_id: PeerId,
        channel: ChannelKind,
        binary: bool,
        data: &[u8],
    ) -> Result<SendOutcome, SendError> {
        let peer = self.peers.get_mut(&peer_id).ok_or(SendError::UnknownPeer)?;
        if !peer.open {
            return Err(SendError::NotOpen);
        }
        if data.is_empty() {
            return Err(SendError::Empty);
        }
        if data.len() > peer.max_message_size {
            return Err(SendError::TooLarge {
                len: data.len(),
                max: peer.max_message_size,
            });
        }
        let id = match channel {
            ChannelKind::Unreliable => peer.unreliable,
            ChannelKind::Reliable => peer.reliable.ok_or(SendError::NoSuchChannel)?,
        };
        let high_water = self.config.unreliable_high_water;
        let written = catch_unwind(AssertUnwindSafe(|| {
            let mut ch = peer.rtc.channel(id)?;
            if channel == ChannelKind::Unreliable && ch.buffered_amount() >= high_water {
                return Some(Ok(false));
            }
            Some(ch.write(binary, data))
        }));
        let outcome = match written {
            Err(_) => {
                self.remove(peer_id, CloseReason::Panicked);
                return Err(SendError::UnknownPeer);
            }
            Ok(None) => return Err(SendError::NotOpen),
            Ok(Some(Err(_))) => {
                self.remove(peer_id, CloseReason::Failed);
                return Err(SendError::UnknownPeer);
            }
            Ok(Some(Ok(true))) => SendOutcome::Sent,
            Ok(Some(Ok(false))) => {
                if channel == ChannelKind::Reliable {
                    peer.reliable_blocked = true;
                }
                SendOutcome::Congested
            }
        };
        if outcome == SendOutcome::Sent {
            self.defer(peer_id, now, false);
        }
        Ok(outcome)
    }

    /// Closes the peer: str0m sends its DTLS close, [`Event::Closed`] follows with
    /// [`CloseReason::Local`].
    pub fn close(&mut self, peer_id: PeerId) {
        // What it took and was sent before the close goes out first.
        if let Some(peer) = self.peers.get(&peer_id).filter(|p| p.drive_queued) {
            let now = peer.last_input;
            self.drive(peer_id, now);
        }
        if let Some(peer) = self.peers.get_mut(&peer_id) {
            let _ = catch_unwind(AssertUnwindSafe(|| peer.rtc.close()));
            self.flush_transmits(peer_id);
            self.remove(peer_id, CloseReason::Local);
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.drive_undriven();
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.drive_undriven();
        self.events.pop_front()
    }

    /// The next peer whose deadline changed since it was last reported.
    pub fn poll_timer(&mut self) -> Option<TimerUpdate> {
        self.drive_undriven();
        if let Some(peer) = self.timer_cancel.pop_front() {
            return Some(TimerUpdate {
                peer,
                deadline: None,
            });
        }
        while let Some(peer_id) = self.timer_dirty.pop() {
            let Some(peer) = self.peers.get_mut(&peer_id) else {
                continue;
            };
            peer.timer_queued = false;
            let deadline = peer.deadline();
            if peer.reported != Some(deadline) {
                peer.reported = Some(deadline);
                return Some(TimerUpdate {
                    peer: peer_id,
                    deadline: Some(deadline),
                });
            }
        }
        None
    }

    /// Drains the peer's output until str0m's next timeout: datagrams queued, events
    /// translated, the deadline noted. Removes the peer if it died.
    fn drive(&mut self, peer_id: PeerId, now: Instant) {
        let Some(peer) = self.peers.get_mut(&peer_id) else {
            return;
        };
        peer.drive_queued = false;
        peer.datagrams = 0;
        let mut close = None;
        let drained = catch_unwind(AssertUnwindSafe(|| loop {
            match peer.rtc.poll_output() {
                Err(_) => break Some(CloseReason::Failed),
                Ok(Output::Timeout(at)) => {
                    peer.rtc_deadline = at.max(now);
                    break None;
                }
                Ok(Output::Transmit(t)) => self.transmits.push_back(Transmit {
                    destination: t.destination,
                    contents: t.contents.into(),
                }),
                Ok(Output::Event(event)) => {
                    if let Some(reason) = translate(peer_id, peer, event, &mut self.events) {
                        close.get_or_insert(reason);
                    }
                }
            }
        }));
        let reason = match drained {
            Err(_) => Some(CloseReason::Panicked),
            Ok(failed) => close.or(failed),
        };
        let Some(peer) = self.peers.get_mut(&peer_id) else {
            return;
        };
        match reason {
            Some(reason) => self.remove(peer_id, reason),
            None if !peer.rtc.is_alive() => self.remove(peer_id, CloseReason::Remote),
            None if !peer.timer_queued => {
                peer.timer_queued = true;
                self.timer_dirty.push(peer_id);
            }
            None => {}
        }
    }

    /// Queues what str0m still has to send (its close) without translating events.
    fn flush_transmits(&mut self, peer_id: PeerId) {
        let Some(peer) = self.peers.get_mut(&peer_id) else {
            return;
        };
        let _ = catch_unwind(AssertUnwindSafe(|| {
            while let Ok(output) = peer.rtc.poll_output() {
                match output {
                    Output::Transmit(t) => self.transmits.push_back(Transmit {
                        destination: t.destination,
                        contents: t.contents.into(),
                    }),
                    Output::Timeout(_) => break,
                    Output::Event(_) => {}
                }
            }
        }));
    }

    fn remove(&mut self, peer_id: PeerId, reason: CloseReason) {
        let Some(peer) = self.peers.remove(&peer_id) else {
            return;
        };
        self.by_ufrag.remove(&peer.ufrag);
        for addr in &peer.addrs {
            if self.by_addr.get(addr) == Some(&peer_id) {
                self.by_addr.remove(addr);
            }
        }
        self.timer_dirty.retain(|p| *p != peer_id);
        if peer.reported.is_some() {
            self.timer_cancel.push_back(peer_id);
        }
        self.events.push_back(Event::Closed {
            peer: peer_id,
            reason,
        });
    }
}

/// Turns one str0m event into endpoint events; returns a reason when it ends the peer.
fn translate(
    peer_id: PeerId,
    peer: &mut Peer,
    event: str0m::Event,
    events: &mut VecDeque<Event>,
) -> Option<CloseReason> {
    match event {
        str0m::Event::ChannelOpen(id, _) => {
            let kind = peer.kind_of(id)?;
            peer.opened[kind.stream_id() as usize] = true;
            let all = peer.opened[0] && (peer.reliable.is_none() || peer.opened[1]);
            if !peer.open && all {
                peer.open = true;
                peer.expires = None;
                events.push_back(Event::Open {
                    peer: peer_id,
                    max_message_size: peer.max_message_size,
                });
                events.extend(peer.early.drain(..));
                peer.early_bytes = 0;
            }
            None
        }
        str0m::Event::ChannelData(data) => {
            // Data on a channel the client opened itself (DCEP) is not ours to deliver.
            let channel = peer.kind_of(data.id)?;
            let len = data.data.len();
            let message = Event::Message {
                peer: peer_id,
                channel,
                binary: data.binary,
                data: data.data,
            };
            if peer.open {
                events.push_back(message);
            } else if peer.early_bytes + len <= EARLY_BYTES {
                peer.early_bytes += len;
                peer.early.push(message);
            }
            None
        }
        str0m::Event::ChannelBufferedAmountLow(id) => {
            if Some(id) == peer.reliable && peer.reliable_blocked {
                peer.reliable_blocked = false;
                events.push_back(Event::Writable { peer: peer_id });
            }
            None
        }
        str0m::Event::ChannelClose(id) => peer.kind_of(id).map(|_| CloseReason::Remote),
        str0m::Event::Closed => Some(CloseReason::Remote),
        str0m::Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
            Some(CloseReason::Disconnected)
        }
        _ => None,
    }
}

/// For a STUN datagram: `Some(Ok(local ufrag))` when it names one, `Some(Err(()))` when it
/// does not parse, `None` when it is not STUN (RFC 7983: first byte 0 or 1) or has no
/// USERNAME (a response or an indication).
fn stun_local_ufrag(datagram: &[u8]) -> Option<Result<&str, ()>> {
    if datagram.len() < 20 || datagram[0] > 1 {
        return None;
    }
    let Ok(message) = StunMessage::parse(datagram) else {
        return Some(Err(()));
    };
    // The USERNAME of a check sent to us is "<our ufrag>:<their ufrag>"; `split_username`
    // borrows from the message, so cut the datagram's own bytes instead.
    let username = message.username()?;
    let ufrag = username.split(':').next()?;
    Some(Ok(ufrag))
}
