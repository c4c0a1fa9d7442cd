//! The default signalling: one HTTP round trip, the client offers.
//!
//! The client `POST`s the JSON of its local description, `{"type":"offer","sdp":"…"}` (what
//! `JSON.stringify(pc.localDescription)` gives after ICE gathering, or with no candidates at
//! all: the endpoint is ICE-lite and learns the client's address from its STUN checks). The
//! response body is `{"type":"answer","sdp":"…"}`, ready for `pc.setRemoteDescription`.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::endpoint::{Endpoint, PeerId};
use crate::error::OfferError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Offer<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow)]
    sdp: std::borrow::Cow<'a, str>,
}

#[derive(Serialize)]
struct Answer<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sdp: &'a str,
}

/// Parses a signalling request body, makes the peer, and returns it with the response body.
///
/// The body size is checked against
/// [`EndpointConfig::max_offer_size`](crate::EndpointConfig) before parsing.
pub fn answer_json(
    endpoint: &mut Endpoint,
    now: Instant,
    body: &[u8],
) -> Result<(PeerId, Vec<u8>), OfferError> {
    endpoint.check_offer_size(body.len())?;
    let offer: Offer<'_> =
        serde_json::from_slice(body).map_err(|e| OfferError::Body(e.to_string()))?;
    if offer.kind != "offer" {
        return Err(OfferError::Body(format!(
            "type is {:?}, not \"offer\"",
            offer.kind.chars().take(16).collect::<String>()
        )));
    }
    let (peer, sdp) = endpoint.accept_offer(now, &offer.sdp)?;
    let body = serde_json::to_vec(&Answer {
        kind: "answer",
        sdp: &sdp,
    })
    .map_err(|e| OfferError::Body(e.to_string()))?;
    Ok((peer, body))
}
