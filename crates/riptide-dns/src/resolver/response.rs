//! Reading an upstream server's response to one question: an answer (after any CNAMEs), a
//! negative answer, a referral to a zone below, or a lame response. Only records inside the
//! bailiwick of the server asked (the zone cut it serves) are read at all; glue outside it is
//! ignored, and a referral must lead strictly down towards the name asked.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// The most NS names read from one referral, and the most addresses taken from its glue:
/// bounds what a referral can make the resolver hold and try.
pub(crate) const MAX_REFERRAL_SERVERS: usize = 16;

/// How a question ended, at one server or in the cache.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum End {
    /// The record set asked for.
    Records(Vec<Record>),
    /// The CNAME chain leads to this name, whose records must be looked up afresh.
    Follow(Name),
    /// No such name (`nxdomain`) or no such type, with the zone's SOA when one came.
    Negative { nxdomain: bool, soa: Option<Record> },
}

/// The CNAME records followed from the name asked, then how it ended.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Outcome {
    pub chain: Vec<Record>,
    pub end: End,
}

/// What a server's response says about a question.
#[derive(Debug, PartialEq)]
pub(crate) enum Reading {
    /// An answer, an alias to follow, or a negative answer.
    Answered(Outcome),
    /// Ask the servers of zone `cut` (below the one asked): their NS records, and the glue
    /// addresses from inside the asked server's bailiwick.
    Referral {
        cut: Name,
        ns: Vec<Record>,
        glue: Vec<Record>,
    },
    /// Nothing usable: an error code, an upward or sideways referral, a non-authoritative
    /// empty answer. Ask another server.
    Lame,
}

/// Reads `response` to the question `name`/`rtype` from a server of zone `cut`, following
/// at most `max_chain` CNAME links inside it.
pub(crate) fn read(
    response: &Message,
    name: &Name,
    rtype: RecordType,
    cut: &Name,
    max_chain: usize,
) -> Reading {
    let rcode = response.metadata.response_code;
    if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
        return Reading::Lame;
    }
    let ours = |r: &&Record| r.dns_class == DNSClass::IN && cut.zone_of(&r.name);
    let answers: Vec<&Record> = response.answers.iter().filter(ours).collect();
    let mut chain = Vec::new();
    let mut current = name.clone();
    loop {
        let set: Vec<Record> = answers
            .iter()
            .filter(|r| r.name == current && r.record_type() == rtype)
            .map(|r| (*r).clone())
            .collect();
        if !set.is_empty() {
            return Reading::Answered(Outcome {
                chain,
                end: End::Records(set),
            });
        }
        let alias = answers.iter().find(|r| {
            r.name == current && rtype != RecordType::CNAME && r.record_type() == RecordType::CNAME
        });
        let Some(RData::CNAME(target)) = alias.map(|r| &r.data) else {
            break;
        };
        current = target.0.clone();
        chain.extend(alias.map(|r| (*r).clone()));
        if chain.len() > max_chain {
            // Longer than the lookup may follow (a loop ends here too): the caller gives up.
            return Reading::Answered(Outcome {
                chain,
                end: End::Follow(current),
            });
        }
    }
    let authoritative = response.metadata.authoritative;
    let soa = response
        .authorities
        .iter()
        .filter(ours)
        .find(|r| matches!(r.data, RData::SOA(_)) && r.name.zone_of(&current))
        .cloned();
    if rcode == ResponseCode::NXDomain {
        return match authoritative {
            true => Reading::Answered(Outcome {
                chain,
                end: End::Negative {
                    nxdomain: true,
                    soa,
                },
            }),
            false => Reading::Lame,
        };
    }
    if !chain.is_empty() {
        let end = match (authoritative, soa) {
            (true, Some(soa)) => End::Negative {
                nxdomain: false,
                soa: Some(soa),
            },
            _ => End::Follow(current),
        };
        return Reading::Answered(Outcome { chain, end });
    }
    if let Some(reading) = referral(response, name, cut) {
        return reading;
    }
    match authoritative {
        true => Reading::Answered(Outcome {
            chain,
            end: End::Negative {
                nxdomain: false,
                soa,
            },
        }),
        false => Reading::Lame,
    }
}

/// The referral in `response`, if its authority section delegates a zone strictly below
/// `cut` that holds `name`.
fn referral(response: &Message, name: &Name, cut: &Name) -> Option<Reading> {
    let below = |owner: &Name| cut.zone_of(owner) && owner != cut && owner.zone_of(name);
    let child = response
        .authorities
        .iter()
        .find(|r| r.dns_class == DNSClass::IN && matches!(r.data, RData::NS(_)) && below(&r.name))?
        .name
        .clone();
    let ns: Vec<Record> = response
        .authorities
        .iter()
        .filter(|r| r.name == child && matches!(r.data, RData::NS(_)))
        .take(MAX_REFERRAL_SERVERS)
        .cloned()
        .collect();
    let glue: Vec<Record> = response
        .additionals
        .iter()
        .filter(|r| {
            r.dns_class == DNSClass::IN
                && matches!(r.data, RData::A(_) | RData::AAAA(_))
                && cut.zone_of(&r.name)
                && ns
                    .iter()
                    .any(|n| matches!(&n.data, RData::NS(t) if t.0 == r.name))
        })
        .take(MAX_REFERRAL_SERVERS)
        .cloned()
        .collect();
    Some(Reading::Referral {
        cut: child,
        ns,
        glue,
    })
}
