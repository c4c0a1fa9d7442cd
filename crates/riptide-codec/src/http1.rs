//! HTTP/1.1 request framing on `httparse`: request line and headers, a body by
//! `Content-Length` or `chunked` transfer coding, pipelining, limits, `Expect: 100-continue`.
//! Each request becomes one frame, a compact descriptor JS decodes lazily (`lib/http1.ts`):
//!
//! ```text
//! u8 minor version | u32 method len, method | u32 target len, target | u32 header count,
//! (u32 name len, name, u32 value len, value)* | u32 body len, body      (little endian)
//! ```
//!
//! Responses are written as bytes (the encoder passes them through).
//!
//! # Message framing (RFC 9112 §6.3), strictly
//!
//! Anything a front-end proxy could read differently is refused with `ERR_HTTP_PARSE`, and the
//! codec then discards the rest of the connection (a byte stream cannot be resynchronised):
//!
//! * every line of the head and of the trailers ends in CRLF (a bare LF is refused);
//! * `Content-Length` appears at most once and is `1*DIGIT` (at most 20 digits, no sign, no
//!   list, no other characters; the optional whitespace around a field value is not part of it,
//!   RFC 9110 §5.5). Repeats are refused even when identical, as hyper's and llhttp's strict
//!   modes do;
//! * `Transfer-Encoding` appears at most once, is exactly `chunked` (no other or further coding:
//!   the server cannot decode them, so the answer is 501), never with `Content-Length`, never in
//!   an HTTP/1.0 request;
//! * a chunk size is `1*16HEXDIG`, optionally followed by `*(SP / HTAB) ";"` and an extension
//!   free of control characters, then CRLF; chunk data is followed by CRLF.
//!
//! # Cost to the server
//!
//! Decoding is incremental: the codec remembers how far it got in the request at the front of
//! the buffer (head scanned, head parsed once, chunks de-chunked so far), so a request arriving
//! in many reads costs time linear in its size. A request holds at most
//! `max_header_size` (head) + `max_body_size` (data) + `max_header_size + max_body_size`
//! (chunk framing, of which extensions and trailers at most `max_header_size`) wire bytes, plus
//! its descriptor (about the head's size) and the de-chunked body (`max_body_size`).

use crate::{Decoded, Decoder, Encoder, FrameError};
use std::mem::MaybeUninit;

/// Limits of [`Http1Codec`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Http1Config {
    /// Most bytes of request line plus headers; also the most bytes of chunk extensions plus
    /// trailers in one request.
    pub max_header_size: usize,
    /// Most header fields (and most trailer fields).
    pub max_headers: usize,
    /// Most body bytes (after de-chunking).
    pub max_body_size: usize,
}

impl Default for Http1Config {
    fn default() -> Self {
        Http1Config {
            max_header_size: 16 * 1024,
            max_headers: 64,
            max_body_size: 1 << 20,
        }
    }
}

/// The HTTP/1.1 request decoder. After an error it discards everything (a byte stream cannot
/// be resynchronised); the handler answers and closes.
#[derive(Clone, Debug)]
pub struct Http1Codec {
    config: Http1Config,
    failed: bool,
    /// How far decoding of the request at the front of the buffer got.
    progress: Progress,
}

/// Decoding progress on the request at the front of the buffer, kept across `decode` calls
/// (each call sees the same bytes again, plus more).
#[derive(Clone, Debug, Default)]
struct Progress {
    /// Length of the buffer at the last call: a shorter one means the caller started over.
    seen: usize,
    /// Bytes at the front already scanned for the end of the head, without finding it.
    scanned: usize,
    /// The request line was complete and `httparse` accepted it.
    line_checked: bool,
    /// The head, once parsed.
    head: Option<Head>,
}

/// A parsed head and the body's progress.
#[derive(Clone, Debug)]
struct Head {
    /// Bytes of the head, its empty line included.
    len: usize,
    /// The descriptor up to the body length.
    descriptor: Vec<u8>,
    /// `Expect: 100-continue` was asked for.
    expect_continue: bool,
    /// `100 Continue` was sent.
    continued: bool,
    body: BodyProgress,
}

/// The body framing a request declares, and how far it got.
#[derive(Clone, Debug)]
enum BodyProgress {
    /// `Content-Length` bytes follow the head (0 when neither header is present).
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked(Chunked),
}

/// Where a chunked body's parser is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// A chunk-size line.
    Size,
    /// Chunk data, this many bytes to go.
    Data(usize),
    /// The CRLF after chunk data.
    DataEnd,
    /// Trailer fields, up to an empty line.
    Trailers,
}

/// A chunked body being de-chunked. Offsets count from the end of the head.
#[derive(Clone, Debug)]
struct Chunked {
    /// First byte not yet parsed.
    at: usize,
    /// Bytes before this offset were scanned for the end of the current line.
    scanned: usize,
    phase: Phase,
    /// The data so far.
    body: Vec<u8>,
    /// Framing bytes so far: size lines, CRLFs, trailers.
    framing: usize,
    /// Extension and trailer bytes so far.
    extra: usize,
}

/// An HTTP error: its code and message.
type HttpFault = (&'static str, String);

fn parse_error(msg: impl Into<String>) -> HttpFault {
    ("ERR_HTTP_PARSE", msg.into())
}

fn too_large_head(msg: impl Into<String>) -> HttpFault {
    ("ERR_HTTP_HEADER_TOO_LARGE", msg.into())
}

fn too_large_body(max: usize) -> HttpFault {
    ("ERR_HTTP_BODY_TOO_LARGE", format!("body over {max} bytes"))
}

/// Appends a descriptor length. Every length is of a field within the head (at most
/// `max_header_size`) or of the body (at most `max_body_size`), and [`Http1Codec::new`] keeps
/// both limits within `u32`, so the saturation never happens.
fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

/// A request's frame: its head's descriptor, then the body's length and the body.
fn frame(mut descriptor: Vec<u8>, body: &[u8]) -> Vec<u8> {
    put_len(&mut descriptor, body.len());
    descriptor.extend_from_slice(body);
    descriptor
}

/// Where a field section (head or trailers) ends.
enum Scan {
    /// Its empty line ends just before this offset.
    End(usize),
    /// Not yet; no line break before this offset ends it.
    More(usize),
}

/// Scans `buf[from..]` for the end of the field section starting at `start` (`from >= start`
/// and `buf[start..from]` scanned before): its first empty line. Every LF must follow a CR.
fn scan_section(buf: &[u8], start: usize, from: usize) -> Result<Scan, HttpFault> {
    let mut at = from;
    while let Some(rest) = buf.get(at..) {
        let Some(i) = memchr::memchr(b'\n', rest) else {
            return Ok(Scan::More(buf.len()));
        };
        // `at + i` indexes `buf`, so neither sum can overflow.
        let lf = at.saturating_add(i);
        let back = |n: usize| lf.checked_sub(n).and_then(|j| buf.get(j)).copied();
        if lf <= start || back(1) != Some(b'\r') {
            return Err(parse_error("bare LF in a request line or field"));
        }
        // An empty line is a CRLF at the start, or right after another CRLF.
        if lf == start.saturating_add(1) || back(2) == Some(b'\n') {
            return Ok(Scan::End(lf.saturating_add(1)));
        }
        at = lf.saturating_add(1);
    }
    Ok(Scan::More(buf.len()))
}

/// `1*DIGIT`, at most 20 digits, as a `u64` (RFC 9110 §8.6: a `Content-Length` value).
fn parse_content_length(v: &[u8]) -> Result<u64, HttpFault> {
    if v.is_empty() || v.len() > 20 {
        return Err(parse_error("Content-Length is not 1 to 20 digits"));
    }
    v.iter().try_fold(0u64, |n, &b| {
        let d = match b {
            b'0'..=b'9' => u64::from(b.wrapping_sub(b'0')),
            _ => return Err(parse_error("Content-Length is not 1*DIGIT")),
        };
        n.checked_mul(10)
            .and_then(|n| n.checked_add(d))
            .ok_or_else(|| parse_error("Content-Length overflows"))
    })
}

/// The value of one hex digit.
fn hex_digit(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some(b.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(b.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(b.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
    .map(u64::from)
}

/// Parses a chunk-size line without its CRLF (RFC 9112 §7.1): `1*16HEXDIG` then optionally
/// `*(SP / HTAB) ";"` and an extension with no control character but HTAB. Returns the size
/// and the extension's length. `httparse::parse_chunk_size` is laxer (an empty size reads as
/// 0, whitespace may end the line, a bare LF may sit in an extension), so it is not used.
#[doc(hidden)]
pub fn parse_chunk_line(line: &[u8]) -> Result<(u64, usize), HttpFault> {
    let digits = line.iter().take_while(|&&b| hex_digit(b).is_some()).count();
    if digits == 0 || digits > 16 {
        return Err(parse_error("chunk size is not 1 to 16 hex digits"));
    }
    let (hex, ext) = line.split_at(digits);
    let size = hex.iter().try_fold(0u64, |n, &b| {
        n.checked_mul(16)
            .and_then(|n| n.checked_add(hex_digit(b).unwrap_or(0)))
            .ok_or_else(|| parse_error("chunk size overflows"))
    })?;
    if ext.is_empty() {
        return Ok((size, 0));
    }
    let ext = match ext.iter().position(|&b| b != b' ' && b != b'\t') {
        Some(i) if ext.get(i) == Some(&b';') => ext.get(i..).unwrap_or_default(),
        _ => return Err(parse_error("bad character after the chunk size")),
    };
    if ext.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(parse_error("control character in a chunk extension"));
    }
    Ok((size, line.len().saturating_sub(digits)))
}

/// What the headers say about the body.
struct Framing {
    content_length: Option<u64>,
    chunked: bool,
    expect_continue: bool,
}

/// Applies RFC 9112 §6.3 to the header fields.
fn framing(req: &httparse::Request) -> Result<Framing, HttpFault> {
    let mut f = Framing {
        content_length: None,
        chunked: false,
        expect_continue: false,
    };
    let mut te_seen = false;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            if f.content_length.is_some() {
                return Err(parse_error("repeated Content-Length"));
            }
            f.content_length = Some(parse_content_length(h.value)?);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if te_seen {
                return Err(parse_error("repeated Transfer-Encoding"));
            }
            te_seen = true;
            if !h.value.eq_ignore_ascii_case(b"chunked") {
                return Err(parse_error(
                    "Transfer-Encoding other than chunked is not implemented",
                ));
            }
            f.chunked = true;
        } else if h.name.eq_ignore_ascii_case("expect")
            && h.value.eq_ignore_ascii_case(b"100-continue")
        {
            f.expect_continue = true;
        }
    }
    if f.chunked && f.content_length.is_some() {
        return Err(parse_error("both Content-Length and Transfer-Encoding"));
    }
    if f.chunked && req.version != Some(1) {
        return Err(parse_error("Transfer-Encoding in an HTTP/1.0 request"));
    }
    Ok(f)
}

/// Header slots kept on the stack while parsing (the default limit, 64).
const STACK_HEADERS: usize = 64;

/// Runs `f` with `max` uninitialised header slots: on the stack up to [`STACK_HEADERS`] (no
/// allocation or zeroing per request), on the heap beyond.
fn with_slots<'b, T>(
    max: usize,
    f: impl FnOnce(&mut [MaybeUninit<httparse::Header<'b>>]) -> T,
) -> T {
    let mut stack = [const { MaybeUninit::<httparse::Header<'b>>::uninit() }; STACK_HEADERS];
    match stack.get_mut(..max) {
        Some(slots) => f(slots),
        None => {
            let mut heap = Vec::new();
            heap.resize_with(max, MaybeUninit::uninit);
            f(&mut heap)
        }
    }
}

impl Http1Codec {
    /// Validates the limits.
    pub fn new(config: Http1Config) -> Result<Self, FrameError> {
        if config.max_header_size == 0 || config.max_headers == 0 {
            return Err(FrameError::InvalidConfig(
                "HTTP limits must be positive".into(),
            ));
        }
        // Descriptor lengths are `u32`.
        let most = usize::try_from(u32::MAX).unwrap_or(usize::MAX);
        if config.max_header_size > most || config.max_body_size > most {
            return Err(FrameError::InvalidConfig(
                "HTTP limits must be below 4 GiB".into(),
            ));
        }
        Ok(Http1Codec {
            config,
            failed: false,
            progress: Progress::default(),
        })
    }

    fn fail(&mut self, consumed: usize, (code, msg): HttpFault) -> Decoded {
        self.failed = true;
        self.progress = Progress::default();
        Decoded::Error {
            consumed,
            error: FrameError::Http(code, msg),
        }
    }

    /// Finds and parses the head once it is complete: `Ok(None)` while it is not.
    fn head(&mut self, buf: &[u8]) -> Result<Option<Head>, HttpFault> {
        let max = self.config.max_header_size;
        let window = buf.get(..max).unwrap_or(buf);
        if self.progress.scanned == 0 {
            // Fast path: a whole head usually arrives in one read, and httparse finds its end
            // (SIMD) faster than a scan line by line; its line ends are checked after.
            if let Some(head) = self.parse_head(window, None)? {
                return Ok(Some(head));
            }
        }
        let from = self.progress.scanned;
        let end = match scan_section(window, 0, from)? {
            Scan::End(end) => end,
            Scan::More(scanned) => {
                if buf.len() > max {
                    return Err(too_large_head("request head too large"));
                }
                // The first LF ever seen is in the bytes just scanned.
                let first_lf = window
                    .get(from..)
                    .and_then(|r| memchr::memchr(b'\n', r))
                    .map(|i| from.saturating_add(i));
                if let (false, Some(lf)) = (self.progress.line_checked, first_lf) {
                    // The request line is whole: refuse a bad one now rather than at the
                    // head's end (httparse then stops at the missing headers).
                    let line = window.get(..=lf).unwrap_or_default();
                    let mut req = httparse::Request::new(&mut []);
                    if let Err(e) = req.parse(line) {
                        return Err(parse_error(format!("malformed request: {e}")));
                    }
                    self.progress.line_checked = true;
                }
                self.progress.scanned = scanned;
                return Ok(None);
            }
        };
        self.parse_head(window.get(..end).unwrap_or_default(), Some(end))
    }

    /// Parses a head with httparse: the whole of `bytes` when the scan found its `end`, or
    /// (fast path, `end` unknown) up to where httparse finds it, `Ok(None)` when it does not.
    fn parse_head(&self, bytes: &[u8], end: Option<usize>) -> Result<Option<Head>, HttpFault> {
        with_slots(self.config.max_headers, |slots| {
            let mut req = httparse::Request::new(&mut []);
            let len = match req.parse_with_uninit_headers(bytes, slots) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) if end.is_none() => return Ok(None),
                Ok(httparse::Status::Partial) => return Err(parse_error("malformed request head")),
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(too_large_head("too many header fields"))
                }
                Err(e) => return Err(parse_error(format!("malformed request: {e}"))),
            };
            match end {
                // httparse takes a bare LF as a line end; RFC 9112 does not.
                None => check_line_ends(bytes.get(..len).unwrap_or_default())?,
                Some(end) if end != len => return Err(parse_error("malformed request head")),
                Some(_) => {}
            }
            let f = framing(&req)?;
            let body = match (f.chunked, f.content_length) {
                (true, _) => BodyProgress::Chunked(Chunked {
                    at: 0,
                    scanned: 0,
                    phase: Phase::Size,
                    body: Vec::new(),
                    framing: 0,
                    extra: 0,
                }),
                (false, n) => {
                    let n = usize::try_from(n.unwrap_or(0))
                        .ok()
                        .filter(|&n| n <= self.config.max_body_size)
                        .ok_or_else(|| too_large_body(self.config.max_body_size))?;
                    BodyProgress::Length(n)
                }
            };
            let method = req.method.unwrap_or("");
            let path = req.path.unwrap_or("");
            // Room for the body too, when its length is known: the frame is one allocation.
            let known_body = match body {
                BodyProgress::Length(n) => n,
                BodyProgress::Chunked(_) => 0,
            };
            let mut d = Vec::with_capacity(len.saturating_add(64).saturating_add(known_body));
            d.push(req.version.unwrap_or(1));
            put_len(&mut d, method.len());
            d.extend_from_slice(method.as_bytes());
            put_len(&mut d, path.len());
            d.extend_from_slice(path.as_bytes());
            put_len(&mut d, req.headers.len());
            for h in req.headers.iter() {
                put_len(&mut d, h.name.len());
                d.extend_from_slice(h.name.as_bytes());
                put_len(&mut d, h.value.len());
                d.extend_from_slice(h.value);
            }
            Ok(Some(Head {
                len,
                descriptor: d,
                expect_continue: f.expect_continue,
                continued: false,
                body,
            }))
        })
    }
}

/// Refuses a bare LF (one not after a CR) anywhere in a complete head. One pass without
/// early exit over adjacent pairs, which the compiler vectorises (a head is a few hundred
/// bytes; a search call per line costs more).
fn check_line_ends(head: &[u8]) -> Result<(), HttpFault> {
    let pairs = head.iter().zip(head.iter().skip(1));
    let bare = pairs.fold(head.first() == Some(&b'\n'), |bare, (&a, &b)| {
        bare | ((b == b'\n') & (a != b'\r'))
    });
    if bare {
        return Err(parse_error("bare LF in a request line or field"));
    }
    Ok(())
}

impl Chunked {
    /// Goes on de-chunking `b` (the bytes after the head): `Ok(Some(n))` when the body and
    /// its trailers end after `n` bytes, `Ok(None)` when more are needed.
    fn advance(&mut self, b: &[u8], config: &Http1Config) -> Result<Option<usize>, HttpFault> {
        let framing_max = config.max_header_size.saturating_add(config.max_body_size);
        loop {
            if self.framing > framing_max {
                return Err(too_large_head(
                    "chunk framing over maxHeaderSize + maxBodySize",
                ));
            }
            if self.extra > config.max_header_size {
                return Err(too_large_head(
                    "chunk extensions and trailers over maxHeaderSize",
                ));
            }
            let rest = b.get(self.at..).unwrap_or_default();
            match self.phase {
                Phase::Size => {
                    let from = self.scanned.max(self.at);
                    let found = b
                        .get(from..)
                        .and_then(|r| r.iter().position(|&c| c == b'\n'))
                        .map(|i| from.saturating_add(i));
                    let Some(lf) = found else {
                        let line = b.len().saturating_sub(self.at);
                        // 16 digits, CR and the extension budget left.
                        let budget = config.max_header_size.saturating_sub(self.extra);
                        if line > budget.saturating_add(17) {
                            return Err(too_large_head("chunk size line too long"));
                        }
                        self.scanned = b.len();
                        return Ok(None);
                    };
                    let line = b.get(self.at..lf).unwrap_or_default();
                    let Some((b'\r', line)) = line.split_last() else {
                        return Err(parse_error("bare LF after a chunk size"));
                    };
                    let (size, ext) = parse_chunk_line(line)?;
                    self.extra = self.extra.saturating_add(ext);
                    // The line and its CRLF.
                    self.framing = self.framing.saturating_add(line.len()).saturating_add(2);
                    self.at = lf.saturating_add(1);
                    self.scanned = self.at;
                    if size == 0 {
                        self.phase = Phase::Trailers;
                        continue;
                    }
                    let size = usize::try_from(size)
                        .ok()
                        .filter(|&s| {
                            self.body
                                .len()
                                .checked_add(s)
                                .is_some_and(|t| t <= config.max_body_size)
                        })
                        .ok_or_else(|| too_large_body(config.max_body_size))?;
                    self.phase = Phase::Data(size);
                }
                Phase::Data(left) => {
                    let take = left.min(rest.len());
                    self.body
                        .extend_from_slice(rest.get(..take).unwrap_or_default());
                    self.at = self.at.saturating_add(take);
                    self.phase = match left.saturating_sub(take) {
                        0 => Phase::DataEnd,
                        left => {
                            self.phase = Phase::Data(left);
                            return Ok(None);
                        }
                    };
                }
                Phase::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        self.at = self.at.saturating_add(2);
                        self.framing = self.framing.saturating_add(2);
                        self.phase = Phase::Size;
                    }
                    [] | [b'\r'] => return Ok(None),
                    _ => return Err(parse_error("chunk data not followed by CRLF")),
                },
                Phase::Trailers => {
                    let from = self.scanned.max(self.at);
                    let end = match scan_section(b, self.at, from)? {
                        Scan::End(end) => end,
                        Scan::More(scanned) => {
                            let seen = scanned.saturating_sub(self.at);
                            if self.extra.saturating_add(seen) > config.max_header_size {
                                return Err(too_large_head("trailers over maxHeaderSize"));
                            }
                            self.scanned = scanned;
                            return Ok(None);
                        }
                    };
                    let trailers = b.get(self.at..end).unwrap_or_default();
                    self.extra = self.extra.saturating_add(trailers.len());
                    if self.extra > config.max_header_size {
                        return Err(too_large_head("trailers over maxHeaderSize"));
                    }
                    let mut fields = vec![httparse::EMPTY_HEADER; config.max_headers];
                    match httparse::parse_headers(trailers, &mut fields) {
                        Ok(httparse::Status::Complete((n, _))) if n == trailers.len() => {}
                        Err(httparse::Error::TooManyHeaders) => {
                            return Err(too_large_head("too many trailer fields"))
                        }
                        _ => return Err(parse_error("malformed trailers")),
                    }
                    return Ok(Some(end));
                }
            }
        }
    }
}

impl Decoder for Http1Codec {
    fn decode(&mut self, buf: &[u8]) -> Decoded {
        if self.failed {
            return if buf.is_empty() {
                Decoded::NeedMore
            } else {
                Decoded::Skip {
                    consumed: buf.len(),
                }
            };
        }
        if buf.len() < self.progress.seen {
            // Not the bytes of the last call plus more: start over.
            self.progress = Progress::default();
        }
        self.progress.seen = buf.len();
        if self.progress.head.is_none() {
            // Empty lines before a request line are skipped (RFC 9112 §2.2).
            if buf.starts_with(b"\r\n") {
                self.progress = Progress::default();
                return Decoded::Skip { consumed: 2 };
            }
            match self.head(buf) {
                Ok(Some(head)) => {
                    // The common case, a whole request in the buffer, is framed at once.
                    if let BodyProgress::Length(n) = head.body {
                        let whole = head.len.checked_add(n).filter(|&end| end <= buf.len());
                        if let (Some(end), Some(body)) =
                            (whole, buf.get(head.len..).and_then(|b| b.get(..n)))
                        {
                            self.progress = Progress::default();
                            return Decoded::Owned {
                                consumed: end,
                                frame: frame(head.descriptor, body),
                            };
                        }
                    }
                    self.progress.head = Some(head)
                }
                Ok(None) => return Decoded::NeedMore,
                Err(fault) => return self.fail(buf.len(), fault),
            }
        }
        let Some(head) = self.progress.head.as_mut() else {
            return Decoded::NeedMore;
        };
        let after = buf.get(head.len..).unwrap_or_default();
        let done = match &mut head.body {
            BodyProgress::Length(n) => (after.len() >= *n).then_some(*n),
            BodyProgress::Chunked(c) => match c.advance(after, &self.config) {
                Ok(done) => done,
                Err(fault) => return self.fail(buf.len(), fault),
            },
        };
        let Some(body_wire) = done else {
            if head.expect_continue && !head.continued {
                head.continued = true;
                return Decoded::Reply {
                    bytes: b"HTTP/1.1 100 Continue\r\n\r\n",
                };
            }
            return Decoded::NeedMore;
        };
        let Some(head) = self.progress.head.take() else {
            return Decoded::NeedMore;
        };
        self.progress = Progress::default();
        let body = match &head.body {
            BodyProgress::Length(_) => after.get(..body_wire).unwrap_or_default(),
            BodyProgress::Chunked(c) => &c.body,
        };
        Decoded::Owned {
            consumed: head.len.saturating_add(body_wire),
            frame: frame(head.descriptor, body),
        }
    }
}

/// A request read from its descriptor (the frame [`Http1Codec`] delivers), borrowed from the
/// frame: what `lib/http1.ts`'s `parseRequest` reads in TypeScript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest<'a> {
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// The method, as sent.
    pub method: &'a [u8],
    /// The request target as sent (path and query).
    pub path: &'a [u8],
    /// Header fields in order, names as sent.
    pub headers: Vec<(&'a [u8], &'a [u8])>,
    /// The body, de-chunked.
    pub body: &'a [u8],
}

impl<'a> HttpRequest<'a> {
    /// The values of every field named `name` (any case), in order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|&(_, v)| v)
    }

    /// The first value of the field `name` (any case).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.header_values(name).next()
    }
}

/// Reads a request descriptor; `None` when `frame` is not a well-formed one.
pub fn parse_request(frame: &[u8]) -> Option<HttpRequest<'_>> {
    /// The rest of the descriptor, read front to back.
    struct Fields<'a>(&'a [u8]);
    impl<'a> Fields<'a> {
        fn length(&mut self) -> Option<usize> {
            let (n, rest) = self.0.split_at_checked(4)?;
            self.0 = rest;
            usize::try_from(u32::from_le_bytes(n.try_into().ok()?)).ok()
        }
        fn field(&mut self) -> Option<&'a [u8]> {
            let n = self.length()?;
            let (value, rest) = self.0.split_at_checked(n)?;
            self.0 = rest;
            Some(value)
        }
    }
    let (&minor_version, rest) = frame.split_first()?;
    let mut f = Fields(rest);
    let method = f.field()?;
    let path = f.field()?;
    let count = f.length()?;
    // Each header takes at least its two 4-byte lengths: a count beyond that is malformed.
    if count > frame.len() / 8 {
        return None;
    }
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let name = f.field()?;
        headers.push((name, f.field()?));
    }
    let body = f.field()?;
    f.0.is_empty().then_some(HttpRequest {
        minor_version,
        method,
        path,
        headers,
        body,
    })
}

impl Encoder for Http1Codec {
    /// Responses are written as the handler built them.
    fn encode(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        out.extend_from_slice(body);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn fault_codes_are_listed() {
        for (code, _) in [parse_error("x"), too_large_head("x"), too_large_body(1)] {
            assert!(FrameError::CODES.contains(&code), "{code}");
        }
    }
    use crate::decode_all;

    /// Method, target, header count and body of a descriptor.
    fn summary(frame: &[u8]) -> (String, String, usize, Vec<u8>) {
        let u32_at = |at: usize| u32::from_le_bytes(frame[at..at + 4].try_into().unwrap()) as usize;
        let mut at = 1;
        let m = u32_at(at);
        let method = String::from_utf8(frame[at + 4..at + 4 + m].to_vec()).unwrap();
        at += 4 + m;
        let p = u32_at(at);
        let path = String::from_utf8(frame[at + 4..at + 4 + p].to_vec()).unwrap();
        at += 4 + p;
        let headers = u32_at(at);
        at += 4;
        for _ in 0..headers {
            at += 4 + u32_at(at);
            at += 4 + u32_at(at);
        }
        let b = u32_at(at);
        (method, path, headers, frame[at + 4..at + 4 + b].to_vec())
    }

    fn codec() -> Http1Codec {
        Http1Codec::new(Http1Config::default()).unwrap()
    }

    /// The code of the first error `input` gets, if any, and the frames before it.
    fn first_error(input: &[u8]) -> (Vec<Vec<u8>>, Option<&'static str>) {
        let (frames, errors, _) = decode_all(&mut codec(), input);
        (frames, errors.first().map(FrameError::code))
    }

    /// Feeds `input` in pieces of `step` bytes, as reads would arrive.
    fn feed(c: &mut Http1Codec, input: &[u8], step: usize) -> (Vec<Vec<u8>>, Vec<FrameError>) {
        let (mut frames, mut errors, mut held) = (Vec::new(), Vec::new(), Vec::new());
        for piece in input.chunks(step) {
            held.extend_from_slice(piece);
            let (f, e, left) = decode_all(c, &held);
            frames.extend(f);
            errors.extend(e);
            held.drain(..held.len() - left);
        }
        (frames, errors)
    }

    #[test]
    fn parse_request_reads_what_the_codec_framed() {
        let input = b"POST /up?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: a, WebSocket\r\nupgrade: b\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let (frames, errors, _) = decode_all(&mut codec(), input);
        assert!(errors.is_empty());
        let r = parse_request(&frames[0]).expect("a descriptor");
        assert_eq!(
            (r.minor_version, r.method, r.path),
            (1, &b"POST"[..], &b"/up?x=1"[..])
        );
        assert_eq!(r.headers.len(), 4);
        assert_eq!(r.header("UPGRADE"), Some(&b"a, WebSocket"[..]));
        assert_eq!(
            r.header_values("upgrade").collect::<Vec<_>>(),
            [&b"a, WebSocket"[..], b"b"]
        );
        assert_eq!(r.header("content-length"), None);
        assert_eq!(r.body, b"abc");
        // Every cut of a descriptor, and anything appended to one, is refused.
        for cut in 0..frames[0].len() {
            assert_eq!(parse_request(&frames[0][..cut]), None, "cut {cut}");
        }
        assert_eq!(parse_request(&[&frames[0][..], b"x"].concat()), None);
        // A header count no descriptor of this size can hold is refused before allocating.
        let huge = [&[1u8][..], &[0; 8], &u32::MAX.to_le_bytes()].concat();
        assert_eq!(parse_request(&huge), None);
    }

    #[test]
    fn sixteen_pipelined_requests_in_one_read() {
        let one = b"GET /plaintext HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
        let input = one.repeat(16);
        let (frames, errors, left) = decode_all(&mut codec(), &input);
        assert!(errors.is_empty() && left == 0);
        assert_eq!(frames.len(), 16);
        assert_eq!(
            summary(&frames[15]),
            ("GET".into(), "/plaintext".into(), 2, vec![])
        );
    }

    #[test]
    fn split_at_every_byte() {
        let input = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nab\r\n1\r\nc\r\n0\r\nT: 1\r\n\r\nGET /c HTTP/1.1\r\n\r\n";
        for cut in 0..input.len() {
            let mut c = codec();
            let (mut frames, e1, left) = decode_all(&mut c, &input[..cut]);
            let held = &input[cut - left..cut];
            let rest = [held, &input[cut..]].concat();
            let (more, e2, _) = decode_all(&mut c, &rest);
            frames.extend(more);
            assert!(e1.is_empty() && e2.is_empty(), "cut {cut}: {e1:?} {e2:?}");
            assert_eq!(frames.len(), 3, "cut {cut}");
            assert_eq!(summary(&frames[0]).3, b"hello");
            assert_eq!(summary(&frames[1]).3, b"abc");
            assert_eq!(summary(&frames[2]).1, "/c");
        }
        for step in [1, 2, 3, 7] {
            let (frames, errors) = feed(&mut codec(), input, step);
            assert!(errors.is_empty(), "step {step}");
            assert_eq!(frames.len(), 3, "step {step}");
        }
    }

    #[test]
    fn chunked_bodies_are_dechunked() {
        let input = b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
        let (frames, errors, left) = decode_all(&mut codec(), input);
        assert!(errors.is_empty() && left == 0);
        assert_eq!(summary(&frames[0]).3, b"hello world");
    }

    #[test]
    fn expect_continue_is_answered_once() {
        let mut c = codec();
        let head = b"PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(
            c.decode(head),
            Decoded::Reply {
                bytes: b"HTTP/1.1 100 Continue\r\n\r\n"
            }
        );
        assert_eq!(c.decode(head), Decoded::NeedMore);
        let full = [&head[..], b"abc"].concat();
        assert!(matches!(c.decode(&full), Decoded::Owned { .. }));
    }

    #[test]
    fn limits_and_malformed_input() {
        let big = Http1Codec::new(Http1Config {
            max_header_size: 64,
            ..Http1Config::default()
        })
        .unwrap();
        let (_, errors, _) = decode_all(
            &mut big.clone(),
            &[&b"GET / HTTP/1.1\r\nX: "[..], &[b'a'; 100]].concat(),
        );
        assert_eq!(errors[0].code(), "ERR_HTTP_HEADER_TOO_LARGE");
        let (_, errors, _) = decode_all(
            &mut codec(),
            b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
        );
        assert_eq!(errors[0].code(), "ERR_HTTP_BODY_TOO_LARGE");
        let (_, errors, _) = decode_all(
            &mut codec(),
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        );
        assert_eq!(errors[0].code(), "ERR_HTTP_PARSE");
        let mut c = codec();
        let (frames, errors, _) =
            decode_all(&mut c, b"\x00\x01garbage\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        assert_eq!(errors[0].code(), "ERR_HTTP_PARSE");
        assert!(frames.is_empty(), "no resync after an error");
        let (_, errors, _) = decode_all(&mut codec(), b"NOT HTTP\x00\r\n");
        assert_eq!(
            errors[0].code(),
            "ERR_HTTP_PARSE",
            "a bad request line is refused before the head ends"
        );
    }

    #[test]
    fn limits_beyond_u32_are_refused() {
        // Descriptor lengths are u32; a limit above it could not be described.
        for config in [
            Http1Config {
                max_body_size: 1 << 33,
                ..Http1Config::default()
            },
            Http1Config {
                max_header_size: 1 << 33,
                ..Http1Config::default()
            },
        ] {
            assert!(Http1Codec::new(config).is_err());
        }
    }

    #[test]
    fn header_limits_on_the_stack_and_beyond_it() {
        let request = |n: usize| {
            let mut r = b"GET / HTTP/1.1\r\n".to_vec();
            for i in 0..n {
                r.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
            }
            r.extend_from_slice(b"\r\n");
            r
        };
        for (limit, sent, ok) in [
            (64, 64, true),
            (64, 65, false),
            (100, 100, true),
            (100, 101, false),
        ] {
            let mut c = Http1Codec::new(Http1Config {
                max_headers: limit,
                ..Http1Config::default()
            })
            .unwrap();
            let (frames, errors, _) = decode_all(&mut c, &request(sent));
            if ok {
                assert_eq!(summary(&frames[0]).2, sent, "limit {limit}, {sent} headers");
            } else {
                assert_eq!(
                    errors[0].code(),
                    "ERR_HTTP_HEADER_TOO_LARGE",
                    "limit {limit}"
                );
            }
        }
    }

    // Item 1: a chunk size near usize::MAX after a first chunk overflowed `body.len() + size`.
    #[test]
    fn huge_chunk_sizes_are_refused_without_overflow() {
        for size in [
            "fffffffffffffffd",
            "ffffffffffffffff",
            "10000000000000000",
            "8000000000000000",
            "100000000",
        ] {
            let input = format!(
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n{size}\r\nxx\r\n0\r\n\r\n"
            );
            let (frames, code) = first_error(input.as_bytes());
            assert!(frames.is_empty(), "{size}");
            assert!(
                matches!(code, Some("ERR_HTTP_BODY_TOO_LARGE" | "ERR_HTTP_PARSE")),
                "{size}: {code:?}"
            );
        }
    }

    // Item 11: chunk sizes are 1*HEXDIG, nothing else.
    #[test]
    fn hostile_chunk_size_lines_are_refused() {
        for line in [
            &b"+5"[..],
            b" 5",
            b"5 ",
            b"5\xa0",
            b"0x5",
            b"",
            b";ext",
            b"5;a\nb",
            b"5;a\x00",
            b"-1",
            b"00000000000000005",
        ] {
            let input = [
                &b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
                line,
                b"\r\nhello\r\n0\r\n\r\n",
            ]
            .concat();
            let (frames, code) = first_error(&input);
            assert!(frames.is_empty(), "{line:?}");
            assert_eq!(
                code,
                Some("ERR_HTTP_PARSE"),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        // Allowed: leading zeros within 16 digits, BWS before ';', upper-case hex.
        for line in [&b"0000000000000005"[..], b"5 ;a=b", b"5\t;a=\"q\""] {
            let input = [
                &b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
                line,
                b"\r\nhello\r\n0\r\n\r\n",
            ]
            .concat();
            let (frames, code) = first_error(&input);
            assert_eq!(code, None, "{line:?}");
            assert_eq!(summary(&frames[0]).3, b"hello");
        }
        assert_eq!(parse_chunk_line(b"A").unwrap(), (10, 0));
        assert_eq!(
            parse_chunk_line(b"ffffffffffffffff").unwrap(),
            (u64::MAX, 0)
        );
    }

    // Item 11: request smuggling shapes.
    #[test]
    fn smuggling_shapes_are_refused() {
        let shapes: &[&[u8]] = &[
            b"POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nGET /x HTTP/1.1\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
            b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello",
            b"POST / HTTP/1.1\r\nContent-Length: 5\xa0\r\n\r\nhello",
            b"POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\nhello",
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\nhello",
            b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 000000000000000000005\r\n\r\nhello",
            b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"GET / HTTP/1.1\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\xa0\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        ];
        for shape in shapes {
            let (frames, code) = first_error(shape);
            assert!(frames.is_empty(), "{}", String::from_utf8_lossy(shape));
            assert_eq!(
                code,
                Some("ERR_HTTP_PARSE"),
                "{}",
                String::from_utf8_lossy(shape)
            );
        }
        // Optional whitespace around a field value is not part of it (RFC 9110 §5.5).
        let (frames, code) = first_error(
            b"POST / HTTP/1.1\r\nContent-Length:  5 \r\nTransfer-Encoding-X: 1\r\n\r\nhello",
        );
        assert_eq!(code, None);
        assert_eq!(summary(&frames[0]).3, b"hello");
        let (frames, code) =
            first_error(b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n");
        assert_eq!((frames.len(), code), (1, None));
        // Empty lines before a request are skipped.
        let (frames, code) = first_error(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        assert_eq!((frames.len(), code), (1, None));
    }

    // Item 5: trailers are bounded by max_header_size and never buffered past it.
    #[test]
    fn trailers_and_extensions_are_bounded() {
        let mut c = codec();
        let mut input =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n".to_vec();
        let line = [&b"X-T: "[..], &[b'v'; 1000], b"\r\n"].concat();
        let mut refused = false;
        for _ in 0..64 {
            input.extend_from_slice(&line);
            let (frames, errors, _) = decode_all(&mut c.clone(), &input);
            assert!(frames.is_empty());
            if let Some(e) = errors.first() {
                assert_eq!(e.code(), "ERR_HTTP_HEADER_TOO_LARGE");
                refused = true;
                break;
            }
        }
        assert!(refused, "64 KB of trailers accepted");
        assert!(input.len() < 2 * 16 * 1024 + 2000);
        // Extensions count too.
        let mut input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..40 {
            input.extend_from_slice(&[&b"1;"[..], &[b'e'; 500], b"\r\na\r\n"].concat());
        }
        let (_, errors) = feed(&mut c, &input, 100);
        assert_eq!(errors[0].code(), "ERR_HTTP_HEADER_TOO_LARGE");
    }

    // Item 5: decoding a request arriving in many reads is linear, not quadratic.
    #[test]
    // Megabytes of input: minutes under Miri, which the other tests cover for these paths.
    #[cfg_attr(miri, ignore)]
    fn a_body_in_many_reads_is_decoded_incrementally() {
        let body = vec![b'x'; 1 << 20];
        let mut chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for piece in body.chunks(1000) {
            chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            chunked.extend_from_slice(piece);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let length = [
            format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
            &body,
        ]
        .concat();
        for input in [chunked, length] {
            let started = std::time::Instant::now();
            // 16-byte reads: re-parsing from the start each time costs ~2^36 byte steps.
            let (frames, errors) = feed(&mut codec(), &input, 16);
            assert!(errors.is_empty());
            assert_eq!(summary(&frames[0]).3.len(), body.len());
            assert!(started.elapsed() < std::time::Duration::from_secs(20));
        }
    }

    // Item 13: lengths in the descriptor are 32-bit.
    #[test]
    // Megabytes of input: minutes under Miri, which the other tests cover for these paths.
    #[cfg_attr(miri, ignore)]
    fn a_target_longer_than_64k_round_trips() {
        let path = format!("/{}", "p".repeat(65_556));
        let mut c = Http1Codec::new(Http1Config {
            max_header_size: 128 * 1024,
            ..Http1Config::default()
        })
        .unwrap();
        let input = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        let (frames, errors) = feed(&mut c, input.as_bytes(), 4096);
        assert!(errors.is_empty());
        assert_eq!(summary(&frames[0]).1, path);
    }

    #[test]
    fn a_caller_starting_over_resets_progress() {
        let mut c = codec();
        assert_eq!(
            c.decode(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab"),
            Decoded::NeedMore
        );
        let fresh = b"GET /b HTTP/1.1\r\n\r\n";
        match c.decode(fresh) {
            Decoded::Owned { consumed, frame } => {
                assert_eq!(consumed, fresh.len());
                assert_eq!(summary(&frame).1, "/b");
            }
            other => panic!("{other:?}"),
        }
    }
}
