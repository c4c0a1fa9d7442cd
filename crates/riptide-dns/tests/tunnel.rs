//! The DNS tunnel's codec: query names (round trips, the 253/63 bounds, canonical decoding,
//! case), queries and answers (sizes by transport and EDNS, order, what is refused).

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::Name;
use proptest::prelude::*;
use riptide_dns::harness::check_name_bounds;
use riptide_dns::tunnel::{MAX_CLIENT_LEN, MAX_LABEL_LEN};
use riptide_dns::{ReadQuery, Transport, Tunnel, TunnelError, TunnelQuery};

fn tunnel() -> Tunnel {
    Tunnel::new("t.example", 1232).unwrap()
}

fn read(tunnel: &Tunnel, message: &[u8], transport: Transport) -> TunnelQuery {
    match tunnel.read_query(message, transport) {
        ReadQuery::Query(q) => q,
        other => panic!("not a tunnel query: {other:?}"),
    }
}

fn code(reply: &[u8]) -> ResponseCode {
    Message::from_vec(reply).unwrap().metadata.response_code
}

#[test]
fn capacity_fills_a_253_character_name() {
    let t = tunnel();
    assert_eq!(t.capacity(8), 139);
    let name = t.encode_name("client01", u32::MAX, &[0xff; 139]).unwrap();
    assert_eq!(name.to_ascii().trim_end_matches('.').len(), 253);
    check_name_bounds(&name);
    let err = t.encode_name("client01", 0, &[0; 140]).unwrap_err();
    assert_eq!(
        err,
        TunnelError::TooLarge {
            size: 140,
            max: 139
        }
    );
    // A longer zone leaves less room; a zone leaving none is refused.
    let long = Tunnel::new(&format!("{}.example", "z".repeat(60)), 512).unwrap();
    assert!(long.capacity(MAX_CLIENT_LEN) < t.capacity(MAX_CLIENT_LEN));
    let zone = [
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(40),
    ]
    .join(".");
    assert!(matches!(
        Tunnel::new(&zone, 512),
        Err(TunnelError::Zone(..))
    ));
    assert!(matches!(
        Tunnel::new("bad..zone", 512),
        Err(TunnelError::Zone(..))
    ));
}

#[test]
fn a_poll_is_nonce_and_client_under_the_zone() {
    let t = tunnel();
    let name = t.encode_name("AbC", 1, &[]).unwrap();
    assert_eq!(name.to_ascii(), "aaaaaai.abc.t.example.");
    let decoded = t.decode_name(&name).unwrap();
    assert_eq!((decoded.client.as_str(), decoded.nonce), ("abc", 1));
    assert!(decoded.datagram.is_empty());
    for bad in ["", "a-b", "a.b", &"x".repeat(MAX_CLIENT_LEN + 1), "é"] {
        assert!(
            matches!(t.encode_name(bad, 0, b"x"), Err(TunnelError::Client(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn names_that_are_not_canonical_encodings_are_refused() {
    let t = tunnel();
    let under = |labels: &str| Name::from_ascii(format!("{labels}.t.example.")).unwrap();
    let good = t.encode_name("abc", 5, &[7; 60]).unwrap();
    assert!(t.decode_name(&good).is_ok());
    // Upper case reads the same (resolvers may randomise the case of names).
    let upper = Name::from_ascii(good.to_ascii().to_uppercase()).unwrap();
    assert_eq!(
        t.decode_name(&upper).unwrap(),
        t.decode_name(&good).unwrap()
    );
    for bad in [
        "abc",                           // no nonce
        "aaaaaaa",                       // no client
        "aaaaaa.abc",                    // a nonce of 6 characters
        "aaaaaab.abc",                   // a nonce with trailing bits set
        "ab.aaaaaai.abc",                // data with trailing bits set
        "a.aaaaaai.abc",                 // a base32 length no bytes give
        "a1.aaaaaai.abc",                // '1' is not base32
        "aaaaaaaa.aaaaaaaa.aaaaaai.abc", // data labels not cut at 63
        "aaaaaai.a-c",                   // a bad client id
    ] {
        assert!(t.decode_name(&under(bad)).is_err(), "{bad}");
    }
    let outside = Name::from_ascii("aaaaaai.abc.example.").unwrap();
    assert!(t.decode_name(&outside).is_err());
}

#[test]
fn answers_fit_512_without_edns_the_edns_size_with_it_and_16_kib_over_tcp() {
    let t = tunnel();
    let datagrams: Vec<Vec<u8>> = (0..200u8).map(|i| vec![i; 139]).collect();
    let all: Vec<&[u8]> = datagrams.iter().map(Vec::as_slice).collect();
    for (edns, transport, limit) in [
        (None, Transport::Udp, 512),
        (Some(900), Transport::Udp, 900),
        (Some(4096), Transport::Udp, 1232),
        (Some(100), Transport::Udp, 512),
        (None, Transport::Tcp, 16_383),
    ] {
        let query = t.query(0x4242, "client01", 9, &[1; 139], edns).unwrap();
        let q = read(&t, &query, transport);
        assert_eq!(q.name.datagram, [1; 139]);
        let (reply, taken) = q.answer(&all);
        assert!(reply.len() <= limit, "{} > {limit}", reply.len());
        assert!(taken > 0 && taken < all.len());
        // One more would not have fit: the answer is as full as the limit allows.
        assert!(
            reply.len() + 139 + 1 + 12 > limit,
            "{} + 152 fits {limit} ({taken} taken)",
            reply.len()
        );
        let answer = t.read_answer(&reply).unwrap();
        assert_eq!(answer.id, 0x4242);
        assert_eq!(answer.datagrams, datagrams[..taken]);
        let message = Message::from_vec(&reply).unwrap();
        assert!(message.metadata.authoritative);
        assert!(message.answers.iter().all(|r| r.ttl == 0));
    }
}

#[test]
fn a_datagram_over_255_bytes_travels_in_several_character_strings() {
    let t = tunnel();
    let query = t.query(1, "abc", 1, b"", Some(4096)).unwrap();
    let q = read(&t, &query, Transport::Udp);
    let big: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let (reply, taken) = q.answer(&[&big, b"after"]);
    assert_eq!(taken, 2);
    assert_eq!(
        t.read_answer(&reply).unwrap().datagrams,
        [big, b"after".to_vec()]
    );
    // A datagram that alone exceeds the limit stops the answer there: nothing after it
    // overtakes it.
    let (reply, taken) = q.answer(&[&vec![0; 1300], b"small"]);
    assert_eq!(taken, 0);
    assert!(t.read_answer(&reply).unwrap().datagrams.is_empty());
}

#[test]
fn what_the_tunnel_does_not_serve_is_refused_or_left_to_the_zones() {
    let t = tunnel();
    let raw = |name: &str, qtype: u16| {
        let mut q = vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, qtype as u8, 0, 1]);
        q
    };
    // An undecodable name under the zone: NXDOMAIN, id echoed.
    let ReadQuery::Refused(reply) =
        t.read_query(&raw("zz.aaaaaai.abc.t.example", 16), Transport::Udp)
    else {
        panic!("not refused")
    };
    assert_eq!(&reply[..2], &[0xab, 0xcd]);
    assert_eq!(code(&reply), ResponseCode::NXDomain);
    // A tunnel name asked for another type: REFUSED.
    let ReadQuery::Refused(reply) = t.read_query(&raw("aaaaaai.abc.t.example", 1), Transport::Udp)
    else {
        panic!("not refused")
    };
    assert_eq!(code(&reply), ResponseCode::Refused);
    // Other zones, responses and garbage are the zones' business.
    for other in [
        raw("www.example.test", 16),
        vec![0; 5],
        b"not a dns message at all".to_vec(),
        {
            let mut r = raw("aaaaaai.abc.t.example", 16);
            r[2] |= 0x80;
            r
        },
    ] {
        assert!(matches!(
            t.read_query(&other, Transport::Udp),
            ReadQuery::Other
        ));
    }
    // A client reads no datagram from an error or from a query.
    let ReadQuery::Refused(nx) = t.read_query(&raw("zz.aaaaaai.abc.t.example", 16), Transport::Udp)
    else {
        panic!()
    };
    assert!(matches!(t.read_answer(&nx), Err(TunnelError::Answer(_))));
    assert!(t.read_answer(&raw("aaaaaai.abc.t.example", 16)).is_err());
}

/// Client ids: letters and digits in any case.
fn client() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9]{{1,{MAX_CLIENT_LEN}}}")).unwrap()
}

proptest! {
    #[test]
    fn every_datagram_within_capacity_round_trips_in_a_bounded_name(
        client in client(),
        nonce in any::<u32>(),
        seed in proptest::collection::vec(any::<u8>(), 0..=139),
        zone in prop::sample::select(vec!["t.example", "tunnel.example.com", "x", "deep.a.b.c.d.example.org"]),
    ) {
        let t = Tunnel::new(zone, 1232).unwrap();
        let max = t.capacity(client.len());
        let datagram = &seed[..seed.len().min(max)];
        let name = t.encode_name(&client, nonce, datagram).unwrap();
        check_name_bounds(&name);
        prop_assert!(name.iter().all(|l| l.len() <= MAX_LABEL_LEN));
        let decoded = t.decode_name(&name).unwrap();
        prop_assert_eq!(decoded.client, client.to_ascii_lowercase());
        prop_assert_eq!(decoded.nonce, nonce);
        prop_assert_eq!(&decoded.datagram[..], datagram);
        // One byte more than the capacity does not fit.
        let over = vec![0u8; max + 1];
        let too_large = matches!(t.encode_name(&client, nonce, &over), Err(TunnelError::TooLarge { .. }));
        prop_assert!(too_large);
    }

    #[test]
    fn any_labels_under_the_zone_decode_only_to_their_own_encoding(
        labels in proptest::collection::vec("[a-zA-Z2-7]{1,63}", 1..5),
    ) {
        let t = tunnel();
        let Ok(name) = Name::from_ascii(format!("{}.t.example.", labels.join("."))) else {
            return Ok(());
        };
        if let Ok(decoded) = t.decode_name(&name) {
            let again = t.encode_name(&decoded.client, decoded.nonce, &decoded.datagram).unwrap();
            prop_assert_eq!(again, name);
        }
    }

    #[test]
    fn answers_carry_the_datagrams_that_fit_in_order(
        sizes in proptest::collection::vec(1usize..600, 0..20),
        edns in prop::option::of(512u16..5000),
    ) {
        let t = tunnel();
        let datagrams: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, n)| vec![i as u8; *n]).collect();
        let all: Vec<&[u8]> = datagrams.iter().map(Vec::as_slice).collect();
        let query = t.query(7, "abc", 1, b"up", edns).unwrap();
        let q = read(&t, &query, Transport::Udp);
        let (reply, taken) = q.answer(&all);
        let limit = edns.map_or(512, |e| usize::from(e.clamp(512, 1232)));
        prop_assert!(reply.len() <= limit);
        prop_assert_eq!(t.read_answer(&reply).unwrap().datagrams, datagrams[..taken].to_vec());
    }
}
