//! Counters a link keeps about what it did.

/// What happened to the datagrams given to a [`Link`](crate::Link).
///
/// Once the link is drained, `sent + duplicated == lost + overflowed + delivered`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams passed to `send`.
    pub sent: u64,
    /// Datagrams dropped by random loss.
    pub lost: u64,
    /// Extra copies scheduled by random duplication.
    pub duplicated: u64,
    /// Datagrams (originals and copies) returned by `poll`.
    pub delivered: u64,
    /// Datagrams (originals and copies) dropped because the queue was full.
    pub overflowed: u64,
}
