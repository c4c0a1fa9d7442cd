//! [`Geckos`]: the per-endpoint state of geckos mode.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::codec::{self, Decoded};
use super::http::{self, Route, ID_LEN};
use super::reliable::{Dedup, Repeat, Resend, Resends};
use crate::endpoint::{ChannelKind, Endpoint, OfferedChannel, PeerId, SendOutcome};
use crate::error::{OfferError, SendError};

/// Settings of geckos mode.
#[derive(Debug, Clone)]
pub struct GeckosConfig {
    /// The channel offered to every client (geckos's default: `geckos.io`, unordered, no
    /// retransmissions). The client's `label` option must match it.
    pub channel: OfferedChannel,
    /// Most reliable-message ids remembered per peer (each for 15 s, about 40 bytes each);
    /// the oldest go first. A client sending more distinct reliable messages in 15 s than
    /// this may see a late repeat delivered twice.
    pub dedup_capacity: usize,
    /// Most reliable emits a peer may have repeating at once; beyond it an emit is refused
    /// ([`SendOutcome::Congested`]).
    pub max_repeating_per_peer: usize,
}

impl Default for GeckosConfig {
    fn default() -> Self {
        GeckosConfig {
            channel: OfferedChannel::geckos(),
            dedup_capacity: 1024,
            max_repeating_per_peer: 1024,
        }
    }
}

/// What went wrong in geckos mode.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum GeckosError {
    /// A [`GeckosConfig`] field is out of range.
    #[error("geckos config: {0}")]
    Config(&'static str),
    /// The endpoint could not offer, or refused the answer.
    #[error(transparent)]
    Offer(#[from] OfferError),
    /// The operating system's random generator failed (no connection id).
    #[error("no randomness for a connection id")]
    Random,
    /// The peer is not a geckos peer of this state.
    #[error("not a geckos peer")]
    UnknownPeer,
    /// The [`Repeat`] is out of range (runs 1..=100, interval 1 ms..=10 s).
    #[error("reliable repeat out of range")]
    Repeat,
    /// The endpoint refused the send.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// An HTTP response for a geckos route: send it with [`http::cors_headers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body: JSON for a 200 with content, else a short text.
    pub body: Vec<u8>,
}

impl Response {
    fn json(body: Vec<u8>) -> Self {
        Response { status: 200, body }
    }

    fn status(status: u16) -> Self {
        let text: &[u8] = match status {
            200 => b"200: OK",
            400 => b"400: Bad Request",
            404 => b"404: Not Found",
            503 => b"503: Service Unavailable",
            _ => b"500: Internal Server Error",
        };
        Response {
            status,
            body: text.to_vec(),
        }
    }

    /// The `content-type` to send with it.
    pub fn content_type(&self) -> &'static str {
        if self.status == 200 && self.body.first().is_some_and(|b| *b == b'{' || *b == b'[') {
            "application/json"
        } else {
            "text/plain"
        }
    }
}

struct PeerState {
    id: String,
    dedup: Dedup,
    repeating: usize,
}

/// geckos mode's state next to one [`Endpoint`]: connection ids, the reliable-id windows,
/// and the repeats of reliable emits still to send.
pub struct Geckos {
    config: GeckosConfig,
    ids: HashMap<String, PeerId>,
    peers: HashMap<PeerId, PeerState>,
    resends: Resends,
    next_reliable: u64,
    /// Keys the hashes the dedup windows keep instead of ids.
    id_hasher: RandomState,
}

impl Geckos {
    /// Empty state; validates the config.
    pub fn new(config: GeckosConfig) -> Result<Self, GeckosError> {
        if !(1..=1 << 20).contains(&config.dedup_capacity) {
            return Err(GeckosError::Config("dedup_capacity outside 1..=1048576"));
        }
        if !(1..=1 << 20).contains(&config.max_repeating_per_peer) {
            return Err(GeckosError::Config(
                "max_repeating_per_peer outside 1..=1048576",
            ));
        }
        if config.channel.label.len() > crate::MAX_LABEL_LEN {
            return Err(GeckosError::Config("channel label longer than 1024 bytes"));
        }
        Ok(Geckos {
            config,
            ids: HashMap::new(),
            peers: HashMap::new(),
            resends: Resends::default(),
            next_reliable: 0,
            id_hasher: RandomState::new(),
        })
    }

    /// `POST /connections`, once the caller has accepted the client (its `Authorization`
    /// header is the caller's to check): offers a new peer and returns it with the response
    /// body. `user_data` goes to the client as `userData`; use `{}` for none.
    pub fn connect(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        user_data: &Value,
    ) -> Result<(PeerId, Vec<u8>), GeckosError> {
        let id = loop {
            let id = random_id()?;
            if !self.ids.contains_key(&id) {
                break id;
            }
        };
        let (peer, sdp) = ep.offer(now, &self.config.channel)?;
        // geckos's client refuses a falsy userData (null, false, 0, ""): send {} instead.
        let falsy = match user_data {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Array(_) | Value::Object(_) => false,
        };
        let empty = Value::Object(serde_json::Map::new());
        let user_data = if falsy { &empty } else { user_data };
        let body = http::connection_body(&id, &sdp, user_data);
        self.ids.insert(id.clone(), peer);
        self.peers.insert(
            peer,
            PeerState {
                id,
                dedup: Dedup::new(self.config.dedup_capacity),
                repeating: 0,
            },
        );
        Ok((peer, body))
    }

    /// Answers every route but [`Route::Connect`] (which needs the caller's authorization:
    /// [`Geckos::connect`]; here it is a 500).
    pub fn respond(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        route: Route<'_>,
        body: &[u8],
    ) -> Response {
        match route {
            Route::Preflight => Response::status(200),
            Route::Connect => Response::status(500),
            Route::NotFound => Response::status(404),
            Route::RemoteDescription(id) => {
                let Some(&peer) = self.ids.get(id) else {
                    return Response::status(404);
                };
                let Ok(sdp) = http::parse_remote_description(body) else {
                    return Response::status(400);
                };
                match ep.accept_answer(now, peer, &sdp) {
                    Ok(()) => Response::status(200),
                    Err(_) => Response::status(400),
                }
            }
            Route::AdditionalCandidates(id) => {
                if self.ids.contains_key(id) {
                    Response::json(http::ADDITIONAL_CANDIDATES_BODY.to_vec())
                } else {
                    Response::status(404)
                }
            }
            Route::Close(id) => {
                if let Some(&peer) = self.ids.get(id) {
                    ep.close(peer);
                }
                Response::status(200)
            }
        }
    }

    /// The geckos connection id of a peer.
    pub fn id_of(&self, peer: PeerId) -> Option<&str> {
        self.peers.get(&peer).map(|p| p.id.as_str())
    }

    /// The peer of a geckos connection id.
    pub fn peer_of(&self, id: &str) -> Option<PeerId> {
        self.ids.get(id).copied()
    }

    /// Whether `peer` was made by [`Geckos::connect`] and has not closed.
    pub fn is_geckos(&self, peer: PeerId) -> bool {
        self.peers.contains_key(&peer)
    }

    /// Decodes a message from a geckos peer
    /// ([`Event::Message`](crate::Event::Message)'s `binary` and `data`); `None` for a
    /// repeat of a reliable message already delivered, and for messages of peers that are
    /// not geckos peers.
    pub fn receive(
        &mut self,
        now: Instant,
        peer: PeerId,
        binary: bool,
        data: &[u8],
    ) -> Option<Decoded> {
        let state = self.peers.get_mut(&peer)?;
        let decoded = codec::decode(binary, data);
        if let Decoded::Emit {
            reliable_id: Some(id),
            ..
        } = &decoded
        {
            if !state.dedup.first_time(now, self.id_hasher.hash_one(id)) {
                return None;
            }
        }
        Some(decoded)
    }

    /// `channel.emit(event, data)`, or with `reliable` `channel.emit(event, data, { reliable:
    /// true, interval, runs })`: sent at once and repeated by [`Geckos::handle_timeout`]. The
    /// outcome is the first run's (an unreliable channel drops when congested).
    pub fn emit(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        peer: PeerId,
        event: &str,
        data: &Value,
        reliable: Option<Repeat>,
    ) -> Result<SendOutcome, GeckosError> {
        let state = self.peers.get_mut(&peer).ok_or(GeckosError::UnknownPeer)?;
        let Some(repeat) = reliable else {
            let text = codec::encode_emit(event, data);
            return Ok(ep.send_message(now, peer, ChannelKind::Unreliable, false, &text)?);
        };
        if !repeat.valid() {
            return Err(GeckosError::Repeat);
        }
        if state.repeating >= self.config.max_repeating_per_peer {
            return Ok(SendOutcome::Congested);
        }
        // Unique per receiver within the dedup window, which is all the id must be.
        let id = format!("{:0width$}", self.next_reliable, width = ID_LEN);
        self.next_reliable = self.next_reliable.wrapping_add(1);
        let text: Arc<[u8]> = codec::encode_reliable(event, data, &id).into();
        let outcome = ep.send_message(now, peer, ChannelKind::Unreliable, false, &text)?;
        if repeat.runs > 1 {
            state.repeating = state.repeating.saturating_add(1);
            let resend = Resend {
                peer,
                text,
                runs_left: repeat.runs - 1,
                interval: repeat.interval,
            };
            self.resends.push(now + repeat.interval, resend);
        }
        Ok(outcome)
    }

    /// `channel.raw.emit(data)`: the bytes as they are, binary or text.
    pub fn raw(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        peer: PeerId,
        binary: bool,
        data: &[u8],
    ) -> Result<SendOutcome, GeckosError> {
        if !self.peers.contains_key(&peer) {
            return Err(GeckosError::UnknownPeer);
        }
        Ok(ep.send_message(now, peer, ChannelKind::Unreliable, binary, data)?)
    }

    /// When [`Geckos::handle_timeout`] next has a repeat to send.
    pub fn deadline(&self) -> Option<Instant> {
        self.resends.deadline()
    }

    /// Sends the repeats due at `now`.
    pub fn handle_timeout(&mut self, ep: &mut Endpoint, now: Instant) {
        while let Some((at, mut resend)) = self.resends.pop_due(now) {
            let Some(state) = self.peers.get_mut(&resend.peer) else {
                continue;
            };
            // A refused or dropped run is what the repeats are for; a dead peer's are
            // dropped when its close is reported.
            let _ = ep.send_message(
                now,
                resend.peer,
                ChannelKind::Unreliable,
                false,
                &resend.text,
            );
            resend.runs_left = resend.runs_left.saturating_sub(1);
            if resend.runs_left == 0 {
                state.repeating = state.repeating.saturating_sub(1);
                continue;
            }
            let mut next = at + resend.interval;
            if next <= now {
                next = now + resend.interval;
            }
            self.resends.push(next, resend);
        }
    }

    /// The peer closed ([`Event::Closed`](crate::Event::Closed)): forget its id and window.
    /// Its pending repeats are dropped when they come due (peer ids are never reused), so a
    /// mass close costs no scan of every peer's repeats.
    pub fn closed(&mut self, peer: PeerId) {
        if let Some(state) = self.peers.remove(&peer) {
            self.ids.remove(&state.id);
        }
    }

    /// How many geckos peers are known (for tests and stats).
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }
}

/// 24 alphanumerics from the operating system's generator (unbiased: bytes ≥ 248 are
/// skipped).
fn random_id() -> Result<String, GeckosError> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(ID_LEN);
    while id.len() < ID_LEN {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| GeckosError::Random)?;
        for b in bytes {
            if b < 248 && id.len() < ID_LEN {
                if let Some(&c) = ALPHABET.get(usize::from(b % 62)) {
                    id.push(char::from(c));
                }
            }
        }
    }
    Ok(id)
}
