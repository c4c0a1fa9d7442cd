//! A sans-IO iterative resolver: from root hints it follows referrals (NS and in-bailiwick
//! glue, glueless servers looked up by name) and CNAME chains to an answer, caching answers
//! by TTL and negative answers by the SOA (RFC 2308) in a byte-bounded LRU cache. No sockets
//! and no clock: the caller feeds it client queries, upstream responses and the time, and
//! sends what [`Resolver::poll_transmit`] returns, like quinn-proto.
//!
//! Every lookup is bounded: queries sent (retries and NS lookups included), referrals, CNAME
//! links, NS-lookup nesting and total time each end it with SERVFAIL. Responses count only
//! when they come from the server asked, over the transport used, with the query's random id
//! and its exact question; anything else is ignored and the lookup keeps waiting.

mod cache;
mod config;
mod lookup;
mod response;

pub use config::{ResolverConfig, MAX_ROOTS};

use crate::error::ResolverError;
use crate::request::{
    encode_reply, is_meta_type, read_query, start_response, Start, Transport, HEADER_LEN,
};
use crate::zone::negative_ttl;
use cache::{Cache, Cached, Rank};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use lookup::{addresses, Client, Lookup, Sent, Task};
use rand::Rng;
use response::{read, End, Outcome, Reading, MAX_REFERRAL_SERVERS};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

/// Identifies one lookup from its start to its [`Resolved`] event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub u64);

/// A query to send upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The server.
    pub to: SocketAddr,
    /// UDP, or TCP after a truncated UDP answer (frame it with the 2-byte length prefix).
    pub transport: Transport,
    /// The query message.
    pub message: Vec<u8>,
}

/// How a lookup ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolution {
    /// NOERROR (with records, or none: NODATA), NXDOMAIN, SERVFAIL (a bound was reached or
    /// no server answered), or REFUSED / FORMERR / NOTIMP / BADVERS for a client query that
    /// was not resolved.
    pub response_code: ResponseCode,
    /// The CNAME chain followed, then the records asked for.
    pub answers: Vec<Record>,
    /// The zone's SOA for a negative answer.
    pub authorities: Vec<Record>,
}

impl Resolution {
    fn error(response_code: ResponseCode) -> Self {
        Self {
            response_code,
            answers: Vec::new(),
            authorities: Vec::new(),
        }
    }
}

/// A finished lookup.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// The id [`Resolver::query`] or [`Resolver::resolve`] returned.
    pub lookup: LookupId,
    /// How it ended.
    pub resolution: Resolution,
    /// For a lookup started by [`Resolver::query`]: the reply to send the client, sized for
    /// its transport (TC set when it does not fit). `None` for [`Resolver::resolve`].
    pub reply: Option<Vec<u8>>,
}

/// Counters since the resolver was made, and what it holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResolverStats {
    /// Lookups answered from the cache alone, without a query.
    pub cache_hits: u64,
    /// Lookups that sent at least one query.
    pub cache_misses: u64,
    /// Queries sent upstream (retries and TCP included).
    pub queries_sent: u64,
    /// Of those, over TCP (after a truncated UDP answer).
    pub tcp_queries: u64,
    /// Queries that got no answer in time.
    pub timeouts: u64,
    /// Responses ignored: no query waiting with that id from that address, another
    /// transport, not decodable, or not an answer to the question asked.
    pub ignored_responses: u64,
    /// Responses that answered nothing usable (an error code, a referral that does not lead
    /// down, a non-authoritative empty answer): the next server was asked.
    pub lame_responses: u64,
    /// Lookups that ended in SERVFAIL.
    pub servfails: u64,
    /// Lookups in flight now.
    pub lookups: u64,
    /// Cache entries now (record sets and negative answers).
    pub cache_entries: u64,
    /// Bytes the cache entries cost now (never above `max_cache_bytes`).
    pub cache_bytes: u64,
}

/// Random tries for a query id not already waiting on the same server; with every id taken
/// (65,536 lookups asking one server at once) the lookup fails rather than spin.
const ID_TRIES: usize = 16;

/// The iterative resolver. `R` draws query ids and server order (a seeded RNG in tests, an
/// OS-seeded one in service).
pub struct Resolver<R> {
    config: ResolverConfig,
    rng: R,
    cache: Cache,
    lookups: HashMap<LookupId, Lookup>,
    /// Queries waiting, by id and server.
    outstanding: HashMap<(u16, SocketAddr), LookupId>,
    /// Each waiting lookup's deadline.
    timers: BTreeSet<(Instant, LookupId)>,
    transmits: VecDeque<Transmit>,
    resolved: VecDeque<Resolved>,
    next_lookup: u64,
    stats: ResolverStats,
}

impl<R: Rng> Resolver<R> {
    /// A resolver with an empty cache; fails for a config outside its ranges.
    pub fn new(config: ResolverConfig, rng: R) -> Result<Self, ResolverError> {
        config.check()?;
        Ok(Self {
            cache: Cache::new(config.max_cache_bytes),
            config,
            rng,
            lookups: HashMap::new(),
            outstanding: HashMap::new(),
            timers: BTreeSet::new(),
            transmits: VecDeque::new(),
            resolved: VecDeque::new(),
            next_lookup: 0,
            stats: ResolverStats::default(),
        })
    }

    /// Takes a client's query message (a UDP datagram, or a TCP frame without its length
    /// prefix). `None`: drop it (shorter than a header, or a response). Otherwise its lookup
    /// id, whose [`Resolved`] carries the reply: at once (from [`Resolver::poll_resolved`])
    /// for a cache hit, a message that does not decode (FORMERR), a query without RD, of a
    /// class other than IN, for ANY, AXFR, IXFR or OPT (REFUSED), or beyond `max_lookups`
    /// (SERVFAIL); later for the rest.
    pub fn query(
        &mut self,
        message: &[u8],
        transport: Transport,
        now: Instant,
    ) -> Option<LookupId> {
        let max = self.config.max_udp_size;
        let request = match read_query(message) {
            Ok(request) => request,
            Err(None) => return None,
            Err(Some(formerr)) => {
                let id = self.next_id();
                self.resolved.push_back(Resolved {
                    lookup: id,
                    resolution: Resolution::error(ResponseCode::FormErr),
                    reply: Some(formerr),
                });
                return Some(id);
            }
        };
        let (mut response, question) = match start_response(&request, max) {
            Start::Lookup { response, question } => (response, question),
            Start::Done(response) => {
                let id = self.next_id();
                let code = response.metadata.response_code;
                let client = Client {
                    response,
                    edns: request.edns.clone(),
                    transport,
                };
                self.deliver(id, Some(client), Resolution::error(code));
                return Some(id);
            }
        };
        response.metadata.recursion_available = true;
        let client = Client {
            response,
            edns: request.edns.clone(),
            transport,
        };
        let qtype = question.query_type;
        if !request.metadata.recursion_desired
            || question.query_class != DNSClass::IN
            || is_meta_type(qtype)
            || qtype == RecordType::ANY
        {
            let id = self.next_id();
            self.deliver(id, Some(client), Resolution::error(ResponseCode::Refused));
            return Some(id);
        }
        Some(self.start(question.name, qtype, Some(client), now))
    }

    /// Starts looking up `rtype` records of `name` (class IN); its [`Resolved`] comes from
    /// [`Resolver::poll_resolved`], at once when the cache answers.
    pub fn resolve(&mut self, name: Name, rtype: RecordType, now: Instant) -> LookupId {
        self.start(name, rtype, None, now)
    }

    /// Takes a response from `from` over `transport` (a UDP datagram, or a TCP frame without
    /// its length prefix). One that does not answer a query waiting on `from` is ignored.
    pub fn handle_response(
        &mut self,
        from: SocketAddr,
        transport: Transport,
        message: &[u8],
        now: Instant,
    ) {
        let Some(id) = message
            .get(..HEADER_LEN)
            .and_then(|h| {
                self.outstanding
                    .get(&(u16::from_be_bytes([h[0], h[1]]), from))
            })
            .copied()
        else {
            self.stats.ignored_responses += 1;
            return;
        };
        let Some(mut lk) = self.lookups.remove(&id) else {
            self.stats.ignored_responses += 1;
            return;
        };
        let response = Message::from_vec(message).ok().filter(|m| {
            let same = lk.sent.as_ref().is_some_and(|s| s.transport == transport);
            let task = lk.task();
            same && answers(m, &task.name, task.rtype)
        });
        let Some(response) = response else {
            self.stats.ignored_responses += 1;
            self.lookups.insert(id, lk);
            return;
        };
        self.forget(id, &mut lk);
        if response.metadata.truncation && transport == Transport::Udp {
            return self.send_or_fail(id, lk, from, Transport::Tcp, 1, now);
        }
        let remaining = usize::from(self.config.max_cname_depth).saturating_sub(lk.chain.len());
        let task = lk.task();
        let reading = match response.metadata.truncation {
            // Truncated even over TCP: nothing whole to read.
            true => Reading::Lame,
            false => read(&response, &task.name, task.rtype, &task.cut, remaining),
        };
        match reading {
            Reading::Lame => {
                self.stats.lame_responses += 1;
                self.next_server(id, lk, now);
            }
            Reading::Referral { cut, ns, glue } => {
                lk.referrals += 1;
                if lk.referrals > self.config.max_referrals {
                    return self.fail(id, lk);
                }
                self.remember_referral(&cut, &ns, &glue, now);
                let (servers, glueless) = self.servers_of(&cut, &ns, &glue, now);
                if servers.is_empty() && glueless.is_empty() {
                    self.stats.lame_responses += 1;
                    return self.next_server(id, lk, now);
                }
                let task = lk.task();
                task.cut = cut;
                task.servers = servers;
                task.glueless = glueless;
                self.advance(id, lk, None, now);
            }
            Reading::Answered(mut outcome) => {
                let task = lk.task();
                let (name, rtype) = (task.name.clone(), task.rtype);
                self.remember(&name, rtype, &mut outcome, now);
                self.advance(id, lk, Some(outcome), now);
            }
        }
    }

    /// Runs what is due at `now`: queries not answered in time are sent again or passed to
    /// the next server, and lookups past `lookup_timeout` end in SERVFAIL.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(mut lk) = self.lookups.remove(&id) else {
                continue;
            };
            let Some(sent) = lk.sent.take() else {
                self.lookups.insert(id, lk);
                continue;
            };
            self.outstanding.remove(&(sent.id, sent.to));
            self.stats.timeouts += 1;
            if now >= lk.deadline {
                self.fail(id, lk);
            } else if sent.attempt < self.config.attempts {
                self.send_or_fail(id, lk, sent.to, sent.transport, sent.attempt + 1, now);
            } else {
                self.next_server(id, lk, now);
            }
        }
    }

    /// The next query to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next finished lookup, if any.
    pub fn poll_resolved(&mut self) -> Option<Resolved> {
        self.resolved.pop_front()
    }

    /// When [`Resolver::handle_timeout`] must next run; `None` while no lookup waits.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|&(at, _)| at)
    }

    /// Counters, lookups in flight and the cache's size.
    pub fn stats(&self) -> ResolverStats {
        ResolverStats {
            lookups: self.lookups.len() as u64,
            cache_entries: self.cache.len() as u64,
            cache_bytes: self.cache.bytes() as u64,
            ..self.stats
        }
    }

    fn next_id(&mut self) -> LookupId {
        self.next_lookup += 1;
        LookupId(self.next_lookup)
    }

    /// Starts a lookup: from the cache, or by its first query.
    fn start(
        &mut self,
        name: Name,
        rtype: RecordType,
        client: Option<Client>,
        now: Instant,
    ) -> LookupId {
        let id = self.next_id();
        if self.lookups.len() >= self.config.max_lookups {
            self.stats.servfails += 1;
            self.deliver(id, client, Resolution::error(ResponseCode::ServFail));
            return id;
        }
        let mut lk = Lookup::new(client, rtype, now + self.config.lookup_timeout);
        let cached = self.begin(&mut lk, name, rtype, now);
        self.advance(id, lk, cached, now);
        // Finishing at once means no query was sent: the cache answered.
        match self.lookups.contains_key(&id) {
            true => self.stats.cache_misses += 1,
            false => self.stats.cache_hits += 1,
        }
        id
    }

    /// Pushes a task for `name`/`rtype`: its outcome when the cache has one (the client's
    /// question by answers, CNAMEs and negative answers; a server's name by any address),
    /// else the servers of the closest zone cut the cache knows.
    fn begin(
        &mut self,
        lk: &mut Lookup,
        name: Name,
        rtype: RecordType,
        now: Instant,
    ) -> Option<Outcome> {
        let cached = match lk.tasks.is_empty() {
            true => self.cached(
                &name,
                rtype,
                usize::from(self.config.max_cname_depth).saturating_sub(lk.chain.len()),
                now,
            ),
            false => self
                .cache
                .records(&LowerName::new(&name), rtype, Rank::Delegation, now)
                .map(|records| Outcome {
                    chain: Vec::new(),
                    end: End::Records(records),
                }),
        };
        let (cut, servers, glueless) = match cached {
            Some(_) => (Name::root(), VecDeque::new(), Vec::new()),
            None => self.closest_cut(&name, now),
        };
        lk.tasks.push(Task {
            name,
            rtype,
            cut,
            servers,
            glueless,
        });
        cached
    }

    /// What the cache says of `name`/`rtype`, following cached CNAMEs (at most `max_chain`).
    fn cached(
        &mut self,
        name: &Name,
        rtype: RecordType,
        max_chain: usize,
        now: Instant,
    ) -> Option<Outcome> {
        let mut chain = Vec::new();
        let mut current = name.clone();
        loop {
            let lower = LowerName::new(&current);
            if let Some(Cached::Negative(soa)) = self.cache.get(&(lower.clone(), None), now) {
                return Some(Outcome {
                    chain,
                    end: End::Negative {
                        nxdomain: true,
                        soa: Some(*soa),
                    },
                });
            }
            match self.cache.get(&(lower.clone(), Some(rtype)), now) {
                Some(Cached::Records(records, Rank::Answer)) => {
                    return Some(Outcome {
                        chain,
                        end: End::Records(records),
                    })
                }
                Some(Cached::Negative(soa)) => {
                    return Some(Outcome {
                        chain,
                        end: End::Negative {
                            nxdomain: false,
                            soa: Some(*soa),
                        },
                    })
                }
                _ => {}
            }
            let alias = match rtype {
                RecordType::CNAME => None,
                _ => self
                    .cache
                    .records(&lower, RecordType::CNAME, Rank::Answer, now)
                    .and_then(|mut r| r.pop()),
            };
            let Some(RData::CNAME(target)) = alias.as_ref().map(|r| &r.data) else {
                break;
            };
            current = target.0.clone();
            chain.extend(alias);
            if chain.len() > max_chain {
                break;
            }
        }
        match chain.is_empty() {
            true => None,
            false => Some(Outcome {
                chain,
                end: End::Follow(current),
            }),
        }
    }

    /// The closest ancestor of `name` whose servers the cache can reach, else the root hints.
    fn closest_cut(
        &mut self,
        name: &Name,
        now: Instant,
    ) -> (Name, VecDeque<SocketAddr>, Vec<Name>) {
        let mut cut = name.clone();
        while !cut.is_root() {
            if let Some(ns) =
                self.cache
                    .records(&LowerName::new(&cut), RecordType::NS, Rank::Delegation, now)
            {
                let (servers, glueless) = self.servers_of(&cut, &ns, &[], now);
                if !servers.is_empty() {
                    return (cut, servers, glueless);
                }
            }
            cut = cut.base_name();
        }
        let mut roots: VecDeque<SocketAddr> = self.config.roots.iter().copied().collect();
        self.shuffle(&mut roots);
        (Name::root(), roots, Vec::new())
    }

    /// The servers of zone `cut` named by `ns`: addresses from `glue` or the cache (at most
    /// [`MAX_REFERRAL_SERVERS`], in a random rotation), and the names with no address that
    /// can be looked up (those outside `cut`: one inside would need `cut`'s own servers).
    fn servers_of(
        &mut self,
        cut: &Name,
        ns: &[Record],
        glue: &[Record],
        now: Instant,
    ) -> (VecDeque<SocketAddr>, Vec<Name>) {
        let port = self.config.port;
        let mut servers = VecDeque::new();
        let mut glueless = Vec::new();
        for target in ns.iter().filter_map(|r| match &r.data {
            RData::NS(t) => Some(&t.0),
            _ => None,
        }) {
            let mut found: Vec<SocketAddr> =
                addresses(glue.iter().filter(|g| g.name == *target), port).collect();
            if found.is_empty() {
                let lower = LowerName::new(target);
                for rtype in [RecordType::A, RecordType::AAAA] {
                    let cached = self
                        .cache
                        .records(&lower, rtype, Rank::Delegation, now)
                        .unwrap_or_default();
                    found.extend(addresses(&cached, port));
                }
            }
            if found.is_empty() && !cut.zone_of(target) && glueless.len() < MAX_REFERRAL_SERVERS {
                glueless.push(target.clone());
            }
            for addr in found {
                if servers.len() < MAX_REFERRAL_SERVERS && !servers.contains(&addr) {
                    servers.push_back(addr);
                }
            }
        }
        self.shuffle(&mut servers);
        (servers, glueless)
    }

    /// Rotates `servers` by a random offset, so lookups spread over a zone's servers.
    fn shuffle(&mut self, servers: &mut VecDeque<SocketAddr>) {
        if servers.len() > 1 {
            let by = self.rng.next_u32() as usize % servers.len();
            servers.rotate_left(by);
        }
    }

    /// Drives a lookup until it sends a query (then it waits in `lookups`) or ends.
    fn advance(
        &mut self,
        id: LookupId,
        mut lk: Lookup,
        mut outcome: Option<Outcome>,
        now: Instant,
    ) {
        loop {
            if let Some(done) = outcome.take() {
                if lk.tasks.len() > 1 {
                    // A server's name looked up: its addresses join the servers below it.
                    lk.tasks.pop();
                    let port = self.config.port;
                    if let End::Records(records) = done.end {
                        let task = lk.task();
                        for addr in addresses(&records, port) {
                            if task.servers.len() < MAX_REFERRAL_SERVERS
                                && !task.servers.contains(&addr)
                            {
                                task.servers.push_back(addr);
                            }
                        }
                    }
                    continue;
                }
                lk.chain.extend(done.chain);
                if lk.chain.len() > usize::from(self.config.max_cname_depth) {
                    return self.fail(id, lk);
                }
                match done.end {
                    End::Records(records) => {
                        let mut answers = std::mem::take(&mut lk.chain);
                        answers.extend(records);
                        return self.finish(
                            id,
                            lk,
                            Resolution {
                                response_code: ResponseCode::NoError,
                                answers,
                                authorities: Vec::new(),
                            },
                        );
                    }
                    End::Negative { nxdomain, soa } => {
                        let response_code = if nxdomain {
                            ResponseCode::NXDomain
                        } else {
                            ResponseCode::NoError
                        };
                        let answers = std::mem::take(&mut lk.chain);
                        return self.finish(
                            id,
                            lk,
                            Resolution {
                                response_code,
                                answers,
                                authorities: soa.into_iter().collect(),
                            },
                        );
                    }
                    End::Follow(target) => {
                        lk.tasks.clear();
                        let rtype = lk.rtype;
                        outcome = self.begin(&mut lk, target, rtype, now);
                        continue;
                    }
                }
            }
            let depth = lk.tasks.len();
            let task = lk.task();
            if let Some(&to) = task.servers.front() {
                return self.send_or_fail(id, lk, to, Transport::Udp, 1, now);
            }
            if depth <= usize::from(self.config.max_ns_depth) {
                if let Some(server) = task.glueless.pop() {
                    outcome = self.begin(&mut lk, server, RecordType::A, now);
                    continue;
                }
            }
            if depth == 1 {
                return self.fail(id, lk);
            }
            // An NS-name lookup out of servers: that name gives no address.
            outcome = Some(Outcome {
                chain: Vec::new(),
                end: End::Negative {
                    nxdomain: false,
                    soa: None,
                },
            });
        }
    }

    /// The current server gave nothing usable or no answer: ask the next one.
    fn next_server(&mut self, id: LookupId, mut lk: Lookup, now: Instant) {
        lk.task().servers.pop_front();
        self.advance(id, lk, None, now);
    }

    /// Sends the active task's question to `to`, and waits; SERVFAIL when the budget is spent.
    fn send_or_fail(
        &mut self,
        id: LookupId,
        mut lk: Lookup,
        to: SocketAddr,
        transport: Transport,
        attempt: u8,
        now: Instant,
    ) {
        if lk.queries >= self.config.max_queries {
            return self.fail(id, lk);
        }
        let Some(qid) = (0..ID_TRIES)
            .map(|_| self.rng.next_u32() as u16)
            .find(|qid| !self.outstanding.contains_key(&(*qid, to)))
        else {
            return self.fail(id, lk);
        };
        let task = lk.task();
        let mut query = Message::new(qid, MessageType::Query, OpCode::Query);
        query.metadata.recursion_desired = false;
        query.add_query(Query::query(task.name.clone(), task.rtype));
        let mut edns = Edns::new();
        edns.set_max_payload(self.config.max_udp_size);
        query.set_edns(edns);
        let Ok(message) = query.to_vec() else {
            return self.fail(id, lk);
        };
        lk.queries += 1;
        self.stats.queries_sent += 1;
        if transport == Transport::Tcp {
            self.stats.tcp_queries += 1;
        }
        self.transmits.push_back(Transmit {
            to,
            transport,
            message,
        });
        let deadline = (now + self.config.timeout).min(lk.deadline);
        lk.sent = Some(Sent {
            id: qid,
            to,
            transport,
            attempt,
            deadline,
        });
        self.outstanding.insert((qid, to), id);
        self.timers.insert((deadline, id));
        self.lookups.insert(id, lk);
    }

    /// Stops waiting on the lookup's query.
    fn forget(&mut self, id: LookupId, lk: &mut Lookup) {
        if let Some(sent) = lk.sent.take() {
            self.outstanding.remove(&(sent.id, sent.to));
            self.timers.remove(&(sent.deadline, id));
        }
    }

    fn fail(&mut self, id: LookupId, lk: Lookup) {
        self.stats.servfails += 1;
        self.finish(id, lk, Resolution::error(ResponseCode::ServFail));
    }

    fn finish(&mut self, id: LookupId, mut lk: Lookup, resolution: Resolution) {
        self.forget(id, &mut lk);
        self.deliver(id, lk.client, resolution);
    }

    /// Queues the [`Resolved`] event, with the client's reply when there is a client.
    fn deliver(&mut self, id: LookupId, client: Option<Client>, resolution: Resolution) {
        let reply = client.and_then(
            |Client {
                 mut response,
                 edns,
                 transport,
             }| {
                response.metadata.response_code = resolution.response_code;
                response.add_answers(resolution.answers.iter().cloned());
                response.add_authorities(resolution.authorities.iter().cloned());
                encode_reply(
                    &response,
                    edns.as_ref(),
                    transport,
                    self.config.max_udp_size,
                )
            },
        );
        self.resolved.push_back(Resolved {
            lookup: id,
            resolution,
            reply,
        });
    }

    /// Caches what a server answered, with every TTL clamped to the configured maximum (the
    /// clients get the clamped TTLs too).
    fn remember(&mut self, name: &Name, rtype: RecordType, outcome: &mut Outcome, now: Instant) {
        let mut owner = name.clone();
        for alias in &mut outcome.chain {
            alias.ttl = clamp_ttl(alias.ttl, self.config.max_ttl);
            let key = (LowerName::new(&alias.name), Some(RecordType::CNAME));
            self.cache.insert(
                key,
                Cached::Records(vec![alias.clone()], Rank::Answer),
                alias.ttl,
                now,
            );
            if let RData::CNAME(target) = &alias.data {
                owner = target.0.clone();
            }
        }
        let owner = LowerName::new(&owner);
        match &mut outcome.end {
            End::Records(records) => {
                let ttl = set_ttl(records, self.config.max_ttl);
                self.cache.insert(
                    (owner, Some(rtype)),
                    Cached::Records(records.clone(), Rank::Answer),
                    ttl,
                    now,
                );
            }
            End::Negative {
                nxdomain,
                soa: Some(soa),
            } => {
                let ttl = clamp_ttl(negative_ttl(soa).unwrap_or(0), self.config.max_negative_ttl);
                soa.ttl = ttl;
                let key = (owner, if *nxdomain { None } else { Some(rtype) });
                self.cache
                    .insert(key, Cached::Negative(Box::new(soa.clone())), ttl, now);
            }
            End::Negative { soa: None, .. } | End::Follow(_) => {}
        }
    }

    /// Caches a referral's NS records and glue, ranked below answers.
    fn remember_referral(&mut self, cut: &Name, ns: &[Record], glue: &[Record], now: Instant) {
        let mut ns = ns.to_vec();
        let ttl = set_ttl(&mut ns, self.config.max_ttl);
        self.cache.insert(
            (LowerName::new(cut), Some(RecordType::NS)),
            Cached::Records(ns, Rank::Delegation),
            ttl,
            now,
        );
        let mut sets: HashMap<(LowerName, RecordType), Vec<Record>> = HashMap::new();
        for g in glue {
            sets.entry((LowerName::new(&g.name), g.record_type()))
                .or_default()
                .push(g.clone());
        }
        for ((name, rtype), mut records) in sets {
            let ttl = set_ttl(&mut records, self.config.max_ttl);
            self.cache.insert(
                (name, Some(rtype)),
                Cached::Records(records, Rank::Delegation),
                ttl,
                now,
            );
        }
    }
}

/// Whether `m` is a response to the question `name`/`rtype` in class IN.
fn answers(m: &Message, name: &Name, rtype: RecordType) -> bool {
    m.metadata.message_type == MessageType::Response
        && m.metadata.op_code == OpCode::Query
        && matches!(m.queries.as_slice(), [q] if q.name == *name && q.query_type == rtype && q.query_class == DNSClass::IN)
}

/// A TTL as cached: at most `max`, and 0 for one above 2^31 - 1 (RFC 2181 §8).
fn clamp_ttl(ttl: u32, max: u32) -> u32 {
    match i32::try_from(ttl) {
        Ok(_) => ttl.min(max),
        Err(_) => 0,
    }
}

/// Gives every record of a set the set's lowest (clamped) TTL (RFC 2181 §5.2), and returns it.
fn set_ttl(records: &mut [Record], max: u32) -> u32 {
    let ttl = records
        .iter()
        .map(|r| clamp_ttl(r.ttl, max))
        .min()
        .unwrap_or(0);
    records.iter_mut().for_each(|r| r.ttl = ttl);
    ttl
}
