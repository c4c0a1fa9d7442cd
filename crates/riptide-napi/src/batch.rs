//! The event batch: everything one reactor wake produced, laid out for JS in two shared
//! arrays so that one JS call delivers all of it with no JS object per event.
//!
//! `meta` (an `Int32Array`) holds [`STRIDE`] ints per event:
//! `[kind, slot, generation, offset, length, extra]`; `offset`/`length` locate the event's bytes
//! in `arena` (a `Uint8Array`). Each kind's constant says what its fields mean.
//!
//! This file is the one definition of the layout: the constants are exported to JS
//! (`#[napi]`), and `lib/boundary.ts` takes them from the binding.

use napi_derive::napi;
use riptide::{ConnId, Conns, Error, EventHandler, PeerAddr};
use std::io::Write;
use std::ops::{Deref, DerefMut};

/// Ints per event in `meta`.
#[napi]
pub const STRIDE: u32 = 6;
/// Ints per event, as an index step.
pub const STRIDE_LEN: usize = STRIDE as usize;
/// A connection was accepted (or a UDP session began, or a dial connected): bytes are the
/// peer IP text (empty for Unix sockets), `extra` the peer port plus `(socket + 1) << 16`
/// for a UDP session on UDP socket `socket`.
#[napi]
pub const EV_OPEN: i32 = 1;
/// Bytes arrived: bytes are the payload.
#[napi]
pub const EV_DATA: i32 = 2;
/// A connection closed: bytes are the error code (`ECONNRESET`...), empty for an orderly
/// close, then for a TLS error (`ERR_TLS_HANDSHAKE`, `ERR_TLS`) `\0` and why; `extra` is the
/// OS error number when the OS gave one, else 0.
#[napi]
pub const EV_CLOSE: i32 = 3;
/// The engine stopped; always the last event. `generation` is the number of connections
/// drained by a graceful stop, `extra` the number reset.
#[napi]
pub const EV_SHUTDOWN: i32 = 4;
/// The ticker is due (JS answers with the next delay).
#[napi]
pub const EV_TICK: i32 = 5;
/// A datagram without a session: `slot` is the UDP socket index, `generation` the length of
/// the peer IP text that starts the bytes, `length` the payload after it, `extra` the peer
/// port.
#[napi]
pub const EV_DATAGRAM: i32 = 6;
/// JS asked to run queued functions on the reactor (`engine.execute`).
#[napi]
pub const EV_EXECUTE: i32 = 7;
/// The connection crossed a water mark: `extra` 1 writable again, 0 unwritable.
#[napi]
pub const EV_WRITABILITY: i32 = 8;
/// A write marker completed: `extra` is the token; bytes are an error code, empty on success.
#[napi]
pub const EV_WRITE_DONE: i32 = 9;
/// The peer half-closed a half-open connection.
#[napi]
pub const EV_END: i32 = 10;
/// The connection was idle: `extra` 0 read, 1 write, 2 all.
#[napi]
pub const EV_IDLE: i32 = 11;
/// A connection timer fired: `extra` is the token.
#[napi]
pub const EV_TIMER: i32 = 12;
/// Accepting paused for lack of resources: bytes are the code, `extra` the running count,
/// `generation` the OS error number (0 when none).
#[napi]
pub const EV_ACCEPT_ERROR: i32 = 13;
/// The codec rejected input or a write (the connection goes on): bytes are the code, then
/// `\0`, then the message.
#[napi]
pub const EV_ERROR: i32 = 14;

/// A message arrived on a KCP session's unreliable channel: bytes are the payload.
#[napi]
pub const EV_UNRELIABLE: i32 = 15;

/// An accepted connection failed before it opened (a TLS handshake...): `generation` is
/// the length of the peer IP text that starts the bytes (0 for a Unix peer), then the error
/// code, `\0` and the message; `extra` the peer port.
#[napi]
pub const EV_HANDSHAKE_ERROR: i32 = 16;

/// A KCP session on an application carrier sent a datagram: `slot` is the carrier's id,
/// `generation` the length of the peer name that starts the bytes, `length` the datagram
/// after it.
#[napi]
pub const EV_CARRIER: i32 = 17;

/// A graceful stop began: the connection should say goodbye (`onDrain`; without one, JS
/// closes it).
#[napi]
pub const EV_DRAIN: i32 = 18;

/// A `webrtc://` listener with `authorize` holds an offer: `slot` and `generation` are the
/// low and high halves of the request id (for `webrtcDecide`), bytes are JSON
/// `{"path", "headers", "remoteAddress"}`.
#[napi]
pub const EV_WEBRTC_OFFER: i32 = 19;

/// Where encoded events go: the JS-visible arrays ([`crate::js_batch::Batch`], written while
/// no JS runs) or plain Rust memory ([`crate::event_log::EventLog`], filled on a reactor
/// thread and copied to JS later).
pub trait Sink {
    /// Appends one event whose bytes are `parts` concatenated; `length` is what the
    /// descriptor's length field says (the kinds define it).
    fn push_parts(&mut self, kind: i32, id: ConnId, parts: &[&[u8]], length: usize, extra: i32);

    /// Appends one event with one run of bytes.
    fn push(&mut self, kind: i32, id: ConnId, bytes: &[u8], extra: i32) {
        self.push_parts(kind, id, &[bytes], bytes.len(), extra);
    }

    /// At least `want` bytes of free space where the next event's bytes go, for a read
    /// straight into it; `None` (the default) when the sink cannot lend its memory.
    fn read_space(&mut self, want: usize) -> Option<&mut [u8]> {
        let _ = want;
        None
    }

    /// Appends one event whose `length` bytes are already at the start of the space
    /// [`Sink::read_space`] last returned. Only a sink that gives space is handed placed
    /// bytes, so one that does not (the default) never gets here; bytes placed and then
    /// dropped would be lost without a trace, so this default stops loudly instead.
    fn push_placed(&mut self, kind: i32, id: ConnId, length: usize, extra: i32) {
        unreachable!(
            "{length} bytes placed (event {kind}, {id:?}, extra {extra}) in a sink that gives no read space"
        )
    }
}

/// Encodes reactor events into the boundary layout of a [`Sink`]; the one place that decides
/// what each event kind carries, whichever driver collects the events.
pub struct Events<S>(pub S);

impl<S> Deref for Events<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.0
    }
}

impl<S> DerefMut for Events<S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.0
    }
}

/// Writes an IP address as text into `buf`; returns the length.
fn ip_text(ip: std::net::IpAddr, buf: &mut [u8; 48]) -> usize {
    let mut cursor = &mut buf[..];
    let _ = write!(cursor, "{ip}");
    48 - cursor.len()
}

impl<S: Sink> EventHandler for Events<S> {
    /// `extra` is the peer port, plus `(socket + 1) << 16` for a UDP session on UDP socket
    /// `socket`.
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        let mut text = [0u8; 48];
        let (n, port) = match conns.peer_addr(id) {
            Ok(PeerAddr::Inet(a)) => (ip_text(a.ip(), &mut text), a.port()),
            // Unix peers are usually unnamed; an empty address, as in Node.
            Ok(PeerAddr::Unix(_)) => (0, 0),
            Err(_) => return,
        };
        let udp = conns.udp_socket(id).map_or(0, |s| (s as i32 + 1) << 16);
        self.push(EV_OPEN, id, &text[..n], i32::from(port) | udp);
    }

    fn on_datagram(
        &mut self,
        _: &mut Conns,
        socket: usize,
        peer: std::net::SocketAddr,
        data: &[u8],
    ) {
        let mut text = [0u8; 48];
        let n = ip_text(peer.ip(), &mut text);
        let id = ConnId {
            slot: socket as u32,
            generation: n as u32,
        };
        self.push_parts(
            EV_DATAGRAM,
            id,
            &[&text[..n], data],
            data.len(),
            i32::from(peer.port()),
        );
    }

    fn on_traffic(&mut self, _: &mut Conns, id: ConnId, data: &[u8]) {
        self.push(EV_DATA, id, data, 0);
    }

    fn read_space(&mut self, want: usize) -> Option<&mut [u8]> {
        self.0.read_space(want)
    }

    fn on_traffic_placed(&mut self, _: &mut Conns, id: ConnId, len: usize) {
        self.push_placed(EV_DATA, id, len, 0);
    }

    fn on_carrier_send(
        &mut self,
        _: &mut Conns,
        carrier: &riptide::DatagramCarrier,
        datagram: &[u8],
        peer: &str,
    ) {
        // A peer name is at most 128 bytes.
        let id = ConnId {
            slot: carrier.id(),
            generation: peer.len() as u32,
        };
        self.push_parts(
            EV_CARRIER,
            id,
            &[peer.as_bytes(), datagram],
            datagram.len(),
            0,
        );
    }

    fn on_unreliable(&mut self, _: &mut Conns, id: ConnId, data: &[u8]) {
        self.push(EV_UNRELIABLE, id, data, 0);
    }

    fn on_close(&mut self, _: &mut Conns, id: ConnId, err: Option<&Error>) {
        let code = err.map(|e| e.code()).unwrap_or("");
        let errno = err.and_then(Error::raw_os_error).unwrap_or(0);
        // Why TLS or a WebSocket failed is only in the message (a WebSocket close's is its
        // code and reason): it goes after a `\0`.
        let why = match err {
            Some(Error::Tls(why) | Error::TlsAlert(why)) => Some(why.clone()),
            Some(Error::WebSocketClose { code, reason }) => Some(format!("{code} {reason}")),
            Some(Error::WebSocket(e)) => Some(e.to_string()),
            _ => None,
        };
        match why {
            Some(why) => {
                let len = code.len() + 1 + why.len();
                self.push_parts(
                    EV_CLOSE,
                    id,
                    &[code.as_bytes(), b"\0", why.as_bytes()],
                    len,
                    errno,
                );
            }
            _ => self.push(EV_CLOSE, id, code.as_bytes(), errno),
        }
    }

    fn on_error(&mut self, _: &mut Conns, id: ConnId, err: &Error) {
        let msg = err.to_string();
        let code = err.code().as_bytes();
        let len = code.len() + 1 + msg.len();
        self.push_parts(EV_ERROR, id, &[code, b"\0", msg.as_bytes()], len, 0);
    }

    fn on_handshake_error(&mut self, err: &Error, peer: &PeerAddr) {
        let mut text = [0u8; 48];
        let (n, port) = match peer {
            PeerAddr::Inet(a) => (ip_text(a.ip(), &mut text), a.port()),
            PeerAddr::Unix(_) => (0, 0),
        };
        let msg = err.to_string();
        let code = err.code().as_bytes();
        let id = ConnId {
            slot: 0,
            generation: n as u32,
        };
        let len = n + code.len() + 1 + msg.len();
        self.push_parts(
            EV_HANDSHAKE_ERROR,
            id,
            &[&text[..n], code, b"\0", msg.as_bytes()],
            len,
            i32::from(port),
        );
    }

    fn on_webrtc_offer(&mut self, _: &mut Conns, offer: &riptide::WebRtcOffer) {
        let headers: serde_json::Map<String, serde_json::Value> = offer
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let json = serde_json::json!({
            "path": offer.path,
            "headers": headers,
            "remoteAddress": offer.remote.ip().to_string(),
        });
        let id = ConnId {
            slot: offer.request as u32,
            generation: (offer.request >> 32) as u32,
        };
        self.push(EV_WEBRTC_OFFER, id, json.to_string().as_bytes(), 0);
    }

    fn on_writability(&mut self, _: &mut Conns, id: ConnId, writable: bool) {
        self.push(EV_WRITABILITY, id, &[], i32::from(writable));
    }

    fn on_write_done(&mut self, _: &mut Conns, id: ConnId, token: u64, err: Option<&Error>) {
        let code = err.map(|e| e.code()).unwrap_or("");
        self.push(EV_WRITE_DONE, id, code.as_bytes(), token as i32);
    }

    fn on_end(&mut self, _: &mut Conns, id: ConnId) {
        self.push(EV_END, id, &[], 0);
    }

    fn on_drain(&mut self, _: &mut Conns, id: ConnId) {
        self.push(EV_DRAIN, id, &[], 0);
    }

    fn on_idle(&mut self, _: &mut Conns, id: ConnId, kind: riptide::IdleKind) {
        let k = match kind {
            riptide::IdleKind::Read => 0,
            riptide::IdleKind::Write => 1,
            riptide::IdleKind::All => 2,
        };
        self.push(EV_IDLE, id, &[], k);
    }

    fn on_timer(&mut self, _: &mut Conns, id: ConnId, token: u64) {
        self.push(EV_TIMER, id, &[], token as i32);
    }

    fn on_accept_error(&mut self, err: &Error, count: u64) {
        let id = ConnId {
            slot: 0,
            generation: 0,
        };
        self.push(
            EV_ACCEPT_ERROR,
            id,
            err.code().as_bytes(),
            count.min(i32::MAX as u64) as i32,
        );
    }

    /// JS decides the next delay (`scheduleTick`), so the reactor's own ticker stops here.
    fn on_tick(&mut self, _: &mut Conns) -> Option<std::time::Duration> {
        self.push(
            EV_TICK,
            ConnId {
                slot: 0,
                generation: 0,
            },
            &[],
            0,
        );
        None
    }
}
