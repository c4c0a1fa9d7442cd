//! The answers of the sample zone (`harness::SAMPLE_ZONE`) to well-formed and broken queries.

use hickory_proto::op::{Edns, Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use riptide_dns::harness::sample_zone;
use riptide_dns::{Transport, Zone, ZoneError, ZoneOptions};

fn query(name: &str, rtype: RecordType) -> Message {
    let mut m = Message::query();
    m.metadata.id = 0xbeef;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    m
}

fn ask(m: &Message, transport: Transport) -> Message {
    let reply = sample_zone()
        .answer(&m.to_vec().unwrap(), transport)
        .unwrap();
    let r = Message::from_vec(&reply).unwrap();
    assert_eq!(r.metadata.id, 0xbeef);
    r
}

fn udp(name: &str, rtype: RecordType) -> Message {
    ask(&query(name, rtype), Transport::Udp)
}

#[test]
fn answers_a_aaaa_mx_txt_authoritatively() {
    let r = udp("www.example.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.authoritative);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(
        r.answers[0].data.ip_addr().unwrap().to_string(),
        "192.0.2.1"
    );
    let r = udp("WWW.Example.", RecordType::AAAA);
    assert_eq!(
        r.answers[0].data.ip_addr().unwrap().to_string(),
        "2001:db8::1"
    );
    assert_eq!(
        r.queries[0].name.to_string(),
        "WWW.Example.",
        "question echoed as asked"
    );
    let r = udp("example.", RecordType::MX);
    assert!(matches!(&r.answers[0].data, RData::MX(mx) if mx.preference == 10));
    assert_eq!(r.additionals.len(), 1, "the exchange's address rides along");
    let r = udp("example.", RecordType::TXT);
    assert_eq!(r.answers[0].data.to_string(), "v=spf1 -all");
}

#[test]
fn nxdomain_and_nodata_carry_the_soa() {
    let r = udp("nope.example.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(r.authorities[0].ttl, 60, "min(TTL, MINIMUM)");
    let r = udp("www.example.", RecordType::MX);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    // `wild.` exists only as the parent of `*.wild.`: an empty non-terminal, so NODATA.
    let r = udp("wild.example.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
}

#[test]
fn follows_cnames_and_wildcards_within_bounds() {
    let r = udp("alias.example.", RecordType::A);
    assert_eq!(r.answers.len(), 2);
    assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(r.answers[1].name.to_string(), "www.example.");
    let r = udp("loop1.example.", RecordType::A);
    assert_eq!(r.answers.len(), 8, "a CNAME loop stops after 8 links");
    let r = udp("anything.wild.example.", RecordType::A);
    assert_eq!(r.answers[0].name.to_string(), "anything.wild.example.");
}

#[test]
fn refers_below_a_delegation_and_refuses_what_it_does_not_own() {
    let r = udp("host.sub.example.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(!r.metadata.authoritative);
    assert_eq!(r.authorities[0].record_type(), RecordType::NS);
    assert_eq!(
        r.additionals[0].data.ip_addr().unwrap().to_string(),
        "127.0.0.2"
    );
    let r = udp("example.org.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    let r = udp("example.", RecordType::AXFR);
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    let mut m = query("www.example.", RecordType::A);
    m.metadata.op_code = OpCode::Status;
    assert_eq!(
        ask(&m, Transport::Udp).metadata.response_code,
        ResponseCode::NotImp
    );
}

#[test]
fn malformed_queries_get_formerr_or_nothing() {
    let zone = sample_zone();
    assert_eq!(zone.answer(&[0; 11], Transport::Udp), None, "no header");
    let mut garbage = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    garbage.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]); // a pointer to itself
    let reply = zone.answer(&garbage, Transport::Udp).unwrap();
    assert_eq!(reply, [0xab, 0xcd, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
    garbage[2] |= 0x80; // a response: never answered
    assert_eq!(zone.answer(&garbage, Transport::Udp), None);
    let mut two = query("www.example.", RecordType::A);
    two.add_query(Query::query(
        Name::from_ascii("example.").unwrap(),
        RecordType::A,
    ));
    assert_eq!(
        ask(&two, Transport::Udp).metadata.response_code,
        ResponseCode::FormErr
    );
}

/// A zone whose TXT set is about 1 KB, over 512 bytes and under the EDNS default 1232.
fn big_zone() -> Zone {
    let mut text = String::from("$ORIGIN big.\n@ 60 IN SOA ns admin 1 1 1 1 1\n");
    for i in 0..16 {
        text.push_str(&format!("txt 60 IN TXT \"{i:02}-{}\"\n", "x".repeat(50)));
    }
    Zone::parse(&text, &ZoneOptions::default()).unwrap()
}

#[test]
fn sets_tc_when_the_answer_does_not_fit_and_edns_lifts_the_limit() {
    let zone = big_zone();
    let m = query("txt.big.", RecordType::TXT);
    let classic =
        Message::from_vec(&zone.answer(&m.to_vec().unwrap(), Transport::Udp).unwrap()).unwrap();
    assert!(classic.metadata.truncation);
    assert!(classic.answers.is_empty());
    let tcp =
        Message::from_vec(&zone.answer(&m.to_vec().unwrap(), Transport::Tcp).unwrap()).unwrap();
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 16);
    let mut e = m.clone();
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    e.set_edns(edns);
    let reply = zone.answer(&e.to_vec().unwrap(), Transport::Udp).unwrap();
    assert!(reply.len() > 512 && reply.len() <= 1232);
    let full = Message::from_vec(&reply).unwrap();
    assert_eq!(full.answers.len(), 16);
    assert_eq!(
        full.edns.unwrap().max_payload(),
        1232,
        "our size is advertised"
    );
    // An advertised size below 512 counts as 512.
    let mut small = Edns::new();
    small.set_max_payload(100);
    e.set_edns(small);
    let tc =
        Message::from_vec(&zone.answer(&e.to_vec().unwrap(), Transport::Udp).unwrap()).unwrap();
    assert!(tc.metadata.truncation);
}

#[test]
fn an_unknown_edns_version_gets_badvers() {
    let mut m = query("www.example.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_version(1);
    m.set_edns(edns);
    let r = ask(&m, Transport::Udp);
    // 16 is BADVERS in an OPT's extended RCODE (hickory names the value BADSIG when decoding).
    assert_eq!(u16::from(r.metadata.response_code), 16);
    assert!(r.answers.is_empty());
}

#[test]
fn zones_that_cannot_be_served_are_refused_at_load() {
    let none = ZoneOptions::default();
    assert!(matches!(
        Zone::parse("$ORIGIN a.\nwww 1 IN A 1.2.3.4\n", &none),
        Err(ZoneError::NoSoa(_))
    ));
    assert!(matches!(
        Zone::parse("$ORIGIN a.\n@ IN SOA", &none),
        Err(ZoneError::Parse(_))
    ));
    assert!(matches!(
        Zone::parse("$INCLUDE /etc/passwd\n", &none),
        Err(ZoneError::Parse(_))
    ));
    let soa = "$ORIGIN a.\n@ 1 IN SOA ns admin 1 1 1 1 1\n";
    assert!(matches!(
        Zone::parse(&format!("{soa}www.b. 1 IN A 1.2.3.4\n"), &none),
        Err(ZoneError::OutOfZone { .. })
    ));
    let small = ZoneOptions {
        max_udp_size: 511,
        ..ZoneOptions::default()
    };
    assert!(matches!(
        Zone::parse(soa, &small),
        Err(ZoneError::MaxUdpSize(511))
    ));
    let with_origin = ZoneOptions {
        origin: Some("a".into()),
        ..ZoneOptions::default()
    };
    let zone = Zone::parse("@ 1 IN SOA ns admin 1 1 1 1 1\n", &with_origin).unwrap();
    assert_eq!(zone.origin(), "a.");
    assert_eq!(zone.record_count(), 1);
}
