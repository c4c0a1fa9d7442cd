//! The resolver's cache: record sets by name and type, and negative answers (RFC 2308), each
//! until its TTL runs out, in an LRU map bounded by the bytes its entries cost.

use hickory_proto::rr::{LowerName, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use lru::LruCache;
use std::time::{Duration, Instant};

/// What an entry costs beyond its records: the key and the entry in the map's node, plus the
/// node's two links and its hash slot.
const ENTRY_OVERHEAD: usize = size_of::<Key>() + size_of::<Entry>() + 64;

/// What each record costs beyond its wire bytes: the decoded record itself (272 bytes with
/// hickory-proto 0.26). The wire bytes stand for what its name and rdata may own on the heap.
const RECORD_OVERHEAD: usize = size_of::<Record>();

/// How far a cached record set may be trusted (RFC 2181 §5.4.1, in two ranks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rank {
    /// NS records and glue from a referral: only used to find servers, never given to clients.
    Delegation,
    /// An authoritative server's answer: given to clients.
    Answer,
}

/// An entry's key: a name and type, or a name with no type for "the name does not exist".
type Key = (LowerName, Option<RecordType>);

/// What the cache holds for a key.
#[derive(Clone, Debug)]
pub(crate) enum Cached {
    /// A record set.
    Records(Vec<Record>, Rank),
    /// A negative answer (NXDOMAIN under a key with no type, NODATA otherwise) and its SOA.
    Negative(Box<Record>),
}

struct Entry {
    value: Cached,
    expires: Instant,
    cost: usize,
}

/// Cached answers with their expiry, evicted least recently used first once their cost
/// passes `max_bytes`.
pub(crate) struct Cache {
    map: LruCache<Key, Entry>,
    bytes: usize,
    max_bytes: usize,
}

impl Cache {
    /// An empty cache that holds at most `max_bytes` (0: nothing is cached).
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            map: LruCache::unbounded(),
            bytes: 0,
            max_bytes,
        }
    }

    /// Entries held (expired ones included until they are looked at or evicted).
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// What the entries held cost, in bytes; never above `max_bytes`.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The unexpired entry under `key`, with every record's TTL set to the seconds left.
    /// An expired one is removed.
    pub(crate) fn get(&mut self, key: &Key, now: Instant) -> Option<Cached> {
        let entry = self.map.get(key)?;
        if entry.expires <= now {
            self.remove(key);
            return None;
        }
        let left = u32::try_from(entry.expires.duration_since(now).as_secs()).unwrap_or(u32::MAX);
        let mut value = entry.value.clone();
        match &mut value {
            Cached::Records(records, _) => records.iter_mut().for_each(|r| r.ttl = left),
            Cached::Negative(soa) => soa.ttl = left,
        }
        Some(value)
    }

    /// The unexpired record set of `name` and `rtype` of at least `rank`.
    pub(crate) fn records(
        &mut self,
        name: &LowerName,
        rtype: RecordType,
        rank: Rank,
        now: Instant,
    ) -> Option<Vec<Record>> {
        match self.get(&(name.clone(), Some(rtype)), now)? {
            Cached::Records(records, r) if r >= rank => Some(records),
            _ => None,
        }
    }

    /// Caches `value` under `key` for `ttl` seconds. A TTL of 0, an entry that would take
    /// more than a quarter of the cache, and a delegation that would replace an unexpired
    /// answer are not cached. An answer for a name clears a cached NXDOMAIN of that name.
    pub(crate) fn insert(&mut self, key: Key, value: Cached, ttl: u32, now: Instant) {
        if ttl == 0 || self.max_bytes == 0 {
            return;
        }
        if let (Cached::Records(_, Rank::Delegation), Some(old)) = (&value, self.map.peek(&key)) {
            if matches!(old.value, Cached::Records(_, Rank::Answer)) && old.expires > now {
                return;
            }
        }
        let cost = cost(&key, &value);
        if cost > self.max_bytes / 4 {
            return;
        }
        if matches!(value, Cached::Records(_, Rank::Answer)) {
            self.remove(&(key.0.clone(), None));
        }
        self.remove(&key);
        let expires = now + Duration::from_secs(ttl.into());
        self.map.push(
            key,
            Entry {
                value,
                expires,
                cost,
            },
        );
        self.bytes += cost;
        while self.bytes > self.max_bytes {
            match self.map.pop_lru() {
                Some((_, old)) => self.bytes -= old.cost,
                None => break,
            }
        }
    }

    fn remove(&mut self, key: &Key) {
        if let Some(old) = self.map.pop(key) {
            self.bytes -= old.cost;
        }
    }
}

/// What an entry costs: its records in wire format (no compression) and in memory, plus the
/// entry's overhead. A record that cannot be encoded counts as the largest message.
fn cost(key: &Key, value: &Cached) -> usize {
    let records: &[Record] = match value {
        Cached::Records(records, _) => records,
        Cached::Negative(soa) => std::slice::from_ref(&**soa),
    };
    let wire: usize = records
        .iter()
        .map(|r| r.to_bytes().map_or(usize::from(u16::MAX), |b| b.len()) + RECORD_OVERHEAD)
        .sum();
    ENTRY_OVERHEAD + key.0.len() + wire
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, RData};

    fn a(name: &str, ttl: u32) -> Record {
        Record::from_rdata(
            Name::from_ascii(name).unwrap(),
            ttl,
            RData::A(A::new(192, 0, 2, 1)),
        )
    }

    fn key(name: &str) -> Key {
        (
            LowerName::new(&Name::from_ascii(name).unwrap()),
            Some(RecordType::A),
        )
    }

    #[test]
    fn entries_expire_and_report_the_ttl_left() {
        let now = Instant::now();
        let mut c = Cache::new(1 << 20);
        c.insert(
            key("a.test."),
            Cached::Records(vec![a("a.test.", 60)], Rank::Answer),
            60,
            now,
        );
        let Some(Cached::Records(r, _)) = c.get(&key("a.test."), now + Duration::from_secs(45))
        else {
            panic!("cached")
        };
        assert_eq!(r[0].ttl, 15);
        assert!(c
            .get(&key("a.test."), now + Duration::from_secs(60))
            .is_none());
        assert_eq!(
            (c.len(), c.bytes()),
            (0, 0),
            "an expired entry is removed when seen"
        );
    }

    #[test]
    fn the_byte_bound_evicts_the_least_recently_used() {
        let now = Instant::now();
        let one = cost(
            &key("n0000.test."),
            &Cached::Records(vec![a("n0000.test.", 60)], Rank::Answer),
        );
        let mut c = Cache::new(one * 10);
        for i in 0..10 {
            let n = format!("n{i:04}.test.");
            c.insert(
                key(&n),
                Cached::Records(vec![a(&n, 60)], Rank::Answer),
                60,
                now,
            );
        }
        assert_eq!(c.len(), 10);
        // Touch n0000, then add one more: n0001 (now the least recently used) goes.
        assert!(c.get(&key("n0000.test."), now).is_some());
        c.insert(
            key("n0010.test."),
            Cached::Records(vec![a("n0010.test.", 60)], Rank::Answer),
            60,
            now,
        );
        assert!(c.bytes() <= one * 10);
        assert!(c.get(&key("n0000.test."), now).is_some());
        assert!(c.get(&key("n0001.test."), now).is_none());
    }

    #[test]
    fn delegations_do_not_replace_answers_and_ttl_zero_is_not_cached() {
        let now = Instant::now();
        let mut c = Cache::new(1 << 20);
        let k = key("a.test.");
        c.insert(
            k.clone(),
            Cached::Records(vec![a("a.test.", 0)], Rank::Answer),
            0,
            now,
        );
        assert!(c.get(&k, now).is_none());
        c.insert(
            k.clone(),
            Cached::Records(vec![a("a.test.", 60)], Rank::Answer),
            60,
            now,
        );
        let mut glue = a("a.test.", 60);
        glue.data = RData::A(A::new(198, 51, 100, 7));
        c.insert(
            k.clone(),
            Cached::Records(vec![glue], Rank::Delegation),
            60,
            now,
        );
        let name = k.0.clone();
        assert_eq!(
            c.records(&name, RecordType::A, Rank::Answer, now).unwrap()[0].data,
            RData::A(A::new(192, 0, 2, 1))
        );
    }

    #[test]
    fn a_disabled_cache_holds_nothing() {
        let now = Instant::now();
        let mut c = Cache::new(0);
        c.insert(
            key("a.test."),
            Cached::Records(vec![a("a.test.", 60)], Rank::Answer),
            60,
            now,
        );
        assert_eq!(c.len(), 0);
    }
}
