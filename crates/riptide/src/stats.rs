//! Operator counters of reactors: each reactor counts in atomics its [`crate::Remote`] shares, so any
//! thread can read every reactor's counters and an engine can report their total.
//!
//! [`ReactorStats`] are the few counters `stats()` always had; [`ReactorMetrics`] is the full
//! set behind `metrics()` and the Prometheus collector, per reactor and per listener. The hot
//! path counts into [`Count`]s, which only the reactor's own thread changes: a relaxed load
//! and store, no locked instruction, as cheap as a plain integer, yet readable from any thread.

use crate::admission::Admission;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Counters of one reactor (or, from [`ReactorStats::total`], of an engine).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReactorStats {
    /// Accept failures from resource limits (EMFILE, ENFILE, ENOBUFS, ENOMEM).
    pub accept_errors: u64,
    /// Connections refused by the admission caps (engine-wide: every reactor reports the
    /// same count).
    pub rejected: u64,
    /// Accepted connections that failed before they opened: a TLS handshake that failed or
    /// timed out, a bad PROXY header, a peer gone mid-handshake (each also reported to
    /// [`crate::EventHandler::on_handshake_error`]).
    pub handshake_errors: u64,
}

impl ReactorStats {
    /// The counters of an engine from those of its reactors: per-reactor counts are summed,
    /// the engine-wide `rejected` is taken once. Summing (not a per-reactor list) follows
    /// gnet's `Engine.CountConnections`, which adds up its event loops.
    pub fn total(reactors: impl IntoIterator<Item = ReactorStats>) -> ReactorStats {
        reactors
            .into_iter()
            .fold(ReactorStats::default(), |a, b| ReactorStats {
                accept_errors: a.accept_errors + b.accept_errors,
                rejected: a.rejected.max(b.rejected),
                handshake_errors: a.handshake_errors + b.handshake_errors,
            })
    }
}

/// A count that only its reactor's thread changes and any thread reads. Changing it is a
/// relaxed load and store (no read-modify-write), which is sound because there is one writer.
#[derive(Debug, Default)]
pub(crate) struct Count(AtomicU64);

impl Count {
    /// Adds `n` (wrapping, as Prometheus counters are read as deltas anyway).
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Takes `n` away (for a gauge kept as a count: queued bytes).
    #[inline]
    pub(crate) fn sub(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_sub(n),
            Ordering::Relaxed,
        );
    }

    /// The value now.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Declares the live form of a snapshot struct of `u64` fields: the same fields as
/// [`Count`]s, and `snapshot()` reading them all.
macro_rules! live_counts {
    ($(#[$doc:meta])* $live:ident => $snapshot:ident { $($field:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Default)]
        pub(crate) struct $live {
            $(pub(crate) $field: Count,)*
        }

        impl $live {
            /// Every count now.
            fn snapshot(&self) -> $snapshot {
                $snapshot {
                    $($field: self.$field.get(),)*
                }
            }
        }
    };
}

/// Counters of one listener on one reactor (or, summed, on an engine). The connections a
/// listener accepted are counted on the reactor that serves them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenerMetrics {
    /// Connections (and UDP and KCP sessions) the listener accepted and the table took.
    pub accepted: u64,
    /// Accepted connections whose layers (a TLS handshake, a PROXY header, a WebSocket
    /// upgrade) completed and that opened: on a `tls://` listener, the TLS handshakes done.
    pub opened: u64,
    /// Accepted connections that have closed.
    pub closed: u64,
    /// Accepted connections that failed before they opened (a TLS handshake failed...).
    pub handshake_errors: u64,
    /// Bytes read from the wire (TLS records and KCP datagrams whole).
    pub bytes_in: u64,
    /// Bytes the kernel took to send.
    pub bytes_out: u64,
    /// Messages the codec decoded (WebSocket messages on a WebSocket server); 0 without one.
    pub messages_in: u64,
    /// Messages written through the codec, publications included; 0 without one.
    pub messages_out: u64,
}

impl ListenerMetrics {
    /// Accepted connections still open.
    pub fn open(&self) -> u64 {
        self.accepted.saturating_sub(self.closed)
    }
}

live_counts! {
    /// The live [`ListenerMetrics`] of one listener on one reactor.
    ListenerCounts => ListenerMetrics {
        accepted, opened, closed, handshake_errors, bytes_in, bytes_out, messages_in, messages_out
    }
}

/// KCP's SNMP-style counters (kcp-go's `DefaultSnmp`, named as there) of one reactor's KCP
/// sessions, dialed and accepted, since the reactor started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KcpMetrics {
    /// Sessions dialed (`ActiveOpens`).
    pub active_opens: u64,
    /// Sessions accepted by `kcp://` listeners (`PassiveOpens`).
    pub passive_opens: u64,
    /// Sessions that closed; `active_opens + passive_opens - closed` is `CurrEstab`.
    pub closed: u64,
    /// Datagrams handed to sessions (`InPkts`).
    pub in_pkts: u64,
    /// Datagrams sent, packet-layer output (FEC parity) included (`OutPkts`).
    pub out_pkts: u64,
    /// Bytes of those datagrams received (`InBytes`).
    pub in_bytes: u64,
    /// Bytes of the datagrams sent (`OutBytes`).
    pub out_bytes: u64,
    /// Segments KCP accepted (`InSegs`).
    pub in_segs: u64,
    /// Segments KCP wrote into datagrams (`OutSegs`).
    pub out_segs: u64,
    /// Segments resent after their RTO (`RetransSegs`).
    pub retrans_segs: u64,
    /// Segments resent early, on duplicate acks (`FastRetransSegs`).
    pub fast_retrans_segs: u64,
    /// Datagrams KCP or a packet layer rejected, and evicted unconfirmed sessions' count
    /// apart (`KCPInErrors`).
    pub in_errs: u64,
}

impl KcpMetrics {
    /// Sessions open now (`CurrEstab`).
    pub fn curr_estab(&self) -> u64 {
        (self.active_opens.wrapping_add(self.passive_opens)).saturating_sub(self.closed)
    }
}

live_counts! {
    /// The live [`KcpMetrics`] of one reactor.
    KcpCounts => KcpMetrics {
        active_opens, passive_opens, closed, in_pkts, out_pkts, in_bytes, out_bytes, in_segs,
        out_segs, retrans_segs, fast_retrans_segs, in_errs
    }
}

impl KcpCounts {
    /// Adds what a session's KCP counted since `before` (its last report) up to `now`.
    pub(crate) fn add_session(&self, before: &riptide_kcp::Stats, now: &riptide_kcp::Stats) {
        self.in_segs
            .add(now.in_segments.wrapping_sub(before.in_segments));
        self.out_segs
            .add(now.out_segments.wrapping_sub(before.out_segments));
        self.retrans_segs
            .add(now.retransmits.wrapping_sub(before.retransmits));
        self.fast_retrans_segs
            .add(now.fast_retransmits.wrapping_sub(before.fast_retransmits));
    }
}

/// Every counter of one reactor, read at once (not atomically as a whole: each counter is
/// exact, the set may straddle an event).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReactorMetrics {
    /// The reactor's index within its engine.
    pub index: usize,
    /// Connections open now, dialed ones and sessions included.
    pub open: u64,
    /// Connections accepted by listeners (sessions included).
    pub accepted: u64,
    /// Connections dialed.
    pub dialed: u64,
    /// Connections closed, dialed ones included.
    pub closed: u64,
    /// The counters [`ReactorStats`] always had (accept errors, admission refusals,
    /// handshake errors).
    pub stats: ReactorStats,
    /// Bytes read from the wire.
    pub bytes_in: u64,
    /// Bytes the kernel took to send.
    pub bytes_out: u64,
    /// Bytes waiting in byte-stream connections' outbound queues now (a gauge).
    pub queued_bytes: u64,
    /// Messages codecs decoded.
    pub messages_in: u64,
    /// Messages written through codecs.
    pub messages_out: u64,
    /// KCP's SNMP-style counters.
    pub kcp: KcpMetrics,
    /// Each listener's counters, in the order the listeners were given (empty entries for
    /// listeners none of whose connections this reactor served yet).
    pub listeners: Vec<ListenerMetrics>,
}

/// The live counters behind [`ReactorStats`] and [`ReactorMetrics`], shared by a reactor, its
/// connection table and its remotes.
#[derive(Debug)]
pub(crate) struct Counters {
    accept_errors: AtomicU64,
    handshake_errors: AtomicU64,
    admission: Arc<Admission>,
    pub(crate) accepted: Count,
    pub(crate) dialed: Count,
    pub(crate) closed: Count,
    pub(crate) bytes_in: Count,
    pub(crate) bytes_out: Count,
    pub(crate) queued_bytes: Count,
    pub(crate) messages_in: Count,
    pub(crate) messages_out: Count,
    pub(crate) kcp: KcpCounts,
    /// Per-listener counts by listener index; the table keeps its own list of the same
    /// `Arc`s for the hot path, and adds to both (rarely: once per listener).
    listeners: Mutex<Vec<Arc<ListenerCounts>>>,
}

impl Counters {
    /// Zeroed counters of a reactor that admits through `admission`.
    pub(crate) fn new(admission: Arc<Admission>) -> Counters {
        Counters {
            accept_errors: AtomicU64::new(0),
            handshake_errors: AtomicU64::new(0),
            admission,
            accepted: Count::default(),
            dialed: Count::default(),
            closed: Count::default(),
            bytes_in: Count::default(),
            bytes_out: Count::default(),
            queued_bytes: Count::default(),
            messages_in: Count::default(),
            messages_out: Count::default(),
            kcp: KcpCounts::default(),
            listeners: Mutex::default(),
        }
    }

    /// Makes sure listener `index` has counts, returning the whole list for the table's copy.
    pub(crate) fn listeners_through(&self, index: usize) -> Vec<Arc<ListenerCounts>> {
        let mut list = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        while list.len() <= index {
            list.push(Arc::default());
        }
        list.clone()
    }

    /// Every counter now; `open` is the reactor's open-connection count.
    pub(crate) fn metrics(&self, index: usize, open: &AtomicUsize) -> ReactorMetrics {
        let listeners = self
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|l| l.snapshot())
            .collect();
        ReactorMetrics {
            index,
            open: open.load(Ordering::Relaxed) as u64,
            accepted: self.accepted.get(),
            dialed: self.dialed.get(),
            closed: self.closed.get(),
            stats: self.snapshot(),
            bytes_in: self.bytes_in.get(),
            bytes_out: self.bytes_out.get(),
            queued_bytes: self.queued_bytes.get(),
            messages_in: self.messages_in.get(),
            messages_out: self.messages_out.get(),
            kcp: self.kcp.snapshot(),
            listeners,
        }
    }

    /// Counts an accept failure; returns the count so far.
    pub(crate) fn accept_error(&self) -> u64 {
        self.accept_errors.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Counts a connection that failed before it opened.
    pub(crate) fn handshake_error(&self) {
        self.handshake_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub(crate) fn snapshot(&self) -> ReactorStats {
        ReactorStats {
            accept_errors: self.accept_errors.load(Ordering::Relaxed),
            rejected: self.admission.rejected(),
            handshake_errors: self.handshake_errors.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_sums_per_reactor_counts_and_takes_rejected_once() {
        let a = ReactorStats {
            accept_errors: 1,
            rejected: 4,
            handshake_errors: 2,
        };
        let b = ReactorStats {
            accept_errors: 3,
            rejected: 4,
            handshake_errors: 5,
        };
        let t = ReactorStats::total([a, b]);
        assert_eq!(
            t,
            ReactorStats {
                accept_errors: 4,
                rejected: 4,
                handshake_errors: 7
            }
        );
        assert_eq!(ReactorStats::total([]), ReactorStats::default());
    }

    #[test]
    fn counts_add_and_take_away_and_listeners_grow_on_demand() {
        let c = Counters::new(Arc::new(Admission::new(None, None)));
        c.bytes_in.add(5);
        c.bytes_in.add(7);
        c.queued_bytes.add(10);
        c.queued_bytes.sub(4);
        let list = c.listeners_through(2);
        assert_eq!(list.len(), 3);
        list[2].accepted.add(3);
        list[2].closed.add(1);
        let open = AtomicUsize::new(2);
        let m = c.metrics(1, &open);
        assert_eq!((m.index, m.open, m.bytes_in, m.queued_bytes), (1, 2, 12, 6));
        assert_eq!(m.listeners.len(), 3);
        assert_eq!(m.listeners[2].open(), 2);
        assert_eq!(m.listeners[0], ListenerMetrics::default());
    }

    #[test]
    fn kcp_session_deltas_accumulate() {
        let k = KcpCounts::default();
        let a = riptide_kcp::Stats::default();
        let b = riptide_kcp::Stats {
            in_segments: 4,
            out_segments: 6,
            retransmits: 1,
            fast_retransmits: 2,
            ..a
        };
        k.add_session(&a, &b);
        k.add_session(&b, &b);
        let m = k.snapshot();
        assert_eq!(
            (m.in_segs, m.out_segs, m.retrans_segs, m.fast_retrans_segs),
            (4, 6, 1, 2)
        );
        let m = KcpMetrics {
            active_opens: 1,
            passive_opens: 2,
            closed: 1,
            ..m
        };
        assert_eq!(m.curr_estab(), 2);
    }
}
