//! The fuzz harnesses, shared by the cargo-fuzz targets and `tests/regressions.rs`.
//! - `message`: any bytes as a query to a sample zone, over UDP and TCP. It checks what must
//!   hold for hostile input: no panic, an answer only to something with a header, the query's
//!   id echoed, and a UDP answer within 512 bytes unless the query carried EDNS (then within
//!   the zone's `max_udp_size`).
//! - `tunnel_name`: the DNS tunnel's codec ([`crate::tunnel`]) on any bytes: names that
//!   decode encode back to themselves, encoded names stay within 253 characters and labels
//!   within 63 and decode to what was encoded, and any message read as a query or an answer
//!   never panics and answers within its size limit.

use crate::tunnel::{ReadQuery, Tunnel, MAX_CLIENT_LEN, MAX_LABEL_LEN, MAX_NAME_LEN};
use crate::{Transport, Zone, ZoneOptions};
use hickory_proto::rr::Name;
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

/// The tunnel zone of the `tunnel_name` harness.
pub const SAMPLE_TUNNEL_ZONE: &str = "t.example.";

/// The sample tunnel, made once (UDP answers up to 1232 bytes with EDNS).
pub fn sample_tunnel() -> &'static Tunnel {
    static TUNNEL: OnceLock<Tunnel> = OnceLock::new();
    TUNNEL.get_or_init(|| Tunnel::new(SAMPLE_TUNNEL_ZONE, 1232).expect("the sample zone is one"))
}

/// Checks what every encoded tunnel name must be: at most 253 characters, labels at most 63.
pub fn check_name_bounds(name: &Name) {
    let text = name.to_ascii();
    assert!(
        text.trim_end_matches('.').len() <= MAX_NAME_LEN,
        "a name of {} characters",
        text.len()
    );
    assert!(
        name.iter().all(|l| l.len() <= MAX_LABEL_LEN),
        "a label over 63"
    );
}

/// The harness of the fuzz target `tunnel_name`: the first byte picks what the rest is.
pub fn tunnel_name(data: &[u8]) {
    let tunnel = sample_tunnel();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        // Labels (split at '.') under the zone: what decodes encodes back to the same name.
        0 => {
            let zone = Name::from_ascii(SAMPLE_TUNNEL_ZONE).expect("a name");
            let Ok(name) =
                Name::from_labels(rest.split(|b| *b == b'.')).and_then(|n| n.append_domain(&zone))
            else {
                return;
            };
            if let Ok(decoded) = tunnel.decode_name(&name) {
                let again = tunnel
                    .encode_name(&decoded.client, decoded.nonce, &decoded.datagram)
                    .expect("a decoded name encodes");
                assert_eq!(again, name, "a name decodes only as its own encoding");
            }
        }
        // A client id and a datagram: encoded within bounds, decoded to the same.
        1 => {
            const ID: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
            let (len, rest) = rest.split_first().unwrap_or((&0, &[]));
            let len = 1 + usize::from(*len) % MAX_CLIENT_LEN;
            let client: String = rest
                .iter()
                .chain(std::iter::repeat(&0))
                .take(len)
                .map(|b| char::from(ID[usize::from(*b) % ID.len()]))
                .collect();
            let datagram = rest.get(len..).unwrap_or_default();
            let datagram = &datagram[..datagram.len().min(tunnel.capacity(len))];
            let nonce = u32::try_from(datagram.len())
                .unwrap_or(0)
                .wrapping_mul(2_654_435_761);
            let name = tunnel
                .encode_name(&client, nonce, datagram)
                .expect("a datagram within capacity encodes");
            check_name_bounds(&name);
            let decoded = tunnel.decode_name(&name).expect("an encoded name decodes");
            assert_eq!(decoded.client, client);
            assert_eq!(decoded.nonce, nonce);
            assert_eq!(decoded.datagram, datagram);
        }
        // A whole message, read by the server and by the client.
        _ => {
            let edns = hickory_proto::op::Message::from_vec(rest)
                .ok()
                .and_then(|m| m.edns.map(|e| e.max_payload()));
            let limit = crate::answer::udp_limit(edns, 1232);
            match tunnel.read_query(rest, Transport::Udp) {
                ReadQuery::Other => {}
                ReadQuery::Refused(reply) => {
                    assert!(reply.len() >= 12 && reply.len() <= limit);
                    assert_eq!(reply[..2], rest[..2], "the id is echoed");
                }
                ReadQuery::Query(query) => {
                    let datagrams: Vec<&[u8]> = rest.chunks(97).collect();
                    let (reply, taken) = query.answer(&datagrams);
                    assert!(reply.len() <= limit, "an answer over its limit");
                    let read = tunnel.read_answer(&reply).expect("our answer reads");
                    assert_eq!(read.datagrams, datagrams[..taken]);
                }
            }
            let _ = tunnel.read_answer(rest);
        }
    }
}

/// A fuzz harness: one input, which must never panic.
pub type Target = fn(&[u8]);

/// Every fuzz target of this crate and its harness, for the regression replay.
pub fn targets() -> Vec<(&'static str, Target)> {
    vec![
        ("message", message as Target),
        ("tunnel_name", tunnel_name as Target),
    ]
}
