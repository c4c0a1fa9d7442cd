//! KCP options from JS (`serve('kcp://…', h, { kcp })`, `connect('kcp://…', h, { kcp })`) to
//! the engine's [`riptide::KcpOptions`]. The TS layer fills the defaults and checks types;
//! this checks ranges that only the protocol knows.

use napi_derive::napi;
use std::time::Duration;

/// KCP parameters as JS gives them (every field filled in by TS).
#[napi(object)]
#[derive(Clone)]
pub struct NativeKcp {
    /// Faster retransmission (minimum RTO 30 ms, gentler RTO backoff).
    pub nodelay: bool,
    /// ms between KCP's internal flushes (10…5000).
    pub interval: u32,
    /// Retransmit after this many later segments were acknowledged (0: off).
    pub resend: u32,
    /// No congestion window (only the send and receive windows limit).
    pub nc: bool,
    /// Send window in segments.
    pub snd_wnd: u32,
    /// Receive window in segments (at least 128, as in ikcp).
    pub rcv_wnd: u32,
    /// Largest datagram in bytes.
    pub mtu: u32,
    /// Stream mode: bytes without message boundaries.
    pub stream: bool,
    /// Transmissions of one segment after which the link counts as dead.
    pub dead_link: u32,
    /// ms of silence from the peer after which the session closes (0: never).
    pub idle_timeout: f64,
    /// Listener: sessions one source IP may hold (0: no cap).
    pub max_sessions_per_ip: u32,
    /// Listener: ms of silence after which a session the peer never acknowledged closes
    /// (0: `idle_timeout` applies).
    pub handshake_timeout: f64,
    /// Listener: bytes of segments buffered across its sessions before unconfirmed ones are
    /// evicted and new ones refused.
    pub max_buffered: f64,
}

impl NativeKcp {
    /// The engine's KCP options.
    pub fn options(&self) -> Result<riptide::KcpOptions, riptide::Error> {
        let window = |v: u32, name: &str| {
            u16::try_from(v)
                .ok()
                .filter(|&w| w > 0)
                .ok_or_else(|| riptide::Error::InvalidOption(format!("kcp.{name} must be 1-65535")))
        };
        let config = riptide::kcp::Config {
            nodelay: u32::from(self.nodelay),
            interval: self.interval,
            resend: self.resend,
            nc: self.nc,
            snd_wnd: window(self.snd_wnd, "sndWnd")?,
            rcv_wnd: window(self.rcv_wnd, "rcvWnd")?,
            mtu: self.mtu as usize,
            stream: self.stream,
            dead_link: self.dead_link,
            ..riptide::kcp::Config::default()
        };
        let options = riptide::KcpOptions {
            config,
            idle_timeout: never_or("kcp.idleTimeout", self.idle_timeout)?,
            max_sessions_per_ip: self.max_sessions_per_ip as usize,
            handshake_timeout: never_or("kcp.handshakeTimeout", self.handshake_timeout)?,
            // TS checked a finite integer in range; `as` saturates anyway.
            max_buffered: self.max_buffered as usize,
            ..riptide::KcpOptions::default()
        };
        options.validate()?;
        Ok(options)
    }
}

/// A number of ms as a duration, `0` meaning "never" (`None`); checked by [`crate::millis`].
fn never_or(what: &str, ms: f64) -> Result<Option<Duration>, riptide::Error> {
    crate::millis::millis(what, ms).map(|d| (!d.is_zero()).then_some(d))
}

/// A KCP session's statistics, for `conn.kcpStats()`.
#[napi(object)]
pub struct NativeKcpStats {
    /// Smoothed round-trip time in ms.
    pub srtt: f64,
    /// Round-trip time variation in ms.
    pub rttvar: f64,
    /// Current retransmission timeout in ms.
    pub rto: f64,
    /// Segments resent after their timeout.
    pub retransmits: f64,
    /// Segments resent early because later ones were acknowledged.
    pub fast_retransmits: f64,
    /// Send window in segments.
    pub snd_wnd: f64,
    /// Receive window in segments.
    pub rcv_wnd: f64,
    /// The peer's last advertised receive window in segments.
    pub rmt_wnd: f64,
    /// Congestion window in segments.
    pub cwnd: f64,
    /// Segments received.
    pub in_segments: f64,
    /// Segments sent (retransmissions included).
    pub out_segments: f64,
}

impl From<riptide::kcp::Stats> for NativeKcpStats {
    fn from(s: riptide::kcp::Stats) -> Self {
        NativeKcpStats {
            srtt: f64::from(s.srtt),
            rttvar: f64::from(s.rttvar),
            rto: f64::from(s.rto),
            retransmits: s.retransmits as f64,
            fast_retransmits: s.fast_retransmits as f64,
            snd_wnd: f64::from(s.snd_wnd),
            rcv_wnd: f64::from(s.rcv_wnd),
            rmt_wnd: f64::from(s.rmt_wnd),
            cwnd: f64::from(s.cwnd),
            in_segments: s.in_segments as f64,
            out_segments: s.out_segments as f64,
        }
    }
}
