//! What the endpoint reads from an offer itself, before str0m sees it: which sections it has,
//! and the peer's `a=max-message-size` (RFC 8841), which str0m keeps private.

use crate::error::OfferError;

/// The largest message the endpoint receives: what str0m advertises in every answer.
pub const LOCAL_MAX_MESSAGE_SIZE: usize = 256 * 1024;

/// The largest message a peer is assumed to receive when its offer has no
/// `a=max-message-size` (RFC 8841 §6.1).
pub const DEFAULT_REMOTE_MAX_MESSAGE_SIZE: usize = 64 * 1024;

/// What an acceptable offer says about the data channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OfferFacts {
    /// The peer's maximum message size; `None` for "0" (RFC 8841: no limit).
    pub remote_max_message_size: Option<usize>,
}

/// Checks that `sdp` offers a data channel and nothing else, and reads its
/// `a=max-message-size`.
pub(crate) fn inspect_offer(sdp: &str) -> Result<OfferFacts, OfferError> {
    let mut in_application = false;
    let mut saw_application = false;
    let mut max_message_size = Some(DEFAULT_REMOTE_MAX_MESSAGE_SIZE);
    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(media) = line.strip_prefix("m=") {
            let kind = media.split(' ').next().unwrap_or("");
            if kind != "application" {
                return Err(OfferError::Media(kind.chars().take(32).collect()));
            }
            in_application = true;
            saw_application = true;
        } else if let Some(value) = line.strip_prefix("a=max-message-size:") {
            if in_application {
                max_message_size = parse_max_message_size(value)?;
            }
        }
    }
    if !saw_application {
        return Err(OfferError::NoDataChannel);
    }
    Ok(OfferFacts {
        remote_max_message_size: max_message_size,
    })
}

fn parse_max_message_size(value: &str) -> Result<Option<usize>, OfferError> {
    let value = value.trim();
    let bad = || OfferError::MaxMessageSize(value.chars().take(32).collect());
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // Larger than any buffer: saturate instead of failing (RFC 8841 allows any size).
    let size = value.parse::<u64>().unwrap_or(u64::MAX);
    if size == 0 {
        return Ok(None);
    }
    Ok(Some(usize::try_from(size).unwrap_or(usize::MAX)))
}

/// The largest message the endpoint sends a peer: the peer's limit, capped by the send buffer
/// (a larger message could never be accepted by it).
pub(crate) fn negotiated_max_message_size(facts: OfferFacts, send_buffer: usize) -> usize {
    facts
        .remote_max_message_size
        .map_or(send_buffer, |remote| remote.min(send_buffer))
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";

    #[test]
    fn default_size_when_absent() {
        let facts = inspect_offer(APP).unwrap();
        assert_eq!(facts.remote_max_message_size, Some(64 * 1024));
        assert_eq!(negotiated_max_message_size(facts, 256 * 1024), 64 * 1024);
    }

    #[test]
    fn reads_size_and_zero_means_unlimited() {
        let facts = inspect_offer(&format!("{APP}a=max-message-size:1000\r\n")).unwrap();
        assert_eq!(negotiated_max_message_size(facts, 256 * 1024), 1000);
        let facts = inspect_offer(&format!("{APP}a=max-message-size:0\r\n")).unwrap();
        assert_eq!(facts.remote_max_message_size, None);
        assert_eq!(negotiated_max_message_size(facts, 256 * 1024), 256 * 1024);
        let huge = format!("{APP}a=max-message-size:99999999999999999999999\r\n");
        let facts = inspect_offer(&huge).unwrap();
        assert_eq!(negotiated_max_message_size(facts, 4096), 4096);
    }

    #[test]
    fn refuses_media_missing_data_and_bad_sizes() {
        assert_eq!(inspect_offer("v=0\r\n"), Err(OfferError::NoDataChannel));
        assert_eq!(
            inspect_offer("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"),
            Err(OfferError::Media("audio".into()))
        );
        assert!(matches!(
            inspect_offer(&format!("{APP}a=max-message-size:-1\r\n")),
            Err(OfferError::MaxMessageSize(_))
        ));
        assert!(matches!(
            inspect_offer(&format!("{APP}a=max-message-size:\r\n")),
            Err(OfferError::MaxMessageSize(_))
        ));
    }
}
