//! Answering one query message from a [`Zone`]: header checks, the lookup (answer, CNAME
//! chain, wildcard, referral, NODATA, NXDOMAIN), EDNS(0) and the TC bit.

use crate::request::{encode_reply, is_meta_type, read_query, start_response, Start, Transport};
use crate::zone::Zone;
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use std::collections::HashMap;

/// Most CNAME links followed inside the zone for one query (a loop ends here too).
const MAX_CNAME_CHAIN: usize = 8;

impl Zone {
    /// The answer to one query message, or `None` when it must be dropped: shorter than a
    /// header, or a response (answering those could loop two servers). A message that does
    /// not decode gets a bare FORMERR header; a TC answer replaces one that does not fit.
    pub fn answer(&self, query: &[u8], transport: Transport) -> Option<Vec<u8>> {
        let request = match read_query(query) {
            Ok(request) => request,
            Err(reply) => return reply,
        };
        let response = match start_response(&request, self.max_udp_size) {
            Start::Lookup {
                mut response,
                question,
            } => {
                self.lookup(&question, &mut response);
                response
            }
            Start::Done(response) => response,
        };
        encode_reply(
            &response,
            request.edns.as_ref(),
            transport,
            self.max_udp_size,
        )
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
