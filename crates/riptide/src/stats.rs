//! Operator counters of reactors: each reactor counts in atomics its [`crate::Remote`] shares, so any
//! thread can read every reactor's counters and an engine can report their total.

use crate::admission::Admission;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

/// The live counters behind [`ReactorStats`], shared by a reactor and its remotes.
#[derive(Debug)]
pub(crate) struct Counters {
    accept_errors: AtomicU64,
    handshake_errors: AtomicU64,
    admission: Arc<Admission>,
}

impl Counters {
    /// Zeroed counters of a reactor that admits through `admission`.
    pub(crate) fn new(admission: Arc<Admission>) -> Counters {
        Counters {
            accept_errors: AtomicU64::new(0),
            handshake_errors: AtomicU64::new(0),
            admission,
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
}
