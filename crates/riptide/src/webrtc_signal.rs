//! The signalling side of `webrtc://` listeners: HTTP/1.1 on the TCP port of the listener's
//! address. One request per connection: `POST <path>` with a JSON offer gets the JSON answer
//! (`200`), a bad offer `400`, an oversized one `413`, a full endpoint `503`; `OPTIONS` gets
//! the CORS preflight; with a static directory, `GET` of another path gets a file
//! (`webrtc_static.rs`); anything else `404`. Every response allows any origin, so a page
//! served elsewhere can signal. Requests are bounded ([`MAX_SIGNAL_HEAD`] of head, the
//! listener's `max_body` of body) and a connection that has not sent a whole one within the
//! listener's `request_timeout` is closed. These connections are not [`crate::Conns`]
//! connections: the application never sees them, only the peers they create. What a request
//! gets is decided in `webrtc_answer.rs`, shared with requests attached HTTP listeners hand
//! over (`webrtc_attach.rs`), which this also holds while the handler decides.

use crate::conns::{Conns, RtcDecision};
use crate::webrtc_answer::{decided, offer_of, step, Step};
use crate::webrtc_attach::{Attached, SignalReply, Target};
use crate::webrtc_options::{WebRtcOffer, MAX_SIGNAL_HEAD};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
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
    /// The request timeout of every `webrtc://` listener, by datagram socket (those without
    /// their own signalling port too).
    timeouts: HashMap<usize, Duration>,
    /// Requests attached HTTP listeners sent, held for the handler.
    attached: Attached,
}

impl Signalling {
    /// Notes the `webrtc://` listener on datagram socket `socket`, and that listener `index`
    /// is its signalling side (`None`: it has no signalling port of its own).
    pub(crate) fn add_listener(&mut self, index: Option<usize>, socket: usize, timeout: Duration) {
        self.timeouts.insert(socket, timeout);
        if let Some(index) = index {
            self.listeners.insert(index, (socket, timeout));
        }
    }

    /// Answers a request an HTTP listener attached to the `webrtc://` listener on datagram
    /// socket `socket` received (the `http1` frame from `remote`) through `reply`; an offer
    /// held for the handler is returned.
    pub(crate) fn attach(
        &mut self,
        conns: &mut Conns,
        socket: usize,
        request: (&[u8], SocketAddr),
        reply: SignalReply,
    ) -> Option<WebRtcOffer> {
        let Some(&timeout) = self.timeouts.get(&socket) else {
            reply.send(Err(crate::Error::EngineStopped));
            return None;
        };
        self.serial = self.serial.wrapping_add(1);
        let target = Target { socket, timeout };
        self.attached
            .serve(conns, target, request, reply, self.serial)
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
        let conn = self.expiry.first().map(|e| e.0);
        match (conn, self.attached.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Closes the signalling connections whose time is up.
    pub(crate) fn expire(&mut self, now: Instant, registry: &Registry) {
        self.attached.expire(now);
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
        let Some((_, max_body, _)) = conns.rtc_signal_limits(c.socket) else {
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
            let done = eof || c.buf.len() >= limit;
            let response = match step(conns, c.socket, &c.buf, true, done) {
                Step::Wait => None,
                Step::Gone => {
                    self.close(slot, registry);
                    return None;
                }
                Step::Respond(r) => Some(r),
                Step::Hold(start, end) => {
                    c.held = Some((start, end));
                    held = offer_of(&c.buf, c.expiry.2, c.remote);
                    None
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
    /// offer with `user_data`, or `401`), on the signalling connection or attached request
    /// that holds it.
    pub(crate) fn decide(&mut self, decision: RtcDecision, conns: &mut Conns, registry: &Registry) {
        let Some(slot) = self.held.remove(&decision.0) else {
            self.attached.decide(decision, conns);
            return;
        };
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let Some(body) = c.held.take() else {
            return;
        };
        let response = decided(conns, c.socket, &c.buf, body, decision);
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
