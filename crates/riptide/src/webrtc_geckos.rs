//! The signalling side of a `webrtc://` listener in geckos.io v2 mode: geckos's routes
//! (`/.wrtc/v2/connections…`, routed by [`riptide_webrtc::geckos::http`]) on the TCP port,
//! every response with geckos's CORS headers for any origin. The same bounds as the default
//! signalling apply (head size, the listener's `max_body`, one request per connection);
//! `GET` of any other path is answered from the static directory, if there is one.

use crate::conns::{Conns, GeckosResponse};
use crate::webrtc_options::MAX_SIGNAL_HEAD;
use crate::webrtc_request::Parsed;
use riptide_webrtc::geckos::http::{self, Route};
use serde_json::Value;
use std::path::Path;

/// Reads a geckos request from `buf` as far as it arrived: `Offer(start, end)` is a whole
/// request under `/.wrtc/v2` whose body is at `start..end`.
pub(crate) fn parse(buf: &[u8], max_body: usize, files: Option<&Path>) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n <= MAX_SIGNAL_HEAD => n,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_SIGNAL_HEAD => return Parsed::Partial,
        Ok(_) => return Parsed::Respond(respond((431, b"431: Request Header Too Large".into()))),
        Err(_) => return Parsed::Respond(respond((400, b"400: Bad Request".to_vec()))),
    };
    let method = req.method.unwrap_or("");
    let target = req.path.unwrap_or("/");
    if http::route(method, target).is_none() {
        let target = target.split('?').next().unwrap_or(target);
        return Parsed::Respond(match (method, files) {
            ("GET" | "HEAD", Some(root)) => {
                crate::webrtc_static::respond(root, target, method == "HEAD")
            }
            _ => respond((404, b"404: Not Found".to_vec())),
        });
    }
    let header = |name: &str| crate::webrtc_request::header(&req, name);
    if header("transfer-encoding").is_some() {
        return Parsed::Respond(respond((411, b"411: Length Required".to_vec())));
    }
    // geckos's client posts `/connections` with no body (and no content-length).
    let length = match header("content-length").map(|v| std::str::from_utf8(v).ok()) {
        None => 0,
        Some(v) => match v.and_then(|v| v.trim().parse::<usize>().ok()) {
            Some(n) => n,
            None => return Parsed::Respond(respond((400, b"400: Bad Request".to_vec()))),
        },
    };
    if length > max_body {
        return Parsed::Respond(respond((413, b"413: Content Too Large".to_vec())));
    }
    match head.checked_add(length) {
        Some(end) if end <= buf.len() => Parsed::Offer(head, end),
        _ => Parsed::Partial,
    }
}

/// The route of a whole request [`parse`] accepted.
fn route_of(buf: &[u8]) -> Option<Route<'_>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    req.parse(buf).ok()?;
    http::route(req.method?, req.path?)
}

/// Whether the whole request in `buf` is `POST /connections` (the one the handler decides).
pub(crate) fn is_connect(buf: &[u8]) -> bool {
    matches!(route_of(buf), Some(Route::Connect))
}

/// The response to a whole request in `buf` (body at `start..end`) that is not held:
/// `POST /connections` connects with empty `userData`.
pub(crate) fn answer(
    conns: &mut Conns,
    socket: usize,
    buf: &[u8],
    start: usize,
    end: usize,
) -> Vec<u8> {
    let body = buf.get(start..end).unwrap_or_default();
    respond(match route_of(buf) {
        Some(Route::Connect) => connect(conns, socket, None, None),
        Some(route) => conns.rtc_geckos_respond(socket, route, body),
        None => (404, b"404: Not Found".to_vec()),
    })
}

/// `POST /connections` accepted: the offer, with `user_data` (none: `{}`).
fn connect(
    conns: &mut Conns,
    socket: usize,
    user_data: Option<&Value>,
    request: Option<u64>,
) -> GeckosResponse {
    let empty = Value::Object(serde_json::Map::new());
    conns.rtc_geckos_connect(socket, user_data.unwrap_or(&empty), request)
}

/// The handler's decision on a held `POST /connections`: the offer, or `401` as geckos's
/// server answers a refused `authorization`.
pub(crate) fn decided(
    conns: &mut Conns,
    socket: usize,
    request: u64,
    allow: bool,
    user_data: Option<&Value>,
) -> Vec<u8> {
    respond(if allow {
        connect(conns, socket, user_data, Some(request))
    } else {
        (401, b"401: Unauthorized".to_vec())
    })
}

/// A geckos response: status, CORS headers for any origin (the `authorization` header
/// allowed), the body, and the connection closed.
fn respond((status, body): GeckosResponse) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let json = status == 200 && body.first().is_some_and(|b| *b == b'{' || *b == b'[');
    let kind = if json {
        "application/json"
    } else {
        "text/plain"
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in http::cors_headers("*", true) {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("cache-control: no-store\r\nconnection: close\r\n\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geckos_requests_are_routed_and_bounded() {
        let p = |s: &str| parse(s.as_bytes(), 100, None).status();
        let connect = "POST /.wrtc/v2/connections HTTP/1.1\r\n\r\n";
        assert_eq!(p(connect), "body 39..39");
        assert!(is_connect(connect.as_bytes()));
        let id = "a".repeat(24);
        let answer = format!(
            "POST /.wrtc/v2/connections/{id}/remote-description HTTP/1.1\r\ncontent-length: 2\r\n\r\n{{}}"
        );
        assert!(p(&answer).starts_with("body "));
        assert!(!is_connect(answer.as_bytes()));
        assert_eq!(p(&answer[..answer.len() - 1]), "partial");
        assert_eq!(
            p("OPTIONS /.wrtc/v2/connections HTTP/1.1\r\n\r\n"),
            "body 42..42"
        );
        assert_eq!(p("GET /.rtc/offer HTTP/1.1\r\n\r\n"), "404");
        assert_eq!(
            p("POST /.wrtc/v2/connections HTTP/1.1\r\ncontent-length: 101\r\n\r\n"),
            "413"
        );
        assert_eq!(
            p("POST /.wrtc/v2/connections HTTP/1.1\r\ncontent-length: x\r\n\r\n"),
            "400"
        );
        assert_eq!(
            p("POST /.wrtc/v2/connections HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"),
            "411"
        );
        let r = respond((401, b"401: Unauthorized".to_vec()));
        let r = String::from_utf8(r).unwrap();
        assert!(r.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
        assert!(r.contains("access-control-allow-origin: *\r\n"));
        assert!(r.contains("access-control-allow-headers: authorization, content-type\r\n"));
    }
}
