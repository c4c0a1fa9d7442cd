//! geckos.io v2 mode on a `webrtc://` listener: its signalling routes answered through the
//! listener's [`Geckos`] state, its peers' messages decoded (reliable repeats dropped) before
//! they reach the handler, emits and raw messages sent on the one geckos channel, and the
//! listener's one timing-wheel entry for the repeats of reliable emits.
//!
//! The handler sees every geckos message as a reliable-channel message (`on_message`, JS
//! `onTraffic`), whatever the client asked: an emit as the JSON text `{"<event>":data}` (a
//! `reliable` one once), a raw message as its bytes.

use super::connection::Transport;
use super::{Conns, Notice};
use crate::flow::Timer;
use crate::slab::ConnId;
use crate::stream::Stream;
use crate::Error;
use riptide_webrtc::geckos::{codec, http, Decoded, GeckosError, Repeat};
use riptide_webrtc::{PeerId, SendError, SendOutcome};
use serde_json::Value;
use std::time::Instant;

/// A geckos route's response: status and body.
pub(crate) type GeckosResponse = (u16, Vec<u8>);

impl Conns {
    /// True when the `webrtc://` listener on `socket` speaks geckos.
    pub(crate) fn rtc_is_geckos(&self, socket: usize) -> bool {
        self.rtc.get(&socket).is_some_and(|l| l.geckos.is_some())
    }

    /// `POST /connections` accepted (`request`: the held request it was): a new peer offered
    /// to the client, `user_data` sent as its `userData`.
    pub(crate) fn rtc_geckos_connect(
        &mut self,
        socket: usize,
        user_data: &Value,
        request: Option<u64>,
    ) -> GeckosResponse {
        let Some(l) = self.rtc.get_mut(&socket) else {
            return (500, b"500: Internal Server Error".to_vec());
        };
        let Some(g) = l.geckos.as_mut() else {
            return (500, b"500: Internal Server Error".to_vec());
        };
        let response = match g.connect(&mut l.endpoint, Instant::now(), user_data) {
            Ok((peer, body)) => {
                if let Some(request) = request {
                    l.requested(peer, request);
                }
                (200, body)
            }
            Err(GeckosError::Offer(riptide_webrtc::OfferError::Full(_))) => {
                (503, b"503: Service Unavailable".to_vec())
            }
            Err(_) => (500, b"500: Internal Server Error".to_vec()),
        };
        self.rtc_mark(socket);
        response
    }

    /// Every geckos route but `POST /connections`.
    pub(crate) fn rtc_geckos_respond(
        &mut self,
        socket: usize,
        route: http::Route<'_>,
        body: &[u8],
    ) -> GeckosResponse {
        let Some(l) = self.rtc.get_mut(&socket) else {
            return (404, b"404: Not Found".to_vec());
        };
        let Some(g) = l.geckos.as_mut() else {
            return (404, b"404: Not Found".to_vec());
        };
        let r = g.respond(&mut l.endpoint, Instant::now(), route, body);
        self.rtc_mark(socket);
        (r.status, r.body)
    }

    /// A message of `peer` on a geckos listener, for connection `id`: decoded, repeats of
    /// reliable emits dropped, and queued for the handler.
    pub(super) fn rtc_geckos_message(
        &mut self,
        socket: usize,
        id: ConnId,
        peer: PeerId,
        binary: bool,
        data: &[u8],
    ) {
        let Some(g) = self.rtc.get_mut(&socket).and_then(|l| l.geckos.as_mut()) else {
            return;
        };
        let notice = match g.receive(Instant::now(), peer, binary, data) {
            Some(Decoded::Emit { event, data, .. }) => {
                Notice::Message(id, true, codec::encode_emit(&event, &data))
            }
            Some(Decoded::Raw { data, .. }) => Notice::Message(id, true, data),
            // Text geckos's server would not understand either, or a repeat.
            Some(Decoded::Unrecognized) | None => return,
        };
        self.notices.push_back(notice);
    }

    /// The geckos peer of connection `id` and its listener's socket.
    fn geckos_peer(&self, id: ConnId) -> Result<(usize, PeerId), Error> {
        let conn = self.slab.get(id).ok_or(Error::ConnClosed)?;
        let Transport::Rtc(Stream::Datagram { socket, .. }, p) = &conn.transport else {
            return Err(Error::ConnClosed);
        };
        if !self.rtc_is_geckos(*socket) {
            return Err(Error::InvalidOption("not a geckos connection".into()));
        }
        Ok((*socket, p.peer))
    }

    /// geckos's `channel.emit(event, data, { reliable })` to the connection's client; a
    /// reliable emit is repeated on the listener's timer (geckos's default: 10 runs, 150 ms
    /// apart) and delivered once. False when dropped because the channel is congested (or,
    /// reliable, too many of the peer's emits are repeating).
    pub fn geckos_emit(
        &mut self,
        id: ConnId,
        event: &str,
        data: &Value,
        reliable: bool,
    ) -> Result<bool, Error> {
        let (socket, peer) = self.geckos_peer(id)?;
        let l = self.rtc.get_mut(&socket).ok_or(Error::ConnClosed)?;
        let g = l.geckos.as_mut().ok_or(Error::ConnClosed)?;
        let repeat = reliable.then(Repeat::default);
        let sent = g.emit(&mut l.endpoint, Instant::now(), peer, event, data, repeat);
        let sent = outcome(sent, l);
        self.rtc_mark(socket);
        sent
    }

    /// geckos's `channel.raw.emit(data)`: the bytes as one binary message (the client's
    /// `onRaw`). False when dropped because the channel is congested.
    pub fn geckos_raw(&mut self, id: ConnId, data: &[u8]) -> Result<bool, Error> {
        let (socket, peer) = self.geckos_peer(id)?;
        let l = self.rtc.get_mut(&socket).ok_or(Error::ConnClosed)?;
        let g = l.geckos.as_mut().ok_or(Error::ConnClosed)?;
        let sent = g.raw(&mut l.endpoint, Instant::now(), peer, true, data);
        let sent = outcome(sent, l);
        self.rtc_mark(socket);
        sent
    }

    /// Arms the listener's wheel entry for geckos's repeats when the next is sooner than the
    /// live entry (or there is none).
    pub(super) fn rtc_geckos_arm(&mut self, socket: usize) {
        let Some(l) = self.rtc.get_mut(&socket) else {
            return;
        };
        let Some(at) = l.geckos.as_ref().and_then(|g| g.deadline()) else {
            return;
        };
        if l.geckos_armed.is_some_and(|live| live <= at) {
            return;
        }
        l.geckos_armed = Some(at);
        self.timers.insert(at, Timer::Geckos(socket));
    }

    /// The listener's geckos wheel entry fired: send the repeats due, arm the next.
    pub(super) fn rtc_geckos_timer(&mut self, socket: usize, now: Instant) {
        let Some(l) = self.rtc.get_mut(&socket) else {
            return;
        };
        if l.geckos_armed.is_none_or(|live| live > now) {
            return; // not the live entry
        }
        l.geckos_armed = None;
        if let Some(g) = l.geckos.as_mut() {
            g.handle_timeout(&mut l.endpoint, now);
        }
        self.rtc_mark(socket);
    }
}

/// A geckos send's outcome as the table reports it (a congested drop counted).
fn outcome(
    sent: Result<SendOutcome, GeckosError>,
    l: &mut crate::webrtc_table::RtcListener,
) -> Result<bool, Error> {
    match sent {
        Ok(SendOutcome::Sent) => Ok(true),
        Ok(SendOutcome::Congested) => {
            l.congested = l.congested.wrapping_add(1);
            Ok(false)
        }
        Err(GeckosError::Send(SendError::TooLarge { len, max })) => {
            Err(Error::MessageTooLarge { size: len, max })
        }
        Err(GeckosError::Send(SendError::Empty)) => Err(Error::InvalidOption(
            "a data channel message cannot be empty".into(),
        )),
        Err(_) => Err(Error::ConnClosed),
    }
}
