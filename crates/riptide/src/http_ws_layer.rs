//! An HTTP/1.1 listener whose chosen routes upgrade to WebSocket, as one stream layer: a
//! connection starts as HTTP and becomes a WebSocket when a request on a listed route asks
//! for the upgrade, so a page and its WebSocket share one port (netty's
//! `WebSocketServerProtocolHandler` behind its `HttpServerCodec`, uWS's
//! `app.get(...).ws(route, ...)`).
//!
//! Until the upgrade the layer reads requests with an [`Http1Codec`], whose limits stay in
//! force, and sends each up as a [`kind::HTTP`] record holding the descriptor the `http1`
//! codec would deliver; a request it cannot read is a [`kind::HTTP_ERROR`] record, and
//! nothing after it is read. The application's writes are HTTP bytes: each write is one record
//! of the codec ([`Http1WsOptions::codec_factory`]) whose body goes down as it is.
//!
//! A request whose `Upgrade` header names `websocket` is an upgrade. On a listed route, with a
//! valid handshake, the request and every byte after it go to a [`WsLayer`] of its own, which
//! reports the upgrade record and holds what follows (frames a client sent early, at most the
//! handshake's head limit). Otherwise it is declined ([`kind::DECLINED`]): 404 for a route
//! not listed, the handshake's status for a bad one; the bytes after it are dropped.
//!
//! The answer (accept or refuse) comes as a control message ([`StreamLayer::control`]), not
//! as a write: the writes before it are the responses to the requests before the upgrade,
//! any bytes at all, and only the application knows when it has written them. So the 101 or
//! the refusal follows those responses. From the answer on the [`WsLayer`] takes every write,
//! and the connection is a WebSocket as on a `codecs.websocket()` listener.

use crate::codec::{
    parse_request, CodecSpec, Decoded, Decoder, FrameError, Http1Codec, Http1Config, HttpRequest,
};
use crate::ws_codec::WsCodec;
use crate::ws_layer::record_codec;
use crate::ws_record::{for_each_record, kind, put_length, put_str, whole_kind, Reader, LENGTH};
use crate::{
    Error, LayerStatus, SharedWrite, StreamLayer, StreamLayerFactory, StreamOut, WsLayer, WsOptions,
};
use riptide_ws::{handshake, HandshakeError};
use std::sync::Arc;
use std::time::Instant;

/// An HTTP/1.1 server whose chosen routes upgrade to WebSocket: what
/// `codecs.http1({ ..., websocket: { routes, ... } })` validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Http1WsOptions {
    /// The HTTP limits, in force until the upgrade.
    pub http: Http1Config,
    /// The paths whose upgrade requests go to the WebSocket, the query aside: exact paths
    /// (`/chat`), or prefixes ending in `*` (`/rooms/*`).
    pub routes: Vec<String>,
    /// The WebSocket's options (handshake, session, timeouts), as for `codecs.websocket()`.
    pub websocket: WsOptions,
}

impl Http1WsOptions {
    /// The codec between the layer and the application: records of at most a whole request
    /// (its descriptor and body) or the WebSocket's largest record.
    pub fn codec(&self) -> CodecSpec {
        record_codec(self.largest_request().max(self.websocket.largest_record()))
    }

    /// The largest [`kind::HTTP`] record body: a descriptor spends 8 bytes of lengths on each
    /// header where the head spent at least 3 (`n:v` and CRLF), 17 on the request line and
    /// the body's length where the head spent at least 14, and holds the de-chunked body.
    fn largest_request(&self) -> usize {
        let http = &self.http;
        http.max_header_size
            .saturating_add(http.max_headers.saturating_mul(5))
            .saturating_add(http.max_body_size)
            .saturating_add(64)
    }

    /// The server's codec factory: [`Http1WsOptions::codec`]'s records, with publications
    /// framed once for every WebSocket subscriber that can take the same bytes ([`WsCodec`]).
    pub fn codec_factory(&self) -> crate::SharedCodec {
        Arc::new(WsCodec::new(self.codec(), self.websocket.session))
    }

    /// A factory making an [`Http1WsLayer`] per connection, once the options are checked:
    /// the HTTP limits as [`Http1Codec::new`] checks them, and at least one route, each a
    /// path (`/...`) without a query, a fragment or spaces, with `*` only at its end.
    pub fn server_factory(&self) -> Result<StreamLayerFactory, Error> {
        let http = Http1Codec::new(self.http.clone()).map_err(Error::Frame)?;
        if self.routes.is_empty() {
            return Err(Error::InvalidOption(
                "websocket routes must list at least one path".into(),
            ));
        }
        let path = |r: &str| {
            let body = r.strip_suffix('*').unwrap_or(r);
            body.starts_with('/')
                && !body.contains(['?', '#', '*'])
                && !body.contains(char::is_whitespace)
        };
        if let Some(bad) = self.routes.iter().find(|r| !path(r)) {
            return Err(Error::InvalidOption(format!(
                "websocket route {bad:?} is not a path (`/...`, no query, `*` at the end for a prefix)"
            )));
        }
        let shared = Arc::new(Shared {
            http,
            routes: self.routes.clone(),
            websocket: self.websocket.clone(),
        });
        Ok(Arc::new(move || {
            Box::new(Http1WsLayer::new(shared.clone())) as Box<dyn StreamLayer>
        }))
    }
}

/// What every connection of a listener shares.
struct Shared {
    /// A fresh decoder, cloned for each connection.
    http: Http1Codec,
    routes: Vec<String>,
    websocket: WsOptions,
}

impl Shared {
    /// True when `path` (a request target) is on a listed route.
    fn routed(&self, path: &[u8]) -> bool {
        let path = path.split(|&b| b == b'?').next().unwrap_or_default();
        self.routes.iter().any(|r| match r.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix.as_bytes()),
            None => path == r.as_bytes(),
        })
    }
}

/// What a request other than an ordinary one does to the connection.
enum Switch {
    /// A valid upgrade on a listed route: the WebSocket takes over.
    Upgrade,
    /// An upgrade the layer declines, and why.
    Decline(HandshakeError),
}

/// True when the request asks to upgrade to WebSocket: an `Upgrade` field names it (among
/// other protocols, in any case).
fn asks_websocket(request: &HttpRequest<'_>) -> bool {
    request
        .header_values("upgrade")
        .flat_map(|v| v.split(|&b| b == b','))
        .any(|p| p.trim_ascii().eq_ignore_ascii_case(b"websocket"))
}

/// Where a connection is.
enum Phase {
    /// Reading HTTP requests; `inbound` holds the start of one not whole yet.
    Http { codec: Http1Codec, inbound: Vec<u8> },
    /// An upgrade request was declined: waiting for the application's refusal, which comes
    /// after its responses to the requests before. The peer's bytes are dropped.
    Declined(HandshakeError),
    /// The WebSocket has the upgrade request (the application is asked); writes are still
    /// HTTP bytes until the answer.
    Upgrading(Box<WsLayer>),
    /// The upgrade is answered: the WebSocket takes everything.
    WebSocket(Box<WsLayer>),
    /// The refusal of a declined upgrade is sent: the connection ends at `due` (now), with
    /// `why`; nothing more goes either way.
    Ended {
        due: Option<Instant>,
        why: Option<Error>,
    },
}

/// One connection of an HTTP/1.1 listener that upgrades chosen routes to WebSocket: see the
/// module's doc.
pub struct Http1WsLayer {
    shared: Arc<Shared>,
    phase: Phase,
    /// The start of an HTTP write (a record) whose rest has not arrived.
    partial: Vec<u8>,
}

impl Http1WsLayer {
    fn new(shared: Arc<Shared>) -> Self {
        Self {
            phase: Phase::Http {
                codec: shared.http.clone(),
                inbound: Vec::new(),
            },
            shared,
            partial: Vec::new(),
        }
    }

    /// What `request` (the whole of `wire`, as read) does: `None` for an ordinary request.
    fn switch(&self, request: &[u8], wire: &[u8]) -> Option<Switch> {
        // The codec's own descriptor, always well-formed.
        let request = parse_request(request)?;
        if !asks_websocket(&request) {
            return None;
        }
        if !self.shared.routed(request.path) {
            return Some(Switch::Decline(HandshakeError::Refused(404)));
        }
        Some(
            match handshake::parse_request(wire, &self.shared.websocket.server) {
                // A body would be read as frames: an upgrade has none.
                Ok(Some((_, head))) if head == wire.len() => Switch::Upgrade,
                Ok(_) => Switch::Decline(HandshakeError::Malformed(
                    "an upgrade request has no body".into(),
                )),
                Err(e) => Switch::Decline(e),
            },
        )
    }

    /// Reads HTTP requests from `data` and what was held; hands the connection to the
    /// WebSocket, or declines, at an upgrade request.
    fn read_http(
        &mut self,
        now: Instant,
        data: &[u8],
        out: &mut StreamOut<'_>,
    ) -> Result<(), Error> {
        let Phase::Http { codec, inbound } = &mut self.phase else {
            return Ok(());
        };
        let mut codec = std::mem::replace(codec, self.shared.http.clone());
        let mut inbound = std::mem::take(inbound);
        inbound.extend_from_slice(data);
        let mut used = 0usize;
        let mut next = None;
        while next.is_none() {
            let rest = inbound.get(used..).unwrap_or_default();
            let (consumed, request) = match codec.decode(rest) {
                Decoded::Owned { consumed, frame } => (consumed, frame),
                Decoded::Frame {
                    consumed,
                    start,
                    end,
                } => (consumed, rest.get(start..end).unwrap_or_default().to_vec()),
                Decoded::Skip { consumed } => {
                    used = used.saturating_add(consumed);
                    continue;
                }
                Decoded::Error { consumed, error } => {
                    used = used.saturating_add(consumed);
                    put_http_error(out.up, &error);
                    continue;
                }
                Decoded::Reply { bytes } => {
                    out.down.extend_from_slice(bytes);
                    continue;
                }
                Decoded::NeedMore => break,
            };
            next = self.switch(&request, rest.get(..consumed).unwrap_or_default());
            if next.is_none() {
                put_length(out.up, request.len().saturating_add(1));
                out.up.push(kind::HTTP);
                out.up.extend_from_slice(&request);
                used = used.saturating_add(consumed);
            }
        }
        let rest = inbound.get(used..).unwrap_or_default();
        match next {
            None => {
                inbound.drain(..used.min(inbound.len()));
                self.phase = Phase::Http { codec, inbound };
            }
            Some(Switch::Upgrade) => {
                // The WebSocket reads the request again, reports it and holds what follows.
                let mut ws = Box::new(WsLayer::server(self.shared.websocket.clone()));
                ws.read(now, rest, out)?;
                self.phase = Phase::Upgrading(ws);
            }
            Some(Switch::Decline(why)) => {
                let mut record = vec![kind::DECLINED];
                record.extend_from_slice(&why.status().to_be_bytes());
                put_length(out.up, record.len());
                out.up.extend_from_slice(&record);
                self.phase = Phase::Declined(why);
            }
        }
        Ok(())
    }
}

/// The response a refuse record (a status and headers) asks for.
fn refusal(record: &[u8]) -> Result<Vec<u8>, riptide_ws::Error> {
    let mut r = Reader(record.get(1..).unwrap_or_default());
    let status = r.u16_be()?;
    let headers = r.headers()?;
    Ok(handshake::refuse_response(status, &headers)?)
}

/// Appends the record of an HTTP error: its code and message.
fn put_http_error(up: &mut Vec<u8>, error: &FrameError) {
    let mut record = vec![kind::HTTP_ERROR];
    put_str(&mut record, error.code());
    put_str(&mut record, &error.to_string());
    put_length(up, record.len());
    up.extend_from_slice(&record);
}

impl StreamLayer for Http1WsLayer {
    fn read(
        &mut self,
        now: Instant,
        data: &[u8],
        out: &mut StreamOut<'_>,
    ) -> Result<LayerStatus, Error> {
        match &mut self.phase {
            Phase::Http { .. } => self.read_http(now, data, out)?,
            Phase::Upgrading(ws) | Phase::WebSocket(ws) => {
                ws.read(now, data, out)?;
            }
            Phase::Declined(_) | Phase::Ended { .. } => {}
        }
        Ok(LayerStatus::Ready)
    }

    fn write(&mut self, now: Instant, data: &[u8], down: &mut Vec<u8>) -> Result<(), Error> {
        match &mut self.phase {
            Phase::WebSocket(ws) => ws.write(now, data, down),
            // After the refusal nothing more goes out.
            Phase::Ended { .. } => Ok(()),
            Phase::Http { .. } | Phase::Declined(_) | Phase::Upgrading(_) => {
                for_each_record(&mut self.partial, data, |bytes| {
                    down.extend_from_slice(bytes)
                });
                Ok(())
            }
        }
    }

    /// The answer to the upgrade: an accept or refuse record (as `ws_record.rs` defines
    /// them) for an upgrade the WebSocket has, a refuse record for a declined one.
    fn control(&mut self, now: Instant, message: &[u8], down: &mut Vec<u8>) -> Result<(), Error> {
        let answer = message.first().copied();
        if !self.partial.is_empty() {
            return Err(Error::InvalidOption(
                "a control message in the middle of a write".into(),
            ));
        }
        let phase = std::mem::replace(
            &mut self.phase,
            Phase::Ended {
                due: None,
                why: None,
            },
        );
        match phase {
            Phase::Upgrading(mut ws) if matches!(answer, Some(kind::ACCEPT | kind::REFUSE)) => {
                ws.write_record(now, message, down);
                self.phase = Phase::WebSocket(ws);
                Ok(())
            }
            Phase::Declined(why) if answer == Some(kind::REFUSE) => {
                down.extend_from_slice(&refusal(message).map_err(Error::WebSocket)?);
                self.phase = Phase::Ended {
                    due: Some(now),
                    why: Some(Error::WebSocket(why.into())),
                };
                Ok(())
            }
            other => {
                self.phase = other;
                Err(Error::InvalidOption(
                    "no upgrade is waiting for this answer".into(),
                ))
            }
        }
    }

    fn close(&mut self, now: Instant, down: &mut Vec<u8>) {
        if let Phase::Upgrading(ws) | Phase::WebSocket(ws) = &mut self.phase {
            ws.close(now, down);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Upgrading(ws) | Phase::WebSocket(ws) => ws.poll_timeout(),
            Phase::Ended { due, .. } => *due,
            Phase::Http { .. } | Phase::Declined(_) => None,
        }
    }

    fn handle_timeout(
        &mut self,
        now: Instant,
        out: &mut StreamOut<'_>,
    ) -> Result<LayerStatus, Error> {
        match &mut self.phase {
            Phase::Upgrading(ws) | Phase::WebSocket(ws) => ws.handle_timeout(now, out),
            Phase::Ended { due, .. } => {
                *due = None;
                out.report.close = true;
                Ok(LayerStatus::Ready)
            }
            Phase::Http { .. } | Phase::Declined(_) => Ok(LayerStatus::Ready),
        }
    }

    fn outcome(&mut self) -> Option<Error> {
        match &mut self.phase {
            Phase::Upgrading(ws) | Phase::WebSocket(ws) => ws.outcome(),
            Phase::Ended { why, .. } => why.take(),
            Phase::Http { .. } | Phase::Declined(_) => None,
        }
    }

    fn buffered(&self) -> usize {
        match &self.phase {
            Phase::WebSocket(ws) => ws.buffered(),
            _ => self.partial.len(),
        }
    }

    fn shared_variant(&mut self) -> Option<u32> {
        match &mut self.phase {
            Phase::WebSocket(ws) => ws.shared_variant(),
            _ => None,
        }
    }

    /// A WebSocket takes publications as a [`WsLayer`] does. Before the upgrade is answered
    /// the connection speaks HTTP: a published message (a text or binary record) goes out as
    /// its bytes, as any write does (a stream of server-sent events, say).
    fn write_shared(&mut self, now: Instant, record: &[u8]) -> SharedWrite {
        match &mut self.phase {
            Phase::WebSocket(ws) => ws.write_shared(now, record),
            Phase::Ended { .. } => SharedWrite::Skip,
            Phase::Http { .. } | Phase::Declined(_) | Phase::Upgrading(_) => {
                let message = matches!(whole_kind(record), Some(kind::TEXT | kind::BINARY));
                if message && self.partial.is_empty() {
                    SharedWrite::Pass(LENGTH.saturating_add(1))
                } else {
                    SharedWrite::Write
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "http_ws_layer_tests.rs"]
mod tests;
