//! What a signalling request of a `webrtc://` listener is, as far as it arrived: shared by
//! the default signalling (`webrtc_signal.rs`) and geckos mode's (`webrtc_geckos.rs`) parsers.

/// What a request is, as far as it arrived.
pub(crate) enum Parsed {
    /// Not all of it yet.
    Partial,
    /// Answered without the endpoint: this response.
    Respond(Vec<u8>),
    /// An offer (geckos mode: any request under `/.wrtc/v2`), whose body is at `start..end`.
    Offer(usize, usize),
}
