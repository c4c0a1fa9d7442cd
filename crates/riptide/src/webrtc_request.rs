//! What a signalling request of a `webrtc://` listener is, as far as it arrived: shared by
//! the default signalling's (`webrtc_answer.rs`) and geckos mode's (`webrtc_geckos.rs`) parsers,
//! on the listener's own port and attached to an HTTP listener (`webrtc_attach.rs`).

use riptide_codec::parse_request;

/// What a request is, as far as it arrived.
pub(crate) enum Parsed {
    /// Not all of it yet.
    Partial,
    /// Answered without the endpoint: this response.
    Respond(Vec<u8>),
    /// An offer (geckos mode: any request under `/.wrtc/v2`), whose body is at `start..end`.
    Offer(usize, usize),
}

/// The value of the request's header `name` (any case), if it has one.
pub(crate) fn header<'b>(req: &httparse::Request<'_, 'b>, name: &str) -> Option<&'b [u8]> {
    req.headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

#[cfg(test)]
impl Parsed {
    /// What the parsers' unit tests compare: a response's status code, `partial`, or where
    /// the body of a request for the endpoint is (`body start..end`).
    pub(crate) fn status(self) -> String {
        match self {
            Parsed::Respond(r) => String::from_utf8_lossy(&r[9..12]).into_owned(),
            Parsed::Partial => "partial".into(),
            Parsed::Offer(a, b) => format!("body {a}..{b}"),
        }
    }
}

/// The request an `http1` frame (its descriptor) describes, as bytes on the wire: request
/// line, the headers as sent, the (de-chunked) body. The signalling parsers then read it as
/// they read one from their own port, with the same bounds. `None` when `frame` is not a
/// descriptor.
pub(crate) fn wire(frame: &[u8]) -> Option<Vec<u8>> {
    let req = parse_request(frame)?;
    let mut out = Vec::with_capacity(frame.len().saturating_add(32));
    out.extend_from_slice(req.method);
    out.push(b' ');
    out.extend_from_slice(req.path);
    out.extend_from_slice(b" HTTP/1.");
    out.push(if req.minor_version == 0 { b'0' } else { b'1' });
    out.extend_from_slice(b"\r\n");
    for (name, value) in &req.headers {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(req.body);
    Some(out)
}

/// Whether the connection an `http1` frame came on stays open after its response: HTTP/1.1
/// unless `connection: close`, HTTP/1.0 only with `connection: keep-alive`.
pub(crate) fn keeps_alive(frame: &[u8]) -> bool {
    let Some(req) = parse_request(frame) else {
        return false;
    };
    let connection = req.header("connection").unwrap_or_default();
    if req.minor_version == 0 {
        connection.eq_ignore_ascii_case(b"keep-alive")
    } else {
        !connection.eq_ignore_ascii_case(b"close")
    }
}

/// The `connection: close` header every signalling response is built with.
const CLOSE: &[u8] = b"\r\nconnection: close\r\n";

/// `response` (built by the signalling with `connection: close`) saying `connection:
/// keep-alive` instead: for an HTTP connection that stays open after it.
pub(crate) fn keep_alive(mut response: Vec<u8>) -> Vec<u8> {
    let head = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |n| n.saturating_add(2));
    let Some(at) = response
        .get(..head)
        .and_then(|h| h.windows(CLOSE.len()).position(|w| w == CLOSE))
    else {
        return response;
    };
    let value = at.saturating_add(b"\r\nconnection: ".len());
    let end = at.saturating_add(CLOSE.len()).saturating_sub(2);
    response.splice(value..end, b"keep-alive".iter().copied());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `http1` descriptor of `method path`, these headers and body.
    fn frame(
        minor: u8,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Vec<u8> {
        let mut f = vec![minor];
        let field = |f: &mut Vec<u8>, b: &[u8]| {
            f.extend_from_slice(&u32::try_from(b.len()).unwrap().to_le_bytes());
            f.extend_from_slice(b);
        };
        field(&mut f, method.as_bytes());
        field(&mut f, path.as_bytes());
        f.extend_from_slice(&u32::try_from(headers.len()).unwrap().to_le_bytes());
        for (n, v) in headers {
            field(&mut f, n.as_bytes());
            field(&mut f, v.as_bytes());
        }
        field(&mut f, body);
        f
    }

    #[test]
    fn descriptors_become_wire_requests() {
        let f = frame(1, "POST", "/o?x", &[("Content-Length", "2")], b"{}");
        assert_eq!(
            wire(&f).unwrap(),
            b"POST /o?x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}".to_vec()
        );
        assert!(keeps_alive(&f));
        assert!(!keeps_alive(&frame(
            1,
            "GET",
            "/",
            &[("Connection", "Close")],
            b""
        )));
        assert!(!keeps_alive(&frame(0, "GET", "/", &[], b"")));
        assert!(keeps_alive(&frame(
            0,
            "GET",
            "/",
            &[("connection", "keep-alive")],
            b""
        )));
        assert!(wire(b"\x01\x05\0\0\0PO").is_none());
        assert!(!keeps_alive(b""));
    }

    #[test]
    fn responses_keep_the_connection() {
        let r = b"HTTP/1.1 200 OK\r\nx: 1\r\nconnection: close\r\n\r\nconnection: close\r\n";
        assert_eq!(
            keep_alive(r.to_vec()),
            b"HTTP/1.1 200 OK\r\nx: 1\r\nconnection: keep-alive\r\n\r\nconnection: close\r\n"
                .to_vec()
        );
        let plain = b"HTTP/1.1 204 No Content\r\n\r\n".to_vec();
        assert_eq!(keep_alive(plain.clone()), plain);
    }
}
