//! One stream's state inside a session: its unread bytes, its FIN flags and, for v2, the
//! counters behind both directions' windows. Counters are u32 and wrap as smux's do.

use std::collections::VecDeque;

/// A stream's state.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    /// Received bytes the application has not read yet.
    pub recv: VecDeque<u8>,
    /// The peer sent FIN: no more data will come.
    pub fin_received: bool,
    /// This side sent FIN.
    pub write_closed: bool,
    /// `read` returned the end once (the stream goes when this side's FIN is out too).
    pub eof_read: bool,
    /// v2: bytes received (wrapping).
    pub received: u32,
    /// v2: bytes the application read (wrapping), smux's `numRead`.
    pub num_read: u32,
    /// v2: bytes read since the last update sent, smux's `incr`.
    pub incr: u32,
    /// v2: the consumed count in the last update sent.
    pub reported_consumed: u32,
    /// v2: bytes sent (wrapping), smux's `numWritten`.
    pub num_written: u32,
    /// v2: the peer's last consumed count.
    pub peer_consumed: u32,
    /// v2: the peer's last window.
    pub peer_window: u32,
}

impl Stream {
    /// A new stream whose peer window starts at smux's initial window.
    pub fn new() -> Stream {
        Stream {
            peer_window: crate::frame::INITIAL_PEER_WINDOW,
            ..Stream::default()
        }
    }
}
