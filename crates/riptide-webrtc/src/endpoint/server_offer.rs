//! Signalling the other way round: the endpoint offers, the client answers (geckos.io's
//! signalling). The offered peer has one data channel, announced in-band (DCEP) once SCTP is
//! up, so the client sees it as a `datachannel` event.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use str0m::channel::{ChannelConfig, Reliability};

use super::{CloseReason, Endpoint, PeerId};
use crate::error::OfferError;
use crate::sdp::{inspect_offer, negotiated_max_message_size};

/// Longest channel label [`Endpoint::offer`] takes, in bytes.
pub const MAX_LABEL_LEN: usize = 1024;

/// The one data channel of a peer made by [`Endpoint::offer`]; the endpoint opens it (DCEP),
/// and it is reported as [`ChannelKind::Unreliable`](super::ChannelKind::Unreliable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedChannel {
    /// The label the client sees (geckos's client only takes a channel with the label it was
    /// given, `geckos.io` by default). At most [`MAX_LABEL_LEN`] bytes.
    pub label: String,
    /// Whether messages are delivered in order.
    pub ordered: bool,
    /// Retransmissions per message; `None` is fully reliable.
    pub max_retransmits: Option<u16>,
}

impl OfferedChannel {
    /// geckos.io's server default: label `geckos.io`, unordered, no retransmissions.
    pub fn geckos() -> Self {
        OfferedChannel {
            label: "geckos.io".to_owned(),
            ordered: false,
            max_retransmits: Some(0),
        }
    }

    fn config(&self) -> ChannelConfig {
        ChannelConfig {
            label: self.label.clone(),
            ordered: self.ordered,
            reliability: match self.max_retransmits {
                Some(retransmits) => Reliability::MaxRetransmits { retransmits },
                None => Reliability::Reliable,
            },
            negotiated: None,
            protocol: String::new(),
        }
    }
}

impl Endpoint {
    /// Makes a peer by offering: returns it with the SDP offer for the client. The peer waits
    /// for [`Endpoint::accept_answer`]; it counts against `max_peers` and expires like any
    /// half-open peer if its channel is not open within the handshake timeout.
    pub fn offer(
        &mut self,
        now: Instant,
        channel: &OfferedChannel,
    ) -> Result<(PeerId, String), OfferError> {
        if channel.label.len() > MAX_LABEL_LEN {
            return Err(OfferError::Channel("label longer than 1024 bytes"));
        }
        if self.peers.len() >= self.config.max_peers {
            return Err(OfferError::Full(self.peers.len()));
        }
        let creds = self.fresh_creds();
        let ufrag = creds.ufrag.clone();
        let built = catch_unwind(AssertUnwindSafe(|| {
            let mut rtc = self.build_rtc(now, creds)?;
            let mut api = rtc.sdp_api();
            let id = api.add_channel_with_config(channel.config());
            let (offer, pending) = api
                .apply()
                .ok_or(OfferError::Sdp("str0m made no offer".to_owned()))?;
            Ok((rtc, offer.to_sdp_string(), id, pending))
        }));
        let (rtc, offer, id, pending) = built.map_err(|_| OfferError::Panicked)??;
        let max = self.config.send_buffer;
        let peer = self.insert_peer(now, rtc, ufrag, (id, None), max, Some(pending));
        Ok((peer, offer))
    }

    /// Completes a peer made by [`Endpoint::offer`] with the client's SDP answer. A refused
    /// answer closes the peer ([`CloseReason::Failed`]) unless it was refused before str0m saw
    /// it (too large, no such peer, already answered).
    pub fn accept_answer(
        &mut self,
        now: Instant,
        peer_id: PeerId,
        answer: &str,
    ) -> Result<(), OfferError> {
        self.check_offer_size(answer.len())?;
        let send_buffer = self.config.send_buffer;
        let peer = self
            .peers
            .get_mut(&peer_id)
            .ok_or(OfferError::NotAwaitingAnswer)?;
        let pending = peer.pending.take().ok_or(OfferError::NotAwaitingAnswer)?;
        let accepted = inspect_offer(answer).and_then(|facts| {
            let parsed = str0m::change::SdpAnswer::from_sdp_string(answer)
                .map_err(|e| OfferError::Sdp(e.to_string()))?;
            let applied = catch_unwind(AssertUnwindSafe(|| {
                peer.rtc.sdp_api().accept_answer(pending, parsed)
            }));
            match applied {
                Err(_) => Err(OfferError::Panicked),
                Ok(Err(e)) => Err(OfferError::Sdp(e.to_string())),
                Ok(Ok(())) => Ok(negotiated_max_message_size(facts, send_buffer)),
            }
        });
        match accepted {
            Ok(max_message_size) => {
                peer.max_message_size = max_message_size;
                self.drive(peer_id, now);
                Ok(())
            }
            Err(e) => {
                let reason = if e == OfferError::Panicked {
                    CloseReason::Panicked
                } else {
                    CloseReason::Failed
                };
                self.remove(peer_id, reason);
                Err(e)
            }
        }
    }
}
