//! UDP sessions as connections: the table opens one per new peer of a listener socket and
//! closes those the session table says went quiet.

use super::connection::{Place, Transport};
use super::lifecycle::NewConn;
use super::Conns;
use crate::slab::ConnId;
use crate::stream::{PeerAddr, Stream};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

impl Conns {
    /// The session of `peer` on UDP socket `socket`, made (with `max` sessions at most) if
    /// new; `(id, true)` when it was just made (its `on_open` is queued). `None` when the
    /// table is full.
    pub(crate) fn udp_session(
        &mut self,
        socket: usize,
        peer: SocketAddr,
        max: usize,
    ) -> Option<(ConnId, bool)> {
        let now = Instant::now();
        if let Some(id) = self.udp_sessions.touch(socket, peer, now) {
            return Some((id, false));
        }
        if self.udp_sessions.len() >= max {
            return None;
        }
        let id = self
            .insert(NewConn {
                transport: Transport::Plain(Stream::Datagram { socket, peer }),
                peer: PeerAddr::Inet(peer),
                place: Place::None,
                codec: None,
                layers: Vec::new(),
                connecting: false,
                listener: self.socket_listener(socket),
            })
            .ok()?;
        self.udp_sessions.insert(socket, peer, id, now);
        Some((id, true))
    }

    /// True while any UDP session is open.
    pub(crate) fn has_udp_sessions(&self) -> bool {
        !self.udp_sessions.is_empty()
    }

    /// Closes UDP sessions idle for `timeout` or longer.
    pub(crate) fn expire_udp_sessions(&mut self, now: Instant, timeout: Duration) {
        for id in self.udp_sessions.expired(now, timeout) {
            self.doom(id, None);
        }
    }
}
