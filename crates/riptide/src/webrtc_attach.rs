//! Signalling of a `webrtc://` listener attached to an HTTP listener: an application's `http1`
//! server hands a request (its frame) to the listener's reactor ([`crate::Remote::
//! webrtc_signal`]) and gets the whole HTTP response back through a [`SignalCompletion`]. The
//! request is rebuilt as wire bytes and answered by the listener's own signalling logic
//! (`webrtc_answer.rs`, `webrtc_geckos.rs`): the same routes, bounds, status codes and
//! `authorize` hold, minus the static directory. The response keeps the HTTP connection
//! open unless the request asked to close it.

use crate::conns::{Conns, RtcDecision};
use crate::webrtc_answer::{decided, offer_of, step, Step};
use crate::webrtc_options::WebRtcOffer;
use crate::webrtc_request::{keep_alive, keeps_alive, wire};
use crate::Error;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Called once, on the `webrtc://` listener's reactor thread, with the whole HTTP response
/// to an attached signalling request, or why there is none: [`Error::InvalidAddress`] (no
/// such `webrtc://` listener there), [`Error::InvalidOption`] (not an `http1` frame),
/// [`Error::EngineStopped`], or a timed-out I/O error (the `authorize` hook did not decide
/// within the listener's `request_timeout`; the own-port signalling closes the connection
/// then, and so should the caller).
pub type SignalCompletion = Box<dyn FnOnce(Result<Vec<u8>, Error>) + Send>;

/// A [`SignalCompletion`] that is called exactly once: dropped unanswered (the reactor
/// stopped with it queued or held), it reports [`Error::EngineStopped`].
pub(crate) struct SignalReply(Option<SignalCompletion>);

impl SignalReply {
    /// Wraps `done`.
    pub(crate) fn new(done: SignalCompletion) -> Self {
        SignalReply(Some(done))
    }

    /// Reports `result`.
    pub(crate) fn send(mut self, result: Result<Vec<u8>, Error>) {
        if let Some(done) = self.0.take() {
            done(result);
        }
    }
}

impl Drop for SignalReply {
    fn drop(&mut self) {
        if let Some(done) = self.0.take() {
            done(Err(Error::EngineStopped));
        }
    }
}

/// An attached request held for the handler.
struct Held {
    socket: usize,
    /// The request as wire bytes, the offer's body at `body`.
    buf: Vec<u8>,
    body: (usize, usize),
    /// Whether the HTTP connection stays open after the response.
    keep: bool,
    reply: SignalReply,
    deadline: Instant,
}

/// The attached requests a reactor's `webrtc://` listeners hold for the handler, by request
/// id (ids shared with the own-port signalling's).
#[derive(Default)]
pub(crate) struct Attached {
    held: HashMap<u64, Held>,
}

/// Where an attached request goes: its listener's datagram socket and `request_timeout`.
pub(crate) struct Target {
    pub(crate) socket: usize,
    pub(crate) timeout: Duration,
}

impl Attached {
    /// Answers the `http1` `frame` from `remote` for the listener at `target`, through
    /// `reply`; held when the listener has `authorize`, then returned (with id `request`)
    /// for the handler.
    pub(crate) fn serve(
        &mut self,
        conns: &mut Conns,
        target: Target,
        (frame, remote): (&[u8], SocketAddr),
        reply: SignalReply,
        request: u64,
    ) -> Option<WebRtcOffer> {
        let Some(buf) = wire(frame) else {
            let why = "webrtc signalling: the request is not an http1 frame";
            reply.send(Err(Error::InvalidOption(why.into())));
            return None;
        };
        let keep = keeps_alive(frame);
        let finish = |r: Vec<u8>| if keep { keep_alive(r) } else { r };
        match step(conns, target.socket, &buf, false, true) {
            Step::Respond(r) => reply.send(Ok(finish(r))),
            Step::Wait | Step::Gone => reply.send(Err(Error::EngineStopped)),
            Step::Hold(start, end) => {
                let offer = offer_of(&buf, request, remote);
                // A head httparse read once is read again: the offer is there.
                if offer.is_some() {
                    self.held.insert(
                        request,
                        Held {
                            socket: target.socket,
                            buf,
                            body: (start, end),
                            keep,
                            reply,
                            deadline: Instant::now() + target.timeout,
                        },
                    );
                }
                return offer;
            }
        }
        None
    }

    /// Applies the handler's decision on a held request; false when none has its id.
    pub(crate) fn decide(&mut self, decision: RtcDecision, conns: &mut Conns) -> bool {
        let Some(h) = self.held.remove(&decision.0) else {
            return false;
        };
        let response = decided(conns, h.socket, &h.buf, h.body, decision);
        h.reply.send(Ok(if h.keep {
            keep_alive(response)
        } else {
            response
        }));
        true
    }

    /// The soonest a held request times out.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.held.values().map(|h| h.deadline).min()
    }

    /// Gives up on the held requests whose time is up.
    pub(crate) fn expire(&mut self, now: Instant) {
        let due: Vec<u64> = self
            .held
            .iter()
            .filter(|(_, h)| h.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(h) = self.held.remove(&id) {
                let why = "webrtc.authorize did not decide within request_timeout";
                h.reply
                    .send(Err(io::Error::new(io::ErrorKind::TimedOut, why).into()));
            }
        }
    }
}
