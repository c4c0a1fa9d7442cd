//! The fuzz harnesses, shared by the cargo-fuzz targets and `tests/regressions.rs`.
//!
//! `message`: any bytes as a query to a sample zone, over UDP and TCP. It checks what must
//! hold for hostile input: no panic, an answer only to something with a header, the query's
//! id echoed, and a UDP answer within 512 bytes unless the query carried EDNS (then within
//! the zone's `max_udp_size`).
//!
//! `resolver`: any bytes as a script of events for a [`Resolver`] with lookups in flight:
//! arbitrary responses (raw, or with the id and question of the query waiting so they pass
//! the first checks), client queries, timeouts, and answers from a sample hierarchy. It
//! checks that every lookup ends exactly once, within `max_queries` and `lookup_timeout`,
//! that client replies decode, and that the cache stays within `max_cache_bytes`.
//!
//! `tunnel_name`: the DNS tunnel's codec ([`crate::tunnel`]) on any bytes: names that decode
//! encode back to themselves, encoded names stay within 253 characters and labels within 63
//! and decode to what was encoded, and any message read as a query or an answer never panics
//! and answers within its size limit.

use crate::tunnel::{ReadQuery, Tunnel, MAX_CLIENT_LEN, MAX_LABEL_LEN, MAX_NAME_LEN};
use crate::{LookupId, Resolver, ResolverConfig, Transport, Zone, ZoneOptions};
use hickory_proto::rr::{Name, RecordType};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

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
            let limit = crate::request::udp_limit(edns, 1232);
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

/// The root zone of the resolver harness's hierarchy (served at [`ROOT`]): it delegates
/// `example.` to the [`SAMPLE_ZONE`]'s server, 127.0.0.1.
pub const SAMPLE_ROOT_ZONE: &str = "$ORIGIN .\n$TTL 300\n\
@ IN SOA a.root hostmaster.root 1 3600 600 86400 60\n\
example. IN NS ns1.example.\nns1.example. IN A 127.0.0.1\n";

/// Where the resolver harness's root server answers.
pub const ROOT: &str = "127.0.0.2:53";

/// The root zone, parsed once.
fn sample_root_zone() -> &'static Zone {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    ZONE.get_or_init(|| {
        Zone::parse(SAMPLE_ROOT_ZONE, &ZoneOptions::default()).expect("the root zone parses")
    })
}

/// The harness resolver's bounds: small, so the fuzzer reaches them.
pub fn harness_config() -> ResolverConfig {
    let mut config = ResolverConfig::new(vec![ROOT.parse().expect("an address")]);
    config.max_queries = 12;
    config.max_referrals = 4;
    config.max_cname_depth = 3;
    config.max_lookups = 4;
    config.max_cache_bytes = 4096;
    config
}

/// Names the harness looks up: in the sample zone, below its delegation, a CNAME loop, a
/// wildcard, and one outside the hierarchy.
const NAMES: [&str; 6] = [
    "www.example.",
    "x.sub.example.",
    "loop1.example.",
    "a.wild.example.",
    "alias.example.",
    "nope.test.",
];

/// The harness of the fuzz target `resolver`. Each step takes one byte: its low 3 bits pick
/// the event, the rest its argument.
pub fn resolver(data: &[u8]) {
    let config = harness_config();
    let mut r = Resolver::new(config.clone(), StdRng::seed_from_u64(7)).expect("a valid config");
    let mut now = Instant::now();
    let mut started: HashSet<LookupId> = HashSet::new();
    let mut ended: HashSet<LookupId> = HashSet::new();
    let mut waiting: Vec<(SocketAddr, Transport, Vec<u8>)> = Vec::new();
    let mut input = data;
    let mut lookups = 0u64;
    while let Some((&op, rest)) = input.split_first() {
        input = rest;
        match op & 7 {
            0 => {
                let name =
                    Name::from_ascii(NAMES[usize::from(op >> 3) % NAMES.len()]).expect("a name");
                let rtype = [
                    RecordType::A,
                    RecordType::AAAA,
                    RecordType::TXT,
                    RecordType::CNAME,
                ][usize::from(op >> 6)];
                started.insert(r.resolve(name, rtype, now));
                lookups += 1;
            }
            1 => {
                // A response of the next `len` bytes to the oldest query waiting; with bit 3
                // set, headed by its id and question so it reaches the reading.
                let len = usize::from(take(1, &mut input).first().copied().unwrap_or(0)) * 4;
                let body = take(len, &mut input);
                if let Some((to, transport, query)) =
                    (!waiting.is_empty()).then(|| waiting.remove(0))
                {
                    let message = match op & 8 != 0 && body.len() >= 8 {
                        true => respond_to(&query, &body),
                        false => body,
                    };
                    r.handle_response(to, transport, &message, now);
                }
            }
            2 => {
                if let Some(at) = r.poll_timeout() {
                    now = now.max(at);
                }
                r.handle_timeout(now);
            }
            3 => {
                let len = usize::from(op >> 3) * 4;
                let message = take(len, &mut input);
                if let Some(id) = r.query(&message, Transport::Udp, now) {
                    started.insert(id);
                    lookups += 1;
                }
            }
            _ => {
                // The sample hierarchy answers every query waiting.
                for (to, transport, query) in waiting.drain(..) {
                    let zone = if to == ROOT.parse::<SocketAddr>().expect("an address") {
                        sample_root_zone()
                    } else {
                        sample_zone()
                    };
                    if let Some(reply) = zone.answer(&query, transport) {
                        r.handle_response(to, transport, &reply, now);
                    }
                }
            }
        }
        drain(&mut r, &mut waiting, &mut ended, &config);
    }
    // Time runs out: every lookup must end by its lookup_timeout.
    while let Some(at) = r.poll_timeout() {
        assert!(
            at <= now + config.lookup_timeout,
            "a deadline past lookup_timeout"
        );
        now = now.max(at);
        r.handle_timeout(now);
        drain(&mut r, &mut waiting, &mut ended, &config);
    }
    let stats = r.stats();
    assert_eq!(stats.lookups, 0, "every lookup ended");
    assert_eq!(started, ended, "every lookup ended exactly once");
    assert!(
        stats.queries_sent <= lookups * u64::from(config.max_queries),
        "within max_queries"
    );
    assert!(stats.cache_bytes <= config.max_cache_bytes as u64);
}

/// Takes what the resolver has to send and what it resolved, checking each.
fn drain<R: rand::Rng>(
    r: &mut Resolver<R>,
    waiting: &mut Vec<(SocketAddr, Transport, Vec<u8>)>,
    ended: &mut HashSet<LookupId>,
    config: &ResolverConfig,
) {
    while let Some(t) = r.poll_transmit() {
        assert!(t.message.len() <= 512, "a query is one name");
        waiting.push((t.to, t.transport, t.message));
    }
    while let Some(done) = r.poll_resolved() {
        assert!(ended.insert(done.lookup), "a lookup ended twice");
        assert!(done.resolution.answers.len() <= usize::from(u16::MAX));
        if let Some(reply) = done.reply {
            assert!(reply.len() >= 12 && reply.len() <= usize::from(config.max_udp_size));
            assert!(
                hickory_proto::op::Message::from_vec(&reply).is_ok(),
                "a reply decodes"
            );
        }
    }
}

/// The next `n` bytes of `input` (fewer at its end).
fn take(n: usize, input: &mut &[u8]) -> Vec<u8> {
    let (head, rest) = input.split_at(n.min(input.len()));
    *input = rest;
    head.to_vec()
}

/// A response to `query` made of `body`: the query's id, `body`'s two flag bytes (QR set),
/// QDCOUNT 1 and `body`'s three other counts, the query's question, then the rest of `body`
/// as the sections.
fn respond_to(query: &[u8], body: &[u8]) -> Vec<u8> {
    // The question ends where the OPT record the resolver adds (11 bytes) begins.
    let question = &query[HEADER..query.len().saturating_sub(11).max(HEADER)];
    let mut m = Vec::with_capacity(query.len() + body.len());
    m.extend_from_slice(&query[..2]);
    m.extend_from_slice(&[0x80 | body[0], body[1], 0, 1]);
    m.extend_from_slice(&body[2..8]);
    m.extend_from_slice(question);
    m.extend_from_slice(&body[8..]);
    m
}

/// Bytes of a DNS header.
const HEADER: usize = 12;

/// A fuzz harness: one input, which must never panic.
pub type Target = fn(&[u8]);

/// Every fuzz target of this crate and its harness, for the regression replay.
pub fn targets() -> Vec<(&'static str, Target)> {
    vec![
        ("message", message as Target),
        ("tunnel_name", tunnel_name as Target),
        ("resolver", resolver as Target),
    ]
}
