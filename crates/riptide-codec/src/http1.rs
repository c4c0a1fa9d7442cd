//! HTTP/1.1 request framing on `httparse`: request line and headers, a body by
//! `Content-Length` or `chunked` transfer coding, pipelining, limits, `Expect: 100-continue`.
//! Each request becomes one frame, a compact descriptor JS decodes lazily (`lib/http1.ts`):
//!
//! ```text
//! u8 minor version | u16 method len, method | u16 target len, target | u16 header count,
//! (u16 name len, name, u32 value len, value)* | u32 body len, body      (little endian)
//! ```
//!
//! Responses are written as bytes (the encoder passes them through).

use crate::{Decoded, Decoder, Encoder, FrameError};
use std::mem::MaybeUninit;

/// Limits of [`Http1Codec`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Http1Config {
    /// Most bytes of request line plus headers.
    pub max_header_size: usize,
    /// Most header fields.
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
    /// `100 Continue` was sent for the request at the front of the buffer.
    continued: bool,
    failed: bool,
}

impl Http1Codec {
    /// Validates the limits.
    pub fn new(config: Http1Config) -> Result<Self, FrameError> {
        if config.max_header_size == 0 || config.max_headers == 0 {
            return Err(FrameError::InvalidConfig(
                "HTTP limits must be positive".into(),
            ));
        }
        Ok(Http1Codec {
            config,
            continued: false,
            failed: false,
        })
    }

    fn fail(&mut self, consumed: usize, code: &'static str, msg: impl Into<String>) -> Decoded {
        self.failed = true;
        Decoded::Error {
            consumed,
            error: FrameError::Http(code, msg.into()),
        }
    }
}

/// The body framing a request declares.
enum Body {
    Length(usize),
    Chunked,
}

fn put16(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u16).to_le_bytes());
}

fn put32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

/// A complete de-chunked body: bytes consumed and the body.
type Dechunked = Option<(usize, Vec<u8>)>;

/// An HTTP error: its code and message.
type HttpFault = (&'static str, String);

/// De-chunks a `chunked` body starting at `buf[0]`: `Ok(Some((consumed, body)))` when
/// complete, `Ok(None)` when more bytes are needed.
fn dechunk(buf: &[u8], max: usize) -> Result<Dechunked, HttpFault> {
    let mut at = 0;
    let mut body = Vec::new();
    loop {
        let Some(eol) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
            if buf.len() - at > 1024 {
                return Err(("ERR_HTTP_PARSE", "chunk size line too long".into()));
            }
            return Ok(None);
        };
        let line = &buf[at..at + eol];
        let hex = line.split(|&b| b == b';').next().unwrap_or(&[]);
        let size = std::str::from_utf8(hex)
            .ok()
            .and_then(|h| usize::from_str_radix(h.trim(), 16).ok())
            .ok_or(("ERR_HTTP_PARSE", "bad chunk size".to_string()))?;
        at += eol + 2;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let Some(eol) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some((at, body)));
                }
            }
        }
        if body.len() + size > max {
            return Err(("ERR_HTTP_BODY_TOO_LARGE", format!("body over {max} bytes")));
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[at..at + size]);
        if &buf[at + size..at + size + 2] != b"\r\n" {
            return Err(("ERR_HTTP_PARSE", "chunk not followed by CRLF".into()));
        }
        at += size + 2;
    }
}

/// Header slots kept on the stack while parsing (the default limit, 64).
const STACK_HEADERS: usize = 64;

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
        // Header slots on the stack, uninitialised (no allocation or zeroing per request);
        // a limit above the stack's goes to the heap.
        let mut stack = [const { MaybeUninit::<httparse::Header>::uninit() }; STACK_HEADERS];
        let mut heap = Vec::new();
        let slots: &mut [MaybeUninit<httparse::Header>] =
            if self.config.max_headers <= STACK_HEADERS {
                &mut stack[..self.config.max_headers]
            } else {
                heap.resize_with(self.config.max_headers, MaybeUninit::uninit);
                &mut heap
            };
        let mut req = httparse::Request::new(&mut []);
        let head = match req.parse_with_uninit_headers(buf, slots) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if buf.len() > self.config.max_header_size {
                    return self.fail(
                        buf.len(),
                        "ERR_HTTP_HEADER_TOO_LARGE",
                        "request head too large",
                    );
                }
                return Decoded::NeedMore;
            }
            Err(httparse::Error::TooManyHeaders) => {
                return self.fail(
                    buf.len(),
                    "ERR_HTTP_HEADER_TOO_LARGE",
                    "too many header fields",
                )
            }
            Err(e) => {
                return self.fail(
                    buf.len(),
                    "ERR_HTTP_PARSE",
                    format!("malformed request: {e}"),
                )
            }
        };
        if head > self.config.max_header_size {
            return self.fail(
                buf.len(),
                "ERR_HTTP_HEADER_TOO_LARGE",
                "request head too large",
            );
        }
        let mut body = Body::Length(0);
        let mut expect_continue = false;
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let n = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok());
                match (n, &body) {
                    (Some(n), Body::Length(0)) => body = Body::Length(n),
                    (Some(_), _) | (None, _) => {
                        return self.fail(
                            buf.len(),
                            "ERR_HTTP_PARSE",
                            "bad or repeated Content-Length",
                        )
                    }
                }
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                if h.value.eq_ignore_ascii_case(b"chunked") {
                    body = Body::Chunked;
                } else {
                    return self.fail(buf.len(), "ERR_HTTP_PARSE", "unsupported Transfer-Encoding");
                }
            } else if h.name.eq_ignore_ascii_case("expect")
                && h.value.eq_ignore_ascii_case(b"100-continue")
            {
                expect_continue = true;
            }
        }
        let (consumed, payload): (usize, Vec<u8>) = match body {
            Body::Length(n) if n > self.config.max_body_size => {
                return self.fail(
                    buf.len(),
                    "ERR_HTTP_BODY_TOO_LARGE",
                    format!("body of {n} bytes"),
                );
            }
            Body::Length(n) if buf.len() < head + n => {
                if expect_continue && !self.continued {
                    self.continued = true;
                    return Decoded::Reply {
                        bytes: b"HTTP/1.1 100 Continue\r\n\r\n",
                    };
                }
                return Decoded::NeedMore;
            }
            Body::Length(n) => (head + n, buf[head..head + n].to_vec()),
            Body::Chunked => match dechunk(&buf[head..], self.config.max_body_size) {
                Ok(Some((n, b))) => (head + n, b),
                Ok(None) => {
                    if expect_continue && !self.continued {
                        self.continued = true;
                        return Decoded::Reply {
                            bytes: b"HTTP/1.1 100 Continue\r\n\r\n",
                        };
                    }
                    return Decoded::NeedMore;
                }
                Err((code, msg)) => return self.fail(buf.len(), code, msg),
            },
        };
        self.continued = false;
        let method = req.method.unwrap_or("");
        let path = req.path.unwrap_or("");
        let mut frame = Vec::with_capacity(
            16 + method.len() + path.len() + payload.len() + 32 * req.headers.len(),
        );
        frame.push(req.version.unwrap_or(1));
        put16(&mut frame, method.len());
        frame.extend_from_slice(method.as_bytes());
        put16(&mut frame, path.len());
        frame.extend_from_slice(path.as_bytes());
        put16(&mut frame, req.headers.len());
        for h in req.headers.iter() {
            put16(&mut frame, h.name.len());
            frame.extend_from_slice(h.name.as_bytes());
            put32(&mut frame, h.value.len());
            frame.extend_from_slice(h.value);
        }
        put32(&mut frame, payload.len());
        frame.extend_from_slice(&payload);
        Decoded::Owned { consumed, frame }
    }
}

impl Encoder for Http1Codec {
    /// Responses are written as the handler built them.
    fn encode(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        out.extend_from_slice(body);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode_all;

    /// Method, target and body of a descriptor.
    fn summary(frame: &[u8]) -> (String, String, usize, Vec<u8>) {
        let mut at = 1;
        let take = |n: usize, at: &mut usize| {
            let s = frame[*at..*at + n].to_vec();
            *at += n;
            s
        };
        let u16_at = |at: usize| usize::from(u16::from_le_bytes([frame[at], frame[at + 1]]));
        let m = u16_at(at);
        at += 2;
        let method = String::from_utf8(take(m, &mut at)).unwrap();
        let p = u16_at(at);
        at += 2;
        let path = String::from_utf8(take(p, &mut at)).unwrap();
        let headers = u16_at(at);
        at += 2;
        for _ in 0..headers {
            let n = u16_at(at);
            at += 2 + n;
            let v = u32::from_le_bytes(frame[at..at + 4].try_into().unwrap()) as usize;
            at += 4 + v;
        }
        let b = u32::from_le_bytes(frame[at..at + 4].try_into().unwrap()) as usize;
        (method, path, headers, frame[at + 4..at + 4 + b].to_vec())
    }

    fn codec() -> Http1Codec {
        Http1Codec::new(Http1Config::default()).unwrap()
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
        let input = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n";
        for cut in 0..input.len() {
            let mut c = codec();
            let (mut frames, e1, left) = decode_all(&mut c, &input[..cut]);
            let held = &input[cut - left..cut];
            let rest = [held, &input[cut..]].concat();
            let (more, e2, _) = decode_all(&mut c, &rest);
            frames.extend(more);
            assert!(e1.is_empty() && e2.is_empty());
            assert_eq!(frames.len(), 2, "cut {cut}");
            assert_eq!(summary(&frames[0]).3, b"hello");
            assert_eq!(summary(&frames[1]).1, "/b");
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
}
