//! Session settings, smux's `Config` field for field, with its defaults and checks.

use std::time::Duration;

use crate::Error;

/// A session's settings. The defaults are smux's `DefaultConfig()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Protocol version, 1 or 2 (v2 adds per-stream windows). Both ends must agree.
    pub version: u8,
    /// No NOPs sent and no timeout for a silent peer.
    pub keep_alive_disabled: bool,
    /// How often a NOP is sent.
    pub keep_alive_interval: Duration,
    /// The session dies after this long without input (unless this side is the one not
    /// reading: its receive buffer full).
    pub keep_alive_timeout: Duration,
    /// The largest payload this side puts in one frame (1..=65535).
    pub max_frame_size: usize,
    /// The session-wide receive buffer: input is consumed only while the streams' unread
    /// bytes are below this, so at most this plus one frame (65535) is held.
    pub max_receive_buffer: usize,
    /// The window a v2 session advertises per stream.
    pub max_stream_buffer: usize,
    /// The most streams open at once (not in smux: a bound on what a peer's SYNs cost).
    pub max_streams: usize,
    /// The most output bytes `write` queues before returning a short count (not in smux,
    /// whose writes block instead).
    pub max_send_buffer: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: 1,
            keep_alive_disabled: false,
            keep_alive_interval: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(30),
            max_frame_size: 32_768,
            max_receive_buffer: 4_194_304,
            max_stream_buffer: 65_536,
            max_streams: 65_536,
            max_send_buffer: 4_194_304,
        }
    }
}

impl Config {
    /// smux's `VerifyConfig`, plus the two bounds of this crate's own.
    pub fn verify(&self) -> Result<(), Error> {
        let max_i32 = usize::try_from(i32::MAX).unwrap_or(usize::MAX);
        if !(self.version == 1 || self.version == 2) {
            return Err(Error::Config("version must be 1 or 2"));
        }
        if !self.keep_alive_disabled {
            if self.keep_alive_interval.is_zero() {
                return Err(Error::Config("keep-alive interval must be positive"));
            }
            if self.keep_alive_timeout < self.keep_alive_interval {
                return Err(Error::Config(
                    "keep-alive timeout must not be below the interval",
                ));
            }
        }
        if self.max_frame_size == 0 || self.max_frame_size > 65_535 {
            return Err(Error::Config("max frame size must be in 1..=65535"));
        }
        if self.max_receive_buffer == 0 || self.max_receive_buffer > max_i32 {
            return Err(Error::Config("max receive buffer must be in 1..=2^31-1"));
        }
        if self.max_stream_buffer == 0 || self.max_stream_buffer > self.max_receive_buffer {
            return Err(Error::Config(
                "max stream buffer must be in 1..=max receive buffer",
            ));
        }
        if self.max_streams == 0 {
            return Err(Error::Config("max streams must be positive"));
        }
        if self.max_send_buffer == 0 {
            return Err(Error::Config("max send buffer must be positive"));
        }
        Ok(())
    }
}
