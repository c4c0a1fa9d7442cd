//! The datagram sockets of a reactor's `udp://` and `kcp://` listeners and carried dials, by
//! index: a UDP socket, or an application's [`DatagramCarrier`] as the reactor holds it
//! ([`Carried`]: the peer names it has mapped to addresses, and what its sessions sent during
//! the turn, for [`crate::EventHandler::on_carrier_send`]).

use crate::carrier::{Carrier, DatagramCarrier, Notify};
use crate::slab::ConnId;
use crate::Error;
use mio::net::UdpSocket;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// A reactor's datagram socket.
pub(crate) enum DatagramSocket {
    /// A bound UDP socket (a `udp://` or `kcp://` listener's).
    Udp(UdpSocket),
    /// An application's carrier (a `kcp://` listener's or dial's).
    Carried(Box<Carried>),
    /// A carried dial's slot after its connection closed (reused by the next one).
    Gone,
}

impl DatagramSocket {
    /// What sends this socket's datagrams; `None` once gone.
    pub(crate) fn carrier(&self) -> Option<&dyn Carrier> {
        match self {
            DatagramSocket::Udp(udp) => Some(udp),
            DatagramSocket::Carried(c) => Some(&**c),
            DatagramSocket::Gone => None,
        }
    }

    /// The UDP socket, if this is one.
    pub(crate) fn udp(&self) -> Option<&UdpSocket> {
        match self {
            DatagramSocket::Udp(udp) => Some(udp),
            _ => None,
        }
    }

    /// The carrier, if this is one.
    pub(crate) fn carried(&self) -> Option<&Carried> {
        match self {
            DatagramSocket::Carried(c) => Some(c),
            _ => None,
        }
    }

    /// The carrier, if this is one.
    pub(crate) fn carried_mut(&mut self) -> Option<&mut Carried> {
        match self {
            DatagramSocket::Carried(c) => Some(c),
            _ => None,
        }
    }

    /// The bound address: a carrier's is [`carried_address`]`(0)`.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            DatagramSocket::Udp(udp) => udp.local_addr(),
            DatagramSocket::Carried(_) => Ok(carried_address(0)),
            DatagramSocket::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

/// The address the session layer knows carried peer `serial` by: `[100::serial]:0`, in
/// RFC 6666's discard-only prefix `100::/64`, so it can never be mistaken for a real peer or
/// reached by a stray UDP send. Serial 0 is the carrier itself (a carried listener's local
/// address); a dial's peer is 1.
pub(crate) fn carried_address(serial: u64) -> SocketAddr {
    let [a, b, c, d] = [48, 32, 16, 0].map(|shift| (serial >> shift) as u16);
    SocketAddr::new(Ipv6Addr::new(0x100, 0, 0, 0, a, b, c, d).into(), 0)
}

/// What a carrier serves.
pub(crate) enum Role {
    /// The `kcp://` listener with this index among the reactor's listeners, and its peers.
    Listener {
        /// The listener's index (its options).
        index: usize,
        /// The peer names heard, by address.
        peers: PeerMap,
    },
    /// One dial, to `peer` (the session layer's [`carried_address`]`(1)`).
    Dial {
        /// The peer the dial's URL names.
        peer: Arc<str>,
        /// The dialed connection, once in the table.
        conn: Option<ConnId>,
    },
}

/// An application's carrier attached to a reactor.
pub(crate) struct Carried {
    pub(crate) carrier: DatagramCarrier,
    pub(crate) role: Role,
    /// What the sessions sent during this turn, for the handler.
    out: RefCell<Outbox>,
}

impl Carried {
    /// Attaches `carrier` to the reactor `notify` wakes, for `role`; refused while it serves
    /// another listener or dial.
    pub(crate) fn attach(
        carrier: DatagramCarrier,
        role: Role,
        notify: Notify,
    ) -> Result<Carried, Error> {
        carrier.attach(notify)?;
        Ok(Carried {
            carrier,
            role,
            out: RefCell::new(Outbox::default()),
        })
    }

    /// The address a datagram from peer `name` comes from, mapping a new name (a listener's
    /// carrier); `None` when the carrier takes nothing from `name` (a dial's, from anyone
    /// but its peer).
    pub(crate) fn heard(&mut self, name: &str) -> Option<SocketAddr> {
        match &mut self.role {
            Role::Listener { peers, .. } => {
                let addr = peers.heard(name);
                self.carrier.set_peers(peers.len());
                Some(addr)
            }
            Role::Dial { peer, .. } => (**peer == *name).then(|| carried_address(1)),
        }
    }

    /// The name of the peer at `addr`.
    fn name(&self, addr: SocketAddr) -> Option<&Arc<str>> {
        match &self.role {
            Role::Listener { peers, .. } => peers.name(addr),
            Role::Dial { peer, .. } => (addr == carried_address(1)).then_some(peer),
        }
    }

    /// True when the sessions sent something not yet handed to the application.
    pub(crate) fn has_output(&self) -> bool {
        !self.out.borrow().ends.is_empty()
    }

    /// Moves what the sessions sent into `into` (empty), keeping both buffers' memory.
    pub(crate) fn take_output(&self, into: &mut Outbox) {
        std::mem::swap(&mut *self.out.borrow_mut(), into);
    }
}

impl Drop for Carried {
    /// The carrier is free for another listener or dial.
    fn drop(&mut self) {
        self.carrier.detach();
    }
}

/// The sessions queue their datagrams for the handler; a full queue (`max_queued` bytes in
/// one turn) or a forgotten peer drops them, and KCP resends.
impl Carrier for Carried {
    fn send_datagram(&self, datagram: &[u8], peer: SocketAddr) -> io::Result<usize> {
        let Some(name) = self.name(peer) else {
            self.carrier.count_send_dropped();
            return Err(io::ErrorKind::NotFound.into());
        };
        let mut out = self.out.borrow_mut();
        let end = out.bytes.len().saturating_add(datagram.len());
        if end > self.carrier.options().max_queued {
            self.carrier.count_send_dropped();
            return Err(io::ErrorKind::WouldBlock.into());
        }
        out.bytes.extend_from_slice(datagram);
        out.ends.push((name.clone(), end));
        Ok(datagram.len())
    }

    /// Carried datagrams arrive through [`DatagramCarrier::receive`], never by reading.
    fn recv_datagram(&self, _: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

/// Datagrams the sessions sent through a carrier, in order: their bytes end to end, and each
/// one's peer and end offset.
#[derive(Default)]
pub(crate) struct Outbox {
    bytes: Vec<u8>,
    ends: Vec<(Arc<str>, usize)>,
}

impl Outbox {
    /// Each datagram with its peer.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &str)> {
        let starts = std::iter::once(0).chain(self.ends.iter().map(|(_, end)| *end));
        self.ends
            .iter()
            .zip(starts)
            .map(|((peer, end), start)| (self.bytes.get(start..*end).unwrap_or_default(), &**peer))
    }

    /// How many datagrams it holds.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Empties it, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }
}

/// The peer names a listener's carrier has heard, each with its own address
/// ([`carried_address`] of a serial never reused), at most `max` at once: past it the peer
/// heard from least recently is forgotten.
pub(crate) struct PeerMap {
    /// Serial and last-heard tick of each name.
    by_name: HashMap<Arc<str>, (u64, u64)>,
    by_serial: HashMap<u64, Arc<str>>,
    /// Serials by last-heard tick, oldest first.
    recent: BTreeMap<u64, u64>,
    next_serial: u64,
    tick: u64,
    max: usize,
}

impl PeerMap {
    /// An empty map of at most `max` peers (at least 1).
    pub(crate) fn new(max: usize) -> PeerMap {
        PeerMap {
            by_name: HashMap::new(),
            by_serial: HashMap::new(),
            recent: BTreeMap::new(),
            // 0 is the carrier itself, 1 a dial's peer.
            next_serial: 2,
            tick: 0,
            max: max.max(1),
        }
    }

    /// The address of `name`, which was just heard from; a new name gets a new address,
    /// forgetting the least recently heard peer when the map is full.
    pub(crate) fn heard(&mut self, name: &str) -> SocketAddr {
        self.tick = self.tick.wrapping_add(1);
        let tick = self.tick;
        if let Some((serial, last)) = self.by_name.get_mut(name) {
            self.recent.remove(last);
            *last = tick;
            self.recent.insert(tick, *serial);
            return carried_address(*serial);
        }
        while self.by_name.len() >= self.max {
            let Some((_, oldest)) = self.recent.pop_first() else {
                break;
            };
            if let Some(gone) = self.by_serial.remove(&oldest) {
                self.by_name.remove(&gone);
            }
        }
        let serial = self.next_serial;
        self.next_serial = serial.wrapping_add(1);
        let name: Arc<str> = name.into();
        self.by_name.insert(name.clone(), (serial, tick));
        self.by_serial.insert(serial, name);
        self.recent.insert(tick, serial);
        carried_address(serial)
    }

    /// The name of the peer at `addr`, if it is still mapped.
    pub(crate) fn name(&self, addr: SocketAddr) -> Option<&Arc<str>> {
        let std::net::IpAddr::V6(ip) = addr.ip() else {
            return None;
        };
        let bits = u128::from(ip);
        if bits >> 64 != 0x0100_0000_0000_0000 {
            return None;
        }
        self.by_serial.get(&(bits as u64))
    }

    /// Peers mapped now.
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_distinct_discard_addresses_and_back() {
        let mut peers = PeerMap::new(4);
        let a = peers.heard("alice");
        let b = peers.heard("bob");
        assert_ne!(a, b);
        assert_eq!(peers.heard("alice"), a);
        assert_eq!(peers.name(a).map(|n| &**n), Some("alice"));
        assert_eq!(peers.name(b).map(|n| &**n), Some("bob"));
        assert_eq!(a.to_string(), "[100::2]:0");
        assert!(peers.name(carried_address(0)).is_none());
        assert!(peers.name("127.0.0.1:1".parse().unwrap()).is_none());
    }

    #[test]
    fn the_least_recently_heard_peer_is_forgotten_and_addresses_are_never_reused() {
        let mut peers = PeerMap::new(2);
        let a = peers.heard("a");
        let b = peers.heard("b");
        peers.heard("a");
        let c = peers.heard("c");
        assert_eq!(peers.len(), 2);
        assert!(peers.name(b).is_none(), "b was heard least recently");
        assert!(peers.name(a).is_some() && peers.name(c).is_some());
        let b_again = peers.heard("b");
        assert_ne!(b_again, b);
        assert_eq!(peers.len(), 2);
        assert!(peers.name(a).is_none());
    }

    #[test]
    fn a_flood_of_names_stays_within_the_bound() {
        let mut peers = PeerMap::new(16);
        for i in 0..10_000 {
            peers.heard(&format!("p{i}"));
        }
        assert_eq!(peers.len(), 16);
        assert_eq!(peers.by_serial.len(), 16);
        assert_eq!(peers.recent.len(), 16);
    }
}
