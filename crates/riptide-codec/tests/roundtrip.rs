//! T4: decode(chunks(encode(frames))) == frames for every codec and parameter set, under
//! arbitrary chunking including 1-byte feeding. T5: oversized input is rejected with bounded
//! buffering.

use proptest::prelude::*;
use riptide_codec::{
    ByteOrder, CodecFactory, CodecSpec, Decoded, DelimiterConfig, FixedLengthConfig, FrameError,
    LengthFieldConfig, LineConfig, LtvConfig,
};

/// Feeds `input` in the given chunk sizes, keeping unconsumed bytes like the reactor does.
/// Returns frames, errors, and the most bytes ever held.
fn feed(
    spec: &CodecSpec,
    input: &[u8],
    chunks: &[usize],
) -> (Vec<Vec<u8>>, Vec<FrameError>, usize) {
    let mut codec = spec.new_codec();
    let mut held: Vec<u8> = Vec::new();
    let (mut frames, mut errors, mut peak) = (Vec::new(), Vec::new(), 0);
    let mut at = 0;
    let mut sizes = chunks.iter().cycle();
    while at < input.len() {
        let n = (*sizes.next().unwrap()).clamp(1, input.len() - at);
        held.extend_from_slice(&input[at..at + n]);
        at += n;
        peak = peak.max(held.len());
        let mut used = 0;
        loop {
            match codec.decode(&held[used..]) {
                Decoded::Frame {
                    consumed,
                    start,
                    end,
                } => {
                    frames.push(held[used + start..used + end].to_vec());
                    used += consumed;
                }
                Decoded::Owned { consumed, frame } => {
                    frames.push(frame);
                    used += consumed;
                }
                Decoded::Reply { .. } => {}
                Decoded::Skip { consumed } => used += consumed,
                Decoded::Error { consumed, error } => {
                    errors.push(error);
                    used += consumed;
                }
                Decoded::NeedMore => break,
            }
        }
        held.drain(..used);
    }
    (frames, errors, peak)
}

fn encode(spec: &CodecSpec, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut codec = spec.new_codec();
    let mut out = Vec::new();
    for f in frames {
        codec.encode(f, &mut out).unwrap();
    }
    out
}

fn specs() -> impl Strategy<Value = CodecSpec> {
    prop_oneof![
        (any::<bool>(), any::<bool>()).prop_map(|(crlf, fail_fast)| CodecSpec::Line(LineConfig {
            max_length: 512,
            strip_delimiter: true,
            fail_fast,
            crlf,
        })),
        // Delimiters that share no byte (overlapping sets are ambiguous on the wire, in netty too).
        prop::collection::vec(1usize..4, 1..4).prop_map(|lens| {
            CodecSpec::Delimiter(DelimiterConfig {
                delimiters: lens
                    .iter()
                    .zip(b"#$%&")
                    .map(|(&n, &b)| vec![b; n])
                    .collect(),
                max_frame_length: 512,
                strip_delimiter: true,
                fail_fast: true,
            })
        }),
        (1usize..40).prop_map(|n| CodecSpec::FixedLength(FixedLengthConfig { frame_length: n })),
        (
            prop::sample::select(vec![1usize, 2, 3, 4, 8]),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(len, little, includes)| {
                CodecSpec::LengthField(LengthFieldConfig {
                    byte_order: if little {
                        ByteOrder::Little
                    } else {
                        ByteOrder::Big
                    },
                    max_frame_length: 4096,
                    length_field_offset: 0,
                    length_field_length: len,
                    length_adjustment: if includes { -(len as i64) } else { 0 },
                    initial_bytes_to_strip: len,
                    fail_fast: true,
                    length_includes_length_field_length: includes,
                    prepender_adjustment: 0,
                })
            }),
        ltv_configs().prop_map(CodecSpec::Ltv),
    ]
}

/// Every LTV layout: 2- or 4-byte size and id, either byte order, either size meaning.
fn ltv_configs() -> impl Strategy<Value = LtvConfig> {
    (
        prop::sample::select(vec![2usize, 4]),
        prop::sample::select(vec![2usize, 4]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(size_bytes, id_bytes, little, includes)| LtvConfig {
            size_bytes,
            id_bytes,
            byte_order: if little {
                ByteOrder::Little
            } else {
                ByteOrder::Big
            },
            size_includes_header: includes,
            max_frame_length: 4096,
        })
}

/// Frames a codec can carry: no delimiter bytes for text framings, exact size for fixed.
fn frames_for(spec: &CodecSpec, raw: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    raw.into_iter()
        .map(|mut f| match spec {
            CodecSpec::Line(_) => {
                f.retain(|&b| b != b'\n' && b != b'\r');
                f
            }
            CodecSpec::Delimiter(_) => {
                f.retain(|&b| !(b'#'..=b'&').contains(&b));
                f
            }
            CodecSpec::FixedLength(c) => {
                f.resize(c.frame_length, 7);
                f
            }
            CodecSpec::LengthField(c) if c.length_field_length == 1 => {
                f.truncate(254);
                f
            }
            // A record starts with its message id.
            CodecSpec::Ltv(c) => {
                f.resize(f.len().max(c.id_bytes), 0);
                f
            }
            CodecSpec::LengthField(_) | CodecSpec::Http1(_) | CodecSpec::Resp(_) => f,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn round_trip_under_any_chunking(
        spec in specs(),
        raw in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20),
        chunks in prop::collection::vec(1usize..70, 1..8),
        byte_at_a_time in any::<bool>(),
    ) {
        let frames = frames_for(&spec, raw);
        let wire = encode(&spec, &frames);
        let chunks = if byte_at_a_time { vec![1] } else { chunks };
        let (got, errors, _) = feed(&spec, &wire, &chunks);
        prop_assert!(errors.is_empty(), "{:?}", errors);
        prop_assert_eq!(got, frames);
    }

    /// LTV messages: (message id, body) pairs in, the same pairs out, under any chunking.
    #[test]
    fn ltv_messages_round_trip_under_any_chunking(
        config in ltv_configs(),
        raw in prop::collection::vec((any::<u32>(), prop::collection::vec(any::<u8>(), 0..300)), 0..20),
        chunks in prop::collection::vec(1usize..70, 1..8),
    ) {
        let messages: Vec<(u32, Vec<u8>)> =
            raw.into_iter().map(|(id, body)| (id & config.max_msg_id(), body)).collect();
        let records: Vec<Vec<u8>> = messages
            .iter()
            .map(|(id, body)| {
                let mut r = Vec::new();
                config.record(*id, body, &mut r).unwrap();
                r
            })
            .collect();
        let spec = CodecSpec::Ltv(config.clone());
        let (got, errors, _) = feed(&spec, &encode(&spec, &records), &chunks);
        prop_assert!(errors.is_empty(), "{:?}", errors);
        let got: Vec<(u32, Vec<u8>)> = got
            .iter()
            .map(|r| config.split(r).map(|(id, body)| (id, body.to_vec())).unwrap())
            .collect();
        prop_assert_eq!(got, messages);
    }
}

#[test]
fn t5_max_length_header_is_refused_before_any_body_arrives() {
    let spec = CodecSpec::LengthField(LengthFieldConfig {
        max_frame_length: 1 << 16,
        ..LengthFieldConfig::default()
    });
    let mut input = vec![0xff, 0xff, 0xff, 0xff];
    input.extend(std::iter::repeat_n(0u8, 1 << 20));
    let (frames, errors, peak) = feed(&spec, &input, &[65536]);
    assert!(frames.is_empty());
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code(), "ERR_FRAME_TOO_LONG");
    assert!(peak <= 65536, "held at most one read: {peak}");
}

#[test]
fn t5_64_mib_without_a_delimiter_holds_at_most_max_plus_one_read() {
    for spec in [
        CodecSpec::Line(LineConfig {
            max_length: 4096,
            ..LineConfig::default()
        }),
        CodecSpec::Delimiter(DelimiterConfig {
            delimiters: vec![b"\0".to_vec()],
            max_frame_length: 4096,
            strip_delimiter: true,
            fail_fast: true,
        }),
    ] {
        let input = vec![b'x'; 64 << 20];
        let (frames, errors, peak) = feed(&spec, &input, &[65536]);
        assert!(frames.is_empty());
        assert_eq!(
            errors.len(),
            usize::from(matches!(spec, CodecSpec::Delimiter(_))),
            "{spec:?}"
        );
        assert!(peak <= 4096 + 65536, "{spec:?} held {peak}");
    }
}

#[test]
fn t5_max_plus_one_is_too_long_and_max_is_fine() {
    let spec = CodecSpec::Line(LineConfig {
        max_length: 10,
        ..LineConfig::default()
    });
    let (frames, errors, _) = feed(&spec, b"0123456789\n0123456789a\nok\n", &[3]);
    assert_eq!(frames, vec![b"0123456789".to_vec(), b"ok".to_vec()]);
    assert_eq!(
        errors,
        vec![FrameError::TooLong {
            length: 11,
            max: 10
        }]
    );
    let spec = CodecSpec::LengthField(LengthFieldConfig {
        max_frame_length: 10,
        length_field_length: 1,
        initial_bytes_to_strip: 1,
        ..LengthFieldConfig::default()
    });
    let (frames, errors, _) = feed(
        &spec,
        &[
            9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        &[4],
    );
    assert_eq!(frames.len(), 1);
    assert_eq!(
        errors,
        vec![FrameError::TooLong {
            length: 11,
            max: 10
        }]
    );
}
