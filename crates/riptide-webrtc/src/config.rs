//! Endpoint configuration and its validation.

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::ConfigError;
use crate::sdp::LOCAL_MAX_MESSAGE_SIZE;

/// What an [`Endpoint`](crate::Endpoint) needs to know; [`EndpointConfig::new`] fills in the
/// defaults, [`Endpoint::new`](crate::Endpoint::new) validates.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The address clients reach the UDP socket at: the one host candidate in every answer,
    /// and the destination str0m is told each datagram arrived at (it drops STUN sent to an
    /// address it did not advertise). Not `0.0.0.0`, not port 0.
    pub public_addr: SocketAddr,
    /// Most peers at once, half-open ones included; an offer beyond it is refused.
    pub max_peers: usize,
    /// How long a peer has from its answer to both channels being open before it expires.
    pub handshake_timeout: Duration,
    /// Bytes the two channels of a peer may hold unacknowledged (str0m's SCTP send buffer).
    /// It also caps the largest message the endpoint sends.
    pub send_buffer: usize,
    /// An unreliable send is dropped (reported as congested) once the unreliable channel
    /// holds this many unacknowledged bytes.
    pub unreliable_high_water: usize,
    /// The reliable channel reports [`Event::Writable`](crate::Event::Writable) when its
    /// buffered bytes fall to this threshold after a congested send.
    pub reliable_low_water: usize,
    /// Most source addresses one peer may be reached from (ICE can validate several pairs).
    pub max_addresses_per_peer: usize,
    /// Largest signalling offer accepted, in bytes.
    pub max_offer_size: usize,
}

impl EndpointConfig {
    /// A configuration with the defaults: 10,000 peers, 10 s handshake, 256 KiB send buffer,
    /// 64 KiB unreliable high water, 64 KiB reliable low water, 4 addresses per peer, 16 KiB
    /// offers.
    pub fn new(public_addr: SocketAddr) -> Self {
        EndpointConfig {
            public_addr,
            max_peers: 10_000,
            handshake_timeout: Duration::from_secs(10),
            send_buffer: LOCAL_MAX_MESSAGE_SIZE,
            unreliable_high_water: 64 * 1024,
            reliable_low_water: 64 * 1024,
            max_addresses_per_peer: 4,
            max_offer_size: 16 * 1024,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.public_addr.ip().is_unspecified() || self.public_addr.port() == 0 {
            return Err(ConfigError::PublicAddr(self.public_addr));
        }
        let ranges: [(&'static str, usize, usize, usize); 6] = [
            ("max_peers", self.max_peers, 1, 1 << 24),
            ("send_buffer", self.send_buffer, 1024, 64 << 20),
            (
                "unreliable_high_water",
                self.unreliable_high_water,
                0,
                self.send_buffer,
            ),
            (
                "reliable_low_water",
                self.reliable_low_water,
                0,
                self.send_buffer,
            ),
            ("max_addresses_per_peer", self.max_addresses_per_peer, 1, 64),
            ("max_offer_size", self.max_offer_size, 256, 1 << 20),
        ];
        for (name, value, min, max) in ranges {
            if value < min || value > max {
                return Err(ConfigError::OutOfRange {
                    name,
                    value,
                    min,
                    max,
                });
            }
        }
        if self.handshake_timeout.is_zero() || self.handshake_timeout > Duration::from_secs(600) {
            return Err(ConfigError::HandshakeTimeout(self.handshake_timeout));
        }
        Ok(())
    }
}
