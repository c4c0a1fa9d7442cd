//! A zone loaded from an RFC 1035 §5 master file (as NSD and BIND read it), indexed for
//! authoritative lookups.

use crate::error::ZoneError;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;
use std::collections::{HashMap, HashSet};

/// The EDNS(0) payload size a server advertises and accepts by default: 1232 bytes, the DNS
/// flag day 2020 value, which fits an IPv6 minimum MTU without fragmenting.
pub const DEFAULT_MAX_UDP_SIZE: u16 = 1232;

/// How a zone is read and served.
#[derive(Clone, Debug)]
pub struct ZoneOptions {
    /// The origin when the file has no `$ORIGIN` before its first relative name.
    pub origin: Option<String>,
    /// The largest UDP answer sent to an EDNS client (its advertised size is capped at this);
    /// clients without EDNS get at most 512 bytes. Default [`DEFAULT_MAX_UDP_SIZE`].
    pub max_udp_size: u16,
}

impl Default for ZoneOptions {
    fn default() -> Self {
        Self {
            origin: None,
            max_udp_size: DEFAULT_MAX_UDP_SIZE,
        }
    }
}

/// An authoritative zone: its records by owner name and type, every name that exists (owners
/// and the empty non-terminals between them and the origin), and its SOA.
#[derive(Debug)]
pub struct Zone {
    pub(crate) origin: LowerName,
    pub(crate) records: HashMap<LowerName, HashMap<RecordType, Vec<Record>>>,
    pub(crate) names: HashSet<LowerName>,
    /// Whether any name below the origin has NS records (a delegation); most zones have none,
    /// and then no query needs the walk up its name looking for one.
    pub(crate) has_cuts: bool,
    pub(crate) soa: Record,
    pub(crate) max_udp_size: u16,
}

impl Zone {
    /// Reads a master file. `$INCLUDE` is refused (the zone is one text, not a file tree).
    pub fn parse(text: &str, options: &ZoneOptions) -> Result<Self, ZoneError> {
        if options.max_udp_size < 512 {
            return Err(ZoneError::MaxUdpSize(options.max_udp_size.into()));
        }
        let origin = options
            .origin
            .as_deref()
            .map(|o| Name::from_ascii(o).map_err(|_| ZoneError::Origin(o.to_owned())))
            .transpose()?;
        let (origin, sets) = Parser::new(text, None, origin)
            .parse()
            .map_err(|e| ZoneError::Parse(e.to_string()))?;
        let origin = LowerName::new(&origin);
        let mut records: HashMap<LowerName, HashMap<RecordType, Vec<Record>>> = HashMap::new();
        let mut names = HashSet::new();
        for (key, set) in sets {
            if !origin.zone_of(&key.name) {
                return Err(ZoneError::OutOfZone {
                    name: key.name.to_string(),
                    origin: origin.to_string(),
                });
            }
            let mut name = key.name.clone();
            while names.insert(name.clone()) && name != origin {
                name = name.base_name();
            }
            let rrs = set.records_without_rrsigs().cloned().collect();
            records
                .entry(key.name)
                .or_default()
                .insert(key.record_type, rrs);
        }
        let soa = records
            .get(&origin)
            .and_then(|t| t.get(&RecordType::SOA))
            .and_then(|s| s.first())
            .filter(|r| matches!(r.data, RData::SOA(_)))
            .cloned()
            .ok_or_else(|| ZoneError::NoSoa(origin.to_string()))?;
        let has_cuts = records
            .iter()
            .any(|(name, types)| *name != origin && types.contains_key(&RecordType::NS));
        Ok(Self {
            origin,
            records,
            names,
            has_cuts,
            soa,
            max_udp_size: options.max_udp_size,
        })
    }

    /// The zone's origin, fully qualified (`example.`).
    pub fn origin(&self) -> String {
        self.origin.to_string()
    }

    /// How many records the zone holds.
    pub fn record_count(&self) -> usize {
        self.records
            .values()
            .flat_map(|t| t.values())
            .map(Vec::len)
            .sum()
    }

    /// The records of `name` and `rtype`, if any.
    pub(crate) fn rrset(&self, name: &LowerName, rtype: RecordType) -> Option<&[Record]> {
        self.records.get(name)?.get(&rtype).map(Vec::as_slice)
    }

    /// The SOA record as the authority section of a negative answer carries it: its TTL is the
    /// lesser of its own and its MINIMUM field (RFC 2308 §3).
    pub(crate) fn negative_soa(&self) -> Record {
        let mut soa = self.soa.clone();
        soa.ttl = negative_ttl(&soa).unwrap_or(soa.ttl);
        soa
    }
}

/// How long a negative answer with this SOA holds: the lesser of the record's TTL and its
/// MINIMUM field (RFC 2308 §3, §5). `None` for a record that is not an SOA.
pub(crate) fn negative_ttl(soa: &Record) -> Option<u32> {
    match &soa.data {
        RData::SOA(s) => Some(soa.ttl.min(s.minimum)),
        _ => None,
    }
}
