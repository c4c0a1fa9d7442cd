//! One KCP session as a transport: a sans-IO [`riptide_kcp::Kcp`] plus its packet layers,
//! driven by the connection table. Its methods take what they need (the clock, the carrier)
//! and return outcomes ([`Settled`]: dead, writability changed, all acknowledged, next
//! deadline) that the table applies; the session never reaches into the table.

use crate::carrier::Carrier;
use crate::kcp_options::KcpOptions;
use crate::kcp_table::{Admitted, SessionKey};
use crate::layer::{Datagrams, PacketLayer, Payload};
use crate::packet_stack::PacketStack;
use crate::udp_batch::BATCH;
use crate::Error;
use riptide_kcp::Kcp;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The KCP state of one connection.
pub(crate) struct KcpSession {
    kcp: Kcp,
    /// The session's packet layers, if its listener or dial has any.
    packets: Option<Box<PacketStack>>,
    /// The earliest protocol deadline on the timing wheel, if one is armed.
    armed: Option<Instant>,
    idle_timeout: Option<Duration>,
    /// Queued for the end-of-turn flush.
    dirty: bool,
    /// When the peer was last heard from (idle expiry).
    last_heard: Instant,
    /// Messages of the unreliable channel waiting for delivery (at most [`MAX_UNRELIABLE`]
    /// bytes).
    unreliable: Unreliable,
    /// A packet layer failed for good (a handshake that never completed): the session ends.
    failed: Option<Error>,
    /// A listener's session: its place in the admission bookkeeping. `None` for dialed
    /// sessions and once forgotten (evicted or removed).
    pub(crate) admitted: Option<Admitted>,
    /// KCP's counters as last added to the reactor's metrics (the next report adds the
    /// difference).
    pub(crate) reported: riptide_kcp::Stats,
}

/// Most bytes of unreliable-channel messages held for delivery per session; later messages
/// are dropped (the channel is lossy by contract, and this bounds what a flooding peer, or a
/// paused reader, costs).
const MAX_UNRELIABLE: usize = 256 * 1024;

/// What became of a datagram fed to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// Taken in (at least the part before anything refused).
    Accepted,
    /// Refused (malformed, wrong conv, refused by a layer) and counted.
    Rejected,
    /// The peer started a new conversation: a first data segment (sn 0) of another conv from
    /// the same address (a kcp-go client that restarted). A listener keyed by address replaces
    /// the session.
    NewConversation,
}

/// What KCP's state means for the connection, after it ran.
pub(crate) struct Settled {
    /// The session is over: a segment went unacknowledged through every retransmission
    /// ([`Error::KcpDeadLink`]), or a packet layer failed for good (its error).
    pub(crate) dead: Option<Error>,
    /// The queue fell to half the send window: writable again (if it was not).
    pub(crate) drained: bool,
    /// Nothing waits to be sent or acknowledged: write markers complete, a close completes.
    pub(crate) all_acked: bool,
    /// A protocol deadline earlier than the one armed: put it on the timing wheel.
    pub(crate) arm: Option<Instant>,
}

/// KCP's PUSH command: only a data segment may open a session on a listener.
const CMD_PUSH: u8 = 81;

/// True when `datagram` starts with the first data segment (sn 0) of a conversation other
/// than `conv`.
fn is_new_conversation(conv: u32, datagram: &[u8]) -> bool {
    let sn = datagram
        .get(12..16)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes);
    riptide_kcp::conv_of(datagram).is_some_and(|c| c != conv)
        && datagram.get(4) == Some(&CMD_PUSH)
        && sn == Some(0)
}

/// Messages of the unreliable channel waiting for delivery, and their bytes.
#[derive(Default)]
struct Unreliable {
    queue: VecDeque<Vec<u8>>,
    bytes: usize,
}

impl Unreliable {
    /// Keeps a message unless the queue is full (then it is dropped, as the network may).
    fn push(&mut self, message: &[u8]) {
        let bytes = self.bytes.saturating_add(message.len());
        if bytes <= MAX_UNRELIABLE {
            self.bytes = bytes;
            self.queue.push_back(message.to_vec());
        }
    }

    /// The oldest message.
    fn pop(&mut self) -> Option<Vec<u8>> {
        let message = self.queue.pop_front()?;
        self.bytes = self.bytes.saturating_sub(message.len());
        Some(message)
    }
}

/// Feeds one opened datagram to KCP, or to the unreliable queue; false when KCP refused it.
fn feed(
    kcp: &mut Kcp,
    unreliable: &mut Unreliable,
    ms: u32,
    payload: Payload,
    datagram: &[u8],
) -> bool {
    match payload {
        Payload::Kcp => kcp.input(ms, datagram).is_ok(),
        Payload::Recovered => kcp.input_recovered(ms, datagram).is_ok(),
        Payload::Unreliable => {
            unreliable.push(datagram);
            true
        }
    }
}

/// Copies every datagram of `from` into `to`.
fn copy(from: &Datagrams, to: &mut Datagrams) {
    for (payload, datagram) in from.iter() {
        to.push_as(payload, datagram);
    }
}

/// How a `kcp://` listener finds the session of a datagram from `peer` on `socket`: by conv,
/// or by peer alone when packet layers hide the conv until a datagram is opened. `None`: not
/// KCP.
pub(crate) fn session_key(
    socket: usize,
    peer: SocketAddr,
    datagram: &[u8],
    options: &KcpOptions,
) -> Option<SessionKey> {
    if !options.has_layers() {
        Some(SessionKey::Conv(
            socket,
            peer,
            riptide_kcp::conv_of(datagram)?,
        ))
    } else {
        Some(SessionKey::Peer(socket, peer))
    }
}

impl KcpSession {
    /// A listener's new session, from the first datagram of a peer it does not know: `None`
    /// unless the datagram opens (through fresh packet layers) to a KCP data segment that the
    /// new session accepts. Spoofed or stray datagrams make nothing.
    pub(crate) fn accept(
        options: &KcpOptions,
        datagram: &[u8],
        now: Instant,
        ms: u32,
    ) -> Option<KcpSession> {
        let mut packets = PacketStack::new(options.layers().ok()?);
        let mut opened = Datagrams::default();
        match packets.as_mut() {
            Some(stack) => copy(stack.open(now, datagram).ok()?, &mut opened),
            None => opened.push(datagram),
        }
        KcpSession::from_opened(options, packets, &opened, now, ms)
    }

    /// A gated listener's new session: `layers` are the bottom packet layers the gate made
    /// for it, `opened` what they opened of its first datagram (the listener's own layers
    /// still open it further). `None` unless that is a KCP data segment the session accepts.
    pub(crate) fn accept_gated(
        options: &KcpOptions,
        layers: Vec<Box<dyn PacketLayer>>,
        opened: &Datagrams,
        now: Instant,
        ms: u32,
    ) -> Option<KcpSession> {
        let first = layers.len();
        let mut all = layers;
        all.extend(options.layers().ok()?);
        let mut packets = PacketStack::new(all);
        let mut above = Datagrams::default();
        match packets.as_mut() {
            Some(stack) => copy(stack.open_above(first, now, opened).ok()?, &mut above),
            None => copy(opened, &mut above),
        }
        KcpSession::from_opened(options, packets, &above, now, ms)
    }

    /// The session whose first opened datagrams are `opened`, if the first of them is a KCP
    /// data segment (its conv names the session) and KCP takes them all.
    fn from_opened(
        options: &KcpOptions,
        packets: Option<Box<PacketStack>>,
        opened: &Datagrams,
        now: Instant,
        ms: u32,
    ) -> Option<KcpSession> {
        let (_, first) = opened.iter().find(|(p, _)| *p != Payload::Unreliable)?;
        if first.get(4) != Some(&CMD_PUSH) {
            return None;
        }
        let conv = riptide_kcp::conv_of(first)?;
        let mut session = KcpSession::with_packets(conv, options, now, ms, packets).ok()?;
        let mut all = true;
        for (payload, datagram) in opened.iter() {
            all &= feed(
                &mut session.kcp,
                &mut session.unreliable,
                ms,
                payload,
                datagram,
            );
        }
        all.then_some(session)
    }

    /// A dialed session for conversation `conv`, its clock started at `ms`.
    pub(crate) fn new(
        conv: u32,
        options: &KcpOptions,
        now: Instant,
        ms: u32,
    ) -> Result<KcpSession, Error> {
        let packets = PacketStack::new(options.layers()?);
        KcpSession::with_packets(conv, options, now, ms, packets)
    }

    fn with_packets(
        conv: u32,
        options: &KcpOptions,
        now: Instant,
        ms: u32,
        packets: Option<Box<PacketStack>>,
    ) -> Result<KcpSession, Error> {
        let mut config = options.config.clone();
        let overhead = packets.as_ref().map_or(0, |p| p.overhead());
        config.mtu = config.mtu.checked_sub(overhead).ok_or_else(|| {
            Error::InvalidOption(format!(
                "kcp: packet layers add {overhead} bytes, more than the MTU of {}",
                config.mtu
            ))
        })?;
        let mut kcp = Kcp::new(conv, &config).map_err(|e| Error::InvalidOption(e.to_string()))?;
        // Start KCP's clock (its flush schedule counts from the first update).
        kcp.handle_timeout(ms);
        Ok(KcpSession {
            kcp,
            packets,
            armed: None,
            idle_timeout: options.idle_timeout,
            dirty: false,
            last_heard: now,
            unreliable: Unreliable::default(),
            failed: None,
            admitted: None,
            reported: riptide_kcp::Stats::default(),
        })
    }

    /// Feeds a datagram from the peer (opened by the packet layers first). What was accepted
    /// before a rejected part stays.
    pub(crate) fn input(&mut self, now: Instant, ms: u32, datagram: &[u8]) -> Input {
        let KcpSession {
            kcp,
            packets,
            unreliable,
            ..
        } = self;
        let conv = kcp.conv();
        let (mut all, mut fresh) = (true, false);
        match packets.as_mut() {
            None => {
                all = feed(kcp, unreliable, ms, Payload::Kcp, datagram);
                fresh = !all && is_new_conversation(conv, datagram);
            }
            Some(packets) => match packets.open(now, datagram) {
                // Every opened datagram goes in, even after one is refused.
                Ok(opened) => {
                    for (payload, inner) in opened.iter() {
                        let taken = feed(kcp, unreliable, ms, payload, inner);
                        fresh |= !taken && is_new_conversation(conv, inner);
                        all &= taken;
                    }
                }
                Err(_) => all = false,
            },
        }
        if fresh {
            Input::NewConversation
        } else if all {
            self.last_heard = now;
            Input::Accepted
        } else {
            Input::Rejected
        }
    }

    /// The next message that arrived on the unreliable channel.
    pub(crate) fn recv_unreliable(&mut self) -> Option<Vec<u8>> {
        self.unreliable.pop()
    }

    /// True when the datagram last opened may move the session to its source address.
    pub(crate) fn may_migrate(&self) -> bool {
        self.packets.as_ref().is_some_and(|p| p.may_migrate())
    }

    /// Sends one message on the unreliable channel: sealed by the packet layers (one of which
    /// must mark it), outside KCP. Refused when no layer can carry it or it does not fit one
    /// datagram.
    pub(crate) fn send_unreliable(
        &mut self,
        now: Instant,
        data: &[u8],
        carrier: &dyn Carrier,
        peer: SocketAddr,
    ) -> Result<(), Error> {
        let Some(packets) = self.packets.as_mut().filter(|p| p.carries_unreliable()) else {
            return Err(Error::InvalidOption(
                "the unreliable channel needs FEC or secure mode on the session".into(),
            ));
        };
        let max = self.kcp.mss().saturating_add(riptide_kcp::OVERHEAD);
        if data.len() > max {
            return Err(Error::MessageTooLarge {
                size: data.len(),
                max,
            });
        }
        for (_, sealed) in packets.seal(now, Payload::Unreliable, data).iter() {
            // Lossy by design: a datagram the kernel cannot take now is gone.
            let _ = carrier.send_datagram(sealed, peer);
        }
        Ok(())
    }

    /// Moves the next received message (in stream mode, the next bytes) into `buf`; false
    /// when there is none.
    pub(crate) fn recv(&mut self, buf: &mut Vec<u8>) -> bool {
        let Some(size) = self.kcp.peek_size() else {
            return false;
        };
        buf.resize(size, 0);
        match self.kcp.recv(buf) {
            Ok(n) => {
                buf.truncate(n);
                true
            }
            Err(_) => false,
        }
    }

    /// Queues one message. Refused with [`Error::OutboundFull`] when it would take the queue
    /// past `max_outbound` bytes (segments × MSS), and with [`Error::MessageTooLarge`] when
    /// KCP cannot carry it. Returns true when the queue is now at or past the send window
    /// (the writer should wait).
    pub(crate) fn enqueue(
        &mut self,
        data: &[u8],
        max_outbound: Option<usize>,
    ) -> Result<bool, Error> {
        let mss = self.kcp.mss();
        let segments = self.waiting().saturating_add(data.len().div_ceil(mss));
        if max_outbound.is_some_and(|m| segments.saturating_mul(mss) > m) {
            return Err(Error::OutboundFull);
        }
        self.kcp.enqueue(data).map_err(|_| Error::MessageTooLarge {
            size: data.len(),
            max: self.kcp.max_message(),
        })?;
        Ok(self.waiting() >= self.window())
    }

    /// Marks the session for the end-of-turn flush; true when it was not yet marked.
    pub(crate) fn mark_dirty(&mut self) -> bool {
        !std::mem::replace(&mut self.dirty, true)
    }

    /// Flushes now (acks, window updates, new data): kcp-go's immediate flush.
    pub(crate) fn flush(&mut self, ms: u32) {
        self.dirty = false;
        self.kcp.flush(ms);
    }

    /// A protocol deadline fired; false when it is stale (a later deadline was armed since).
    pub(crate) fn handle_timeout(&mut self, now: Instant, ms: u32) -> bool {
        if self.armed.is_some_and(|at| at > now) {
            return false;
        }
        self.armed = None;
        self.kcp.handle_timeout(ms);
        true
    }

    /// Sends what KCP produced (sealed by the packet layers, with what they produce on their
    /// own deadlines) to `peer` through `carrier`: each datagram is built in `buf`, gathered
    /// in `out`, and the carrier sends them [`BATCH`] at a time (one `sendmmsg` on Linux). A
    /// datagram the kernel cannot take now is lost like any other: KCP resends it.
    pub(crate) fn transmit(
        &mut self,
        now: Instant,
        ms: u32,
        carrier: &dyn Carrier,
        peer: SocketAddr,
        buf: &mut [u8],
        out: &mut Datagrams,
    ) {
        out.clear();
        while let Some(n) = self.kcp.poll_transmit(ms, buf) {
            let datagram = buf.get(..n).unwrap_or_default();
            match self.packets.as_mut() {
                None => out.push(datagram),
                Some(packets) => {
                    for (payload, sealed) in packets.seal(now, Payload::Kcp, datagram).iter() {
                        out.push_as(payload, sealed);
                    }
                }
            }
            if out.len() >= BATCH {
                carrier.send_datagrams(out, peer);
                out.clear();
            }
        }
        if let Some(packets) = self.packets.as_mut() {
            if packets.poll_timeout().is_some_and(|at| at <= now) {
                if let Err(e) = packets.handle_timeout(now, out) {
                    self.failed.get_or_insert(e);
                }
            }
        }
        if !out.is_empty() {
            carrier.send_datagrams(out, peer);
            out.clear();
        }
    }

    /// What the session's state means for the connection now, `unwritable` being whether the
    /// writer was told to wait. Arms the next deadline it reports.
    pub(crate) fn settle(&mut self, now: Instant, ms: u32, unwritable: bool) -> Settled {
        let waiting = self.waiting();
        let dead = match self.failed.take() {
            Some(e) => Some(e),
            None => self.kcp.is_dead().then_some(Error::KcpDeadLink),
        };
        let mut settled = Settled {
            dead,
            drained: unwritable && waiting <= self.window() / 2,
            all_acked: waiting == 0,
            arm: None,
        };
        let kcp_at = self.kcp.poll_timeout().map(|at| {
            let wait = at.wrapping_sub(ms) as i32;
            now + Duration::from_millis(wait.max(0) as u64)
        });
        let layer_at = self.packets.as_ref().and_then(|p| p.poll_timeout());
        let deadline = kcp_at.into_iter().chain(layer_at).min();
        if let Some(deadline) = deadline {
            if self.armed.is_none_or(|armed| deadline < armed) {
                self.armed = Some(deadline);
                settled.arm = Some(deadline);
            }
        }
        settled
    }

    /// Whether the peer has been silent past [`KcpSession::expiry`] at `now`: `Ok(())` when it
    /// has, else when to look again (`None`: never).
    pub(crate) fn silence(&self, now: Instant) -> Result<(), Option<Instant>> {
        let Some(timeout) = self.expiry() else {
            return Err(None);
        };
        if now.saturating_duration_since(self.last_heard) >= timeout {
            Ok(())
        } else {
            Err(Some(self.last_heard + timeout))
        }
    }

    /// Whether the queue is at or below the low mark (half the send window).
    pub(crate) fn drained(&self) -> bool {
        self.waiting() <= self.window() / 2
    }

    /// Silence after which the session closes: the idle timeout, shortened to the handshake
    /// timeout until the session is confirmed (a listener's session).
    pub(crate) fn expiry(&self) -> Option<Duration> {
        match (&self.admitted, self.idle_timeout) {
            (Some(a), idle) if !a.confirmed => match (a.handshake_timeout, idle) {
                (Some(h), Some(i)) => Some(h.min(i)),
                (h, i) => h.or(i),
            },
            (_, idle) => idle,
        }
    }

    /// Segments waiting to be sent or acked: the outbound level for water marks.
    pub(crate) fn waiting(&self) -> usize {
        self.kcp.wait_snd()
    }

    /// Bytes waiting, estimated at one MSS a segment.
    pub(crate) fn outbound_bytes(&self) -> usize {
        self.waiting().saturating_mul(self.kcp.mss())
    }

    /// The send window in segments: the high water mark.
    fn window(&self) -> usize {
        self.kcp.stats().snd_wnd as usize
    }

    /// Bytes of segments buffered, for the listener's memory budget.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.kcp.buffered_bytes()
    }

    /// The peer acknowledged data we sent (the session is confirmed).
    pub(crate) fn peer_acked(&self) -> bool {
        self.kcp.peer_acked()
    }

    /// The packet layers' counters.
    pub(crate) fn counters(&self) -> Vec<(&'static str, u64)> {
        self.packets
            .as_ref()
            .map(|p| p.counters())
            .unwrap_or_default()
    }

    /// KCP's statistics.
    pub(crate) fn stats(&self) -> riptide_kcp::Stats {
        self.kcp.stats()
    }
}
