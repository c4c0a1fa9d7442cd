//! The signalling side of `webrtc://` listeners: HTTP/1.1 on the TCP port of the listener's
//! address. One request per connection: `POST <path>` with a JSON offer gets the JSON answer
//! (`200`), a bad offer `400`, an oversized one `413`, a full endpoint `503`; `OPTIONS` gets
//! the CORS preflight; with a static directory, `GET` of another path gets a file
//! (`webrtc_static.rs`); anything else `404`. Every response allows any origin, so a page
//! served elsewhere can signal. Requests are bounded ([`MAX_SIGNAL_HEAD`] of head, the
//! listener's `max_body` of body) and a connection that has not sent a whole one within the
//! listener's `request_timeout` is closed. These connections are not [`crate::Conns`]
//! connections: the application never sees them, only the peers they create.

use crate::conns::{Conns, RtcDecision};
use crate::webrtc_options::{WebRtcOffer, MAX_SIGNAL_HEAD};
use crate::webrtc_request::Parsed;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use riptide_webrtc::OfferError;
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

/// The poll token of signalling connection slot 0: above every connection slot (below
/// 2^24), far below the listeners' tokens (at the top of the range).
const FIRST_SIGNAL: usize = 1 << 28;
/// Most signalling connections one reactor holds at once; more are refused at accept.
const MAX_SIGNALS: usize = 4096;

/// One signalling connection.
struct SignalConn {
    stream: TcpStream,
    /// The `webrtc://` listener's datagram socket.
    socket: usize,
    /// What the request brought so far.
    buf: Vec<u8>,
    /// The response, and how much of it the socket took; `None` while reading the request.
    out: Option<(Vec<u8>, usize)>,
    /// Its entry in the expiry order; the serial is the request's id when it is held.
    expiry: (Instant, usize, u64),
    /// Where the offer's body is in `buf` while the handler decides.
    held: Option<(usize, usize)>,
    /// The client.
    remote: SocketAddr,
}

/// The signalling connections of one reactor's `webrtc://` listeners.
#[derive(Default)]
pub(crate) struct Signalling {
    /// The datagram socket and request timeout of the `webrtc://` listener each signalling
    /// listener (by listener index) serves.
    listeners: HashMap<usize, (usize, Duration)>,
    conns: Vec<Option<SignalConn>>,
    free: Vec<usize>,
    /// `(deadline, slot, serial)`, soonest first.
    expiry: BTreeSet<(Instant, usize, u64)>,
    serial: u64,
    /// The slot of each held offer, by request id.
    held: HashMap<u64, usize>,
}

impl Signalling {
    /// Notes that listener `index` is the signalling side of the `webrtc://` listener on
    /// datagram socket `socket`.
    pub(crate) fn add_listener(&mut self, index: usize, socket: usize, timeout: Duration) {
        self.listeners.insert(index, (socket, timeout));
    }

    /// True when listener `index` is a signalling listener.
    pub(crate) fn serves(&self, index: usize) -> bool {
        self.listeners.contains_key(&index)
    }

    /// The signalling slot a poll token names, if it names one.
    pub(crate) fn slot_of(token: Token) -> Option<usize> {
        let slot = token.0.checked_sub(FIRST_SIGNAL)?;
        (slot < MAX_SIGNALS).then_some(slot)
    }

    /// Takes a connection accepted by signalling listener `index`; dropped (refused) when the
    /// reactor holds [`MAX_SIGNALS`] already.
    pub(crate) fn adopt(&mut self, index: usize, mut stream: TcpStream, registry: &Registry) {
        let Some(&(socket, timeout)) = self.listeners.get(&index) else {
            return;
        };
        let Ok(remote) = stream.peer_addr() else {
            return;
        };
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None if self.conns.len() < MAX_SIGNALS => {
                self.conns.push(None);
                self.conns.len() - 1
            }
            None => return,
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        if registry
            .register(&mut stream, Token(FIRST_SIGNAL + slot), interest)
            .is_err()
        {
            self.free.push(slot);
            return;
        }
        self.serial = self.serial.wrapping_add(1);
        let expiry = (Instant::now() + timeout, slot, self.serial);
        self.expiry.insert(expiry);
        self.conns[slot] = Some(SignalConn {
            stream,
            socket,
            buf: Vec::new(),
            out: None,
            expiry,
            held: None,
            remote,
        });
    }

    /// The soonest a signalling connection times out.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.expiry.first().map(|e| e.0)
    }

    /// Closes the signalling connections whose time is up.
    pub(crate) fn expire(&mut self, now: Instant, registry: &Registry) {
        while let Some(&(at, slot, _)) = self.expiry.first() {
            if at > now {
                return;
            }
            self.close(slot, registry);
        }
    }

    /// Closes the connection in `slot`.
    fn close(&mut self, slot: usize, registry: &Registry) {
        if let Some(mut c) = self.conns.get_mut(slot).and_then(Option::take) {
            self.expiry.remove(&c.expiry);
            if c.held.is_some() {
                self.held.remove(&c.expiry.2);
            }
            let _ = registry.deregister(&mut c.stream);
            self.free.push(slot);
        }
    }

    /// The connection in `slot` is ready: read the request, answer it (offers go to the
    /// listener's endpoint in `conns`), write the response, then wait for the client to
    /// close (closing first with unread bytes would reset the response away). An offer to a
    /// listener with `authorize` is held instead and returned, for the handler.
    pub(crate) fn ready(
        &mut self,
        slot: usize,
        conns: &mut Conns,
        registry: &Registry,
    ) -> Option<WebRtcOffer> {
        let c = self.conns.get_mut(slot).and_then(Option::as_mut)?;
        let Some((path, max_body, files)) = conns.rtc_signal_limits(c.socket) else {
            self.close(slot, registry);
            return None;
        };
        let limit = MAX_SIGNAL_HEAD.saturating_add(max_body);
        let mut chunk = [0u8; 4096];
        let mut eof = false;
        loop {
            // Once answered, what else comes is read and dropped; while the handler decides,
            // nothing is read.
            let room = match (&c.out, c.held) {
                (Some(_), _) => chunk.len(),
                (None, Some(_)) => 0,
                (None, None) => limit.saturating_sub(c.buf.len()).min(chunk.len()),
            };
            if room == 0 {
                break;
            }
            match c.stream.read(&mut chunk[..room]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) if c.out.is_none() => c.buf.extend_from_slice(&chunk[..n]),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    eof = true;
                    break;
                }
            }
        }
        let mut held = None;
        if c.out.is_none() && c.held.is_none() {
            let geckos = conns.rtc_is_geckos(c.socket);
            let parsed = if geckos {
                crate::webrtc_geckos::parse(&c.buf, max_body, files)
            } else {
                parse(&c.buf, path, max_body, files)
            };
            let response = match parsed {
                Parsed::Partial if eof || c.buf.len() >= limit => Some(respond(
                    "400 Bad Request",
                    &error("incomplete request", "bad"),
                )),
                Parsed::Partial => None,
                Parsed::Respond(r) => Some(r),
                Parsed::Offer(start, end)
                    if geckos
                        && !(conns.rtc_authorizes(c.socket)
                            && crate::webrtc_geckos::is_connect(&c.buf)) =>
                {
                    let socket = c.socket;
                    Some(crate::webrtc_geckos::answer(
                        conns, socket, &c.buf, start, end,
                    ))
                }
                Parsed::Offer(start, end) if conns.rtc_authorizes(c.socket) => {
                    c.held = Some((start, end));
                    held = offer_of(&c.buf, c.expiry.2, c.remote);
                    None
                }
                Parsed::Offer(start, end) => {
                    let body = c.buf.get(start..end).unwrap_or_default();
                    Some(answer(conns, c.socket, body, None))
                }
            };
            if let Some(r) = response {
                c.out = Some((r, 0));
                c.buf = Vec::new();
            }
        }
        if let Some(offer) = &held {
            self.held.insert(offer.request, slot);
        }
        self.finish(slot, eof, registry);
        held
    }

    /// Applies the handler's decision on a held offer: the answer, or `403` (geckos: the
    /// offer with `user_data`, or `401`).
    pub(crate) fn decide(
        &mut self,
        (request, allow, user_data): RtcDecision,
        conns: &mut Conns,
        registry: &Registry,
    ) {
        let Some(slot) = self.held.remove(&request) else {
            return;
        };
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let Some((start, end)) = c.held.take() else {
            return;
        };
        let response = if conns.rtc_is_geckos(c.socket) {
            crate::webrtc_geckos::decided(conns, c.socket, request, allow, user_data.as_ref())
        } else if allow {
            let body = c.buf.get(start..end).unwrap_or_default();
            answer(conns, c.socket, body, Some(request))
        } else {
            respond(
                "403 Forbidden",
                &error("refused by the server", "forbidden"),
            )
        };
        c.out = Some((response, 0));
        c.buf = Vec::new();
        self.finish(slot, false, registry);
    }

    /// Writes what the response still has to the socket (then shuts the write side), and
    /// closes the connection at `eof` (or a write error).
    fn finish(&mut self, slot: usize, mut eof: bool, registry: &Registry) {
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if let Some((out, written)) = c.out.as_mut() {
            while *written < out.len() {
                match c.stream.write(&out[*written..]) {
                    Ok(0) => eof = true,
                    Ok(n) => *written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => eof = true,
                }
                if eof {
                    break;
                }
            }
            if *written == out.len() {
                let _ = c.stream.shutdown(Shutdown::Write);
            }
        }
        if eof {
            self.close(slot, registry);
        }
    }
}

/// The response to an offer: the endpoint's answer, or why it refused.
fn answer(conns: &mut Conns, socket: usize, body: &[u8], request: Option<u64>) -> Vec<u8> {
    match conns.rtc_offer(socket, body, request) {
        Ok(answer) => respond("200 OK", &answer),
        Err(e) => refusal(&e),
    }
}

/// What the handler is told about a held offer (the request head parsed again).
fn offer_of(buf: &[u8], request: u64, remote: SocketAddr) -> Option<WebRtcOffer> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    req.parse(buf).ok()?;
    let target = req.path.unwrap_or("/");
    Some(WebRtcOffer {
        request,
        path: target.split('?').next().unwrap_or(target).to_owned(),
        headers: req
            .headers
            .iter()
            .map(|h| {
                let value = String::from_utf8_lossy(h.value).into_owned();
                (h.name.to_ascii_lowercase(), value)
            })
            .collect(),
        remote,
    })
}

/// Reads a request from `buf` as far as it arrived.
/// With `files`, a `GET` or `HEAD` of another path is answered from that directory.
fn parse(buf: &[u8], path: &str, max_body: usize, files: Option<&Path>) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n <= MAX_SIGNAL_HEAD => n,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_SIGNAL_HEAD => return Parsed::Partial,
        Ok(_) => {
            let body = error("request head too large", "head_too_large");
            return Parsed::Respond(respond("431 Request Header Fields Too Large", &body));
        }
        Err(e) => {
            let body = error(&format!("malformed HTTP request: {e}"), "bad_http");
            return Parsed::Respond(respond("400 Bad Request", &body));
        }
    };
    let target = req.path.unwrap_or("/");
    let target = target.split('?').next().unwrap_or(target);
    match (req.method, target == path, files) {
        (Some("OPTIONS"), _, _) => return Parsed::Respond(preflight()),
        (Some("POST"), true, _) => {}
        (_, true, _) => {
            let body = error("only POST (and OPTIONS) here", "method");
            return Parsed::Respond(respond("405 Method Not Allowed", &body));
        }
        (Some(method @ ("GET" | "HEAD")), false, Some(root)) => {
            let head = method == "HEAD";
            return Parsed::Respond(crate::webrtc_static::respond(root, target, head));
        }
        (_, false, _) => {
            return Parsed::Respond(respond("404 Not Found", &error("not found", "not_found")))
        }
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    if header("transfer-encoding").is_some() {
        let body = error("send the offer with a content-length", "length_required");
        return Parsed::Respond(respond("411 Length Required", &body));
    }
    let length = header("content-length")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let Some(length) = length else {
        let body = error("send the offer with a content-length", "length_required");
        return Parsed::Respond(respond("411 Length Required", &body));
    };
    if length > max_body {
        let body = error(&format!("offer over {max_body} bytes"), "too_large");
        return Parsed::Respond(respond("413 Content Too Large", &body));
    }
    match head.checked_add(length) {
        Some(end) if end <= buf.len() => Parsed::Offer(head, end),
        _ => Parsed::Partial,
    }
}

/// The response to a refused offer.
fn refusal(e: &OfferError) -> Vec<u8> {
    let (status, code) = match e {
        OfferError::TooLarge { .. } => ("413 Content Too Large", "too_large"),
        OfferError::Full(_) => ("503 Service Unavailable", "full"),
        _ => ("400 Bad Request", "bad_offer"),
    };
    respond(status, &error(&e.to_string(), code))
}

/// A JSON error body: `{"error": why, "code": code}`.
fn error(why: &str, code: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "error": why, "code": code })).unwrap_or_default()
}

/// A response with a JSON body, closing the connection.
fn respond(status: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         access-control-allow-origin: *\r\ncache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// The CORS preflight answer: any origin may `POST` JSON here.
fn preflight() -> Vec<u8> {
    b"HTTP/1.1 204 No Content\r\naccess-control-allow-origin: *\r\n\
      access-control-allow-methods: POST, OPTIONS\r\naccess-control-allow-headers: content-type\r\n\
      access-control-max-age: 86400\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(p: Parsed) -> String {
        match p {
            Parsed::Respond(r) => String::from_utf8_lossy(&r[9..12]).into_owned(),
            Parsed::Partial => "partial".into(),
            Parsed::Offer(a, b) => format!("offer {a}..{b}"),
        }
    }

    #[test]
    fn requests_are_routed_and_bounded() {
        let p = |s: &str| status(parse(s.as_bytes(), "/o", 100, None));
        assert_eq!(
            p("POST /o HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}"),
            "offer 39..41"
        );
        assert_eq!(
            p("POST /o?x=1 HTTP/1.1\r\nContent-Length: 3\r\n\r\n{}"),
            "partial"
        );
        assert_eq!(p("POST /o HTTP/1.1\r\ncontent-len"), "partial");
        assert_eq!(p("POST /o HTTP/1.1\r\ncontent-length: 101\r\n\r\n"), "413");
        assert_eq!(p("POST /o HTTP/1.1\r\n\r\n"), "411");
        assert_eq!(
            p("POST /o HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"),
            "411"
        );
        assert_eq!(p("POST /o HTTP/1.1\r\ncontent-length: x\r\n\r\n"), "411");
        assert_eq!(p("GET /o HTTP/1.1\r\n\r\n"), "405");
        assert_eq!(p("GET /x HTTP/1.1\r\n\r\n"), "404");
        assert_eq!(p("OPTIONS /o HTTP/1.1\r\n\r\n"), "204");
        assert_eq!(p("\x01\x02 garbage\r\n\r\n"), "400");
        let long = format!("GET /o HTTP/1.1\r\nx: {}\r\n", "a".repeat(MAX_SIGNAL_HEAD));
        assert_eq!(p(&long), "431");
    }
}
