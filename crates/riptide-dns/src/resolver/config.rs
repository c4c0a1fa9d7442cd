//! What a [`Resolver`](crate::Resolver) may spend: its root hints, timeouts and retries, the
//! work one lookup may cause, and the memory of its cache and lookups.

use crate::error::ResolverError;
use crate::zone::DEFAULT_MAX_UDP_SIZE;
use std::net::SocketAddr;
use std::time::Duration;

/// The most root hints a resolver takes (the real root has 13 names).
pub const MAX_ROOTS: usize = 64;

/// How a [`Resolver`](crate::Resolver) resolves, and its bounds. Every limit has a default
/// ([`ResolverConfig::new`]); [`Resolver::new`](crate::Resolver::new) checks each range.
#[derive(Clone, Debug)]
pub struct ResolverConfig {
    /// Root hints: the servers a lookup asks first when the cache knows no closer zone cut.
    pub roots: Vec<SocketAddr>,
    /// Port of the servers learned from referrals (their glue, or their names resolved): 53
    /// on the Internet; a local hierarchy on a test port gives its own. Default 53.
    pub port: u16,
    /// How long one query waits for its answer before it is sent again or the next server is
    /// asked. Default 1 s; range 1 ms to 60 s.
    pub timeout: Duration,
    /// Queries sent to one server for one question before it counts as dead for that
    /// lookup (1 = no retry). Default 2; range 1 to 10.
    pub attempts: u8,
    /// The longest a lookup runs, whatever is left of its budget: it then answers SERVFAIL.
    /// Default 10 s; range `timeout` to 10 min.
    pub lookup_timeout: Duration,
    /// Queries one lookup may send, retries and NS-address lookups included. Default 32;
    /// range 1 to 1,000.
    pub max_queries: u16,
    /// Referrals one lookup may follow. Default 16; range 1 to 64.
    pub max_referrals: u8,
    /// CNAME links one lookup may follow. Default 8; range 0 to 32.
    pub max_cname_depth: u8,
    /// How deep NS-name lookups may nest (a glueless server's name, whose own zone has a
    /// glueless server...). Default 2; range 0 to 8.
    pub max_ns_depth: u8,
    /// Lookups in flight at once; a query beyond them is answered SERVFAIL at once.
    /// Default 1,024; range 1 to 1,000,000.
    pub max_lookups: usize,
    /// Bytes the cache may hold, counted for each entry as its records in memory (272 bytes
    /// each) and in wire format (standing for the heap their names and rdata own), plus the
    /// entry's key and map node; the least recently used entries go first. 0 turns the cache
    /// off. Default 4 MiB; range 0 to 2^40.
    pub max_cache_bytes: usize,
    /// The longest a record is cached (and the largest TTL handed to clients), in seconds. A
    /// TTL above 2^31 - 1 counts as 0 (RFC 2181 §8). Default 86,400; range 0 to 2^31 - 1.
    pub max_ttl: u32,
    /// The longest a negative answer is cached, in seconds (RFC 2308 §5). Default 3,600;
    /// range 0 to 2^31 - 1.
    pub max_negative_ttl: u32,
    /// The EDNS(0) size advertised upstream and the largest UDP reply to a client that sent
    /// EDNS (others get 512 bytes; larger answers set TC). Default 1,232; range 512 to 65,535.
    pub max_udp_size: u16,
}

impl ResolverConfig {
    /// The defaults, starting from `roots`.
    pub fn new(roots: Vec<SocketAddr>) -> Self {
        Self {
            roots,
            port: 53,
            timeout: Duration::from_secs(1),
            attempts: 2,
            lookup_timeout: Duration::from_secs(10),
            max_queries: 32,
            max_referrals: 16,
            max_cname_depth: 8,
            max_ns_depth: 2,
            max_lookups: 1024,
            max_cache_bytes: 4 << 20,
            max_ttl: 86_400,
            max_negative_ttl: 3_600,
            max_udp_size: DEFAULT_MAX_UDP_SIZE,
        }
    }

    /// Checks every field's range.
    pub(crate) fn check(&self) -> Result<(), ResolverError> {
        if self.roots.is_empty() || self.roots.len() > MAX_ROOTS {
            return Err(ResolverError::Roots {
                got: self.roots.len(),
                max: MAX_ROOTS,
            });
        }
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let timeout = ms(self.timeout);
        let checks: [(&'static str, u64, u64, u64); 13] = [
            ("port", self.port.into(), 1, 65_535),
            ("timeout", timeout, 1, 60_000),
            ("attempts", self.attempts.into(), 1, 10),
            ("lookupTimeout", ms(self.lookup_timeout), timeout, 600_000),
            ("maxQueries", self.max_queries.into(), 1, 1_000),
            ("maxReferrals", self.max_referrals.into(), 1, 64),
            ("maxCnameDepth", self.max_cname_depth.into(), 0, 32),
            ("maxNsDepth", self.max_ns_depth.into(), 0, 8),
            ("maxLookups", self.max_lookups as u64, 1, 1_000_000),
            ("maxCacheBytes", self.max_cache_bytes as u64, 0, 1 << 40),
            ("maxTtl", self.max_ttl.into(), 0, i32::MAX as u64),
            (
                "maxNegativeTtl",
                self.max_negative_ttl.into(),
                0,
                i32::MAX as u64,
            ),
            ("maxUdpSize", self.max_udp_size.into(), 512, 65_535),
        ];
        for (option, got, min, max) in checks {
            if got < min || got > max {
                return Err(ResolverError::OutOfRange {
                    option,
                    got,
                    min,
                    max,
                });
            }
        }
        Ok(())
    }
}
