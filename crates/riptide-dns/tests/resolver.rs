//! The resolver on scripted exchanges, with no sockets: a local hierarchy of [`Zone`]s (root,
//! `test.`, `example.test.`, `other.` and a glueless `glueless.test.`) answers its queries,
//! and hand-made hostile servers stand in for some of them. Time is virtual.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, NS};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::rngs::StdRng;
use rand::SeedableRng;
use riptide_dns::{
    Resolved, Resolver, ResolverConfig, ResolverError, Transport, Zone, ZoneOptions,
};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

const ROOT: &str = "$ORIGIN .\n$TTL 3600\n@ IN SOA a.root. hostmaster.root. 1 3600 600 86400 60\n\
test. IN NS ns.test.\nns.test. IN A 127.0.0.3\nother. IN NS ns.other.\nns.other. IN A 127.0.0.5\n";
const TEST: &str = "$ORIGIN test.\n$TTL 3600\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\n\
ns IN A 127.0.0.3\nexample IN NS ns1.example\nns1.example IN A 127.0.0.4\nglueless IN NS ns.other.\n";
const OTHER: &str =
    "$ORIGIN other.\n$TTL 3600\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\n\
ns IN A 127.0.0.5\nhost IN A 192.0.2.7\n";
const GLUELESS: &str =
    "$ORIGIN glueless.test.\n$TTL 600\n@ IN SOA ns.other. hostmaster.other. 1 3600 600 86400 60\n\
@ IN NS ns.other.\nwww IN A 192.0.2.55\n";

fn example() -> String {
    let mut z = String::from(
        "$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 30\n@ IN NS ns1\n\
         ns1 IN A 127.0.0.4\nwww IN A 192.0.2.80\nwww IN AAAA 2001:db8::80\nftp IN CNAME www\naway IN CNAME host.other.\n",
    );
    for i in 0..30 {
        z.push_str(&format!(
            "big IN TXT \"{i:02} the quick brown fox jumps over the lazy dog, again and again\"\n"
        ));
    }
    z
}

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(127, 0, 0, last), 53))
}

fn name(n: &str) -> Name {
    Name::from_ascii(n).unwrap()
}

/// A server: the reply to one query message, or none (a dead server).
type Server = Box<dyn FnMut(&Message, &[u8], Transport) -> Option<Vec<u8>>>;

/// Zones served at one address: each query goes to the zone with the longest origin holding its name.
fn zones(texts: &[&str]) -> Server {
    let zones: Vec<Zone> = texts
        .iter()
        .map(|t| Zone::parse(t, &ZoneOptions::default()).unwrap())
        .collect();
    Box::new(move |m, bytes, transport| {
        let q = &m.queries[0].name;
        let zone = zones
            .iter()
            .filter(|z| name(&z.origin()).zone_of(q))
            .max_by_key(|z| z.origin().len())?;
        zone.answer(bytes, transport)
    })
}

struct Net {
    servers: HashMap<SocketAddr, Server>,
    /// Every query sent: to whom, over what, for which name.
    log: Vec<(SocketAddr, Transport, Name)>,
}

impl Net {
    fn hierarchy() -> Self {
        let mut servers: HashMap<SocketAddr, Server> = HashMap::new();
        servers.insert(addr(2), zones(&[ROOT]));
        servers.insert(addr(3), zones(&[TEST]));
        servers.insert(addr(4), zones(&[&example()]));
        servers.insert(addr(5), zones(&[OTHER, GLUELESS]));
        Self {
            servers,
            log: Vec::new(),
        }
    }

    /// The hierarchy with the server at 127.0.0.`last` replaced.
    fn with(last: u8, server: Server) -> Self {
        let mut net = Self::hierarchy();
        net.servers.insert(addr(last), server);
        net
    }

    /// Delivers every query and its answer until nothing is left to send.
    fn pump(&mut self, r: &mut Resolver<StdRng>, now: Instant) -> Vec<Resolved> {
        while let Some(t) = r.poll_transmit() {
            let m = Message::from_vec(&t.message).unwrap();
            assert!(
                !m.metadata.recursion_desired,
                "iterative queries do not ask for recursion"
            );
            self.log
                .push((t.to, t.transport, m.queries[0].name.clone()));
            let reply = self
                .servers
                .get_mut(&t.to)
                .and_then(|s| s(&m, &t.message, t.transport));
            if let Some(reply) = reply {
                r.handle_response(t.to, t.transport, &reply, now);
            }
        }
        std::iter::from_fn(|| r.poll_resolved()).collect()
    }

    /// Pumps, letting virtual time pass to each deadline, until no lookup waits.
    fn settle(&mut self, r: &mut Resolver<StdRng>, mut now: Instant) -> (Vec<Resolved>, Instant) {
        let mut done = self.pump(r, now);
        while let Some(at) = r.poll_timeout() {
            now = at;
            r.handle_timeout(now);
            done.extend(self.pump(r, now));
        }
        (done, now)
    }
}

fn config() -> ResolverConfig {
    ResolverConfig::new(vec![addr(2)])
}

fn resolver(config: ResolverConfig) -> Resolver<StdRng> {
    Resolver::new(config, StdRng::seed_from_u64(1)).unwrap()
}

/// A client's query message (RD set, EDNS 1232).
fn client_query(id: u16, n: &str, rtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(n), rtype));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    m.set_edns(e);
    m.to_vec().unwrap()
}

/// Resolves www.example.test. A from a client's query, now; returns the decoded reply.
fn www(net: &mut Net, r: &mut Resolver<StdRng>) -> Message {
    ask(net, r, "www.example.test.", RecordType::A, Instant::now())
}

/// Resolves one name from a client's query; returns the decoded reply.
fn ask(
    net: &mut Net,
    r: &mut Resolver<StdRng>,
    n: &str,
    rtype: RecordType,
    now: Instant,
) -> Message {
    let id = r
        .query(&client_query(0x4242, n, rtype), Transport::Udp, now)
        .unwrap();
    let (done, _) = net.settle(r, now);
    let [resolved] = done.as_slice() else {
        panic!("one lookup ends: {done:?}")
    };
    assert_eq!(resolved.lookup, id);
    Message::from_vec(resolved.reply.as_ref().unwrap()).unwrap()
}

fn rdata(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .map(|r| format!("{} {} {}", r.name, r.ttl, r.data))
        .collect()
}

#[test]
fn resolves_through_the_hierarchy_then_answers_from_the_cache() {
    let mut net = Net::hierarchy();
    let mut r = resolver(config());
    let now = Instant::now();
    let reply = ask(&mut net, &mut r, "www.example.test.", RecordType::A, now);
    assert_eq!(reply.metadata.id, 0x4242);
    assert!(
        reply.metadata.recursion_available
            && reply.metadata.recursion_desired
            && !reply.metadata.authoritative
    );
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(rdata(&reply), ["www.example.test. 300 192.0.2.80"]);
    let asked: Vec<SocketAddr> = net.log.iter().map(|l| l.0).collect();
    assert_eq!(
        asked,
        [addr(2), addr(3), addr(4)],
        "root, then test., then example.test."
    );
    let s = r.stats();
    assert_eq!((s.cache_misses, s.cache_hits, s.queries_sent), (1, 0, 3));

    // Ten seconds later: from the cache, with the TTL left, and no query.
    let later = now + Duration::from_secs(10);
    let reply = ask(&mut net, &mut r, "WWW.Example.TEST.", RecordType::A, later);
    assert_eq!(rdata(&reply), ["www.example.test. 290 192.0.2.80"]);
    let s = r.stats();
    assert_eq!((s.cache_misses, s.cache_hits, s.queries_sent), (1, 1, 3));

    // Another type of a known zone: straight to its server (the delegation is cached).
    let reply = ask(
        &mut net,
        &mut r,
        "www.example.test.",
        RecordType::AAAA,
        later,
    );
    assert_eq!(rdata(&reply), ["www.example.test. 300 2001:db8::80"]);
    assert_eq!(net.log.last().unwrap().0, addr(4));
    assert_eq!(r.stats().queries_sent, 4);

    // After the TTL, the answer is fetched again.
    ask(
        &mut net,
        &mut r,
        "www.example.test.",
        RecordType::A,
        now + Duration::from_secs(301),
    );
    assert_eq!(r.stats().queries_sent, 5);
}

#[test]
fn follows_cnames_inside_a_zone_and_across_zones() {
    let mut net = Net::hierarchy();
    let mut r = resolver(config());
    let now = Instant::now();
    let reply = ask(&mut net, &mut r, "ftp.example.test.", RecordType::A, now);
    assert_eq!(
        rdata(&reply),
        [
            "ftp.example.test. 300 www.example.test.",
            "www.example.test. 300 192.0.2.80"
        ]
    );
    let reply = ask(&mut net, &mut r, "away.example.test.", RecordType::A, now);
    assert_eq!(
        rdata(&reply),
        [
            "away.example.test. 300 host.other.",
            "host.other. 3600 192.0.2.7"
        ]
    );
    assert_eq!(
        net.log.last().unwrap(),
        &(addr(5), Transport::Udp, name("host.other."))
    );
    // Both chains are cached whole.
    let sent = r.stats().queries_sent;
    let reply = ask(&mut net, &mut r, "away.example.test.", RecordType::A, now);
    assert_eq!(reply.answers.len(), 2);
    assert_eq!(r.stats().queries_sent, sent);
}

#[test]
fn negative_answers_are_cached_for_the_soa_minimum() {
    let mut net = Net::hierarchy();
    let mut r = resolver(config());
    let now = Instant::now();
    let reply = ask(&mut net, &mut r, "nope.example.test.", RecordType::A, now);
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert!(reply.answers.is_empty());
    let soa = &reply.authorities[0];
    assert_eq!(
        (soa.name.to_string().as_str(), soa.ttl, soa.record_type()),
        ("example.test.", 30, RecordType::SOA)
    );
    let sent = r.stats().queries_sent;
    // NXDOMAIN holds for every type of the name, until the SOA's MINIMUM (30 s) passes.
    let reply = ask(
        &mut net,
        &mut r,
        "nope.example.test.",
        RecordType::AAAA,
        now + Duration::from_secs(29),
    );
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(r.stats().queries_sent, sent);
    ask(
        &mut net,
        &mut r,
        "nope.example.test.",
        RecordType::A,
        now + Duration::from_secs(30),
    );
    assert_eq!(r.stats().queries_sent, sent + 1);
    // NODATA: the name exists without that type.
    let reply = ask(&mut net, &mut r, "www.example.test.", RecordType::MX, now);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty());
    assert_eq!(reply.authorities[0].record_type(), RecordType::SOA);
    let sent = r.stats().queries_sent;
    ask(&mut net, &mut r, "www.example.test.", RecordType::MX, now);
    assert_eq!(r.stats().queries_sent, sent);
    assert_eq!(r.stats().cache_hits, 2);
}

#[test]
fn glueless_servers_are_looked_up_by_name() {
    let mut net = Net::hierarchy();
    let mut r = resolver(config());
    let reply = ask(
        &mut net,
        &mut r,
        "www.glueless.test.",
        RecordType::A,
        Instant::now(),
    );
    assert_eq!(rdata(&reply), ["www.glueless.test. 600 192.0.2.55"]);
    let names: Vec<String> = net
        .log
        .iter()
        .map(|l| format!("{}@{}", l.2, l.0.ip()))
        .collect();
    assert_eq!(
        names,
        [
            "www.glueless.test.@127.0.0.2",
            "www.glueless.test.@127.0.0.3",
            // test. names ns.other. without glue: look it up from the root...
            "ns.other.@127.0.0.2",
            "ns.other.@127.0.0.5",
            // ...then ask it.
            "www.glueless.test.@127.0.0.5",
        ]
    );
}

#[test]
fn a_truncated_answer_is_asked_again_over_tcp() {
    let mut net = Net::hierarchy();
    let mut r = resolver(config());
    let now = Instant::now();
    r.query(
        &client_query(7, "big.example.test.", RecordType::TXT),
        Transport::Tcp,
        now,
    )
    .unwrap();
    let (done, _) = net.settle(&mut r, now);
    let reply = Message::from_vec(done[0].reply.as_ref().unwrap()).unwrap();
    assert_eq!(reply.answers.len(), 30);
    assert_eq!(
        &net.log[2..],
        &[
            (addr(4), Transport::Udp, name("big.example.test.")),
            (addr(4), Transport::Tcp, name("big.example.test."))
        ]
    );
    assert_eq!(r.stats().tcp_queries, 1);
    // A UDP client gets it truncated (over 1232 bytes), from the cache.
    r.query(
        &client_query(8, "big.example.test.", RecordType::TXT),
        Transport::Udp,
        now,
    )
    .unwrap();
    let done = net.pump(&mut r, now);
    let reply = Message::from_vec(done[0].reply.as_ref().unwrap()).unwrap();
    assert!(reply.metadata.truncation);
    assert_eq!(r.stats().cache_hits, 1);
}

#[test]
fn a_dead_server_is_retried_then_the_next_is_asked() {
    let mut net = Net::hierarchy();
    net.servers.insert(addr(9), Box::new(|_, _, _| None));
    for seed in 0..4 {
        let mut c = config();
        c.roots = vec![addr(9), addr(2)];
        let mut r = Resolver::new(c.clone(), StdRng::seed_from_u64(seed)).unwrap();
        net.log.clear();
        let start = Instant::now();
        r.query(
            &client_query(1, "www.example.test.", RecordType::A),
            Transport::Udp,
            start,
        )
        .unwrap();
        let (done, end) = net.settle(&mut r, start);
        let reply = Message::from_vec(done[0].reply.as_ref().unwrap()).unwrap();
        assert_eq!(rdata(&reply), ["www.example.test. 300 192.0.2.80"]);
        let dead = net.log.iter().filter(|l| l.0 == addr(9)).count() as u64;
        assert!(
            dead == 0 || dead == u64::from(c.attempts),
            "tried {dead} times"
        );
        assert_eq!(r.stats().timeouts, dead);
        assert_eq!(end - start, c.timeout * dead as u32);
    }
}

#[test]
fn dead_servers_end_in_servfail_in_bounded_time() {
    let mut net = Net::hierarchy();
    net.servers.insert(addr(9), Box::new(|_, _, _| None));
    net.servers.insert(addr(10), Box::new(|_, _, _| None));
    let mut c = config();
    c.roots = vec![addr(9), addr(10)];
    let mut r = resolver(c.clone());
    let start = Instant::now();
    r.query(
        &client_query(1, "www.example.test.", RecordType::A),
        Transport::Udp,
        start,
    )
    .unwrap();
    let (done, end) = net.settle(&mut r, start);
    let reply = Message::from_vec(done[0].reply.as_ref().unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(net.log.len(), 4, "each root tried `attempts` (2) times");
    assert_eq!(end - start, c.timeout * 4);
    let s = r.stats();
    assert_eq!((s.timeouts, s.servfails, s.lookups), (4, 1, 0));

    // With a lookup_timeout shorter than that, the lookup ends at lookup_timeout.
    c.lookup_timeout = Duration::from_millis(2500);
    let mut r = resolver(c.clone());
    r.resolve(name("www.example.test."), RecordType::A, start);
    let (done, end) = net.settle(&mut r, start);
    assert_eq!(done[0].resolution.response_code, ResponseCode::ServFail);
    assert_eq!(end - start, c.lookup_timeout);
}

/// The query waiting, decoded.
fn query_of(bytes: &[u8]) -> Message {
    Message::from_vec(bytes).unwrap()
}

/// A response to `q` (id and question copied), authoritative or not.
fn response_to(q: &Message, aa: bool) -> Message {
    let mut m = Message::response(q.metadata.id, OpCode::Query);
    m.metadata.authoritative = aa;
    m.add_queries(q.queries.clone());
    m
}

fn ns(owner: Name, ttl: u32, target: &str) -> Record {
    Record::from_rdata(owner, ttl, RData::NS(NS(name(target))))
}

fn cname(owner: Name, ttl: u32, target: Name) -> Record {
    Record::from_rdata(owner, ttl, RData::CNAME(CNAME(target)))
}

fn a_record(n: &str, ttl: u32, ip: [u8; 4]) -> Record {
    Record::from_rdata(name(n), ttl, RData::A(A::new(ip[0], ip[1], ip[2], ip[3])))
}

#[test]
fn responses_that_do_not_match_the_query_are_ignored() {
    let mut r = resolver(config());
    let now = Instant::now();
    let id = r.resolve(name("www.example.test."), RecordType::A, now);
    let t = r.poll_transmit().unwrap();
    let q = query_of(&t.message);
    let mut good = response_to(&q, true);
    good.add_answer(a_record("www.example.test.", 60, [192, 0, 2, 1]));
    let mut wrong_id = good.clone();
    wrong_id.metadata.id = q.metadata.id.wrapping_add(1);
    let mut wrong_question = good.clone();
    wrong_question.queries[0].name = name("evil.example.test.");
    let mut not_a_response = good.clone();
    not_a_response.metadata.message_type = MessageType::Query;
    let good = good.to_vec().unwrap();
    for (from, transport, bytes) in [
        (t.to, Transport::Udp, wrong_id.to_vec().unwrap()),
        (addr(66), Transport::Udp, good.clone()),
        (t.to, Transport::Tcp, good.clone()),
        (t.to, Transport::Udp, wrong_question.to_vec().unwrap()),
        (t.to, Transport::Udp, not_a_response.to_vec().unwrap()),
        (t.to, Transport::Udp, good[..20].to_vec()),
        (t.to, Transport::Udp, vec![0; 5]),
    ] {
        r.handle_response(from, transport, &bytes, now);
        assert!(r.poll_resolved().is_none());
    }
    assert_eq!(r.stats().ignored_responses, 7);
    r.handle_response(t.to, Transport::Udp, &good, now);
    let done = r.poll_resolved().unwrap();
    assert_eq!(done.lookup, id);
    assert_eq!(
        done.resolution.answers,
        vec![a_record("www.example.test.", 60, [192, 0, 2, 1])]
    );
    // The same answer again: nothing waits for it any more.
    r.handle_response(t.to, Transport::Udp, &good, now);
    assert_eq!(r.stats().ignored_responses, 8);
}

/// A hostile server answering every query with `f`.
fn evil(f: impl Fn(&Message) -> Message + 'static) -> Server {
    Box::new(move |m, _, _| f(m).to_vec().ok())
}

#[test]
fn glue_outside_the_bailiwick_is_not_used_or_cached() {
    // The server of test. refers example.test. to ns.other. with "glue" for it (outside
    // test.) pointing at a server that would lie, plus a forged answer in additional.
    let mut net = Net::with(
        3,
        evil(|q| {
            let mut m = response_to(q, false);
            m.add_authority(ns(name("example.test."), 3600, "ns.other."));
            m.add_additional(a_record("ns.other.", 3600, [127, 0, 0, 66]));
            m.add_additional(a_record("www.example.test.", 3600, [6, 6, 6, 6]));
            m
        }),
    );
    net.servers.insert(
        addr(66),
        evil(|q| {
            let mut m = response_to(q, true);
            m.add_answer(a_record(&q.queries[0].name.to_string(), 60, [6, 6, 6, 6]));
            m
        }),
    );
    // ns.other. really is 127.0.0.5, which serves no example.test.: REFUSED, so SERVFAIL.
    let mut r = resolver(config());
    let reply = www(&mut net, &mut r);
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert!(
        net.log.iter().all(|l| l.0 != addr(66)),
        "the out-of-bailiwick glue was never used"
    );
    assert!(
        net.log.iter().any(|l| l.2 == name("ns.other.")),
        "ns.other. was looked up instead"
    );
    // The forged additional record was not cached as an answer either: asking again goes
    // upstream again.
    let sent = r.stats().queries_sent;
    let reply = www(&mut net, &mut r);
    assert!(reply.answers.is_empty());
    assert_eq!(r.stats().cache_hits, 0);
    assert!(r.stats().queries_sent > sent);
}

#[test]
fn referrals_that_do_not_lead_down_are_lame() {
    // test.'s server refers back up to test. itself, and sideways to example.org.
    let mut net = Net::with(
        3,
        evil(|q| {
            let mut m = response_to(q, false);
            m.add_authority(ns(name("test."), 3600, "ns.test."));
            m.add_authority(ns(name("example.org."), 3600, "ns.test."));
            m.add_additional(a_record("ns.test.", 3600, [127, 0, 0, 3]));
            m
        }),
    );
    let mut r = resolver(config());
    let reply = www(&mut net, &mut r);
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(r.stats().lame_responses, 1);
    assert_eq!(net.log.len(), 2);
}

#[test]
fn a_referral_chain_stops_at_max_referrals() {
    // The root refers each query one label deeper than the last, with glue to itself: every
    // referral leads down, and there are as many as the name has labels.
    let mut depth = 0;
    let mut net = Net::with(
        2,
        Box::new(move |q, _, _| {
            depth += 1;
            let mut m = response_to(q, false);
            let child = q.queries[0].name.trim_to(depth);
            m.add_authority(ns(child, 60, "ns.root-evil."));
            m.add_additional(a_record("ns.root-evil.", 60, [127, 0, 0, 2]));
            m.to_vec().ok()
        }),
    );
    let mut c = config();
    c.max_referrals = 4;
    let mut r = resolver(c.clone());
    let reply = ask(
        &mut net,
        &mut r,
        "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.",
        RecordType::A,
        Instant::now(),
    );
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(
        net.log.len(),
        usize::from(c.max_referrals) + 1,
        "the referral past the limit is the last"
    );
}

#[test]
fn endless_cnames_stop_at_max_cname_depth() {
    // example.test.'s server aliases every name to one more "x." label, forever.
    let mut net = Net::with(
        4,
        evil(|q| {
            let asked = q.queries[0].name.clone();
            let mut m = response_to(q, true);
            let next = asked.prepend_label("x").unwrap_or(asked.clone());
            m.add_answer(cname(asked, 3600, next));
            m
        }),
    );
    let c = config();
    let mut r = resolver(c.clone());
    let reply = www(&mut net, &mut r);
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    let to_example = net.log.iter().filter(|l| l.0 == addr(4)).count();
    assert_eq!(
        to_example,
        usize::from(c.max_cname_depth) + 1,
        "one query per link, then the limit"
    );
}

#[test]
fn a_cname_loop_inside_one_response_is_bounded() {
    let mut net = Net::with(
        4,
        evil(|q| {
            let mut m = response_to(q, true);
            m.add_answer(cname(
                name("www.example.test."),
                60,
                name("b.example.test."),
            ));
            m.add_answer(cname(
                name("b.example.test."),
                60,
                name("www.example.test."),
            ));
            m
        }),
    );
    let mut r = resolver(config());
    let reply = www(&mut net, &mut r);
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(net.log.len(), 3);
}

#[test]
fn huge_ttls_are_clamped_and_ttls_past_2_31_count_as_zero() {
    let mut net = Net::with(
        4,
        evil(|q| {
            let mut m = response_to(q, true);
            let asked = q.queries[0].name.to_string();
            let ttl = if asked.starts_with("max") {
                i32::MAX as u32
            } else {
                u32::MAX
            };
            m.add_answer(a_record(&asked, ttl, [192, 0, 2, 9]));
            m
        }),
    );
    let mut r = resolver(config());
    let now = Instant::now();
    let reply = ask(&mut net, &mut r, "max.example.test.", RecordType::A, now);
    assert_eq!(reply.answers[0].ttl, 86_400);
    let reply = ask(&mut net, &mut r, "wrap.example.test.", RecordType::A, now);
    assert_eq!(reply.answers[0].ttl, 0);
    let sent = r.stats().queries_sent;
    ask(&mut net, &mut r, "wrap.example.test.", RecordType::A, now);
    assert_eq!(r.stats().queries_sent, sent + 1, "TTL 0 is not cached");
    ask(
        &mut net,
        &mut r,
        "max.example.test.",
        RecordType::A,
        now + Duration::from_secs(86_399),
    );
    assert_eq!(
        r.stats().queries_sent,
        sent + 1,
        "clamped to a day, and cached that long"
    );
}

#[test]
fn the_query_budget_and_the_lookup_bound_end_in_servfail() {
    let mut net = Net::hierarchy();
    let mut c = config();
    c.max_queries = 2;
    let mut r = resolver(c);
    let reply = www(&mut net, &mut r);
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(net.log.len(), 2);

    let mut c = config();
    c.max_lookups = 2;
    let mut r = resolver(c);
    let now = Instant::now();
    r.resolve(name("a.test."), RecordType::A, now);
    r.resolve(name("b.test."), RecordType::A, now);
    let third = r.resolve(name("c.test."), RecordType::A, now);
    let done = r.poll_resolved().unwrap();
    assert_eq!(
        (done.lookup, done.resolution.response_code),
        (third, ResponseCode::ServFail)
    );
    assert_eq!(r.stats().lookups, 2);
}

#[test]
fn client_queries_it_does_not_resolve_get_their_code_at_once() {
    let mut r = resolver(config());
    let now = Instant::now();
    let code = |r: &mut Resolver<StdRng>, bytes: &[u8]| {
        r.query(bytes, Transport::Udp, now)?;
        let done = r.poll_resolved().unwrap();
        let reply = Message::from_vec(&done.reply.unwrap()).unwrap();
        assert!(r.poll_transmit().is_none());
        Some(reply.metadata.response_code)
    };
    let mut no_rd =
        Message::from_vec(&client_query(1, "www.example.test.", RecordType::A)).unwrap();
    no_rd.metadata.recursion_desired = false;
    assert_eq!(
        code(&mut r, &no_rd.to_vec().unwrap()),
        Some(ResponseCode::Refused)
    );
    assert_eq!(
        code(&mut r, &client_query(1, "example.test.", RecordType::ANY)),
        Some(ResponseCode::Refused)
    );
    assert_eq!(
        code(&mut r, &client_query(1, "example.test.", RecordType::AXFR)),
        Some(ResponseCode::Refused)
    );
    assert_eq!(
        code(
            &mut r,
            b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c"
        ),
        Some(ResponseCode::FormErr)
    );
    let mut response =
        Message::from_vec(&client_query(1, "www.example.test.", RecordType::A)).unwrap();
    response.metadata.message_type = MessageType::Response;
    assert_eq!(
        code(&mut r, &response.to_vec().unwrap()),
        None,
        "a response is dropped"
    );
    assert_eq!(code(&mut r, &[0; 11]), None);
}

#[test]
fn the_cache_stays_within_its_bytes() {
    // Every name exists, so every answer is a new entry.
    let mut net = Net::with(
        4,
        evil(|q| {
            let mut m = response_to(q, true);
            m.add_answer(a_record(
                &q.queries[0].name.to_string(),
                3600,
                [192, 0, 2, 1],
            ));
            m
        }),
    );
    let mut c = config();
    c.max_cache_bytes = 16 * 1024;
    let mut r = resolver(c.clone());
    let now = Instant::now();
    for i in 0..200 {
        ask(
            &mut net,
            &mut r,
            &format!("n{i}.example.test."),
            RecordType::A,
            now,
        );
        assert!(r.stats().cache_bytes <= c.max_cache_bytes as u64);
    }
    let s = r.stats();
    assert!(
        s.cache_entries > 10 && s.cache_entries < 200,
        "{} entries",
        s.cache_entries
    );
}

#[test]
fn configs_outside_their_ranges_are_refused() {
    let bad = |f: fn(&mut ResolverConfig)| {
        let mut c = config();
        f(&mut c);
        Resolver::new(c, StdRng::seed_from_u64(0))
            .err()
            .map(|e| e.to_string())
    };
    assert!(matches!(
        Resolver::new(ResolverConfig::new(vec![]), StdRng::seed_from_u64(0)),
        Err(ResolverError::Roots { got: 0, .. })
    ));
    assert_eq!(
        bad(|c| c.attempts = 0).unwrap(),
        "attempts must be in [1, 10], got 0"
    );
    assert_eq!(
        bad(|c| c.max_udp_size = 511).unwrap(),
        "maxUdpSize must be in [512, 65535], got 511"
    );
    assert_eq!(
        bad(|c| c.lookup_timeout = Duration::from_millis(10)).unwrap(),
        "lookupTimeout must be in [1000, 600000], got 10"
    );
    assert!(bad(|c| c.max_ttl = u32::MAX).is_some());
    assert!(bad(|_| ()).is_none());
}
