//! What a simulated link does to the datagrams it carries.

/// Impairments of one direction of a simulated path.
///
/// Probabilities are clamped to `0.0..=1.0`; a `delay_max_ms` below `delay_min_ms` is treated
/// as equal to it.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// Probability that a datagram is dropped.
    pub loss: f64,
    /// Probability that a datagram that survived loss is delivered twice; the copy gets its
    /// own delay.
    pub duplicate: f64,
    /// Smallest one-way propagation delay in milliseconds.
    pub delay_min_ms: u32,
    /// Largest one-way propagation delay in milliseconds; each datagram draws uniformly from
    /// `delay_min_ms..=delay_max_ms`.
    pub delay_max_ms: u32,
    /// When true a datagram is never delivered before one sent earlier: a datagram whose
    /// drawn delay would overtake waits for its predecessor, like the FIFO list in KCP's
    /// `LatencySimulator`. When false, jitter reorders.
    pub fifo: bool,
    /// Bottleneck rate: each datagram first waits for the previous ones to be serialized at
    /// this many bytes per second, then propagates. `None` means unlimited.
    pub bandwidth_bytes_per_sec: Option<u64>,
    /// Most datagrams held by the link at once (in serialization or in flight); a datagram
    /// arriving at a full link is dropped and counted as overflowed.
    pub queue_limit: usize,
}

impl Default for LinkConfig {
    /// A perfect link: no loss, no duplication, no delay, FIFO, no rate limit, 1000 datagrams.
    fn default() -> Self {
        LinkConfig {
            loss: 0.0,
            duplicate: 0.0,
            delay_min_ms: 0,
            delay_max_ms: 0,
            fifo: true,
            bandwidth_bytes_per_sec: None,
            queue_limit: 1000,
        }
    }
}
