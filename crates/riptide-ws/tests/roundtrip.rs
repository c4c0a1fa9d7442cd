//! Property tests: whatever one side sends, the other reads back exactly, through any split of
//! the wire, any fragment size, masked or not, compressed or not, with every takeover choice.

use proptest::prelude::*;
use riptide_ws::{
    CloseFrame, DeflateParams, Event, FrameHeader, HeaderParse, Opcode, Role, Session,
    SessionConfig, State, Utf8Validator,
};

/// A message's payload from its length and a seed: binary bytes, or text cycling through 1- to
/// 4-byte characters so that fragments and reads cut characters apart.
fn payload(len: usize, seed: u8, binary: bool) -> Vec<u8> {
    if binary {
        return (0..len)
            .map(|i| (i as u8).wrapping_mul(seed | 1).wrapping_add(seed))
            .collect();
    }
    let chars = ['a', 'é', '☃', '𝄞', ' ', 'z'];
    let mut text = String::new();
    let mut i = usize::from(seed);
    while text.len() < len {
        text.push(chars[i % chars.len()]);
        i = i.wrapping_mul(7).wrapping_add(3);
    }
    text.into_bytes()
}

/// Empty messages often (an empty compressed message between others once broke the stream),
/// small ones mostly, and some around the 16- and 64-bit length encodings.
fn lengths() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(0usize), 4 => 1usize..300, 1 => 65_530usize..65_540, 1 => 100_000usize..140_000]
}

fn deflate() -> impl Strategy<Value = Option<DeflateParams>> {
    prop::option::of((any::<bool>(), any::<bool>(), 9u8..=15, 9u8..=15).prop_map(
        |(s, c, sb, cb)| DeflateParams {
            server_no_context_takeover: s,
            client_no_context_takeover: c,
            server_max_window_bits: sb,
            client_max_window_bits: cb,
            client_window_offered: true,
        },
    ))
}

/// Feeds `wire` to `session` in reads cut at `cuts`, collecting events.
fn read_all(session: &mut Session, wire: &[u8], cuts: &[usize]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut start = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    ends.push(wire.len());
    ends.sort_unstable();
    for end in ends {
        let mut rest = &wire[start..end.max(start)];
        start = end.max(start);
        loop {
            let r = session.receive(rest).expect("valid traffic");
            rest = &rest[r.consumed..];
            match r.event {
                Some(e) => events.push(e),
                None => break,
            }
        }
        assert!(rest.is_empty());
    }
    events
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn messages_round_trip(
        messages in prop::collection::vec((any::<bool>(), lengths(), any::<u8>()), 1..6),
        client_sends in any::<bool>(),
        fragment_size in prop_oneof![Just(0usize), 1usize..200, 60_000usize..70_000],
        deflate in deflate(),
        threshold in prop_oneof![Just(0usize), 1usize..500],
        cuts in prop::collection::vec(any::<usize>(), 0..24),
    ) {
        let (from, to) = if client_sends { (Role::Client, Role::Server) } else { (Role::Server, Role::Client) };
        let config = SessionConfig { max_message_size: 1 << 20, fragment_size, deflate, compression_threshold: threshold, ..SessionConfig::default() };
        let mut sender = Session::new(from, config);
        let mut receiver = Session::new(to, config);
        let mut expected = Vec::new();
        for (binary, len, seed) in messages {
            let data = payload(len, seed, binary);
            sender.send(&data, binary).unwrap();
            expected.push(Event::Message { data, binary });
        }
        sender.ping(b"are you there").unwrap();
        sender.close(4321, "done").unwrap();
        expected.push(Event::Ping(b"are you there".to_vec()));
        expected.push(Event::Close(CloseFrame { code: 4321, reason: "done".into() }));
        let wire = sender.take_output();
        prop_assert_eq!(read_all(&mut receiver, &wire, &cuts), expected);
        prop_assert_eq!(receiver.state(), State::Closed);
        // The pong and the close echo go back.
        let back = receiver.take_output();
        let answers = read_all(&mut sender, &back, &cuts);
        prop_assert_eq!(answers, vec![Event::Pong(b"are you there".to_vec()), Event::Close(CloseFrame { code: 4321, reason: String::new() })]);
        prop_assert_eq!(sender.state(), State::Closed);
    }

    #[test]
    fn utf8_in_pieces_agrees_with_std(bytes in prop::collection::vec(any::<u8>(), 0..64), cut in any::<usize>(), text in ".{0,20}") {
        for input in [bytes.clone(), text.into_bytes()] {
            let cut = cut % (input.len() + 1);
            let mut v = Utf8Validator::default();
            let whole = std::str::from_utf8(&input).is_ok();
            let ok = v.check(&input[..cut]) && v.finish(&input);
            prop_assert_eq!(ok, whole);
        }
    }

    #[test]
    fn headers_round_trip_and_random_bytes_never_panic(
        fin in any::<bool>(), rsv1 in any::<bool>(), op in prop::sample::select(vec![0u8, 1, 2, 8, 9, 10]),
        mask in prop::option::of(any::<[u8; 4]>()), len in prop_oneof![0u64..300, Just(65_535u64), Just(65_536u64), 0u64..(1 << 63)],
        noise in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let header = FrameHeader { fin, rsv1, mask, payload_len: len, ..FrameHeader::new(Opcode::from_bits(op).unwrap()) };
        let mut out = Vec::new();
        header.encode(&mut out);
        prop_assert_eq!(FrameHeader::parse(&out), Ok(HeaderParse::Complete { header, len: out.len() }));
        let _ = FrameHeader::parse(&noise);
    }
}
