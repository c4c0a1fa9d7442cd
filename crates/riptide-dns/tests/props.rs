//! Property tests: any bytes, and any well-formed query for any name, get a bounded, decodable
//! answer with the query's id.

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};
use proptest::prelude::*;
use riptide_dns::harness::{message, sample_zone};
use riptide_dns::Transport;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        message(&data);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(
        id in any::<u16>(),
        counts in any::<[u16; 4]>(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[0x01, 0x00]);
        for c in counts {
            q.extend_from_slice(&c.to_be_bytes());
        }
        q.extend_from_slice(&body);
        message(&q);
    }

    #[test]
    fn well_formed_queries_get_decodable_answers(
        labels in proptest::collection::vec("[a-z0-9]{1,12}|[*]|loop1|www|wild|sub", 0..4),
        rtype in prop::sample::select(vec![
            RecordType::A, RecordType::AAAA, RecordType::MX, RecordType::TXT, RecordType::NS,
            RecordType::SOA, RecordType::CNAME, RecordType::ANY, RecordType::PTR,
        ]),
        edns_size in prop::option::of(0u16..=u16::MAX),
        id in any::<u16>(),
    ) {
        let name = format!("{}example.", labels.iter().map(|l| format!("{l}.")).collect::<String>());
        let mut m = Message::query();
        m.metadata.id = id;
        m.add_query(Query::query(Name::from_ascii(&name).unwrap(), rtype));
        if let Some(size) = edns_size {
            let mut e = Edns::new();
            e.set_max_payload(size);
            m.set_edns(e);
        }
        for transport in [Transport::Udp, Transport::Tcp] {
            let reply = sample_zone().answer(&m.to_vec().unwrap(), transport).unwrap();
            let r = Message::from_vec(&reply).unwrap();
            prop_assert_eq!(r.metadata.id, id);
            prop_assert_eq!(r.queries.len(), 1);
            prop_assert_eq!(r.edns.is_some(), edns_size.is_some());
        }
    }
}

proptest! {
    #[test]
    fn resolver_scripts_end_every_lookup_within_its_bounds(data in proptest::collection::vec(any::<u8>(), 0..1500)) {
        riptide_dns::harness::resolver(&data);
    }
}
