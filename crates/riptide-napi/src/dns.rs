//! `DnsZone` for JS: an authoritative zone (`riptide_dns::Zone`) that answers one query
//! message per call, in Rust, on the calling thread.

use napi::bindgen_prelude::Uint8Array;
use napi::{Env, Result};
use napi_derive::napi;
use riptide_dns::{Transport, Zone, ZoneOptions};

/// A zone loaded from master-file text; `answer` maps a query message to its reply.
#[napi]
pub struct NativeDnsZone {
    zone: Zone,
}

#[napi]
impl NativeDnsZone {
    /// Parses `text` (origin and size already checked by TS); throws `ERR_DNS_ZONE`.
    #[napi(constructor)]
    pub fn new(env: Env, text: String, origin: Option<String>, max_udp_size: u32) -> Result<Self> {
        let options = ZoneOptions {
            origin,
            max_udp_size: u16::try_from(max_udp_size).unwrap_or(u16::MAX),
        };
        Zone::parse(&text, &options)
            .map(|zone| Self { zone })
            .map_err(|e| crate::throw_code(&env, "ERR_DNS_ZONE", &e.to_string()))
    }

    /// The zone's origin, fully qualified.
    #[napi(getter)]
    pub fn origin(&self) -> String {
        self.zone.origin()
    }

    /// How many records the zone holds.
    #[napi(getter)]
    pub fn record_count(&self) -> u32 {
        u32::try_from(self.zone.record_count()).unwrap_or(u32::MAX)
    }

    /// The reply to one query (a datagram, or a TCP frame without its length prefix); `null`
    /// when the query must be dropped.
    #[napi]
    pub fn answer(&self, query: &[u8], tcp: bool) -> Option<Uint8Array> {
        let transport = if tcp { Transport::Tcp } else { Transport::Udp };
        self.zone.answer(query, transport).map(Uint8Array::new)
    }
}
