//! The opening handshake (RFC 6455 §4): a server reading the upgrade request and answering it,
//! a client writing the request and checking the answer.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::deflate::is_token;
use crate::{DeflateConfig, DeflateParams, HandshakeError};

/// The GUID RFC 6455 §1.3 appends to the key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The most headers a handshake head may carry.
const MAX_HEADERS: usize = 64;

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// What a server accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// The largest request head (431 past it).
    pub max_head_size: usize,
    /// The subprotocols this server speaks, in its order of preference.
    pub subprotocols: Vec<String>,
    /// permessage-deflate, if the server offers it.
    pub deflate: Option<DeflateConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_head_size: 8 * 1024,
            subprotocols: Vec::new(),
            deflate: None,
        }
    }
}

/// A valid upgrade request, with what the server would agree to by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The request target (path and query).
    pub path: String,
    /// Every header, names as sent, in order.
    pub headers: Vec<(String, String)>,
    /// `Sec-WebSocket-Key`.
    pub key: String,
    /// The subprotocols the client offered, in its order.
    pub protocols: Vec<String>,
    /// The first offered subprotocol the server speaks (the server's preference breaks ties).
    pub protocol: Option<String>,
    /// The permessage-deflate parameters the server would agree to, if any.
    pub deflate: Option<DeflateParams>,
}

impl UpgradeRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_values(&self.headers, name).next()
    }
}

/// Every value of header `name`, in order.
fn header_values<'a>(headers: &'a [(String, String)], name: &str) -> std::vec::IntoIter<&'a str> {
    let values: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    values.into_iter()
}

/// Whether some value of `name` holds `token` in its comma-separated list.
fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    header_values(headers, name)
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Copies httparse's headers into owned pairs; values must be UTF-8.
fn own_headers(headers: &[httparse::Header<'_>]) -> Result<Vec<(String, String)>, HandshakeError> {
    headers
        .iter()
        .map(|h| {
            let value = std::str::from_utf8(h.value).map_err(|_| {
                HandshakeError::Malformed(format!("header {} is not UTF-8", h.name))
            })?;
            Ok((h.name.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// Maps httparse's answer: `None` while incomplete and under `max`.
fn complete(
    status: httparse::Result<usize>,
    buf_len: usize,
    max: usize,
) -> Result<Option<usize>, HandshakeError> {
    match status {
        Ok(httparse::Status::Complete(len)) if len <= max => Ok(Some(len)),
        Ok(httparse::Status::Complete(_)) => Err(HandshakeError::HeadTooLarge(max)),
        Ok(httparse::Status::Partial) if buf_len < max => Ok(None),
        Ok(httparse::Status::Partial) => Err(HandshakeError::HeadTooLarge(max)),
        Err(httparse::Error::TooManyHeaders) => Err(HandshakeError::HeadTooLarge(max)),
        Err(e) => Err(HandshakeError::Malformed(e.to_string())),
    }
}

/// Reads an upgrade request from the front of `buf`: `Ok(None)` while its head is incomplete,
/// the request and the head's length once whole (bytes after it are the client's first frames).
/// Refuses anything RFC 6455 §4.2.1 does not allow. Each call parses `buf` from the start:
/// call it when a line break arrives, not on every read, as [`crate::Connection`] does.
pub fn parse_request(
    buf: &[u8],
    config: &ServerConfig,
) -> Result<Option<(UpgradeRequest, usize)>, HandshakeError> {
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut raw);
    let Some(len) = complete(req.parse(buf), buf.len(), config.max_head_size)? else {
        return Ok(None);
    };
    if req.method != Some("GET") {
        return Err(HandshakeError::NotGet);
    }
    if req.version != Some(1) {
        return Err(HandshakeError::Malformed("not HTTP/1.1".into()));
    }
    let headers = own_headers(req.headers)?;
    if header_values(&headers, "host").next().is_none() {
        return Err(HandshakeError::Malformed("no Host header".into()));
    }
    if !has_token(&headers, "upgrade", "websocket") {
        return Err(HandshakeError::NotUpgrade("no Upgrade: websocket"));
    }
    if !has_token(&headers, "connection", "upgrade") {
        return Err(HandshakeError::NotUpgrade("no Connection: upgrade"));
    }
    let mut versions = header_values(&headers, "sec-websocket-version");
    if versions.next() != Some("13") || versions.next().is_some() {
        return Err(HandshakeError::BadVersion);
    }
    let mut keys = header_values(&headers, "sec-websocket-key");
    let key = keys.next().ok_or(HandshakeError::BadKey)?.to_owned();
    if keys.next().is_some() || BASE64.decode(&key).map(|k| k.len()) != Ok(16) {
        return Err(HandshakeError::BadKey);
    }
    let protocols: Vec<String> = header_values(&headers, "sec-websocket-protocol")
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if protocols.iter().any(|p| !is_token(p)) {
        return Err(HandshakeError::Malformed("bad subprotocol token".into()));
    }
    let protocol = protocols
        .iter()
        .find(|p| config.subprotocols.contains(p))
        .cloned();
    let extensions: Vec<&str> = header_values(&headers, "sec-websocket-extensions").collect();
    let deflate = config
        .deflate
        .as_ref()
        .and_then(|d| d.negotiate(&extensions));
    let path = req.path.unwrap_or("/").to_owned();
    Ok(Some((
        UpgradeRequest {
            path,
            headers,
            key,
            protocols,
            protocol,
            deflate,
        },
        len,
    )))
}

/// Checks a header this side is about to send: a token name, a value without CR, LF or NUL.
fn check_header(name: &str, value: &str) -> Result<(), HandshakeError> {
    if !is_token(name) || value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(HandshakeError::BadHeader(name.to_owned()));
    }
    Ok(())
}

/// The `101 Switching Protocols` answer to `request`, with the chosen subprotocol (which the
/// client must have offered), the agreed deflate parameters and any extra headers.
pub fn accept_response(
    request: &UpgradeRequest,
    protocol: Option<&str>,
    deflate: Option<&DeflateParams>,
    extra: &[(String, String)],
) -> Result<Vec<u8>, HandshakeError> {
    let mut out = String::from(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
    );
    out.push_str(&format!(
        "Sec-WebSocket-Accept: {}\r\n",
        accept_key(&request.key)
    ));
    if let Some(protocol) = protocol {
        if !request.protocols.iter().any(|p| p == protocol) {
            return Err(HandshakeError::UnofferedProtocol(protocol.to_owned()));
        }
        out.push_str(&format!("Sec-WebSocket-Protocol: {protocol}\r\n"));
    }
    if let Some(deflate) = deflate {
        out.push_str(&format!(
            "Sec-WebSocket-Extensions: {}\r\n",
            deflate.response_header()
        ));
    }
    for (name, value) in extra {
        check_header(name, value)?;
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    Ok(out.into_bytes())
}

/// A refusal with `status` (a 4xx or 5xx; 426 says which version is spoken) that closes the
/// connection.
pub fn refuse_response(status: u16, extra: &[(String, String)]) -> Result<Vec<u8>, HandshakeError> {
    if !(400..=599).contains(&status) {
        return Err(HandshakeError::BadHeader(format!(
            "status {status} is not a refusal"
        )));
    }
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nConnection: close\r\nContent-Length: 0\r\n",
        reason(status)
    );
    if status == 426 {
        out.push_str("Sec-WebSocket-Version: 13\r\n");
    }
    for (name, value) in extra {
        check_header(name, value)?;
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    Ok(out.into_bytes())
}

/// A reason phrase for the statuses a refusal commonly uses.
fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Refused",
    }
}

/// What a client asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// The `Host` header (host, and port when not the scheme's default).
    pub host: String,
    /// The request target (path and query).
    pub path: String,
    /// Extra headers (Origin, cookies, authorisation).
    pub headers: Vec<(String, String)>,
    /// Subprotocols to offer, in order of preference.
    pub subprotocols: Vec<String>,
    /// permessage-deflate to offer, if any.
    pub deflate: Option<DeflateConfig>,
    /// The largest response head accepted.
    pub max_head_size: usize,
}

/// What the server agreed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The chosen subprotocol.
    pub protocol: Option<String>,
    /// The agreed permessage-deflate parameters.
    pub deflate: Option<DeflateParams>,
    /// The response's headers.
    pub headers: Vec<(String, String)>,
}

/// A client's side of the handshake: the request with a fresh random key, and the check of
/// the answer against it.
#[derive(Clone, Debug)]
pub struct ClientHandshake {
    config: ClientConfig,
    key: String,
}

impl ClientHandshake {
    /// A handshake with a random key from the system's random source.
    pub fn new(config: ClientConfig) -> Result<Self, HandshakeError> {
        let mut key = [0u8; 16];
        getrandom::fill(&mut key)
            .map_err(|e| HandshakeError::Malformed(format!("no randomness: {e}")))?;
        Self::with_key(config, key)
    }

    /// A handshake with a given key (tests; the RFC's example uses a fixed one).
    pub fn with_key(config: ClientConfig, key: [u8; 16]) -> Result<Self, HandshakeError> {
        for (name, value) in &config.headers {
            check_header(name, value)?;
        }
        check_header("Host", &config.host)?;
        if !config.path.starts_with('/') || config.path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(HandshakeError::BadHeader(format!(
                "bad path {:?}",
                config.path
            )));
        }
        if config.subprotocols.iter().any(|p| !is_token(p)) {
            return Err(HandshakeError::BadHeader("Sec-WebSocket-Protocol".into()));
        }
        if let Some(deflate) = &config.deflate {
            deflate.validate().map_err(HandshakeError::BadHeader)?;
        }
        Ok(Self {
            config,
            key: BASE64.encode(key),
        })
    }

    /// The largest response head this handshake accepts.
    pub fn max_head_size(&self) -> usize {
        self.config.max_head_size
    }

    /// The upgrade request to send.
    pub fn request(&self) -> Vec<u8> {
        let c = &self.config;
        let mut out = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
            c.path, c.host, self.key
        );
        if !c.subprotocols.is_empty() {
            out.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                c.subprotocols.join(", ")
            ));
        }
        if let Some(deflate) = &c.deflate {
            out.push_str(&format!(
                "Sec-WebSocket-Extensions: {}\r\n",
                deflate.client_offer()
            ));
        }
        for (name, value) in &c.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// Reads the server's answer from the front of `buf`: `Ok(None)` while incomplete, what was
    /// agreed and the head's length once whole (bytes after it are the server's first frames).
    pub fn parse_response(&self, buf: &[u8]) -> Result<Option<(Accepted, usize)>, HandshakeError> {
        let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut raw);
        let Some(len) = complete(res.parse(buf), buf.len(), self.config.max_head_size)? else {
            return Ok(None);
        };
        let status = res.code.unwrap_or(0);
        if status != 101 {
            return Err(HandshakeError::Status(status));
        }
        let headers = own_headers(res.headers)?;
        if !has_token(&headers, "upgrade", "websocket") {
            return Err(HandshakeError::NotUpgrade("no Upgrade: websocket"));
        }
        if !has_token(&headers, "connection", "upgrade") {
            return Err(HandshakeError::NotUpgrade("no Connection: upgrade"));
        }
        let mut accepts = header_values(&headers, "sec-websocket-accept");
        if accepts.next() != Some(accept_key(&self.key).as_str()) || accepts.next().is_some() {
            return Err(HandshakeError::BadAccept);
        }
        let mut protocols = header_values(&headers, "sec-websocket-protocol");
        let protocol = protocols.next().map(str::to_owned);
        if let Some(p) = &protocol {
            if protocols.next().is_some() || !self.config.subprotocols.contains(p) {
                return Err(HandshakeError::UnofferedProtocol(p.clone()));
            }
        }
        let extensions: Vec<&str> = header_values(&headers, "sec-websocket-extensions").collect();
        let deflate = match &self.config.deflate {
            Some(d) => d.accept_response(&extensions)?,
            None if extensions.is_empty() => None,
            None => return Err(HandshakeError::UnofferedExtension(extensions.join(", "))),
        };
        Ok(Some((
            Accepted {
                protocol,
                deflate,
                headers,
            },
            len,
        )))
    }
}
