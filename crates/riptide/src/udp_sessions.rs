//! The UDP sessions of one reactor: which connection each `(socket, peer)` pair is, and when
//! each last heard from its peer. It knows sessions only by id; the connection table opens
//! and closes them and applies what it decides (which sessions expired).

use crate::slab::ConnId;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// UDP sessions by listener socket and peer.
#[derive(Default)]
pub(crate) struct UdpSessions {
    /// `(socket, peer) → (session, last datagram)`.
    by_peer: HashMap<(usize, SocketAddr), (ConnId, Instant)>,
}

impl UdpSessions {
    /// The session of `peer` on `socket`, noting that it was just heard from.
    pub(crate) fn touch(
        &mut self,
        socket: usize,
        peer: SocketAddr,
        now: Instant,
    ) -> Option<ConnId> {
        let entry = self.by_peer.get_mut(&(socket, peer))?;
        entry.1 = now;
        Some(entry.0)
    }

    /// Records a new session.
    pub(crate) fn insert(&mut self, socket: usize, peer: SocketAddr, id: ConnId, now: Instant) {
        self.by_peer.insert((socket, peer), (id, now));
    }

    /// Forgets a closed session (if `id` still holds its key).
    pub(crate) fn remove(&mut self, socket: usize, peer: SocketAddr, id: ConnId) {
        if self.by_peer.get(&(socket, peer)).is_some_and(|e| e.0 == id) {
            self.by_peer.remove(&(socket, peer));
        }
    }

    /// Sessions open.
    pub(crate) fn len(&self) -> usize {
        self.by_peer.len()
    }

    /// True while no session is open.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_peer.is_empty()
    }

    /// Sessions silent for `timeout` or longer by `now`: the ones to close.
    pub(crate) fn expired(&self, now: Instant, timeout: Duration) -> Vec<ConnId> {
        self.by_peer
            .values()
            .filter(|(_, last)| now.saturating_duration_since(*last) >= timeout)
            .map(|&(id, _)| id)
            .collect()
    }
}
