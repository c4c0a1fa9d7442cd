//! The admission bookkeeping of `kcp://` listeners: which session a datagram belongs to, how
//! many sessions each source IP holds, which sessions are still unconfirmed (the eviction
//! order) and how many bytes each listener's sessions buffer.

use crate::kcp_options::KcpOptions;
use crate::slab::ConnId;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Admission bookkeeping of one listener session.
pub(crate) struct Admitted {
    /// Listener socket and source IP, the keys of the per-IP count and the budget.
    pub(crate) socket: usize,
    ip: IpAddr,
    /// Admission order, the eviction order of unconfirmed sessions.
    seq: u64,
    /// The peer acknowledged our data ([`Kcp::peer_acked`]); never evicted from then on.
    pub(crate) confirmed: bool,
    /// `buffered_bytes` as last added to the listener's total.
    buffered: usize,
    pub(crate) handshake_timeout: Option<Duration>,
    pub(crate) max_buffered: usize,
    /// The key the session is found by in [`KcpTable::find`].
    key: SessionKey,
}

/// How a listener finds a datagram's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SessionKey {
    /// By listener socket, peer and conv (a listener without packet layers: one peer may run
    /// several conversations).
    Conv(usize, SocketAddr, u32),
    /// By listener socket and peer (packet layers hide the conv until a datagram is opened:
    /// kcp-go's model, one session per address).
    Peer(usize, SocketAddr),
    /// By listener socket and the key its gate gave the session, from any address.
    Gated(usize, u64),
}

/// The `kcp://` listener sessions of one reactor: the index datagrams are routed by, per-IP
/// counts, unconfirmed sessions in admission order, buffered bytes per listener. It knows
/// sessions only by id; the connection table applies what it decides (an eviction).
#[derive(Default)]
pub(crate) struct KcpTable {
    /// Sessions by key.
    index: HashMap<SessionKey, ConnId>,
    next_seq: u64,
    /// Unconfirmed listener sessions, oldest first: `seq → (socket, id)`.
    unconfirmed: BTreeMap<u64, (usize, ConnId)>,
    /// Per listener socket and source IP.
    per_ip: HashMap<(usize, IpAddr), PerIp>,
    /// Sum of the sessions' `buffered_bytes` per listener socket.
    buffered: HashMap<usize, usize>,
}

/// The sessions of one source IP on one listener.
#[derive(Default)]
struct PerIp {
    sessions: usize,
    /// Its unconfirmed sessions, oldest first: `seq → id`.
    unconfirmed: BTreeMap<u64, ConnId>,
}

impl KcpTable {
    /// The session a datagram with `key` belongs to.
    pub(crate) fn find(&self, key: &SessionKey) -> Option<ConnId> {
        self.index.get(key).copied()
    }

    /// Listener sessions in the table.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Sessions `ip` holds on listener `socket`.
    pub(crate) fn sessions_of(&self, socket: usize, ip: IpAddr) -> usize {
        self.per_ip.get(&(socket, ip)).map_or(0, |p| p.sessions)
    }

    /// Sessions on listener `socket`.
    pub(crate) fn sessions_on(&self, socket: usize) -> usize {
        self.per_ip
            .iter()
            .filter(|((s, _), _)| *s == socket)
            .map(|(_, p)| p.sessions)
            .sum()
    }

    /// Bytes buffered by the sessions of listener `socket`.
    pub(crate) fn buffered_on(&self, socket: usize) -> usize {
        self.buffered.get(&socket).copied().unwrap_or(0)
    }

    /// The oldest unconfirmed session of `ip` on `socket`.
    pub(crate) fn oldest_of(&self, socket: usize, ip: IpAddr) -> Option<ConnId> {
        let p = self.per_ip.get(&(socket, ip))?;
        p.unconfirmed.values().next().copied()
    }

    /// The oldest unconfirmed session on any listener, or on `socket` only.
    pub(crate) fn oldest(&self, socket: Option<usize>) -> Option<ConnId> {
        self.unconfirmed
            .values()
            .find(|(s, _)| socket.is_none_or(|socket| *s == socket))
            .map(|&(_, id)| id)
    }

    /// True for a session found by its gate's key rather than its address (it may move to
    /// another address).
    pub(crate) fn is_gated(a: &Admitted) -> bool {
        matches!(a.key, SessionKey::Gated(..))
    }

    /// Records a new unconfirmed session of `peer` on listener `socket`, found by `key`.
    pub(crate) fn admit(
        &mut self,
        id: ConnId,
        key: SessionKey,
        (socket, peer): (usize, SocketAddr),
        options: &KcpOptions,
    ) -> Admitted {
        let ip = peer.ip().to_canonical();
        self.index.insert(key, id);
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.unconfirmed.insert(seq, (socket, id));
        let p = self.per_ip.entry((socket, ip)).or_default();
        p.sessions = p.sessions.saturating_add(1);
        p.unconfirmed.insert(seq, id);
        Admitted {
            socket,
            ip,
            seq,
            confirmed: false,
            buffered: 0,
            handshake_timeout: options.handshake_timeout,
            max_buffered: options.max_buffered,
            key,
        }
    }

    /// Moves a session out of the eviction order.
    pub(crate) fn confirm(&mut self, a: &mut Admitted) {
        if !a.confirmed {
            a.confirmed = true;
            self.unconfirmed.remove(&a.seq);
            if let Some(p) = self.per_ip.get_mut(&(a.socket, a.ip)) {
                p.unconfirmed.remove(&a.seq);
            }
        }
    }

    /// Brings the listener's total in line with the session's `buffered_bytes` now.
    pub(crate) fn account(&mut self, a: &mut Admitted, now: usize) {
        let total = self.buffered.entry(a.socket).or_default();
        *total = total.saturating_sub(a.buffered).saturating_add(now);
        a.buffered = now;
    }

    /// Drops every trace of session `id` leaving the table (its key may already belong to a
    /// newer session, after an eviction).
    /// Returns the listener socket and gate key of a gated session, whose gate should hear.
    pub(crate) fn forget(&mut self, id: ConnId, mut a: Admitted) -> Option<(usize, u64)> {
        if self.index.get(&a.key) == Some(&id) {
            self.index.remove(&a.key);
        }
        self.account(&mut a, 0);
        self.confirm(&mut a);
        if let Some(p) = self.per_ip.get_mut(&(a.socket, a.ip)) {
            p.sessions = p.sessions.saturating_sub(1);
            if p.sessions == 0 {
                self.per_ip.remove(&(a.socket, a.ip));
            }
        }
        match a.key {
            SessionKey::Gated(socket, key) => Some((socket, key)),
            _ => None,
        }
    }

    /// KCP sessions `ip` holds on all listeners of this table.
    pub(crate) fn sessions_of_ip(&self, ip: IpAddr) -> usize {
        self.per_ip
            .iter()
            .filter(|((_, i), _)| *i == ip)
            .map(|(_, p)| p.sessions)
            .sum()
    }
}
