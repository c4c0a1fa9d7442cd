//! WebSocket as a stream layer: a [`riptide_ws::Connection`] per connection, between the
//! transport (or TLS) and a length-field codec. The layer speaks the WebSocket wire with the
//! peer and *records* with the application: each record is a kind byte and a body, framed by
//! the codec with a 4-byte big-endian length (`ws_record.rs`). Records carry what the plain
//! codec seam cannot: text or binary, the upgrade request and the application's answer, pings
//! and the close handshake. The layer's deadline (idle ping, close timeout) goes on the
//! reactor's timer wheel like any layer's. A protocol violation, a finished close handshake or
//! a refusal ends the connection at the layer's next deadline, due at once (so messages read
//! before it are delivered first): the table closes it after flushing the last bytes (the
//! close frame, the echo, the refusal) and [`StreamLayer::outcome`] says why.
//!
//! A client layer ([`WsClientOptions`]) sends its upgrade request when the transport connects
//! and stays [`LayerStatus::Pending`] (the connection is not open) until the server's 101: then
//! an open record carries the chosen subprotocol and the response headers up, first of all. A
//! refused or broken handshake fails the connection before it opens, so a dial sees it as a
//! failed connect; so does a handshake that takes longer than the dial's connect timeout.

use crate::codec::{ByteOrder, CodecSpec, LengthFieldConfig};
use crate::ws_codec::WsCodec;
use crate::ws_record::{
    for_each_record, kind, put_count, put_headers, put_length, put_record, put_str, whole_kind,
    Reader, LENGTH,
};
use crate::{Error, LayerStatus, SharedWrite, StreamLayer, StreamLayerFactory, StreamOut};
use riptide_ws::{
    ClientConfig, ClientHandshake, ConnEvent, Connection, Event, ServerConfig, SessionConfig,
    Timeouts,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A WebSocket server's options: what `codecs.websocket({...})` validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsOptions {
    /// The handshake's choices (subprotocols, permessage-deflate, the largest head).
    pub server: ServerConfig,
    /// The session's limits (largest message) and compression settings.
    pub session: SessionConfig,
    /// Idle ping and close timeout.
    pub timeouts: Timeouts,
}

impl WsOptions {
    /// The codec between this layer and the application: records of at most the largest
    /// message (or the largest upgrade record, whichever is bigger) plus a kind byte.
    pub fn codec(&self) -> CodecSpec {
        record_codec(self.largest_record())
    }

    /// The largest record body between the layer and the application: a message, or an
    /// upgrade record (which spends 8 bytes of lengths on each header where the head spent
    /// 4).
    pub(crate) fn largest_record(&self) -> usize {
        let head = self.server.max_head_size.saturating_mul(2);
        self.session.max_message_size.max(head)
    }

    /// The server's codec factory: [`WsOptions::codec`]'s records, with publications framed
    /// once for every subscriber that can take the same bytes ([`WsCodec`]).
    pub fn codec_factory(&self) -> crate::SharedCodec {
        Arc::new(WsCodec::new(self.codec(), self.session))
    }

    /// A factory making a server [`WsLayer`] per connection.
    pub fn server_factory(&self) -> StreamLayerFactory {
        let options = self.clone();
        Arc::new(move || Box::new(WsLayer::server(options.clone())) as Box<dyn StreamLayer>)
    }
}

/// A WebSocket client's options: the request (host, path, headers, subprotocols and
/// permessage-deflate to offer), the session's limits and the timeouts. Each connection made
/// from them sends a request with a fresh key, so a reconnect does a whole new handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsClientOptions {
    /// The upgrade request to make, and the largest response head accepted.
    pub client: ClientConfig,
    /// The session's limits (largest message) and compression settings.
    pub session: SessionConfig,
    /// Idle ping and close timeout.
    pub timeouts: Timeouts,
    /// How long the server may take to answer the request (then `ETIMEDOUT`); `None` waits.
    pub handshake_timeout: Option<Duration>,
}

impl WsClientOptions {
    /// The codec between the layer and the application, as for a server.
    pub fn codec(&self) -> CodecSpec {
        let head = self.client.max_head_size.saturating_mul(2);
        record_codec(self.session.max_message_size.max(head))
    }

    /// A factory making a client [`WsLayer`] per connection.
    pub fn client_factory(&self) -> StreamLayerFactory {
        let options = self.clone();
        Arc::new(move || Box::new(WsLayer::client(options.clone())) as Box<dyn StreamLayer>)
    }
}

/// The records' codec: record bodies of at most `body` bytes (the largest message, or the
/// largest record a handshake makes: an upgrade or open record spends 8 bytes of lengths on
/// each header where the head spent 4), plus a kind byte.
pub(crate) fn record_codec(body: usize) -> CodecSpec {
    CodecSpec::LengthField(LengthFieldConfig {
        byte_order: ByteOrder::Big,
        max_frame_length: body.saturating_add(1 + LENGTH) as u64,
        length_field_offset: 0,
        length_field_length: LENGTH,
        length_adjustment: 0,
        initial_bytes_to_strip: LENGTH,
        fail_fast: true,
        length_includes_length_field_length: false,
        prepender_adjustment: 0,
    })
}

/// One connection's WebSocket: the protocol state, the peer's bytes it could not use yet
/// (sent while the application decides on the upgrade), the application's partial record, and
/// how the connection ends once the layer has decided it should.
pub struct WsLayer {
    options: WsOptions,
    /// A client's side: the request to make, and the deadline for its answer. `start` makes
    /// the connection (a server's is made on first use from `options`).
    client: Option<(ClientConfig, Option<Duration>)>,
    conn: Option<Connection>,
    /// Peer bytes after the upgrade request, held until the application answers it.
    held: Vec<u8>,
    /// The start of a record from the application whose rest has not arrived.
    partial: Vec<u8>,
    /// Work for the next deadline, set where the layer cannot act itself: held bytes to
    /// deliver after an accept, or an end decided on the write side. Due at once.
    due: Option<Instant>,
    /// Why the connection ends (the peer's close frame, a violation, a refusal); once set,
    /// the next deadline asks the table for a graceful close and `outcome` reports it.
    ending: Option<Error>,
}

impl WsLayer {
    /// A server side: waits for an upgrade request.
    pub fn server(options: WsOptions) -> Self {
        Self {
            options,
            client: None,
            conn: None,
            held: Vec::new(),
            partial: Vec::new(),
            due: None,
            ending: None,
        }
    }

    /// A client side: sends its upgrade request when started, opens on the server's 101.
    pub fn client(options: WsClientOptions) -> Self {
        let mut layer = Self::server(WsOptions {
            server: ServerConfig::default(),
            session: options.session,
            timeouts: options.timeouts,
        });
        layer.client = Some((options.client, options.handshake_timeout));
        layer
    }

    /// True for a client still waiting for the server's 101.
    fn handshaking(&mut self) -> bool {
        self.client.is_some() && self.conn.as_mut().and_then(Connection::session).is_none()
    }

    fn conn(&mut self, now: Instant) -> &mut Connection {
        let options = &self.options;
        self.conn.get_or_insert_with(|| {
            Connection::server(
                options.server.clone(),
                options.session,
                options.timeouts,
                now,
            )
        })
    }

    /// Decides the end: the connection closes (after flushing) at the next deadline, which
    /// is now, so messages read before it are delivered first.
    fn end(&mut self, now: Instant, why: Error) {
        if self.ending.is_none() {
            self.ending = Some(why);
        }
        self.due = Some(now);
    }

    /// Feeds peer bytes to the connection, turning its events into records for `up` and its
    /// answers into bytes for `down`. Bytes it cannot take yet (the application has not
    /// answered the upgrade) are held, up to the largest head: a client must wait for the
    /// answer before it sends frames (RFC 6455 §4.1).
    fn feed(&mut self, now: Instant, data: &[u8], up: &mut Vec<u8>, down: &mut Vec<u8>) {
        let limit = self.options.server.max_head_size;
        // Held bytes go first: new ones may come before the deadline that releases them.
        let mut held = std::mem::take(&mut self.held);
        let data = if held.is_empty() {
            data
        } else {
            held.extend_from_slice(data);
            &held
        };
        let mut rest = data;
        while !rest.is_empty() && self.ending.is_none() {
            let received = match self.conn(now).receive(now, rest) {
                Ok(r) => r,
                Err(e) => {
                    self.end(now, Error::WebSocket(e));
                    break;
                }
            };
            rest = rest.get(received.consumed..).unwrap_or_default();
            match received.event {
                Some(ConnEvent::Upgrade(request)) => {
                    let mut record = vec![kind::UPGRADE];
                    put_str(&mut record, &request.path);
                    put_count(&mut record, request.protocols.len());
                    request
                        .protocols
                        .iter()
                        .for_each(|p| put_str(&mut record, p));
                    match &request.protocol {
                        Some(p) => put_str(&mut record, p),
                        None => put_count(&mut record, u32::MAX as usize),
                    }
                    put_headers(&mut record, &request.headers);
                    put_record(up, &record);
                }
                Some(ConnEvent::Ws(Event::Message { data, binary })) => {
                    let k = if binary { kind::BINARY } else { kind::TEXT };
                    put_length(up, data.len().saturating_add(1));
                    up.push(k);
                    up.extend_from_slice(&data);
                }
                Some(ConnEvent::Ws(Event::Close(frame))) => {
                    let why = Error::WebSocketClose {
                        code: frame.code,
                        reason: frame.reason,
                    };
                    self.end(now, why);
                }
                Some(ConnEvent::Open(accepted)) => {
                    let mut record = vec![kind::OPEN];
                    match &accepted.protocol {
                        Some(p) => put_str(&mut record, p),
                        None => put_count(&mut record, u32::MAX as usize),
                    }
                    put_headers(&mut record, &accepted.headers);
                    put_record(up, &record);
                    // The handshake's deadline is over; the session's (if any) takes its place.
                    self.due = None;
                }
                Some(ConnEvent::Ws(Event::Ping(data))) => {
                    put_record(up, &[&[kind::PING], &data[..]].concat())
                }
                Some(ConnEvent::Ws(Event::Pong(data))) => {
                    put_record(up, &[&[kind::PONG], &data[..]].concat())
                }
                None if received.consumed == 0 => {
                    if self.held.len().saturating_add(rest.len()) > limit {
                        let e = riptide_ws::HandshakeError::HeadTooLarge(limit);
                        self.end(now, Error::WebSocket(e.into()));
                    } else {
                        self.held.extend_from_slice(rest);
                    }
                    break;
                }
                None => {}
            }
        }
        down.append(&mut self.conn(now).take_output());
    }

    /// Applies one record from the application.
    fn apply(&mut self, now: Instant, record: &[u8]) -> Result<(), riptide_ws::Error> {
        let (&k, body) = record.split_first().ok_or(riptide_ws::Error::Closed)?;
        let conn = self.conn(now);
        match k {
            kind::TEXT | kind::BINARY | kind::PING | kind::FRAMED => {
                let Some(session) = conn.session() else {
                    return Err(riptide_ws::Error::Closed);
                };
                // A message raced the peer's close: the connection is ending, so it is dropped.
                if session.state() != riptide_ws::State::Open {
                    return Ok(());
                }
                if k == kind::PING {
                    session.ping(body)
                } else if k == kind::FRAMED {
                    session.send_framed(body)
                } else {
                    session.send(body, k == kind::BINARY)
                }
            }
            kind::CLOSE => {
                let mut r = Reader(body);
                let code = r.u16_be()?;
                let reason =
                    std::str::from_utf8(r.0).map_err(|_| riptide_ws::Error::InvalidUtf8)?;
                match conn.session().map(|s| s.state()) {
                    Some(riptide_ws::State::Open) => conn.close(now, code, reason),
                    _ => Ok(()),
                }
            }
            kind::ACCEPT => {
                let mut r = Reader(body);
                let protocol = r.optional_str()?;
                let headers = r.headers()?;
                conn.accept(protocol.as_deref(), &headers)?;
                if !self.held.is_empty() {
                    self.due = Some(now);
                }
                Ok(())
            }
            kind::REFUSE => {
                let mut r = Reader(body);
                let status = r.u16_be()?;
                let headers = r.headers()?;
                conn.refuse(status, &headers)?;
                Err(riptide_ws::HandshakeError::Refused(status).into())
            }
            _ => Err(riptide_ws::Error::BadOpcode(k)),
        }
    }

    /// Applies one record from the application, unless the end is decided (the refusal or
    /// the close is the last thing out): a record it cannot apply decides it.
    fn take_record(&mut self, now: Instant, record: &[u8]) {
        if self.ending.is_none() {
            if let Err(e) = self.apply(now, record) {
                self.end(now, Error::WebSocket(e));
            }
        }
    }

    /// One record from the application, not framed (an answer to the upgrade handed over
    /// outside the byte stream, `http_ws_layer.rs`): applied as [`StreamLayer::write`]
    /// applies each record, its bytes for the peer appended to `down`.
    pub(crate) fn write_record(&mut self, now: Instant, record: &[u8], down: &mut Vec<u8>) {
        self.take_record(now, record);
        down.append(&mut self.conn(now).take_output());
    }
}

impl StreamLayer for WsLayer {
    fn start(&mut self, now: Instant, down: &mut Vec<u8>) -> Result<LayerStatus, Error> {
        let Some((config, timeout)) = &self.client else {
            self.conn(now);
            return Ok(LayerStatus::Ready);
        };
        let handshake =
            ClientHandshake::new(config.clone()).map_err(|e| Error::WebSocket(e.into()))?;
        self.due = timeout.map(|t| now + t);
        let o = &self.options;
        let conn = self
            .conn
            .insert(Connection::client(handshake, o.session, o.timeouts, now));
        down.append(&mut conn.take_output());
        Ok(LayerStatus::Pending)
    }

    fn read(
        &mut self,
        now: Instant,
        data: &[u8],
        out: &mut StreamOut<'_>,
    ) -> Result<LayerStatus, Error> {
        self.feed(now, data, out.up, out.down);
        if self.handshaking() {
            // A refused or broken handshake fails the connection before it opens (a failed
            // dial); its error is the ending `feed` decided.
            return match self.ending.take() {
                Some(e) => Err(e),
                None => Ok(LayerStatus::Pending),
            };
        }
        Ok(LayerStatus::Ready)
    }

    fn write(&mut self, now: Instant, data: &[u8], down: &mut Vec<u8>) -> Result<(), Error> {
        let mut partial = std::mem::take(&mut self.partial);
        for_each_record(&mut partial, data, |record| self.take_record(now, record));
        self.partial = partial;
        down.append(&mut self.conn(now).take_output());
        Ok(())
    }

    fn close(&mut self, now: Instant, down: &mut Vec<u8>) {
        let conn = self.conn(now);
        if conn.session().map(|s| s.state()) == Some(riptide_ws::State::Open) {
            let _ = conn.close(now, riptide_ws::close::GOING_AWAY, "");
        }
        down.append(&mut conn.take_output());
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let protocol = self.conn.as_ref().and_then(Connection::poll_timeout);
        match (self.due, protocol) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle_timeout(
        &mut self,
        now: Instant,
        out: &mut StreamOut<'_>,
    ) -> Result<LayerStatus, Error> {
        if self.handshaking() {
            // Before the 101 the deadline is the handshake's, or an end decided on the write
            // side (a record before the open): either fails the connection before it opens.
            return Err(self.ending.take().unwrap_or_else(|| {
                Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the WebSocket handshake timed out",
                ))
            }));
        }
        if self.due.take().is_some() && !self.held.is_empty() && self.ending.is_none() {
            let held = std::mem::take(&mut self.held);
            self.feed(now, &held, out.up, out.down);
        }
        if self.ending.is_none() {
            if let Err(e) = self.conn(now).handle_timeout(now) {
                self.ending = Some(Error::WebSocket(e));
            }
            out.down.append(&mut self.conn(now).take_output());
        }
        if self.ending.is_some() {
            out.report.close = true;
        }
        Ok(LayerStatus::Ready)
    }

    fn outcome(&mut self) -> Option<Error> {
        self.ending.take()
    }

    fn shared_variant(&mut self) -> Option<u32> {
        let session = self.conn.as_mut()?.session()?;
        Some(crate::ws_codec::shared_variant(session))
    }

    /// A [`kind::FRAMED`] record passes as it is: the session is open and every message it
    /// queued has gone below already (each send queues a whole message, and each call here
    /// takes the session's output), so the frames land between whole messages, never inside
    /// a fragmented one. A session that is not open drops it, as `apply` drops a message.
    fn write_shared(&mut self, now: Instant, record: &[u8]) -> SharedWrite {
        if whole_kind(record) != Some(kind::FRAMED) || !self.partial.is_empty() {
            return SharedWrite::Write;
        }
        let open = self.ending.is_none()
            && self
                .conn(now)
                .session()
                .is_some_and(|s| s.state() == riptide_ws::State::Open);
        if open {
            SharedWrite::Pass(LENGTH.saturating_add(1))
        } else {
            SharedWrite::Skip
        }
    }

    fn buffered(&self) -> usize {
        self.partial.len()
    }
}

#[cfg(test)]
#[path = "ws_layer_tests.rs"]
pub(crate) mod tests;
