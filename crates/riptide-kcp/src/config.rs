//! Session parameters, with `ikcp_create`'s defaults and `ikcp_nodelay`/`ikcp_wndsize`'s rules.

use crate::error::ConfigError;
use crate::segment::{DEADLINK, INTERVAL, MTU_DEF, OVERHEAD, WND_RCV, WND_SND};

/// Smallest MTU accepted (as `ikcp_setmtu`).
pub(crate) const MIN_MTU: usize = 50;
/// Largest MTU accepted: a UDP datagram cannot be larger, so anything above is a mistake.
pub(crate) const MAX_MTU: usize = 65_535;

/// Parameters of one KCP session. Both ends need not agree on them (only `mtu` must fit the
/// path, and `stream` must match for the payload to be read back the same way).
///
/// `Config::default()` is `ikcp_create`'s configuration; the README presets are
/// "normal" `nodelay: 0, interval: 40, resend: 0, nc: false` and
/// "turbo" `nodelay: 1, interval: 10, resend: 2, nc: true`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `ikcp_nodelay`'s `nodelay`: 0 = RTO doubles on timeout and the minimum RTO is 100 ms;
    /// 1 = RTO grows by half of itself and the minimum is 30 ms; 2 = RTO grows by half the
    /// current smoothed RTO (minimum 30 ms). Values above 2 behave like 2.
    pub nodelay: u32,
    /// Flush period in ms, clamped to 10..=5000 like `ikcp_interval`. Acks, new data and
    /// retransmissions leave at most this often (unless [`Kcp::flush`](crate::Kcp::flush) is
    /// called). Default 100.
    pub interval: u32,
    /// Fast retransmit after this many later segments were acknowledged (0 = off).
    pub resend: u32,
    /// Disable the congestion window: only `snd_wnd` and the peer's window limit sending.
    /// Lower latency, unfair to other flows.
    pub nc: bool,
    /// Send window in segments. Default 32; must be at least 1.
    pub snd_wnd: u16,
    /// Receive window in segments. Default 128; raised to 128 when smaller, as
    /// `ikcp_wndsize` does, because a message of up to 127 fragments must fit.
    pub rcv_wnd: u16,
    /// Largest datagram produced, headers included (not counting `headroom`). Default 1400;
    /// 50..=65535 accepted.
    pub mtu: usize,
    /// Overrides the minimum RTO otherwise chosen by `nodelay` (100 ms or 30 ms).
    pub min_rto: Option<u32>,
    /// Stream mode: messages lose their boundaries; a send first fills the last queued,
    /// not yet sent segment, and every segment has `frg = 0`.
    pub stream: bool,
    /// A segment transmitted this many times marks the link dead (`is_dead`). Default 20.
    pub dead_link: u32,
    /// Bytes left free before each datagram in `poll_transmit`'s buffer, for headers added by
    /// outer layers (FEC, encryption) without a copy. Default 0.
    pub headroom: usize,
    /// Counts fast-retransmit evidence once per ACK segment, as kcp-go does, instead of once
    /// per datagram (ikcp with `IKCP_FASTACK_CONSERVE`, the default). A kcp-go peer sends its
    /// ACKs in batches (at its flush interval, or once an MTU of them is queued), so counted
    /// per datagram a hole behind a batch waits for the peer's next interval to be resent;
    /// counted per ACK, one batch reaching past the hole resends it at once. Unobservable
    /// on the wire except for when a resend happens.
    pub fastack_each: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            nodelay: 0,
            interval: INTERVAL,
            resend: 0,
            nc: false,
            snd_wnd: WND_SND,
            rcv_wnd: WND_RCV,
            mtu: MTU_DEF,
            min_rto: None,
            stream: false,
            dead_link: DEADLINK,
            headroom: 0,
            fastack_each: false,
        }
    }
}

impl Config {
    /// Checks the parameters; the clamps (`interval`, `rcv_wnd`) are applied by `Kcp::new`.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.mtu < MIN_MTU || self.mtu < OVERHEAD {
            return Err(ConfigError::MtuTooSmall {
                mtu: self.mtu,
                min: MIN_MTU,
            });
        }
        if self.mtu > MAX_MTU {
            return Err(ConfigError::MtuTooLarge {
                mtu: self.mtu,
                max: MAX_MTU,
            });
        }
        if self.snd_wnd == 0 {
            return Err(ConfigError::ZeroSendWindow);
        }
        Ok(())
    }
}
