//! The fuzz harness, shared by the cargo-fuzz target and `tests/regressions.rs`: any bytes as
//! a query to a sample zone, over UDP and TCP. It checks what must hold for hostile input: no
//! panic, an answer only to something with a header, the query's id echoed, and a UDP answer
//! within 512 bytes unless the query carried EDNS (then within the zone's `max_udp_size`).

use crate::{Transport, Zone, ZoneOptions};
use std::sync::OnceLock;

/// A zone with every record type the server serves, a delegation, a wildcard and a CNAME
/// loop, so fuzzed queries reach every branch of the lookup.
pub const SAMPLE_ZONE: &str = "$ORIGIN example.\n$TTL 300\n\
@ IN SOA ns1 hostmaster 2024010101 3600 600 86400 60\n\
@ IN NS ns1\n@ IN MX 10 mail\n@ IN TXT \"v=spf1 -all\"\n\
ns1 IN A 127.0.0.1\nmail IN A 192.0.2.25\nwww IN A 192.0.2.1\nwww IN AAAA 2001:db8::1\n\
alias IN CNAME www\nloop1 IN CNAME loop2\nloop2 IN CNAME loop1\n*.wild IN A 192.0.2.9\n\
sub IN NS ns.sub\nns.sub IN A 127.0.0.2\n";

/// The sample zone, parsed once.
pub fn sample_zone() -> &'static Zone {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    ZONE.get_or_init(|| {
        Zone::parse(SAMPLE_ZONE, &ZoneOptions::default()).expect("the sample zone parses")
    })
}

/// The harness of the fuzz target `message`.
pub fn message(data: &[u8]) {
    let zone = sample_zone();
    for transport in [Transport::Udp, Transport::Tcp] {
        let Some(reply) = zone.answer(data, transport) else {
            assert!(
                data.len() < 12 || data[2] & 0x80 != 0,
                "a query was dropped"
            );
            continue;
        };
        assert!(reply.len() >= 12);
        assert_eq!(reply[..2], data[..2], "the id is echoed");
        assert!(reply[2] & 0x80 != 0, "the reply is a response");
        if transport == Transport::Udp {
            let edns = hickory_proto::op::Message::from_vec(data).is_ok_and(|m| m.edns.is_some());
            let limit = if edns { zone.max_udp_size } else { 512 };
            assert!(
                reply.len() <= usize::from(limit),
                "a UDP answer over its limit"
            );
        }
    }
}

/// A fuzz harness: one input, which must never panic.
pub type Target = fn(&[u8]);

/// Every fuzz target of this crate and its harness, for the regression replay.
pub fn targets() -> Vec<(&'static str, Target)> {
    vec![("message", message as Target)]
}
