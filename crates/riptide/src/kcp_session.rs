//! One KCP session as a transport: a sans-IO [`riptide_kcp::Kcp`] plus its packet layers,
//! driven by the connection table. Its methods take what they need (the clock, the carrier)
//! and return outcomes ([`Settled`]: dead, writability changed, all acknowledged, next
//! deadline) that the table applies; the session never reaches into the table.

use crate::carrier::Carrier;
use crate::kcp_options::KcpOptions;
use crate::kcp_table::{Admitted, SessionKey};
use crate::layer::Datagrams;
use crate::packet_stack::PacketStack;
use crate::Error;
use riptide_kcp::Kcp;
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
    /// A listener's session: its place in the admission bookkeeping. `None` for dialed
    /// sessions and once forgotten (evicted or removed).
    pub(crate) admitted: Option<Admitted>,
}

/// What KCP's state means for the connection, after it ran.
pub(crate) struct Settled {
    /// A segment went unacknowledged through every retransmission: close with
    /// [`Error::KcpDeadLink`].
    pub(crate) dead: bool,
    /// The queue fell to half the send window: writable again (if it was not).
    pub(crate) drained: bool,
    /// Nothing waits to be sent or acknowledged: write markers complete, a close completes.
    pub(crate) all_acked: bool,
    /// A protocol deadline earlier than the one armed: put it on the timing wheel.
    pub(crate) arm: Option<Instant>,
}

/// KCP's PUSH command: only a data segment may open a session on a listener.
const CMD_PUSH: u8 = 81;

/// How a `kcp://` listener finds the session of a datagram from `peer` on `socket`: by conv,
/// or by peer alone when packet layers hide the conv until a datagram is opened. `None`: not
/// KCP.
pub(crate) fn session_key(
    socket: usize,
    peer: SocketAddr,
    datagram: &[u8],
    options: &KcpOptions,
) -> Option<SessionKey> {
    if options.packet_layers.is_empty() {
        Some((socket, peer, riptide_kcp::conv_of(datagram)?))
    } else {
        Some((socket, peer, 0))
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
        let mut packets = PacketStack::new(&options.packet_layers);
        let mut opened = Datagrams::default();
        match packets.as_mut() {
            Some(stack) => stack
                .open(now, datagram)
                .ok()?
                .iter()
                .for_each(|d| opened.push(d)),
            None => opened.push(datagram),
        }
        let first = opened.iter().next()?;
        if first.get(4) != Some(&CMD_PUSH) {
            return None;
        }
        let conv = riptide_kcp::conv_of(first)?;
        let mut session = KcpSession::with_packets(conv, options, now, ms, packets).ok()?;
        let accepted = opened.iter().all(|d| session.kcp.input(ms, d).is_ok());
        accepted.then_some(session)
    }

    /// A dialed session for conversation `conv`, its clock started at `ms`.
    pub(crate) fn new(
        conv: u32,
        options: &KcpOptions,
        now: Instant,
        ms: u32,
    ) -> Result<KcpSession, Error> {
        let packets = PacketStack::new(&options.packet_layers);
        KcpSession::with_packets(conv, options, now, ms, packets)
    }

    fn with_packets(
        conv: u32,
        options: &KcpOptions,
        now: Instant,
        ms: u32,
        packets: Option<Box<PacketStack>>,
    ) -> Result<KcpSession, Error> {
        let config = options.kcp_config()?;
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
            admitted: None,
        })
    }

    /// Feeds a datagram from the peer (opened by the packet layers first); false when it was
    /// rejected (wrong conv, malformed, refused by a layer): what was accepted before stays.
    pub(crate) fn input(&mut self, now: Instant, ms: u32, datagram: &[u8]) -> bool {
        let accepted = match self.packets.as_mut() {
            None => self.kcp.input(ms, datagram).is_ok(),
            Some(packets) => match packets.open(now, datagram) {
                Ok(opened) => {
                    // Every opened datagram goes in, even after one is refused.
                    let mut all = true;
                    for inner in opened.iter() {
                        all &= self.kcp.input(ms, inner).is_ok();
                    }
                    all
                }
                Err(_) => false,
            },
        };
        if accepted {
            self.last_heard = now;
        }
        accepted
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
    /// own deadlines) to `peer` through `carrier`, built in `buf`. A datagram the kernel
    /// cannot take now is lost like any other: KCP resends it.
    pub(crate) fn transmit(
        &mut self,
        now: Instant,
        ms: u32,
        carrier: &dyn Carrier,
        peer: SocketAddr,
        buf: &mut [u8],
    ) {
        while let Some(n) = self.kcp.poll_transmit(ms, buf) {
            let datagram = buf.get(..n).unwrap_or_default();
            match self.packets.as_mut() {
                None => {
                    let _ = carrier.send_datagram(datagram, peer);
                }
                Some(packets) => {
                    for sealed in packets.seal(now, datagram).iter() {
                        let _ = carrier.send_datagram(sealed, peer);
                    }
                }
            }
        }
        if let Some(packets) = self.packets.as_mut() {
            if packets.poll_timeout().is_some_and(|at| at <= now) {
                let mut due = Datagrams::default();
                packets.handle_timeout(now, &mut due);
                for datagram in due.iter() {
                    let _ = carrier.send_datagram(datagram, peer);
                }
            }
        }
    }

    /// What the session's state means for the connection now, `unwritable` being whether the
    /// writer was told to wait. Arms the next deadline it reports.
    pub(crate) fn settle(&mut self, now: Instant, ms: u32, unwritable: bool) -> Settled {
        let waiting = self.waiting();
        let mut settled = Settled {
            dead: self.kcp.is_dead(),
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

    /// KCP's statistics.
    pub(crate) fn stats(&self) -> riptide_kcp::Stats {
        self.kcp.stats()
    }
}
