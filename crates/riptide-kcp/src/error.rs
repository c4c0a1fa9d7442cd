//! Error types: one enum per operation, so a caller matches only what that call can return.

use thiserror::Error;

/// Why a [`Config`](crate::Config) was refused by [`Kcp::new`](crate::Kcp::new).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The MTU is below 50 bytes, which `ikcp_setmtu` refuses too: not even a header and a
    /// useful payload would fit.
    #[error("mtu {mtu} is below the minimum of {min}")]
    MtuTooSmall {
        /// The configured MTU.
        mtu: usize,
        /// The smallest MTU accepted.
        min: usize,
    },
    /// The MTU is larger than any datagram a UDP socket can carry; usually a unit mistake.
    #[error("mtu {mtu} is above the maximum of {max}")]
    MtuTooLarge {
        /// The configured MTU.
        mtu: usize,
        /// The largest MTU accepted.
        max: usize,
    },
    /// `snd_wnd` is 0: nothing could ever be sent (`ikcp_wndsize` silently ignores 0; we say
    /// so instead).
    #[error("the send window must be at least 1 segment")]
    ZeroSendWindow,
}

/// Why [`Kcp::send`](crate::Kcp::send) or [`Kcp::enqueue`](crate::Kcp::enqueue) refused a
/// message. Nothing was queued in either case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum SendError {
    /// The send window is full (`wait_snd() >= snd_wnd`): wait until acknowledgements drain
    /// it ([`Kcp::is_writable`](crate::Kcp::is_writable)) and try again. Only `send` returns
    /// this; `enqueue` queues regardless.
    #[error("send window full, try again after acknowledgements arrive")]
    WouldBlock,
    /// The message needs 128 or more fragments (ikcp's `count >= IKCP_WND_RCV` rule: a peer
    /// with the minimum receive window could never reassemble it). See
    /// [`Kcp::max_message`](crate::Kcp::max_message).
    #[error("message too large for one KCP message")]
    TooLarge,
}

/// Why [`Kcp::recv`](crate::Kcp::recv) returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum RecvError {
    /// No whole message is waiting (the receive queue is empty, or holds only the first
    /// fragments of a message whose tail is still on its way).
    #[error("no message ready")]
    Empty,
    /// The next message does not fit the buffer; it stays queued. Call again with at least
    /// `needed` bytes.
    #[error("buffer too small, the next message needs {needed} bytes")]
    BufferTooSmall {
        /// Size of the next message.
        needed: usize,
    },
}

/// Why [`Kcp::input`](crate::Kcp::input) rejected (the rest of) a datagram. Segments decoded
/// before the bad one were processed, as in `ikcp_input`; the datagram's remaining bytes are
/// ignored. Data accepted earlier is never lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum InputError {
    /// The datagram is shorter than one 24-byte segment header (`ikcp_input` returns -1).
    #[error("datagram shorter than a KCP header")]
    Truncated,
    /// A segment carries another conversation id (`ikcp_input` returns -1). Usually a demux
    /// mistake or a stray packet.
    #[error("segment belongs to another conversation")]
    WrongConv,
    /// A segment's `len` field claims more bytes than the datagram holds (`ikcp_input`
    /// returns -2).
    #[error("segment length exceeds the datagram")]
    BadLength,
    /// A segment's command byte is not PUSH, ACK, WASK or WINS (`ikcp_input` returns -3).
    #[error("unknown segment command")]
    BadCommand,
    /// A segment's `len` field exceeds this session's MSS (`mtu - 24`). No conforming peer
    /// with the same MTU sends one, and accepting them would let each buffered out-of-order
    /// segment hold up to a whole datagram (~64 KiB) instead of one MSS. Deliberate deviation
    /// from `ikcp_input`, which accepts any length that fits the datagram: both ends must use
    /// the same `mtu` (or the receiver a larger one).
    #[error("segment longer than the MSS")]
    Oversize,
}
