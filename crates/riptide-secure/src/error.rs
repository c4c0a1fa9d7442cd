//! The crate's one error type, with a stable code string per variant for the TS boundary.

use thiserror::Error;

/// Why a secure-mode operation failed. Every variant has a stable [`code`](SecureError::code)
/// (`ERR_…`) that the binding maps to a TS error without parsing messages.
///
/// Errors about one received packet ([`Malformed`](SecureError::Malformed),
/// [`Unauthenticated`](SecureError::Unauthenticated), [`Replay`](SecureError::Replay),
/// [`WrongId`](SecureError::WrongId), [`StaleKey`](SecureError::StaleKey),
/// [`UnexpectedPacket`](SecureError::UnexpectedPacket)) leave the state unchanged: drop the
/// packet and go on. The others say what the caller asked for cannot be done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum SecureError {
    /// A key had the wrong length, or a public key is a small-order point (with it the
    /// Diffie-Hellman result would be predictable, so the handshake would protect nothing).
    #[error("bad key: expected 32 bytes of a valid X25519 key")]
    BadKey,
    /// A configuration value is out of range (a zero limit, a zero interval).
    #[error("bad secure-mode config: {0}")]
    BadConfig(&'static str),
    /// The packet is too short, has an unknown type byte, non-zero reserved bits or the wrong
    /// length for its type. Nothing was decrypted.
    #[error("malformed packet")]
    Malformed,
    /// A well-formed packet of a type this side does not take now (a handshake packet given
    /// to a [`Transport`](crate::Transport), a data packet given to an
    /// [`Initiator`](crate::Initiator), anything after the handshake finished).
    #[error("unexpected packet type")]
    UnexpectedPacket,
    /// The packet's receiver id (or handshake tag) is not this session's.
    #[error("packet for another session")]
    WrongId,
    /// The AEAD tag did not verify: forged, corrupted or encrypted under another key. Nothing
    /// was returned and the replay window is unchanged.
    #[error("authentication failed")]
    Unauthenticated,
    /// The counter was seen before, is older than the replay window, or is at the end of the
    /// counter space.
    #[error("replayed or too old packet")]
    Replay,
    /// The packet's epoch names a key this side no longer holds (older than the grace
    /// period) or one too far ahead.
    #[error("packet under an expired or unknown key epoch")]
    StaleKey,
    /// The handshake response did not authenticate against the pinned server key, or carried
    /// an invalid session id.
    #[error("handshake failed")]
    HandshakeFailed,
    /// The initiator resent its init the configured number of times without an answer.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// This transport sent 2^64 − 2^13 packets (never in practice); a new handshake is needed
    /// because a counter, and so a nonce, must never repeat.
    #[error("packet counter exhausted, a new handshake is needed")]
    CounterExhausted,
    /// The payload does not fit one UDP datagram with the secure-mode overhead.
    #[error("payload too large for one datagram")]
    PayloadTooLarge,
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random,
}

impl SecureError {
    /// A stable identifier for this variant (`ERR_…`), for logs and the TS error classes.
    /// Never changes once published; the message text may.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadKey => "ERR_BAD_KEY",
            Self::BadConfig(_) => "ERR_BAD_CONFIG",
            Self::Malformed => "ERR_MALFORMED_PACKET",
            Self::UnexpectedPacket => "ERR_UNEXPECTED_PACKET",
            Self::WrongId => "ERR_WRONG_SESSION",
            Self::Unauthenticated => "ERR_AUTH_FAILED",
            Self::Replay => "ERR_REPLAY",
            Self::StaleKey => "ERR_STALE_KEY",
            Self::HandshakeFailed => "ERR_HANDSHAKE_FAILED",
            Self::HandshakeTimeout => "ERR_HANDSHAKE_TIMEOUT",
            Self::CounterExhausted => "ERR_COUNTER_EXHAUSTED",
            Self::PayloadTooLarge => "ERR_PAYLOAD_TOO_LARGE",
            Self::Random => "ERR_RANDOM",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SecureError;

    #[test]
    fn codes_are_distinct_and_prefixed() {
        let all = [
            SecureError::BadKey,
            SecureError::BadConfig("x"),
            SecureError::Malformed,
            SecureError::UnexpectedPacket,
            SecureError::WrongId,
            SecureError::Unauthenticated,
            SecureError::Replay,
            SecureError::StaleKey,
            SecureError::HandshakeFailed,
            SecureError::HandshakeTimeout,
            SecureError::CounterExhausted,
            SecureError::PayloadTooLarge,
            SecureError::Random,
        ];
        let mut codes: Vec<_> = all.iter().map(SecureError::code).collect();
        assert!(codes.iter().all(|c| c.starts_with("ERR_")));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
