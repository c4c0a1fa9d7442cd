//! The answer to one signalling request of a `webrtc://` listener, wherever it came from (the
//! listener's own port, `webrtc_signal.rs`, or an HTTP listener it is attached to,
//! `webrtc_attach.rs`): routing and bounds (default mode here, geckos mode in
//! `webrtc_geckos.rs`), the endpoint's answer, the handler's decision on a held offer, and
//! the JSON error responses.

use crate::conns::{Conns, RtcDecision};
use crate::webrtc_options::{WebRtcOffer, MAX_SIGNAL_HEAD};
use crate::webrtc_request::Parsed;
use riptide_webrtc::OfferError;
use std::net::SocketAddr;
use std::path::Path;

/// What a request read so far gets.
pub(crate) enum Step {
    /// More of it is needed.
    Wait,
    /// This response.
    Respond(Vec<u8>),
    /// Held for the handler (the listener has `authorize`); the body is at `start..end`.
    Hold(usize, usize),
    /// The listener is gone.
    Gone,
}

/// What the request in `buf` (read so far; `done`: nothing more will come) gets from the
/// `webrtc://` listener on datagram `socket`. `own_port`: it came on the listener's own
/// signalling port, where `GET` of other paths is answered from its static directory.
pub(crate) fn step(
    conns: &mut Conns,
    socket: usize,
    buf: &[u8],
    own_port: bool,
    done: bool,
) -> Step {
    let Some((path, max_body, files)) = conns.rtc_signal_limits(socket) else {
        return Step::Gone;
    };
    let files = files.filter(|_| own_port);
    let geckos = conns.rtc_is_geckos(socket);
    let parsed = if geckos {
        crate::webrtc_geckos::parse(buf, max_body, files)
    } else {
        parse(buf, path, max_body, files)
    };
    let authorizes = conns.rtc_authorizes(socket);
    match parsed {
        Parsed::Partial if done => Step::Respond(respond(
            "400 Bad Request",
            &error("incomplete request", "bad"),
        )),
        Parsed::Partial => Step::Wait,
        Parsed::Respond(r) => Step::Respond(r),
        Parsed::Offer(start, end)
            if geckos && !(authorizes && crate::webrtc_geckos::is_connect(buf)) =>
        {
            Step::Respond(crate::webrtc_geckos::answer(conns, socket, buf, start, end))
        }
        Parsed::Offer(start, end) if authorizes => Step::Hold(start, end),
        Parsed::Offer(start, end) => {
            let body = buf.get(start..end).unwrap_or_default();
            Step::Respond(answer(conns, socket, body, None))
        }
    }
}

/// The response the handler's decision on a request held by [`step`] (body at `start..end`
/// of `buf`) gets: the answer, or `403` (geckos: the offer with `user_data`, or `401`).
pub(crate) fn decided(
    conns: &mut Conns,
    socket: usize,
    buf: &[u8],
    (start, end): (usize, usize),
    (request, allow, user_data): RtcDecision,
) -> Vec<u8> {
    if conns.rtc_is_geckos(socket) {
        crate::webrtc_geckos::decided(conns, socket, request, allow, user_data.as_ref())
    } else if allow {
        let body = buf.get(start..end).unwrap_or_default();
        answer(conns, socket, body, Some(request))
    } else {
        respond(
            "403 Forbidden",
            &error("refused by the server", "forbidden"),
        )
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
pub(crate) fn offer_of(buf: &[u8], request: u64, remote: SocketAddr) -> Option<WebRtcOffer> {
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
    let header = |name: &str| crate::webrtc_request::header(&req, name);
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

    #[test]
    fn requests_are_routed_and_bounded() {
        let p = |s: &str| parse(s.as_bytes(), "/o", 100, None).status();
        assert_eq!(
            p("POST /o HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}"),
            "body 39..41"
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
