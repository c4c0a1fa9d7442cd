//! `DnsResolver` for JS: the sans-IO iterative resolver (`riptide_dns::Resolver`) with the
//! monotonic clock supplied here, so JS passes no times. JS does the I/O: it sends what
//! `pollTransmit` returns and feeds back responses and timeouts.

use crate::millis::millis;
use napi::bindgen_prelude::Uint8Array;
use napi::{Env, Result};
use napi_derive::napi;
use rand::rngs::StdRng;
use riptide_dns::{Resolver, ResolverConfig, Transport};
use std::net::SocketAddr;
use std::time::Instant;

/// The resolver's options: absent ones keep `ResolverConfig::new`'s defaults. Numbers are
/// already checked by TS to be finite non-negative integers (ms for the two durations);
/// `Resolver::new` checks their ranges.
#[napi(object)]
pub struct NativeResolverConfig {
    /// Root hints as `ip:port` (`[v6]:port`).
    pub roots: Vec<String>,
    pub port: Option<u32>,
    pub timeout: Option<f64>,
    pub attempts: Option<u32>,
    pub lookup_timeout: Option<f64>,
    pub max_queries: Option<u32>,
    pub max_referrals: Option<u32>,
    pub max_cname_depth: Option<u32>,
    pub max_ns_depth: Option<u32>,
    pub max_lookups: Option<u32>,
    pub max_cache_bytes: Option<f64>,
    pub max_ttl: Option<u32>,
    pub max_negative_ttl: Option<u32>,
    pub max_udp_size: Option<u32>,
}

/// A query to send: to `address:port`, over TCP when `tcp` (else UDP).
#[napi(object)]
pub struct NativeTransmit {
    pub address: String,
    pub port: u32,
    pub tcp: bool,
    pub message: Uint8Array,
}

/// A finished lookup: its id, DNS RCODE, and the reply for the client.
#[napi(object)]
pub struct NativeResolved {
    pub lookup: f64,
    pub response_code: u32,
    pub reply: Option<Uint8Array>,
}

/// `riptide_dns::ResolverStats`, as JS numbers.
#[napi(object)]
pub struct NativeResolverStats {
    pub cache_hits: f64,
    pub cache_misses: f64,
    pub queries_sent: f64,
    pub tcp_queries: f64,
    pub timeouts: f64,
    pub ignored_responses: f64,
    pub lame_responses: f64,
    pub servfails: f64,
    pub lookups: f64,
    pub cache_entries: f64,
    pub cache_bytes: f64,
}

/// An iterative resolver with its cache.
#[napi]
pub struct NativeDnsResolver {
    resolver: Resolver<StdRng>,
}

fn invalid(env: &Env, message: String) -> napi::Error {
    crate::throw(env, riptide::Error::InvalidOption(message))
}

/// Sets `field` to option `option`'s `value` when given. A value too large for the field's
/// type is out of range whatever the range (`Resolver::new` names the range of those that fit).
fn set<T: TryFrom<u32>>(env: &Env, option: &str, value: Option<u32>, field: &mut T) -> Result<()> {
    if let Some(v) = value {
        *field = T::try_from(v)
            .map_err(|_| invalid(env, format!("{option} is out of range, got {v}")))?;
    }
    Ok(())
}

fn transport(tcp: bool) -> Transport {
    if tcp {
        Transport::Tcp
    } else {
        Transport::Udp
    }
}

#[napi]
impl NativeDnsResolver {
    /// Checks `config` (throws `ERR_INVALID_ARG_VALUE` naming the option) and seeds the
    /// query-id RNG from the OS.
    #[napi(constructor)]
    pub fn new(env: Env, config: NativeResolverConfig) -> Result<Self> {
        let roots = config
            .roots
            .iter()
            .map(|r| {
                r.parse::<SocketAddr>()
                    .map_err(|_| invalid(&env, format!("roots: {r:?} is not an ip:port address")))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut c = ResolverConfig::new(roots);
        let ms = |what, v: Option<f64>, default| match v {
            Some(v) => millis(what, v).map_err(|e| crate::throw(&env, e)),
            None => Ok(default),
        };
        c.timeout = ms("timeout", config.timeout, c.timeout)?;
        c.lookup_timeout = ms("lookupTimeout", config.lookup_timeout, c.lookup_timeout)?;
        set(&env, "port", config.port, &mut c.port)?;
        set(&env, "attempts", config.attempts, &mut c.attempts)?;
        set(&env, "maxQueries", config.max_queries, &mut c.max_queries)?;
        set(
            &env,
            "maxReferrals",
            config.max_referrals,
            &mut c.max_referrals,
        )?;
        set(
            &env,
            "maxCnameDepth",
            config.max_cname_depth,
            &mut c.max_cname_depth,
        )?;
        set(&env, "maxNsDepth", config.max_ns_depth, &mut c.max_ns_depth)?;
        set(&env, "maxUdpSize", config.max_udp_size, &mut c.max_udp_size)?;
        set(&env, "maxLookups", config.max_lookups, &mut c.max_lookups)?;
        if let Some(v) = config.max_cache_bytes {
            // TS passes a safe integer; `as` saturates anything larger.
            c.max_cache_bytes = v as usize;
        }
        set(&env, "maxTtl", config.max_ttl, &mut c.max_ttl)?;
        set(
            &env,
            "maxNegativeTtl",
            config.max_negative_ttl,
            &mut c.max_negative_ttl,
        )?;
        let rng: StdRng = rand::make_rng();
        Resolver::new(c, rng)
            .map(|resolver| Self { resolver })
            .map_err(|e| invalid(&env, e.to_string()))
    }

    /// A client's query (`Resolver::query`): its lookup id, or null to drop it.
    #[napi]
    pub fn query(&mut self, message: &[u8], tcp: bool) -> Option<f64> {
        self.resolver
            .query(message, transport(tcp), Instant::now())
            .map(|id| id.0 as f64)
    }

    /// A response from `address:port` (`Resolver::handle_response`); one from an address
    /// that does not parse cannot answer any query, and is ignored like any other stranger.
    #[napi]
    pub fn handle_response(&mut self, address: String, port: u32, tcp: bool, message: &[u8]) {
        let (Ok(ip), Ok(port)) = (address.parse(), u16::try_from(port)) else {
            return;
        };
        self.resolver.handle_response(
            SocketAddr::new(ip, port),
            transport(tcp),
            message,
            Instant::now(),
        );
    }

    /// Runs what is due now (`Resolver::handle_timeout`).
    #[napi]
    pub fn handle_timeout(&mut self) {
        self.resolver.handle_timeout(Instant::now());
    }

    /// The next query to send, or null.
    #[napi]
    pub fn poll_transmit(&mut self) -> Option<NativeTransmit> {
        self.resolver.poll_transmit().map(|t| NativeTransmit {
            address: t.to.ip().to_string(),
            port: t.to.port().into(),
            tcp: t.transport == Transport::Tcp,
            message: Uint8Array::new(t.message),
        })
    }

    /// The next finished lookup, or null.
    #[napi]
    pub fn poll_resolved(&mut self) -> Option<NativeResolved> {
        self.resolver.poll_resolved().map(|r| NativeResolved {
            lookup: r.lookup.0 as f64,
            response_code: u16::from(r.resolution.response_code).into(),
            reply: r.reply.map(Uint8Array::new),
        })
    }

    /// Ms until `handleTimeout` must run (0 when already due), or null while no lookup waits.
    #[napi]
    pub fn poll_timeout(&self) -> Option<f64> {
        self.resolver
            .poll_timeout()
            .map(|at| at.saturating_duration_since(Instant::now()).as_secs_f64() * 1000.0)
    }

    /// Counters and sizes (`Resolver::stats`).
    #[napi]
    pub fn stats(&self) -> NativeResolverStats {
        let s = self.resolver.stats();
        NativeResolverStats {
            cache_hits: s.cache_hits as f64,
            cache_misses: s.cache_misses as f64,
            queries_sent: s.queries_sent as f64,
            tcp_queries: s.tcp_queries as f64,
            timeouts: s.timeouts as f64,
            ignored_responses: s.ignored_responses as f64,
            lame_responses: s.lame_responses as f64,
            servfails: s.servfails as f64,
            lookups: s.lookups as f64,
            cache_entries: s.cache_entries as f64,
            cache_bytes: s.cache_bytes as f64,
        }
    }
}
