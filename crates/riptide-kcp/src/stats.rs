//! A snapshot of a session's estimators, windows and counters, for metrics and debugging.

/// Returned by [`Kcp::stats`](crate::Kcp::stats). Counters are cumulative since creation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Smoothed round-trip time in ms (0 until the first acknowledgement).
    pub srtt: i32,
    /// Round-trip time variation in ms.
    pub rttvar: i32,
    /// Current retransmission timeout in ms.
    pub rto: u32,
    /// Segments retransmitted because their RTO expired (`kcp->xmit`).
    pub retransmits: u64,
    /// Segments retransmitted early because later segments were acknowledged.
    pub fast_retransmits: u64,
    /// Our send window in segments.
    pub snd_wnd: u32,
    /// Our receive window in segments.
    pub rcv_wnd: u32,
    /// The peer's last advertised free receive window.
    pub rmt_wnd: u32,
    /// Congestion window in segments (ignored for sending when `nc` is set).
    pub cwnd: u32,
    /// Slow-start threshold in segments.
    pub ssthresh: u32,
    /// Well-formed segments accepted by `input`.
    pub in_segments: u64,
    /// Segments written into datagrams (data, acks and probes).
    pub out_segments: u64,
    /// Datagrams produced.
    pub out_datagrams: u64,
    /// Whether a segment reached `dead_link` transmissions.
    pub dead: bool,
}
