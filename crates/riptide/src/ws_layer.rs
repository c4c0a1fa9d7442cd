//! WebSocket as a stream layer: a [`riptide_ws::Connection`] per connection, between the
//! transport (or TLS) and a length-field codec. The layer speaks the WebSocket wire with the
//! peer and *records* with the application: each record is a kind byte and a body, framed by
//! the codec with a 4-byte big-endian length ([`ws_codec`]). Records carry what the plain
//! codec seam cannot: text or binary, the upgrade request and the application's answer, pings
//! and the close handshake. The layer's deadline (idle ping, close timeout) goes on the
//! reactor's timer wheel like any layer's; a protocol violation or a finished close handshake
//! fails the layer after its last bytes (the close frame, the echo, a refusal) are queued, so
//! the connection ends once they are flushed.

use crate::codec::{ByteOrder, CodecSpec, LengthFieldConfig};
use crate::{Error, LayerStatus, StreamLayer, StreamLayerFactory, StreamOut};
use riptide_ws::{ConnEvent, Connection, Event, ServerConfig, SessionConfig, Timeouts};
use std::sync::Arc;
use std::time::Instant;

/// Record kinds, the first byte of each record. Up (layer to application): [`UPGRADE`],
/// [`TEXT`], [`BINARY`]. Down (application to layer): [`TEXT`], [`BINARY`], [`PING`],
/// [`CLOSE`], [`ACCEPT`], [`REFUSE`].
pub mod kind {
    /// The upgrade request: path, offered subprotocols, the one the server would choose
    /// (length `u32::MAX` for none), headers (`u32` little-endian counts and lengths before
    /// each string, as in the HTTP request descriptor).
    pub const UPGRADE: u8 = b'U';
    /// A text message (UTF-8).
    pub const TEXT: u8 = b'T';
    /// A binary message.
    pub const BINARY: u8 = b'B';
    /// A ping with this payload (at most 125 bytes).
    pub const PING: u8 = b'P';
    /// Start the close handshake: a `u16` big-endian code, then the reason in UTF-8.
    pub const CLOSE: u8 = b'C';
    /// Accept the upgrade: a subprotocol (`u32` length, `u32::MAX` for none), then headers as
    /// in [`UPGRADE`].
    pub const ACCEPT: u8 = b'A';
    /// Refuse the upgrade: a `u16` big-endian status, then headers as in [`UPGRADE`].
    pub const REFUSE: u8 = b'R';
}

/// The largest record the application side may hold unparsed: one record's length field.
const LENGTH: usize = 4;

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
        // An upgrade record spends 8 bytes of lengths on each header where the head spent 4.
        let upgrade = self.server.max_head_size.saturating_mul(2);
        let body = self.session.max_message_size.max(upgrade);
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

    /// A factory making a server [`WsLayer`] per connection.
    pub fn server_factory(&self) -> StreamLayerFactory {
        let options = self.clone();
        Arc::new(move || Box::new(WsLayer::server(options.clone())) as Box<dyn StreamLayer>)
    }
}

/// One connection's WebSocket: the protocol state, the peer's bytes it could not use yet
/// (sent while the application decides on the upgrade), the application's partial record, and
/// how the connection ends once the layer has decided it should.
pub struct WsLayer {
    options: WsOptions,
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
            conn: None,
            held: Vec::new(),
            partial: Vec::new(),
            due: None,
            ending: None,
        }
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
                Some(ConnEvent::Ws(Event::Ping(_) | Event::Pong(_)) | ConnEvent::Open(_)) => {}
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
            kind::TEXT | kind::BINARY | kind::PING => {
                let Some(session) = conn.session() else {
                    return Err(riptide_ws::Error::Closed);
                };
                // A message raced the peer's close: the connection is ending, so it is dropped.
                if session.state() != riptide_ws::State::Open {
                    return Ok(());
                }
                if k == kind::PING {
                    session.ping(body)
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
}

impl StreamLayer for WsLayer {
    fn start(&mut self, now: Instant, _: &mut Vec<u8>) -> Result<LayerStatus, Error> {
        self.conn(now);
        Ok(LayerStatus::Ready)
    }

    fn read(
        &mut self,
        now: Instant,
        data: &[u8],
        out: &mut StreamOut<'_>,
    ) -> Result<LayerStatus, Error> {
        self.feed(now, data, out.up, out.down);
        Ok(LayerStatus::Ready)
    }

    fn write(&mut self, now: Instant, data: &[u8], down: &mut Vec<u8>) -> Result<(), Error> {
        let mut partial = std::mem::take(&mut self.partial);
        partial.extend_from_slice(data);
        let mut at = 0usize;
        while let Some(header) = partial.get(at..at.saturating_add(LENGTH)) {
            let mut n = [0u8; LENGTH];
            n.copy_from_slice(header);
            let start = at.saturating_add(LENGTH);
            let end = start.saturating_add(u32::from_be_bytes(n) as usize);
            let Some(record) = partial.get(start..end) else {
                break;
            };
            at = end;
            // After the end is decided, nothing more goes out (the refusal or close is last).
            if self.ending.is_none() {
                if let Err(e) = self.apply(now, record) {
                    self.end(now, Error::WebSocket(e));
                }
            }
        }
        partial.drain(..at.min(partial.len()));
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

    fn buffered(&self) -> usize {
        self.partial.len()
    }
}

/// Appends `n` as a record's length field.
fn put_length(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
}

/// Appends a whole record (kind byte included) with its length field.
fn put_record(out: &mut Vec<u8>, record: &[u8]) {
    put_length(out, record.len());
    out.extend_from_slice(record);
}

/// Appends a count or a string length inside a record (`u32` little-endian).
fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

/// Appends a string with its length.
fn put_str(out: &mut Vec<u8>, s: &str) {
    put_count(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// Appends a header count, then each name and value.
fn put_headers(out: &mut Vec<u8>, headers: &[(String, String)]) {
    put_count(out, headers.len());
    for (name, value) in headers {
        put_str(out, name);
        put_str(out, value);
    }
}

/// Reads the fields of an application record. A malformed record is a bug on the JS side
/// (TypeScript writes them), reported as a protocol error and never trusted for an index.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], riptide_ws::Error> {
        let malformed = || riptide_ws::HandshakeError::BadHeader("malformed record".into());
        let (head, rest) = self.0.split_at_checked(n).ok_or_else(malformed)?;
        self.0 = rest;
        Ok(head)
    }

    fn u16_be(&mut self) -> Result<u16, riptide_ws::Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([
            b.first().copied().unwrap_or(0),
            b.get(1).copied().unwrap_or(0),
        ]))
    }

    fn u32_le(&mut self) -> Result<u32, riptide_ws::Error> {
        let mut n = [0u8; 4];
        n.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(n))
    }

    fn string(&mut self, n: u32) -> Result<String, riptide_ws::Error> {
        let bytes = self.take(n as usize)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| riptide_ws::HandshakeError::BadHeader("not UTF-8".into()).into())
    }

    fn optional_str(&mut self) -> Result<Option<String>, riptide_ws::Error> {
        match self.u32_le()? {
            u32::MAX => Ok(None),
            n => self.string(n).map(Some),
        }
    }

    fn headers(&mut self) -> Result<Vec<(String, String)>, riptide_ws::Error> {
        let count = self.u32_le()?;
        let mut headers = Vec::new();
        for _ in 0..count {
            let n = self.u32_le()?;
            let name = self.string(n)?;
            let n = self.u32_le()?;
            headers.push((name, self.string(n)?));
        }
        Ok(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LayerReport;
    use riptide_ws::{ClientConfig, ClientHandshake};

    fn options() -> WsOptions {
        WsOptions {
            server: ServerConfig {
                subprotocols: vec!["chat".into()],
                ..ServerConfig::default()
            },
            session: SessionConfig::default(),
            timeouts: Timeouts::default(),
        }
    }

    fn client(now: Instant) -> Connection {
        let config = ClientConfig {
            host: "x".into(),
            path: "/p".into(),
            headers: vec![("X-A".into(), "b".into())],
            subprotocols: vec!["chat".into()],
            deflate: None,
            max_head_size: 8192,
        };
        let handshake = ClientHandshake::new(config).expect("client handshake");
        Connection::client(
            handshake,
            SessionConfig::default(),
            Timeouts::default(),
            now,
        )
    }

    /// What one call of the layer produced.
    #[derive(Default)]
    struct Out {
        up: Vec<u8>,
        down: Vec<u8>,
        report: LayerReport,
    }

    fn read(layer: &mut WsLayer, now: Instant, data: &[u8]) -> Out {
        let mut o = Out::default();
        let status = layer.read(
            now,
            data,
            &mut StreamOut {
                up: &mut o.up,
                down: &mut o.down,
                report: &mut o.report,
            },
        );
        assert_eq!(status.expect("read"), LayerStatus::Ready);
        o
    }

    fn timeout(layer: &mut WsLayer, now: Instant) -> Out {
        let mut o = Out::default();
        let status = layer.handle_timeout(
            now,
            &mut StreamOut {
                up: &mut o.up,
                down: &mut o.down,
                report: &mut o.report,
            },
        );
        assert_eq!(status.expect("timeout"), LayerStatus::Ready);
        o
    }

    /// Splits the records out of the layer's `up` bytes.
    fn records(mut up: &[u8]) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        while let Some((n, rest)) = up.split_first_chunk::<4>() {
            let (record, rest) = rest.split_at(u32::from_be_bytes(*n) as usize);
            all.push(record.to_vec());
            up = rest;
        }
        all
    }

    fn framed(record: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_record(&mut out, record);
        out
    }

    /// The accept record with no headers.
    fn accept(protocol: &str) -> Vec<u8> {
        let mut record = vec![kind::ACCEPT];
        put_str(&mut record, protocol);
        put_count(&mut record, 0);
        framed(&record)
    }

    /// The peer reads everything in `bytes`; returns its events.
    fn peer_reads(peer: &mut Connection, now: Instant, mut bytes: &[u8]) -> Vec<ConnEvent> {
        let mut events = Vec::new();
        while !bytes.is_empty() {
            let r = peer.receive(now, bytes).expect("peer receive");
            bytes = &bytes[r.consumed..];
            events.extend(r.event);
        }
        events
    }

    #[test]
    fn upgrade_then_messages_both_ways_and_a_close_that_ends_gracefully() {
        let now = Instant::now();
        let mut layer = WsLayer::server(options());
        let mut peer = client(now);
        // The request and a first message in one read: the message waits for the answer.
        let request = peer.take_output();
        let head = read(&mut layer, now, &request);
        let [upgrade] = records(&head.up).try_into().expect("one record");
        assert_eq!(upgrade[0], kind::UPGRADE);
        let text = String::from_utf8_lossy(&upgrade);
        assert!(text.contains("/p") && text.contains("X-A") && text.contains("chat"));
        assert!(
            head.down.is_empty(),
            "nothing before the application answers"
        );

        let mut down = Vec::new();
        layer
            .write(now, &accept("chat"), &mut down)
            .expect("accept");
        let events = peer_reads(&mut peer, now, &down);
        assert!(
            matches!(&events[..], [ConnEvent::Open(a)] if a.protocol.as_deref() == Some("chat"))
        );

        // A text message from the peer comes up as a text record, byte for byte.
        peer.session()
            .expect("open")
            .send_text("héllo")
            .expect("send");
        let got = read(&mut layer, now, &peer.take_output());
        assert_eq!(records(&got.up), vec![b"Th\xc3\xa9llo".to_vec()]);
        // Binary and text records go down as frames of their type.
        let mut down = Vec::new();
        layer
            .write(now, &framed(b"B\x00\x01"), &mut down)
            .expect("binary");
        layer.write(now, &framed(b"Tok"), &mut down).expect("text");
        let events = peer_reads(&mut peer, now, &down);
        assert_eq!(
            events,
            vec![
                ConnEvent::Ws(Event::Message {
                    data: vec![0, 1],
                    binary: true
                }),
                ConnEvent::Ws(Event::Message {
                    data: b"ok".to_vec(),
                    binary: false
                }),
            ]
        );

        // The peer closes: the echo goes down at once, the end at the next deadline (now).
        peer.close(now, 4002, "done").expect("close");
        let got = read(&mut layer, now, &peer.take_output());
        assert!(!got.down.is_empty(), "the close echo");
        assert!(
            !got.report.close,
            "messages read with the close are delivered first"
        );
        assert_eq!(layer.poll_timeout(), Some(now));
        let end = timeout(&mut layer, now);
        assert!(end.report.close);
        match layer.outcome() {
            Some(Error::WebSocketClose { code, reason }) => {
                assert_eq!((code, reason.as_str()), (4002, "done"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refusal_is_sent_and_ends_the_connection() {
        let now = Instant::now();
        let mut layer = WsLayer::server(options());
        let mut peer = client(now);
        read(&mut layer, now, &peer.take_output());
        let mut record = vec![kind::REFUSE, 0x01, 0x93]; // 403
        put_count(&mut record, 0);
        let mut down = Vec::new();
        layer
            .write(now, &framed(&record), &mut down)
            .expect("refuse");
        assert!(down.starts_with(b"HTTP/1.1 403 "));
        assert!(timeout(&mut layer, now).report.close);
        assert_eq!(
            layer.outcome().map(|e| e.code()),
            Some("ERR_WS_UPGRADE_REFUSED")
        );
    }

    #[test]
    fn bytes_held_before_the_answer_are_bounded_then_delivered_after_it() {
        let now = Instant::now();
        let mut layer = WsLayer::server(options());
        let mut peer = client(now);
        let mut bytes = peer.take_output();
        // Frames a client sent before the 101 (it must not, but may): they wait.
        let mut early =
            riptide_ws::Session::new(riptide_ws::Role::Client, SessionConfig::default());
        early.send_text("early").expect("send");
        bytes.extend(early.take_output());
        let got = read(&mut layer, now, &bytes);
        assert_eq!(records(&got.up).len(), 1, "only the upgrade");
        let mut down = Vec::new();
        layer
            .write(now, &accept("chat"), &mut down)
            .expect("accept");
        assert_eq!(layer.poll_timeout(), Some(now));
        let released = timeout(&mut layer, now);
        assert_eq!(records(&released.up), vec![b"Tearly".to_vec()]);
        assert!(!released.report.close);

        // Past the largest head, held bytes end the connection instead.
        let mut layer = WsLayer::server(options());
        let mut bytes = client(now).take_output();
        bytes.extend(vec![0u8; 8193]);
        read(&mut layer, now, &bytes);
        assert!(timeout(&mut layer, now).report.close);
        assert_eq!(layer.outcome().map(|e| e.code()), Some("ERR_WS_HANDSHAKE"));
    }

    #[test]
    fn a_malformed_record_from_the_application_ends_the_connection_without_a_panic() {
        let now = Instant::now();
        for record in [
            &b"A"[..],
            b"A\xff\xff\xff\x7f",
            b"R\x01",
            b"C\x03",
            b"Zzz",
            b"",
        ] {
            let mut layer = WsLayer::server(options());
            read(&mut layer, now, &client(now).take_output());
            let mut down = Vec::new();
            layer.write(now, &framed(record), &mut down).expect("write");
            assert!(timeout(&mut layer, now).report.close, "{record:?}");
        }
    }

    mod hostile {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any bytes after an accepted upgrade, in any reads, with any records from the
            /// application in between: no panic, `up` holds only whole records of a known kind
            /// no longer than the limit, and once the layer asks to close it says why.
            #[test]
            fn any_peer_bytes_and_records_keep_the_layer_sound(
                wire in proptest::collection::vec(any::<u8>(), 0..2048),
                cuts in proptest::collection::vec(1usize..64, 1..32),
                app in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..16), 0..4),
            ) {
                let now = Instant::now();
                let mut options = options();
                options.session.max_message_size = 512;
                let mut layer = WsLayer::server(options);
                read(&mut layer, now, &client(now).take_output());
                let mut down = Vec::new();
                layer.write(now, &accept("chat"), &mut down).expect("accept");
                let mut rest = &wire[..];
                let mut cut = cuts.iter().cycle();
                let mut app = app.iter();
                let mut up = Vec::new();
                while !rest.is_empty() {
                    let n = (*cut.next().expect("cycle")).min(rest.len());
                    up.extend(read(&mut layer, now, &rest[..n]).up);
                    rest = &rest[n..];
                    if let Some(r) = app.next() {
                        layer.write(now, &framed(r), &mut down).expect("write");
                    }
                }
                for r in records(&up) {
                    prop_assert!(matches!(r.first(), Some(&kind::TEXT | &kind::BINARY)));
                    prop_assert!(r.len() <= 513);
                }
                let end = timeout(&mut layer, now);
                if end.report.close {
                    prop_assert!(layer.outcome().is_some());
                }
            }
        }
    }
}
