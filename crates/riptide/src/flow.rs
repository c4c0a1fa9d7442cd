//! Flow-control and lifecycle settings of connections (netty's water marks and
//! `IdleStateHandler`, Node's half-open sockets), and the timers the reactor keeps for them.

use crate::slab::ConnId;
use std::time::Duration;

/// How a connection's outbound queue and close behave.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Above this many queued bytes a connection is unwritable (`write` returns false in TS).
    pub write_high_water_mark: usize,
    /// When the queue falls to this many bytes an unwritable connection is writable again
    /// (`on_writability(.., true)`, `onWritable` in TS).
    pub write_low_water_mark: usize,
    /// A write that would queue more than this closes the connection with
    /// [`crate::Error::OutboundFull`]; `None` for no hard cap (the water marks still signal).
    pub max_outbound: Option<usize>,
    /// After `close()`, how long queued bytes may take to drain before the connection is
    /// reset; `None` waits as long as the peer reads.
    pub close_timeout: Option<Duration>,
    /// Keep the write side open after the peer's FIN (`on_end`), until `end()` or `close()`.
    pub allow_half_open: bool,
    /// Idle detection.
    pub idle_timeout: IdleTimeout,
    /// A partial frame (bytes held for the codec or by `retain`) older than this closes the
    /// connection with `ETIMEDOUT`: the slowloris defence. `None` waits forever.
    pub frame_timeout: Option<Duration>,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            write_high_water_mark: 64 * 1024,
            write_low_water_mark: 32 * 1024,
            max_outbound: None,
            close_timeout: Some(Duration::from_secs(30)),
            allow_half_open: false,
            idle_timeout: IdleTimeout::default(),
            frame_timeout: None,
        }
    }
}

/// Idle timeouts with netty `IdleStateHandler` semantics: each fires [`IdleKind`] once per
/// period without the activity, then again after every further period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdleTimeout {
    /// No bytes read for this long.
    pub read: Option<Duration>,
    /// No write for this long.
    pub write: Option<Duration>,
    /// Neither for this long.
    pub all: Option<Duration>,
    /// Count outbound progress (bytes taken by the kernel) as write activity, so a slow but
    /// moving peer is not write-idle (netty's `observeOutput`).
    pub observe_output: bool,
}

impl IdleTimeout {
    /// True when any timeout is set.
    pub fn any(&self) -> bool {
        self.read.is_some() || self.write.is_some() || self.all.is_some()
    }
}

/// Which kind of idleness was detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdleKind {
    /// Nothing read.
    Read,
    /// Nothing written.
    Write,
    /// Nothing read or written.
    All,
}

impl IdleKind {
    /// The name used by the TypeScript API.
    pub fn as_str(self) -> &'static str {
        match self {
            IdleKind::Read => "read",
            IdleKind::Write => "write",
            IdleKind::All => "all",
        }
    }
}

/// What a reactor's timing wheel holds. Entries are never removed early: each is checked
/// against the connection's state when it fires (lazy cancellation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// A user timer of a connection ([`crate::Conns::set_timer`]).
    User(ConnId, u64),
    /// Check one kind of idleness.
    Idle(ConnId, IdleKind),
    /// The close deadline of a closing connection.
    Close(ConnId),
    /// Check how long a partial frame has been waiting.
    Frame(ConnId),
    /// The connect deadline of a dialed connection.
    Connect(ConnId),
    /// A KCP session's protocol deadline (flush, retransmission, window probe).
    Kcp(ConnId),
    /// Check whether a KCP session has heard nothing from its peer for its idle timeout.
    KcpExpire(ConnId),
    /// A deadline of one of the connection's stream layers (a PROXY header's timeout).
    Layer(ConnId),
    /// A WebRTC peer's deadline: the `webrtc://` listener's datagram socket and the peer id.
    Rtc(usize, u64),
    /// The repeats of reliable geckos emits of the `webrtc://` listener on this datagram
    /// socket (one live entry per listener).
    Geckos(usize),
}
