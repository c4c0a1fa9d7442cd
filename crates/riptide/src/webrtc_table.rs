//! The `webrtc://` listeners of one reactor: each UDP socket's [`Endpoint`] (every WebRTC peer
//! of that socket), which connection each opened peer is, where each peer was last heard
//! from, and the one timing-wheel deadline each peer is armed for.

use crate::config::SharedCodec;
use crate::slab::ConnId;
use riptide_webrtc::geckos::Geckos;
use riptide_webrtc::{Endpoint, PeerId};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

/// One `webrtc://` listener's state.
pub(crate) struct RtcListener {
    /// Every peer of the listener's UDP socket.
    pub(crate) endpoint: Endpoint,
    /// The signalling path clients `POST` their offer to.
    pub(crate) path: String,
    /// The largest signalling request body read.
    pub(crate) max_body: usize,
    /// The framing of the peers' reliable channels, if any.
    pub(crate) codec: Option<SharedCodec>,
    /// Where `GET` requests on the signalling port are answered from, if anywhere.
    pub(crate) static_dir: Option<PathBuf>,
    /// Offers wait for the handler's decision.
    pub(crate) authorize: bool,
    /// The held signalling request each authorized peer came from, until it opens.
    requests: HashMap<PeerId, u64>,
    /// The connection of each peer whose channels opened.
    conns: HashMap<PeerId, ConnId>,
    /// Where each peer's last datagram came from (its connection's peer address).
    sources: HashMap<PeerId, SocketAddr>,
    /// Each peer's deadline as the endpoint last reported it.
    deadlines: HashMap<PeerId, Instant>,
    /// The deadline of the wheel entry that is live for each peer. Entries are not removed
    /// from the wheel: an earlier deadline adds one, and any other entry that fires finds it
    /// is not the live one and is ignored, so one entry per peer acts.
    armed: HashMap<PeerId, Instant>,
    /// Unreliable messages dropped because the channel was congested.
    pub(crate) congested: u64,
    /// geckos mode's state (ids, reliable repeats and dedup), when the listener speaks it.
    pub(crate) geckos: Option<Geckos>,
    /// The deadline of the live wheel entry for geckos's repeats (one per listener; other
    /// entries that fire are stale, as for the peers').
    pub(crate) geckos_armed: Option<Instant>,
}

/// What to do about a peer's wheel entry that fired.
pub(crate) enum Fire {
    /// Not the live entry, or the peer is gone: nothing.
    Stale,
    /// The peer's deadline passed: run its timeout.
    Due,
    /// The deadline moved later: arm this one instead.
    Rearm(Instant),
}

impl RtcListener {
    /// A listener over `endpoint`.
    pub(crate) fn new(
        endpoint: Endpoint,
        path: String,
        max_body: usize,
        codec: Option<SharedCodec>,
    ) -> Self {
        RtcListener {
            endpoint,
            path,
            max_body,
            codec,
            static_dir: None,
            authorize: false,
            requests: HashMap::new(),
            conns: HashMap::new(),
            sources: HashMap::new(),
            deadlines: HashMap::new(),
            armed: HashMap::new(),
            congested: 0,
            geckos: None,
            geckos_armed: None,
        }
    }

    /// The connection of `peer`, once its channels opened.
    pub(crate) fn conn(&self, peer: PeerId) -> Option<ConnId> {
        self.conns.get(&peer).copied()
    }

    /// Notes the connection `peer` became; returns the request it came from, if authorized.
    pub(crate) fn opened(&mut self, peer: PeerId, id: ConnId) -> Option<u64> {
        self.conns.insert(peer, id);
        self.requests.remove(&peer)
    }

    /// Notes the authorized request `peer` came from.
    pub(crate) fn requested(&mut self, peer: PeerId, request: u64) {
        self.requests.insert(peer, request);
    }

    /// Notes where a datagram of `peer` came from.
    pub(crate) fn heard(&mut self, peer: PeerId, from: SocketAddr) {
        if self.sources.get(&peer) != Some(&from) {
            self.sources.insert(peer, from);
        }
    }

    /// Where `peer` was last heard from.
    pub(crate) fn source(&self, peer: PeerId) -> Option<SocketAddr> {
        self.sources.get(&peer).copied()
    }

    /// The endpoint reported `peer`'s deadline (`None`: the peer is gone). Returns the instant
    /// a new wheel entry must be made for, when the live one is later or there is none.
    pub(crate) fn deadline(&mut self, peer: PeerId, at: Option<Instant>) -> Option<Instant> {
        let Some(at) = at else {
            self.deadlines.remove(&peer);
            self.armed.remove(&peer);
            return None;
        };
        self.deadlines.insert(peer, at);
        match self.armed.get(&peer) {
            Some(live) if *live <= at => None,
            _ => {
                self.armed.insert(peer, at);
                Some(at)
            }
        }
    }

    /// A wheel entry of `peer` fired at `now`.
    pub(crate) fn fired(&mut self, peer: PeerId, now: Instant) -> Fire {
        match self.armed.get(&peer) {
            Some(live) if *live <= now => {}
            _ => return Fire::Stale,
        }
        self.armed.remove(&peer);
        match self.deadlines.get(&peer).copied() {
            None => Fire::Stale,
            Some(at) if at <= now => Fire::Due,
            Some(at) => {
                self.armed.insert(peer, at);
                Fire::Rearm(at)
            }
        }
    }

    /// Forgets a peer that closed; returns its connection, if it had one.
    pub(crate) fn closed(&mut self, peer: PeerId) -> Option<ConnId> {
        self.sources.remove(&peer);
        self.requests.remove(&peer);
        self.conns.remove(&peer)
    }

    /// Peers the listener tracks by connection, address and live deadline.
    pub(crate) fn tracked(&self) -> (usize, usize, usize) {
        (self.conns.len(), self.sources.len(), self.armed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn listener() -> RtcListener {
        let config = riptide_webrtc::EndpointConfig::new("127.0.0.1:9".parse().unwrap());
        RtcListener::new(Endpoint::new(config).unwrap(), "/o".into(), 1024, None)
    }

    #[test]
    fn one_live_wheel_entry_per_peer() {
        let mut l = listener();
        let p = PeerId(1);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // First deadline: arm it. A later one: the live entry stays.
        assert_eq!(l.deadline(p, Some(t0 + ms(10))), Some(t0 + ms(10)));
        assert_eq!(l.deadline(p, Some(t0 + ms(30))), None);
        // The live entry fires before the deadline that replaced it: re-arm.
        assert!(matches!(l.fired(p, t0 + ms(10)), Fire::Rearm(at) if at == t0 + ms(30)));
        // Earlier: a new entry, and the one at 30 becomes stale when it fires early.
        assert_eq!(l.deadline(p, Some(t0 + ms(20))), Some(t0 + ms(20)));
        assert!(matches!(l.fired(p, t0 + ms(20)), Fire::Due));
        assert!(matches!(l.fired(p, t0 + ms(30)), Fire::Stale));
        // Cancelled: whatever fires is stale, and nothing stays tracked.
        assert_eq!(l.deadline(p, Some(t0 + ms(40))), Some(t0 + ms(40)));
        assert_eq!(l.deadline(p, None), None);
        assert!(matches!(l.fired(p, t0 + ms(40)), Fire::Stale));
        assert_eq!(l.tracked(), (0, 0, 0));
    }
}
