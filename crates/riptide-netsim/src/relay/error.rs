//! Everything that can stop the relay.

use std::net::SocketAddr;

/// Why the relay refused to start or stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The command line is malformed.
    #[error("{0}")]
    Usage(String),
    /// An address is not a loopback IP; the relay only ever runs on loopback.
    #[error("--{flag} {addr} is not a loopback address; riptide-relay only relays on loopback (127.0.0.0/8 or ::1)")]
    NotLoopback {
        /// The flag that carried the address.
        flag: &'static str,
        /// The offending address.
        addr: SocketAddr,
    },
    /// A socket or poll call failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl RelayError {
    /// Process exit code: 2 for a bad command line, 1 for a runtime failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            RelayError::Usage(_) | RelayError::NotLoopback { .. } => 2,
            RelayError::Io(_) => 1,
        }
    }
}
