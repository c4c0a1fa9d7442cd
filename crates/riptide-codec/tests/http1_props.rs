//! Property tests of the HTTP/1 codec: any split of valid requests decodes the same; any
//! chunk-size line, however hostile, is read exactly as RFC 9112 says or refused, never
//! panicking.

use proptest::prelude::*;
use riptide_codec::harness::{feed_in_steps, parse_descriptor};
use riptide_codec::{decode_all, Http1Codec, Http1Config};

fn codec() -> Http1Codec {
    Http1Codec::new(Http1Config::default()).unwrap()
}

/// A valid request: `Content-Length` or chunked, with its body.
fn request() -> impl Strategy<Value = Vec<u8>> {
    (
        "[a-z]{0,12}",
        proptest::collection::vec(any::<u8>(), 0..300),
        any::<bool>(),
        1usize..64,
    )
        .prop_map(|(path, body, chunked, piece)| {
            let mut r = format!("POST /{path} HTTP/1.1\r\nHost: h\r\n").into_bytes();
            if chunked {
                r.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                for c in body.chunks(piece) {
                    r.extend_from_slice(format!("{:X};x=1\r\n", c.len()).as_bytes());
                    r.extend_from_slice(c);
                    r.extend_from_slice(b"\r\n");
                }
                r.extend_from_slice(b"0\r\nT: v\r\n\r\n");
            } else {
                r.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                r.extend_from_slice(&body);
            }
            r
        })
}

/// The reference reading of a chunk-size line (without CRLF): `1*16HEXDIG [*WSP ";" ext]`,
/// ext free of CTLs but HTAB.
fn model(line: &[u8]) -> Option<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 16 {
        return None;
    }
    let rest = &line[digits..];
    let ws = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let ok = rest.is_empty()
        || (rest.get(ws) == Some(&b';')
            && rest[ws..]
                .iter()
                .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)));
    ok.then(|| u64::from_str_radix(std::str::from_utf8(&line[..digits]).unwrap(), 16).unwrap())
}

proptest! {
    #[test]
    fn any_split_of_valid_requests_decodes_the_same(
        reqs in proptest::collection::vec(request(), 1..4),
        step in 1usize..200,
    ) {
        let input = reqs.concat();
        let (whole, errors, left) = decode_all(&mut codec(), &input);
        prop_assert!(errors.is_empty() && left == 0);
        prop_assert_eq!(whole.len(), reqs.len());
        let (split, errors) = feed_in_steps(&mut codec(), &input, step, 1 << 21);
        prop_assert!(errors.is_empty());
        prop_assert_eq!(&split, &whole);
        for f in &whole {
            prop_assert!(parse_descriptor(f).is_some());
        }
    }

    #[test]
    fn hostile_chunk_size_lines_match_the_grammar(
        line in proptest::collection::vec(
            prop_oneof![
                Just(b'0'), Just(b'f'), Just(b'F'), Just(b'9'), Just(b'+'), Just(b'-'),
                Just(b' '), Just(b'\t'), Just(b';'), Just(0xa0u8), Just(b'\n'), Just(b'\r'),
                Just(0u8), Just(b'x'), Just(b'='),
            ],
            0..24,
        ),
    ) {
        let ours = riptide_codec::harness::parse_chunk_line(&line).ok().map(|(n, _)| n);
        prop_assert_eq!(ours, model(&line), "{:?}", String::from_utf8_lossy(&line));
        // Through the whole decoder: never a panic, and a body only for a valid size line.
        let mut input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        input.extend_from_slice(&line);
        input.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        let (frames, _, _) = decode_all(&mut codec(), &input);
        if model(&line).is_none() {
            prop_assert!(frames.is_empty());
        }
    }
}
