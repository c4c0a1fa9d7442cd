//! The fuzz harness: the body of every fuzz target in `fuzz/`, kept here so the regression
//! test (`tests/regressions.rs`) replays saved inputs through exactly the same code. Not part
//! of the API. Each function takes a fuzzer's bytes and panics on a finding.
//!
//! The structure-aware targets (`http1_structured`, `proxy_structured`) need the `fuzzing`
//! feature (they draw their inputs with `arbitrary`).

// Assertion code: indexing a descriptor the codec built, or a sum over a fuzz input's
// length, that goes wrong is itself a finding, reported by the panic.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

pub use crate::http1::parse_chunk_line;
use crate::{
    parse_proxy, ByteOrder, CodecFactory, CodecSpec, Decoded, Decoder, DelimiterConfig, Http1Codec,
    Http1Config, LengthFieldConfig, LineConfig, LtvCodec, LtvConfig, ProxyMode, ProxyParse,
    RespConfig,
};

/// A fuzz target's body: takes the fuzzer's bytes, panics on a finding.
pub type Target = fn(&[u8]);

/// The targets by name (the fuzz target's and the regression directory's).
pub fn targets() -> Vec<(&'static str, Target)> {
    vec![
        ("line", line as Target),
        ("delimiter", delimiter),
        ("length_field", length_field),
        ("ltv", ltv),
        ("http1", http1),
        ("http1_differential", http1_differential),
        ("proxy", proxy),
        ("resp", resp),
        #[cfg(feature = "fuzzing")]
        ("http1_structured", http1_structured),
        #[cfg(feature = "fuzzing")]
        ("proxy_structured", proxy_structured),
    ]
}

/// Feeds `data[1..]` in reads sized from `data[0]`, like a socket would, keeping unconsumed
/// bytes; checks frames stay within `max` and that no more than `max` + one read is held.
/// Returns the frames and error codes.
pub fn feed(spec: &CodecSpec, data: &[u8], max: usize) -> (Vec<Vec<u8>>, Vec<&'static str>) {
    let Some((&step, input)) = data.split_first() else {
        return (Vec::new(), Vec::new());
    };
    feed_in_steps(&mut *spec.new_codec(), input, usize::from(step).max(1), max)
}

/// [`feed`] with a given codec and read size.
pub fn feed_in_steps(
    codec: &mut dyn Decoder,
    input: &[u8],
    step: usize,
    max: usize,
) -> (Vec<Vec<u8>>, Vec<&'static str>) {
    let (mut frames, mut errors) = (Vec::new(), Vec::new());
    let mut held: Vec<u8> = Vec::new();
    for chunk in input.chunks(step.max(1)) {
        held.extend_from_slice(chunk);
        let mut used = 0;
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds < 1_000_000, "decoder made no progress");
            let rest = held.len() - used;
            match codec.decode(&held[used..]) {
                Decoded::Frame {
                    consumed,
                    start,
                    end,
                } => {
                    assert!(start <= end && end <= rest && consumed <= rest);
                    assert!(end - start <= max, "frame over the limit");
                    assert!(consumed > 0, "a frame consumes bytes");
                    frames.push(held[used + start..used + end].to_vec());
                    used += consumed;
                }
                Decoded::Owned { consumed, frame } => {
                    assert!(consumed > 0 && consumed <= rest);
                    assert!(frame.len() <= max + 64 * 1024, "descriptor over the limits");
                    frames.push(frame);
                    used += consumed;
                }
                Decoded::Skip { consumed } => {
                    assert!(
                        consumed > 0 && consumed <= rest,
                        "skip {consumed} of {rest}"
                    );
                    used += consumed;
                }
                Decoded::Error { consumed, error } => {
                    assert!(consumed <= rest);
                    errors.push(error.code());
                    used += consumed;
                }
                Decoded::Reply { .. } => {}
                Decoded::NeedMore => break,
            }
        }
        held.drain(..used);
        assert!(
            held.len() <= 2 * max + 64 * 1024 + step,
            "held {} bytes",
            held.len()
        );
    }
    (frames, errors)
}

/// Line codec, 64-byte lines.
pub fn line(data: &[u8]) {
    let fail_fast = data.first().is_some_and(|b| b & 0x80 != 0);
    let spec = CodecSpec::Line(LineConfig {
        max_length: 64,
        fail_fast,
        ..LineConfig::default()
    });
    feed(&spec, data, 64);
}

/// Delimiter codec, `\0` and `||`.
pub fn delimiter(data: &[u8]) {
    let spec = CodecSpec::Delimiter(DelimiterConfig {
        delimiters: vec![b"\0".to_vec(), b"||".to_vec()],
        max_frame_length: 64,
        strip_delimiter: true,
        fail_fast: data.first().is_some_and(|b| b & 0x80 != 0),
    });
    feed(&spec, data, 64);
}

/// Length-field codec, its layout drawn from `data[0]`.
pub fn length_field(data: &[u8]) {
    let b = data.first().copied().unwrap_or(0);
    let width = [1, 2, 3, 4, 8][usize::from(b % 5)];
    let spec = CodecSpec::LengthField(LengthFieldConfig {
        byte_order: if b & 0x40 != 0 {
            ByteOrder::Little
        } else {
            ByteOrder::Big
        },
        max_frame_length: 256,
        length_field_offset: usize::from(b >> 6),
        length_field_length: width,
        length_adjustment: i64::from(b % 7) - 3,
        initial_bytes_to_strip: usize::from(b % 3),
        fail_fast: b & 0x20 != 0,
        ..LengthFieldConfig::default()
    });
    if spec.validate().is_ok() {
        feed(&spec, data, 256);
    }
}

/// LTV codec, its layout drawn from `data[0]` and `data[1..]` fed as reads: every frame is a
/// record holding its message id within the limit, and framing it again gives back the bytes
/// it came in (size field included).
pub fn ltv(data: &[u8]) {
    let b = data.first().copied().unwrap_or(0);
    let config = LtvConfig {
        size_bytes: if b & 1 != 0 { 4 } else { 2 },
        id_bytes: if b & 2 != 0 { 4 } else { 2 },
        byte_order: if b & 4 != 0 {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        },
        size_includes_header: b & 8 != 0,
        max_frame_length: 256,
    };
    let spec = CodecSpec::Ltv(config.clone());
    let (frames, _) = feed(&spec, data, 256);
    let mut codec = LtvCodec::new(config.clone()).expect("a valid layout");
    for record in frames {
        let (id, body) = config
            .split(&record)
            .expect("a record holds its message id");
        let mut again = Vec::new();
        config
            .record(id, body, &mut again)
            .expect("a decoded id fits its field");
        assert_eq!(again, record);
        let mut wire = Vec::new();
        crate::Encoder::encode(&mut codec, &record, &mut wire)
            .expect("a decoded record re-encodes");
        assert_eq!(crate::decode_all(&mut codec, &wire).0, vec![record]);
    }
}

/// The limits the HTTP targets use.
fn http1_config() -> Http1Config {
    Http1Config {
        max_header_size: 1024,
        max_headers: 16,
        max_body_size: 4096,
    }
}

/// HTTP/1 codec on raw bytes.
pub fn http1(data: &[u8]) {
    feed(&CodecSpec::Http1(http1_config()), data, 4096 + 1024);
}

/// RESP codec on raw bytes, with small limits so the fuzzer reaches each of them, once a
/// command per frame and once batched ([`RespConfig::batch`]): every command is a well-formed
/// descriptor within the limits, the bytes held stay bounded, and both settings yield the same
/// commands in the same order and the same errors.
pub fn resp(data: &[u8]) {
    assert_eq!(
        resp_commands(data, false),
        resp_commands(data, true),
        "a batch carries the commands one by one would"
    );
}

/// The commands (arguments copied out) and error codes of `data` through a RESP codec.
type RespRun = (Vec<Vec<Vec<u8>>>, Vec<&'static str>);

/// [`resp`] with one setting of [`RespConfig::batch`].
fn resp_commands(data: &[u8], batch: bool) -> RespRun {
    let config = RespConfig {
        max_bulk_length: 256,
        max_elements: 16,
        max_inline_length: 256,
        max_request_size: 1024,
        batch,
    };
    let (frames, errors) = feed(&CodecSpec::Resp(config), data, 1024);
    let mut commands = Vec::new();
    for f in frames {
        let parsed = if batch {
            crate::parse_commands(&f).expect("a well-formed batch")
        } else {
            vec![crate::parse_command(&f).expect("a well-formed descriptor")]
        };
        assert!(!parsed.is_empty(), "a frame holds a command");
        for args in parsed {
            assert!(!args.is_empty() && args.len() <= 16);
            assert!(args.iter().all(|a| a.len() <= 256));
            commands.push(args.iter().map(|a| a.to_vec()).collect());
        }
    }
    (commands, errors)
}

/// PROXY headers on raw bytes: no panic, nothing read past the input.
pub fn proxy(data: &[u8]) {
    for mode in [ProxyMode::V1, ProxyMode::V2, ProxyMode::Any] {
        if let Ok(ProxyParse::Done { consumed, .. }) = parse_proxy(data, mode) {
            assert!(consumed <= data.len());
        }
        let _ = parse_proxy(&data[..data.len() / 2], mode);
    }
}

/// A request descriptor, read back.
#[derive(Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// HTTP/1.`version`.
    pub version: u8,
    /// The method.
    pub method: Vec<u8>,
    /// The request target.
    pub path: Vec<u8>,
    /// Header fields in order.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

/// `n` bytes of `frame` at `*at`, moving `at` past them.
fn take<'a>(frame: &'a [u8], at: &mut usize, n: usize) -> Option<&'a [u8]> {
    let s = frame.get(*at..at.checked_add(n)?)?;
    *at += n;
    Some(s)
}

/// A `u32` length, then that many bytes.
fn take_field(frame: &[u8], at: &mut usize) -> Option<Vec<u8>> {
    let n = u32::from_le_bytes(take(frame, at, 4)?.try_into().ok()?) as usize;
    take(frame, at, n).map(<[u8]>::to_vec)
}

/// Reads a descriptor (`http1`'s frame format), `None` if malformed or with trailing bytes.
pub fn parse_descriptor(frame: &[u8]) -> Option<Descriptor> {
    let mut at = 0usize;
    let version = *take(frame, &mut at, 1)?.first()?;
    let method = take_field(frame, &mut at)?;
    let path = take_field(frame, &mut at)?;
    let count = u32::from_le_bytes(take(frame, &mut at, 4)?.try_into().ok()?);
    let mut headers = Vec::new();
    for _ in 0..count {
        let name = take_field(frame, &mut at)?;
        let value = take_field(frame, &mut at)?;
        headers.push((name, value));
    }
    let body = take_field(frame, &mut at)?;
    (at == frame.len()).then_some(Descriptor {
        version,
        method,
        path,
        headers,
        body,
    })
}

/// Our framing of a whole request against `httparse::Request::parse`: when we accept a
/// request, httparse accepts its head too and agrees on version, method, target and every
/// header; and we never accept what httparse refuses.
pub fn http1_differential(data: &[u8]) {
    let mut codec = Http1Codec::new(Http1Config {
        max_header_size: 1 << 16,
        max_headers: 64,
        max_body_size: 1 << 16,
    })
    .expect("valid limits");
    let mut replies = 0;
    let ours = loop {
        match codec.decode(data) {
            Decoded::Reply { .. } if replies == 0 => replies += 1,
            other => break other,
        }
    };
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut theirs = httparse::Request::new(&mut slots);
    let parsed = theirs.parse(data);
    let Decoded::Owned { consumed, frame } = ours else {
        return;
    };
    // Empty lines before the request are skipped one `Skip` at a time, never framed.
    let Ok(httparse::Status::Complete(head)) = parsed else {
        panic!("we framed a request httparse refuses: {parsed:?}");
    };
    assert!(
        head <= consumed,
        "head {head} past the frame's {consumed} bytes"
    );
    let d = parse_descriptor(&frame).expect("a well-formed descriptor");
    assert_eq!(Some(d.version), theirs.version);
    assert_eq!(Some(d.method.as_slice()), theirs.method.map(str::as_bytes));
    assert_eq!(Some(d.path.as_slice()), theirs.path.map(str::as_bytes));
    assert_eq!(d.headers.len(), theirs.headers.len());
    for ((name, value), h) in d.headers.iter().zip(theirs.headers.iter()) {
        assert_eq!(name.as_slice(), h.name.as_bytes());
        assert_eq!(value.as_slice(), h.value);
    }
    assert!(
        !data[..head]
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\n' && (i == 0 || data[i - 1] != b'\r')),
        "we framed a head with a bare LF"
    );
}

#[cfg(feature = "fuzzing")]
pub use structured::{http1_structured, proxy_structured, Http1Case, ProxyCase};

#[cfg(feature = "fuzzing")]
mod structured {
    use super::*;
    use arbitrary::{Arbitrary, Unstructured};
    use std::net::{IpAddr, SocketAddr};

    /// How a number is written on the wire: the well-formed forms and the hostile ones.
    #[derive(Arbitrary, Clone, Debug)]
    pub enum NumForm {
        /// As is.
        Plain,
        /// With this many leading zeros (well-formed within the digit limit).
        LeadingZeros(u8),
        /// `+n`.
        Plus,
        /// `n` with a space before it.
        LeadingSpace,
        /// `n` with a space after it.
        TrailingSpace,
        /// `n` then 0xA0 (a non-breaking space in latin1).
        TrailingNbsp,
        /// Something else entirely.
        Raw(Vec<u8>),
    }

    impl NumForm {
        /// Writes `digits` in this form; true when well-formed within `max_digits` (a
        /// hostile form may still be accepted, e.g. a trailing space is OWS in a field).
        fn write(&self, digits: &str, max_digits: usize, out: &mut Vec<u8>) -> bool {
            match self {
                NumForm::Plain => {
                    out.extend_from_slice(digits.as_bytes());
                    digits.len() <= max_digits
                }
                NumForm::LeadingZeros(n) => {
                    let zeros = usize::from(*n % 24);
                    out.extend(std::iter::repeat_n(b'0', zeros));
                    out.extend_from_slice(digits.as_bytes());
                    digits.len() + zeros <= max_digits
                }
                NumForm::Plus => {
                    out.push(b'+');
                    out.extend_from_slice(digits.as_bytes());
                    false
                }
                NumForm::LeadingSpace => {
                    out.push(b' ');
                    out.extend_from_slice(digits.as_bytes());
                    false
                }
                NumForm::TrailingSpace => {
                    out.extend_from_slice(digits.as_bytes());
                    out.push(b' ');
                    false
                }
                NumForm::TrailingNbsp => {
                    out.extend_from_slice(digits.as_bytes());
                    out.push(0xa0);
                    false
                }
                NumForm::Raw(raw) => {
                    out.extend_from_slice(raw);
                    false
                }
            }
        }
    }

    /// How the body is framed.
    #[derive(Arbitrary, Clone, Debug)]
    pub enum BodyCase {
        /// No body, no framing header.
        None,
        /// `Content-Length`.
        Length {
            /// The body.
            body: Vec<u8>,
            /// How the length is written.
            form: NumForm,
            /// Declare this instead of the body's length.
            declared: Option<u64>,
        },
        /// `Transfer-Encoding: chunked`.
        Chunked {
            /// Each chunk's data and optional extension (mapped to token characters).
            chunks: Vec<(Vec<u8>, Option<Vec<u8>>)>,
            /// How the first chunk's size is written.
            form: NumForm,
            /// Declare this size for the first chunk instead.
            declared: Option<u64>,
            /// Trailer fields (names from a fixed list, values mapped to visible ASCII).
            trailers: Vec<(u8, Vec<u8>)>,
        },
        /// Two `Content-Length` fields.
        TwoLengths(u64, u64),
        /// Both `Content-Length` and `chunked`.
        LengthAndChunked(u64),
        /// A `Transfer-Encoding` other than `chunked`.
        OtherCoding(Vec<u8>),
    }

    /// A generated request: well-formed unless a hostile part is chosen.
    #[derive(Arbitrary, Clone, Debug)]
    pub struct Http1Case {
        /// Index of a method in a fixed list.
        pub method: u8,
        /// The path, mapped to URI characters.
        pub path: Vec<u8>,
        /// HTTP/1.1 rather than 1.0.
        pub http11: bool,
        /// Extra headers: a name from a fixed list, a value mapped to visible ASCII.
        pub headers: Vec<(u8, Vec<u8>)>,
        /// The body.
        pub body: BodyCase,
        /// A raw line put among the headers (makes the request hostile).
        pub raw_line: Option<Vec<u8>>,
        /// End lines with a bare LF (hostile).
        pub bare_lf: bool,
        /// Bytes per read.
        pub step: u8,
    }

    const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
    const NAMES: [&str; 5] = ["Host", "Accept", "X-Custom", "User-Agent", "Cookie"];

    fn map(bytes: &[u8], alphabet: &[u8]) -> Vec<u8> {
        bytes
            .iter()
            .map(|&b| alphabet[usize::from(b) % alphabet.len()])
            .collect()
    }

    const URI: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-~?=&%";
    const VALUE: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789 !\"#$%&'()*+,-./:;<=>?@[]^_`{|}~";
    const TOKEN: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~";

    /// A visible-ASCII value, never starting or ending with a space (those would be OWS).
    fn value(bytes: &[u8]) -> Vec<u8> {
        let mut v = map(bytes, VALUE);
        v.retain(|&b| b != b' ');
        v
    }

    impl Http1Case {
        /// The request's bytes, whether it is well-formed, and what it should decode to.
        pub fn render(&self) -> (Vec<u8>, bool, Descriptor) {
            let method = METHODS[usize::from(self.method) % METHODS.len()];
            let mut path = b"/".to_vec();
            path.extend(map(&self.path, URI));
            let mut ok = true;
            let mut headers: Vec<(Vec<u8>, Vec<u8>)> = self
                .headers
                .iter()
                .take(8)
                .map(|(n, v)| {
                    (
                        NAMES[usize::from(*n) % NAMES.len()].as_bytes().to_vec(),
                        value(v),
                    )
                })
                .collect();
            let mut wire_body = Vec::new();
            let mut body = Vec::new();
            let crlf: &[u8] = if self.bare_lf { b"\n" } else { b"\r\n" };
            ok &= !self.bare_lf;
            match &self.body {
                BodyCase::None => {}
                BodyCase::Length {
                    body: b,
                    form,
                    declared,
                } => {
                    let n = declared.unwrap_or(b.len() as u64);
                    let mut v = Vec::new();
                    ok &= form.write(&n.to_string(), 20, &mut v);
                    ok &= declared.is_none();
                    headers.push((b"Content-Length".to_vec(), v));
                    wire_body.extend_from_slice(b);
                    body.extend_from_slice(b);
                }
                BodyCase::Chunked {
                    chunks,
                    form,
                    declared,
                    trailers,
                } => {
                    headers.push((b"Transfer-Encoding".to_vec(), b"chunked".to_vec()));
                    ok &= self.http11 && declared.is_none();
                    for (i, (data, ext)) in chunks.iter().filter(|c| !c.0.is_empty()).enumerate() {
                        let size = if i == 0 {
                            declared.unwrap_or(data.len() as u64)
                        } else {
                            data.len() as u64
                        };
                        let digits = format!("{size:x}");
                        if i == 0 {
                            ok &= form.write(&digits, 16, &mut wire_body);
                        } else {
                            wire_body.extend_from_slice(digits.as_bytes());
                        }
                        if let Some(ext) = ext {
                            wire_body.push(b';');
                            wire_body.push(b'e');
                            wire_body.extend(map(ext, TOKEN));
                        }
                        wire_body.extend_from_slice(crlf);
                        wire_body.extend_from_slice(data);
                        wire_body.extend_from_slice(crlf);
                        body.extend_from_slice(data);
                    }
                    wire_body.extend_from_slice(b"0");
                    wire_body.extend_from_slice(crlf);
                    for (n, v) in trailers.iter().take(8) {
                        wire_body
                            .extend_from_slice(NAMES[usize::from(*n) % NAMES.len()].as_bytes());
                        wire_body.extend_from_slice(b": ");
                        wire_body.extend(value(v));
                        wire_body.extend_from_slice(crlf);
                    }
                    wire_body.extend_from_slice(crlf);
                }
                BodyCase::TwoLengths(a, b) => {
                    ok = false;
                    headers.push((b"Content-Length".to_vec(), a.to_string().into_bytes()));
                    headers.push((b"Content-Length".to_vec(), b.to_string().into_bytes()));
                }
                BodyCase::LengthAndChunked(n) => {
                    ok = false;
                    headers.push((b"Content-Length".to_vec(), n.to_string().into_bytes()));
                    headers.push((b"Transfer-Encoding".to_vec(), b"chunked".to_vec()));
                    wire_body.extend_from_slice(b"0\r\n\r\n");
                }
                BodyCase::OtherCoding(coding) => {
                    ok = false;
                    let mut v = coding.clone();
                    v.extend_from_slice(b", chunked");
                    headers.push((b"Transfer-Encoding".to_vec(), v));
                }
            }
            let mut wire = Vec::new();
            wire.extend_from_slice(method.as_bytes());
            wire.push(b' ');
            wire.extend_from_slice(&path);
            wire.extend_from_slice(if self.http11 {
                b" HTTP/1.1"
            } else {
                b" HTTP/1.0"
            });
            wire.extend_from_slice(crlf);
            for (i, (n, v)) in headers.iter().enumerate() {
                if i == 1 {
                    if let Some(raw) = &self.raw_line {
                        ok = false;
                        wire.extend_from_slice(raw);
                        wire.extend_from_slice(crlf);
                    }
                }
                wire.extend_from_slice(n);
                wire.extend_from_slice(b": ");
                wire.extend_from_slice(v);
                wire.extend_from_slice(crlf);
            }
            wire.extend_from_slice(crlf);
            wire.extend_from_slice(&wire_body);
            let expected = Descriptor {
                version: u8::from(self.http11),
                method: method.as_bytes().to_vec(),
                path,
                headers,
                body,
            };
            (wire, ok, expected)
        }
    }

    /// Draws an [`Http1Case`]; feeds it in its reads; a well-formed one must decode to exactly
    /// its descriptor, a hostile one must never panic, and a request after either is never
    /// framed on a stream the codec refused.
    pub fn http1_structured(data: &[u8]) {
        let Ok(case) = Http1Case::arbitrary(&mut Unstructured::new(data)) else {
            return;
        };
        let (mut wire, ok, expected) = case.render();
        // A second request: smuggled when the first is refused.
        wire.extend_from_slice(b"GET /smuggled HTTP/1.1\r\n\r\n");
        let mut codec = Http1Codec::new(Http1Config {
            max_header_size: 1 << 16,
            max_headers: 64,
            max_body_size: 1 << 16,
        })
        .expect("valid limits");
        let step = usize::from(case.step).max(1);
        let (frames, errors) = feed_in_steps(&mut codec, &wire, step, 1 << 17);
        let decoded: Vec<Descriptor> = frames
            .iter()
            .map(|f| parse_descriptor(f).expect("a well-formed descriptor"))
            .collect();
        if !errors.is_empty() {
            assert!(
                decoded.iter().all(|d| d.path != b"/smuggled"),
                "a request after a refused one was framed"
            );
        }
        if ok {
            assert!(errors.is_empty(), "well-formed request refused: {errors:?}");
            assert_eq!(decoded.len(), 2);
            assert_eq!(decoded[0], expected);
        }
    }

    /// A PROXY header to generate.
    #[derive(Arbitrary, Clone, Debug)]
    pub struct ProxyCase {
        /// Version 2 (binary) rather than 1 (text).
        pub v2: bool,
        /// The original client.
        pub source: SocketAddr,
        /// The destination; its family is made to match the source's.
        pub destination: SocketAddr,
        /// v2 TLVs.
        pub tlvs: Vec<(u8, Vec<u8>)>,
        /// Bytes after the header.
        pub rest: Vec<u8>,
    }

    /// Draws a [`ProxyCase`], renders it, and checks it parses back exactly, with every
    /// prefix asking for more.
    pub fn proxy_structured(data: &[u8]) {
        let Ok(case) = ProxyCase::arbitrary(&mut Unstructured::new(data)) else {
            return;
        };
        // The header carries addresses and ports only (no IPv6 flow label or scope).
        let src = SocketAddr::new(case.source.ip(), case.source.port());
        let dst = match (src.ip(), case.destination.ip()) {
            (IpAddr::V4(_), IpAddr::V6(_)) => SocketAddr::new(
                IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                case.destination.port(),
            ),
            (IpAddr::V6(_), IpAddr::V4(ip)) => {
                SocketAddr::new(IpAddr::V6(ip.to_ipv6_mapped()), case.destination.port())
            }
            (_, ip) => SocketAddr::new(ip, case.destination.port()),
        };
        let mut wire = Vec::new();
        let mut tlvs = Vec::new();
        if case.v2 {
            let mut body = Vec::new();
            let family = match (src.ip(), dst.ip()) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    body.extend_from_slice(&s.octets());
                    body.extend_from_slice(&d.octets());
                    0x11
                }
                (IpAddr::V6(s), IpAddr::V6(d)) => {
                    body.extend_from_slice(&s.octets());
                    body.extend_from_slice(&d.octets());
                    0x21
                }
                _ => unreachable!("families matched above"),
            };
            body.extend_from_slice(&src.port().to_be_bytes());
            body.extend_from_slice(&dst.port().to_be_bytes());
            for (t, v) in case.tlvs.iter().take(8) {
                let v = &v[..v.len().min(512)];
                body.push(*t);
                body.extend_from_slice(&(v.len() as u16).to_be_bytes());
                body.extend_from_slice(v);
                tlvs.push((*t, v.to_vec()));
            }
            wire.extend_from_slice(b"\r\n\r\n\0\r\nQUIT\n");
            wire.push(0x21);
            wire.push(family);
            wire.extend_from_slice(&(body.len() as u16).to_be_bytes());
            wire.extend_from_slice(&body);
        } else {
            let family = if src.is_ipv4() { "TCP4" } else { "TCP6" };
            let line = format!(
                "PROXY {family} {} {} {} {}\r\n",
                src.ip(),
                dst.ip(),
                src.port(),
                dst.port()
            );
            wire.extend_from_slice(line.as_bytes());
        }
        let len = wire.len();
        for cut in 0..len {
            assert_eq!(
                parse_proxy(&wire[..cut], ProxyMode::Any),
                Ok(ProxyParse::NeedMore),
                "prefix of {cut} bytes"
            );
        }
        wire.extend_from_slice(&case.rest);
        let mode = if case.v2 {
            ProxyMode::V2
        } else {
            ProxyMode::V1
        };
        match parse_proxy(&wire, mode) {
            Ok(ProxyParse::Done { consumed, header }) => {
                assert_eq!(consumed, len);
                assert_eq!(header.source, Some(src));
                assert_eq!(header.destination, Some(dst));
                assert_eq!(header.tlvs, tlvs);
            }
            other => panic!("{other:?} for {:?}", String::from_utf8_lossy(&wire)),
        }
    }
}
