//! RESP properties: commands encoded as clients send them decode to the same arguments under
//! any split of the stream into reads, one frame per command or (batch) per read, and random
//! bytes never yield a command over a limit.

use proptest::prelude::*;
use riptide_codec::{encode_command, parse_commands, Decoded, Decoder, RespCodec, RespConfig};

/// Feeds `input` in reads of the given sizes, keeping unconsumed bytes like the reactor does;
/// returns the commands and the error codes. Without `batch`, each frame holds one command.
fn feed(
    config: RespConfig,
    input: &[u8],
    reads: &[usize],
) -> (Vec<Vec<Vec<u8>>>, Vec<&'static str>) {
    let batch = config.batch;
    let mut codec = RespCodec::new(config).unwrap();
    let (mut commands, mut errors) = (Vec::new(), Vec::new());
    let mut held: Vec<u8> = Vec::new();
    let mut at = 0;
    let mut sizes = reads.iter().cycle();
    while at < input.len() {
        let n = (*sizes.next().unwrap()).clamp(1, input.len() - at);
        held.extend_from_slice(&input[at..at + n]);
        at += n;
        let mut used = 0;
        loop {
            match codec.decode(&held[used..]) {
                Decoded::Owned { consumed, frame } => {
                    let batched = parse_commands(&frame).expect("well-formed descriptors");
                    assert!(!batched.is_empty() && (batch || batched.len() == 1));
                    for args in batched {
                        commands.push(args.into_iter().map(<[u8]>::to_vec).collect());
                    }
                    used += consumed;
                }
                Decoded::Skip { consumed } => used += consumed,
                Decoded::Error { consumed, error } => {
                    errors.push(error.code());
                    used += consumed;
                }
                Decoded::NeedMore => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        held.drain(..used);
    }
    (commands, errors)
}

proptest! {
    #[test]
    fn encoded_commands_round_trip_under_any_split(
        commands in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..8),
        reads in prop::collection::vec(1usize..64, 1..8),
        batch in any::<bool>(),
    ) {
        let mut input = Vec::new();
        for c in &commands {
            let args: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
            encode_command(&args, &mut input);
        }
        let (decoded, errors) = feed(RespConfig { batch, ..RespConfig::default() }, &input, &reads);
        prop_assert!(errors.is_empty(), "{:?}", errors);
        prop_assert_eq!(decoded, commands);
    }

    #[test]
    fn inline_commands_split_on_blanks(
        words in prop::collection::vec("[A-Za-z0-9]{1,10}", 1..6),
        reads in prop::collection::vec(1usize..16, 1..4),
    ) {
        let line = format!("{}\r\n", words.join(" \t "));
        let (decoded, errors) = feed(RespConfig::default(), line.as_bytes(), &reads);
        prop_assert!(errors.is_empty());
        let expected: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        prop_assert_eq!(decoded, vec![expected]);
    }

    #[test]
    fn random_bytes_never_pass_a_limit(
        input in prop::collection::vec(
            prop::sample::select(b"*$\r\n0123456789-abAB :".to_vec()), 0..512),
        reads in prop::collection::vec(1usize..32, 1..4),
        batch in any::<bool>(),
    ) {
        let config = RespConfig { max_bulk_length: 8, max_elements: 4, max_inline_length: 32, max_request_size: 64, batch };
        let (decoded, errors) = feed(config, &input, &reads);
        prop_assert!(errors.len() <= 1, "the codec stops at its first error");
        for c in decoded {
            prop_assert!(!c.is_empty() && c.len() <= 4);
            prop_assert!(c.iter().all(|a| a.len() <= 32));
        }
    }
}
