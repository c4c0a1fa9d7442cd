//! Why a zone could not be loaded.

/// A zone file that cannot be served, with the reason (an operator error, never a wire one).
#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    /// The master file does not parse (the message is hickory-proto's, with the token).
    #[error("zone file does not parse: {0}")]
    Parse(String),
    /// The `origin` option is not a domain name.
    #[error("zone origin {0:?} is not a domain name")]
    Origin(String),
    /// The zone has no SOA record at its origin, so it cannot answer negatively.
    #[error("zone {0} has no SOA record at its origin")]
    NoSoa(String),
    /// A record lies outside the zone's origin.
    #[error("record {name} is outside zone {origin}")]
    OutOfZone {
        /// The record's owner name.
        name: String,
        /// The zone's origin.
        origin: String,
    },
    /// `max_udp_size` is below DNS's 512-byte minimum.
    #[error("maxUdpSize must be in [512, 65535], got {0}")]
    MaxUdpSize(u32),
}

/// A [`ResolverConfig`](crate::ResolverConfig) the resolver cannot run with (an operator
/// error, never a wire one).
#[derive(Debug, thiserror::Error)]
pub enum ResolverError {
    /// No root hints, or more than [`MAX_ROOTS`](crate::resolver::MAX_ROOTS).
    #[error("roots must name 1 to {max} servers, got {got}")]
    Roots {
        /// How many were given.
        got: usize,
        /// The most accepted.
        max: usize,
    },
    /// A limit outside its range (the name is the TS option's).
    #[error("{option} must be in [{min}, {max}], got {got}")]
    OutOfRange {
        /// The option, as TS names it (`maxQueries`).
        option: &'static str,
        /// The value given.
        got: u64,
        /// The smallest accepted.
        min: u64,
        /// The largest accepted.
        max: u64,
    },
}
