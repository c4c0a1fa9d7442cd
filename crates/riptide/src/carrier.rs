//! The datagram carrier under KCP sessions: what moves a session's datagrams. UDP is the
//! default; a [`DatagramCarrier`] lets the application carry the same sessions over anything
//! that moves datagrams (DNS queries, a WebSocket, a test link in memory) without touching the
//! session layer: KCP, FEC, kcp-go's crypt and secure mode run unchanged on top.

use crate::layer::Datagrams;
use crate::Error;
use std::cell::Cell;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use crate::udp_batch::MAX_DATAGRAM;

/// Longest peer name a [`DatagramCarrier`] takes, in bytes.
pub const MAX_PEER_LEN: usize = 128;

/// Sends and receives whole datagrams for KCP sessions, without blocking. A datagram the
/// carrier cannot take now may be dropped (`WouldBlock`): KCP retransmits it.
pub trait Carrier {
    /// Sends one datagram to `peer`.
    fn send_datagram(&self, datagram: &[u8], peer: SocketAddr) -> io::Result<usize>;
    /// Receives one datagram into `buf`, with its sender.
    fn recv_datagram(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;

    /// Sends every datagram of `datagrams` to `peer`, dropping those the carrier cannot take
    /// now (KCP resends); returns the datagrams and bytes that went. One
    /// [`Carrier::send_datagram`] each, unless the carrier batches them (UDP on Linux: a
    /// `sendmmsg` per [`crate::udp_batch`] batch).
    fn send_datagrams(&self, datagrams: &Datagrams, peer: SocketAddr) -> (u64, u64) {
        let (mut sent, mut bytes) = (0u64, 0u64);
        for (_, datagram) in datagrams.iter() {
            if let Ok(n) = self.send_datagram(datagram, peer) {
                sent += 1;
                bytes += n as u64;
            }
        }
        (sent, bytes)
    }
}

/// UDP: a listener's socket sends to any peer; a client's connected socket to its peer
/// (Linux takes `sendto` with the connected address; BSDs answer `EISCONN`, then `send`).
impl Carrier for mio::net::UdpSocket {
    fn send_datagram(&self, datagram: &[u8], peer: SocketAddr) -> io::Result<usize> {
        crate::udp_batch::send_one(self, datagram, peer)
    }

    fn recv_datagram(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from(buf)
    }

    fn send_datagrams(&self, datagrams: &Datagrams, peer: SocketAddr) -> (u64, u64) {
        crate::udp_batch::send(self, Some(peer), datagrams.iter().map(|(_, d)| d))
    }
}

/// What carries a KCP session's datagrams.
pub(crate) enum Via<'a> {
    /// A listener's socket or carrier, or a carried dial's carrier: each datagram names its
    /// peer.
    Socket(&'a dyn Carrier),
    /// A dialed session's connected UDP socket: datagrams go without an address, so the
    /// kernel uses the route it cached at connect.
    Connected(&'a mio::net::UdpSocket),
}

impl Carrier for Via<'_> {
    fn send_datagram(&self, datagram: &[u8], peer: SocketAddr) -> io::Result<usize> {
        match self {
            Via::Socket(c) => c.send_datagram(datagram, peer),
            Via::Connected(s) => s.send(datagram),
        }
    }

    fn recv_datagram(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        match self {
            Via::Socket(c) => c.recv_datagram(buf),
            Via::Connected(s) => s.recv_from(buf),
        }
    }

    fn send_datagrams(&self, datagrams: &Datagrams, peer: SocketAddr) -> (u64, u64) {
        match self {
            Via::Socket(c) => c.send_datagrams(datagrams, peer),
            Via::Connected(s) => crate::udp_batch::send(s, None, datagrams.iter().map(|(_, d)| d)),
        }
    }
}

/// Limits of a [`DatagramCarrier`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarrierOptions {
    /// Peers a listener's carrier tells apart at once (1 to 2²⁰). Each peer name is given its
    /// own address for the session layer; past the limit the peer heard from least recently
    /// is forgotten (its sessions' datagrams are then dropped until it is heard again, under a
    /// new address). Default 1024.
    pub max_peers: usize,
    /// Bytes of datagrams waiting in each direction (2¹⁶ to 2³⁰): received and not yet taken
    /// by the reactor, and sent by the sessions during one turn and not yet handed to the
    /// application. Past it datagrams are dropped, as a full socket buffer drops them, and
    /// KCP resends. Default 1 MiB.
    pub max_queued: usize,
}

impl Default for CarrierOptions {
    fn default() -> Self {
        CarrierOptions {
            max_peers: 1024,
            max_queued: 1 << 20,
        }
    }
}

impl CarrierOptions {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), Error> {
        if !(1..=1 << 20).contains(&self.max_peers) {
            return Err(Error::InvalidOption(format!(
                "carrier maxPeers must be in [1, 1048576], got {}",
                self.max_peers
            )));
        }
        if !(1 << 16..=1 << 30).contains(&self.max_queued) {
            return Err(Error::InvalidOption(format!(
                "carrier maxQueued must be in [65536, 1073741824], got {}",
                self.max_queued
            )));
        }
        Ok(())
    }
}

/// Counters of a [`DatagramCarrier`] since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CarrierStats {
    /// Datagrams [`DatagramCarrier::receive`] queued for the sessions.
    pub received: u64,
    /// Received datagrams dropped: the queue was full, the carrier served no listener or dial
    /// (not yet, or no longer), or a dial's carrier got one from another peer.
    pub dropped: u64,
    /// Datagrams the sessions sent through the carrier (handed to the application).
    pub sent: u64,
    /// Datagrams the sessions sent that were dropped: over `max_queued` in one turn, or to a
    /// peer the carrier had forgotten.
    pub send_dropped: u64,
    /// Peers the carrier tells apart now.
    pub peers: u64,
}

/// A datagram handed to [`DatagramCarrier::receive`], waiting for the reactor.
pub(crate) struct Inbound {
    /// Who sent it.
    pub(crate) peer: Box<str>,
    /// The datagram.
    pub(crate) datagram: Vec<u8>,
}

/// How the reactor a carrier is attached to hears that datagrams wait (it sends itself a
/// command); called outside the carrier's lock.
pub(crate) type Notify = Arc<dyn Fn() + Send + Sync>;

/// A carrier the application drives: KCP sessions of the `kcp://` listener or dial it is given
/// to ([`crate::KcpOptions::carrier`]) send their datagrams through it instead of a UDP socket,
/// and the application feeds it what arrives with [`DatagramCarrier::receive`]. What the
/// sessions send reaches [`crate::EventHandler::on_carrier_send`], on the reactor's thread.
///
/// Peers are names the application chooses (1 to [`MAX_PEER_LEN`] visible ASCII characters:
/// a client id, a channel name); the session layer sees each as an address in
/// `100::/64` (RFC 6666's discard prefix), which never routes anywhere. A dial's URL names
/// its peer (`kcp://name`); a listener tells up to [`CarrierOptions::max_peers`] apart.
///
/// A carrier serves one listener or one dial at a time (again once that one is gone). The
/// handle is cheap to clone and `Send + Sync`: `receive` may be called from any thread.
#[derive(Clone)]
pub struct DatagramCarrier {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for DatagramCarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatagramCarrier")
            .field("id", &self.shared.id)
            .field("options", &self.shared.options)
            .finish()
    }
}

/// What the handles of one carrier share.
struct Shared {
    id: u32,
    options: CarrierOptions,
    state: Mutex<State>,
    received: AtomicU64,
    dropped: AtomicU64,
    sent: AtomicU64,
    send_dropped: AtomicU64,
    peers: AtomicUsize,
}

/// The inbound queue and the attachment, behind the lock.
#[derive(Default)]
struct State {
    queue: VecDeque<Inbound>,
    /// Bytes of the datagrams in `queue`.
    bytes: usize,
    /// The reactor's wake-up while attached.
    notify: Option<Notify>,
    /// The reactor was notified and has not taken the queue since.
    notified: bool,
}

/// Process-wide carrier ids (the JS binding names carriers by them in its events).
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// Checks a peer name: 1 to [`MAX_PEER_LEN`] visible ASCII characters (`!` to `~`).
pub fn check_peer(peer: &str) -> Result<(), Error> {
    if !(1..=MAX_PEER_LEN).contains(&peer.len()) {
        return Err(Error::InvalidOption(format!(
            "a carrier peer name is 1 to {MAX_PEER_LEN} bytes, got {}",
            peer.len()
        )));
    }
    if !peer.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidOption(format!(
            "a carrier peer name is visible ASCII (! to ~), got {peer:?}"
        )));
    }
    Ok(())
}

impl DatagramCarrier {
    /// A carrier with these limits, not yet serving a listener or dial.
    pub fn new(options: CarrierOptions) -> Result<DatagramCarrier, Error> {
        options.validate()?;
        Ok(DatagramCarrier {
            shared: Arc::new(Shared {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                options,
                state: Mutex::new(State::default()),
                received: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                sent: AtomicU64::new(0),
                send_dropped: AtomicU64::new(0),
                peers: AtomicUsize::new(0),
            }),
        })
    }

    /// This carrier's id, unique in the process.
    pub fn id(&self) -> u32 {
        self.shared.id
    }

    /// Its limits.
    pub fn options(&self) -> &CarrierOptions {
        &self.shared.options
    }

    /// Hands the sessions a datagram that arrived from `peer`. Returns `Ok(false)` when it
    /// was dropped (the queue holds `max_queued` bytes, or the carrier serves no listener or
    /// dial), as the network may drop it: KCP resends. Refuses a bad peer name
    /// (`ERR_INVALID_ARG_VALUE`) and a datagram over [`MAX_DATAGRAM`] bytes
    /// (`ERR_MESSAGE_TOO_LARGE`).
    pub fn receive(&self, datagram: &[u8], peer: &str) -> Result<bool, Error> {
        check_peer(peer)?;
        if datagram.len() > MAX_DATAGRAM {
            return Err(Error::MessageTooLarge {
                size: datagram.len(),
                max: MAX_DATAGRAM,
            });
        }
        let mut state = self.lock();
        let bytes = state.bytes.saturating_add(datagram.len());
        if state.notify.is_none() || bytes > self.shared.options.max_queued {
            drop(state);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(false);
        }
        state.bytes = bytes;
        state.queue.push_back(Inbound {
            peer: peer.into(),
            datagram: datagram.to_vec(),
        });
        let notify = (!std::mem::replace(&mut state.notified, true))
            .then(|| state.notify.clone())
            .flatten();
        drop(state);
        self.shared.received.fetch_add(1, Ordering::Relaxed);
        if let Some(notify) = notify {
            notify();
        }
        Ok(true)
    }

    /// The counters now.
    pub fn stats(&self) -> CarrierStats {
        let s = &self.shared;
        CarrierStats {
            received: s.received.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            sent: s.sent.load(Ordering::Relaxed),
            send_dropped: s.send_dropped.load(Ordering::Relaxed),
            peers: s.peers.load(Ordering::Relaxed) as u64,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned one holds a consistent queue.
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Attaches the carrier to a reactor that `notify` wakes. Refused while it serves another
    /// listener or dial.
    pub(crate) fn attach(&self, notify: Notify) -> Result<(), Error> {
        let mut state = self.lock();
        if state.notify.is_some() {
            return Err(Error::InvalidOption(format!(
                "carrier {} already serves a listener or dial",
                self.shared.id
            )));
        }
        state.notify = Some(notify);
        Ok(())
    }

    /// Detaches it: what waits is dropped, and later datagrams too until it is attached again.
    pub(crate) fn detach(&self) {
        let mut state = self.lock();
        let dropped = state.queue.len() as u64;
        *state = State::default();
        drop(state);
        self.shared.dropped.fetch_add(dropped, Ordering::Relaxed);
        self.shared.peers.store(0, Ordering::Relaxed);
    }

    /// Moves what waits into `into` (the reactor took the queue: the next datagram notifies
    /// it again).
    pub(crate) fn take_inbound(&self, into: &mut VecDeque<Inbound>) {
        let mut state = self.lock();
        std::mem::swap(&mut state.queue, into);
        state.bytes = 0;
        state.notified = false;
    }

    /// Counts `n` received datagrams dropped by the reactor.
    pub(crate) fn count_dropped(&self, n: u64) {
        self.shared.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` datagrams handed to the application to send.
    pub(crate) fn count_sent(&self, n: u64) {
        self.shared.sent.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a datagram the sessions sent that was dropped.
    pub(crate) fn count_send_dropped(&self) {
        self.shared.send_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Records how many peers the reactor tells apart.
    pub(crate) fn set_peers(&self, n: usize) {
        self.shared.peers.store(n, Ordering::Relaxed);
    }
}

/// A carrier that counts the datagrams and bytes another sent, for the reactor's metrics.
pub(crate) struct Counted<'a> {
    inner: &'a dyn Carrier,
    datagrams: Cell<u64>,
    bytes: Cell<u64>,
}

impl<'a> Counted<'a> {
    /// Counts what goes through `inner`.
    pub(crate) fn new(inner: &'a dyn Carrier) -> Counted<'a> {
        Counted {
            inner,
            datagrams: Cell::new(0),
            bytes: Cell::new(0),
        }
    }

    /// `(datagrams, bytes)` sent so far.
    pub(crate) fn sent(&self) -> (u64, u64) {
        (self.datagrams.get(), self.bytes.get())
    }
}

impl Carrier for Counted<'_> {
    fn send_datagram(&self, datagram: &[u8], peer: SocketAddr) -> io::Result<usize> {
        let sent = self.inner.send_datagram(datagram, peer);
        if let Ok(n) = sent {
            self.datagrams.set(self.datagrams.get().wrapping_add(1));
            self.bytes.set(self.bytes.get().wrapping_add(n as u64));
        }
        sent
    }

    fn recv_datagram(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.recv_datagram(buf)
    }

    fn send_datagrams(&self, datagrams: &Datagrams, peer: SocketAddr) -> (u64, u64) {
        let (sent, bytes) = self.inner.send_datagrams(datagrams, peer);
        self.datagrams.set(self.datagrams.get().wrapping_add(sent));
        self.bytes.set(self.bytes.get().wrapping_add(bytes));
        (sent, bytes)
    }
}
