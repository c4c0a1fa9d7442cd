//! Answering one query message from a [`Zone`]: header checks, the lookup (answer, CNAME
//! chain, wildcard, referral, NODATA, NXDOMAIN), EDNS(0) and the TC bit.

use crate::zone::Zone;
use hickory_proto::op::{Edns, Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use std::collections::HashMap;

/// The transport a query came over, which bounds the answer's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A datagram: 512 bytes, or the client's EDNS size capped at the zone's `max_udp_size`.
    Udp,
    /// A TCP (or other stream) frame: up to 65,535 bytes, the 2-byte length prefix's limit.
    Tcp,
}

/// The smallest UDP size every DNS client accepts (RFC 1035 §4.2.1).
const CLASSIC_UDP_SIZE: u16 = 512;

/// Most CNAME links followed inside the zone for one query (a loop ends here too).
const MAX_CNAME_CHAIN: usize = 8;

/// Bytes of a DNS header.
pub(crate) const HEADER_LEN: usize = 12;

/// The largest UDP answer to a client that advertised `edns` (its EDNS size, none without
/// EDNS): its size capped at `max_udp_size`, and never below 512.
pub(crate) fn udp_limit(edns: Option<u16>, max_udp_size: u16) -> usize {
    usize::from(match edns {
        Some(size) => size.clamp(CLASSIC_UDP_SIZE, max_udp_size.max(CLASSIC_UDP_SIZE)),
        None => CLASSIC_UDP_SIZE,
    })
}

impl Zone {
    /// The answer to one query message, or `None` when it must be dropped: shorter than a
    /// header, or a response (answering those could loop two servers). A message that does
    /// not decode gets a bare FORMERR header; a TC answer replaces one that does not fit.
    pub fn answer(&self, query: &[u8], transport: Transport) -> Option<Vec<u8>> {
        if query.len() < HEADER_LEN || query[2] & 0x80 != 0 {
            return None;
        }
        let Ok(request) = Message::from_vec(query) else {
            return Some(format_error(query));
        };
        let response = self.respond(&request);
        let limit = match transport {
            Transport::Tcp => usize::from(u16::MAX),
            Transport::Udp => udp_limit(
                request.edns.as_ref().map(Edns::max_payload),
                self.max_udp_size,
            ),
        };
        match response.to_vec() {
            Ok(bytes) if bytes.len() <= limit => Some(bytes),
            // Over the limit (or not encodable): the header, question and OPT with TC set,
            // which is always far below 512 bytes (one name of at most 255).
            _ => response.truncate().to_vec().ok(),
        }
    }

    /// The response message for a decoded request.
    fn respond(&self, request: &Message) -> Message {
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.metadata.checking_disabled = request.metadata.checking_disabled;
        response.add_queries(request.queries.iter().cloned());
        if let Some(edns) = &request.edns {
            let mut ours = Edns::new();
            ours.set_max_payload(self.max_udp_size);
            response.set_edns(ours);
            if edns.version() != 0 {
                response.metadata.response_code = ResponseCode::BADVERS;
                return response;
            }
        }
        if request.metadata.op_code != OpCode::Query {
            response.metadata.response_code = ResponseCode::NotImp;
            return response;
        }
        let [query] = request.queries.as_slice() else {
            response.metadata.response_code = ResponseCode::FormErr;
            return response;
        };
        self.lookup(query, &mut response);
        response
    }

    /// Fills `response` with the zone's answer to `query`.
    fn lookup(&self, query: &Query, response: &mut Message) {
        let qname = LowerName::new(&query.name);
        let class_ok = matches!(query.query_class, DNSClass::IN | DNSClass::ANY);
        if !class_ok || !self.origin.zone_of(&qname) || is_meta_type(query.query_type) {
            response.metadata.response_code = ResponseCode::Refused;
            return;
        }
        if let Some(cut) = self.delegation(&qname) {
            self.refer(&cut, response);
            return;
        }
        response.metadata.authoritative = true;
        let mut name = qname;
        let mut owner = query.name.clone();
        for _ in 0..MAX_CNAME_CHAIN {
            let Some(source) = self.records.get(&name).or_else(|| self.wildcard(&name)) else {
                if self.names.contains(&name) {
                    response.add_authority(self.negative_soa());
                } else if self.origin.zone_of(&name) {
                    // NXDOMAIN only for the name asked; after a CNAME the answer stays
                    // NOERROR with the chain (RFC 6604).
                    if response.answers.is_empty() {
                        response.metadata.response_code = ResponseCode::NXDomain;
                    }
                    response.add_authority(self.negative_soa());
                }
                return;
            };
            let wanted: Vec<&Record> = if query.query_type == RecordType::ANY {
                source.values().flatten().collect()
            } else {
                source
                    .get(&query.query_type)
                    .into_iter()
                    .flatten()
                    .collect()
            };
            if !wanted.is_empty() {
                for r in wanted {
                    response.add_answer(owned(r, &owner));
                }
                self.add_glue(response);
                return;
            }
            let Some(cname) = source.get(&RecordType::CNAME).and_then(|s| s.first()) else {
                response.add_authority(self.negative_soa());
                return;
            };
            response.add_answer(owned(cname, &owner));
            let RData::CNAME(target) = &cname.data else {
                return;
            };
            owner = target.0.clone();
            name = LowerName::new(&target.0);
            if !self.origin.zone_of(&name) || self.delegation(&name).is_some() {
                return;
            }
        }
    }

    /// The delegation point (a name below the origin with NS records) at or above `name`.
    fn delegation(&self, name: &LowerName) -> Option<LowerName> {
        if !self.has_cuts {
            return None;
        }
        let mut cut = None;
        let mut n = name.clone();
        while n != self.origin && !n.is_root() {
            if self.rrset(&n, RecordType::NS).is_some() {
                cut = Some(n.clone());
            }
            n = n.base_name();
        }
        cut
    }

    /// A referral to the child zone at `cut`: its NS records and their glue, not authoritative.
    fn refer(&self, cut: &LowerName, response: &mut Message) {
        for ns in self.rrset(cut, RecordType::NS).unwrap_or_default() {
            response.add_authority(ns.clone());
        }
        self.add_glue(response);
    }

    /// The `*` records of the closest existing ancestor of a name that does not exist.
    fn wildcard(&self, name: &LowerName) -> Option<&HashMap<RecordType, Vec<Record>>> {
        if self.names.contains(name) {
            return None;
        }
        let mut encloser = name.base_name();
        while !self.names.contains(&encloser) {
            if encloser.is_root() {
                return None;
            }
            encloser = encloser.base_name();
        }
        let star = LowerName::new(&Name::from(encloser).prepend_label("*").ok()?);
        self.records.get(&star)
    }

    /// A and AAAA records in the zone for the names that NS and MX records point at.
    fn add_glue(&self, response: &mut Message) {
        let targets: Vec<LowerName> = response
            .answers
            .iter()
            .chain(&response.authorities)
            .filter_map(|r| match &r.data {
                RData::NS(ns) => Some(LowerName::new(&ns.0)),
                RData::MX(mx) => Some(LowerName::new(&mx.exchange)),
                _ => None,
            })
            .collect();
        for target in targets {
            for rtype in [RecordType::A, RecordType::AAAA] {
                for r in self.rrset(&target, rtype).unwrap_or_default() {
                    if !response.additionals.contains(r) {
                        response.add_additional(r.clone());
                    }
                }
            }
        }
    }
}

/// A zone record with the owner name the client asked for (a wildcard's or a CNAME chain's).
fn owned(record: &Record, owner: &Name) -> Record {
    let mut r = record.clone();
    r.name = owner.clone();
    r
}

/// Query types not answered from a zone's records: zone transfers (AXFR, IXFR) and OPT.
fn is_meta_type(t: RecordType) -> bool {
    matches!(t, RecordType::AXFR | RecordType::IXFR | RecordType::OPT)
}

/// A FORMERR header for a query whose body did not decode: its id, opcode and RD echoed, no
/// sections (RFC 1035 allows omitting the question of a message that could not be read).
fn format_error(query: &[u8]) -> Vec<u8> {
    let mut header = vec![0; HEADER_LEN];
    header[..2].copy_from_slice(&query[..2]);
    header[2] = 0x80 | (query[2] & 0x79);
    header[3] = ResponseCode::FormErr.low();
    header
}
