//! What a `webrtc://` listener is configured with: the signalling path, the address advertised
//! to clients, and the endpoint's bounds, mapped onto [`riptide_webrtc::EndpointConfig`].

use crate::Error;
use riptide_webrtc::EndpointConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Largest signalling request head (request line and headers) read, in bytes.
pub const MAX_SIGNAL_HEAD: usize = 8 * 1024;

/// Parameters of a `webrtc://` listener: data channels on the UDP port, signalling over
/// HTTP/1.1 on the TCP port of the same address (or through an HTTP listener it is attached
/// to, with `signalling: false`).
#[derive(Clone, Debug)]
pub struct WebRtcOptions {
    /// Where clients `POST` their offer (default `/.rtc/offer`).
    pub path: String,
    /// The host candidate advertised in every answer (default: the bound address; required
    /// when binding `0.0.0.0` or `::`).
    pub public_address: Option<SocketAddr>,
    /// Most peers at once, half-open ones included (default 10,000); offers beyond are
    /// answered `503`.
    pub max_peers: usize,
    /// How long a peer has from its answer to both channels being open (default 10 s).
    pub handshake_timeout: Duration,
    /// Bytes a peer's unreliable channel may hold before sends are dropped (default 64 KiB).
    pub unreliable_high_water: usize,
    /// Bytes a peer's two channels may hold unacknowledged (default 256 KiB); it also caps the
    /// largest message sent.
    pub send_buffer: usize,
    /// Largest signalling request body (default 16 KiB: the endpoint's offer limit).
    pub max_body: usize,
    /// A signalling connection that has not sent a whole request by then is closed; a request
    /// an attached HTTP listener handed over that is still held for the handler then fails
    /// (default 10 s).
    pub request_timeout: Duration,
    /// Answer `GET` requests for other paths from this directory (an example page and its
    /// scripts); `None` (the default): `404`.
    pub static_dir: Option<PathBuf>,
    /// Hold each offer for [`crate::EventHandler::on_webrtc_offer`], which answers it with
    /// [`crate::Conns::webrtc_decide`] (refused: `403`); default false: answered at once.
    pub authorize: bool,
    /// geckos.io v2 mode: signalling on `/.wrtc/v2/…` (server offers) and geckos's message
    /// framing, so the stock `@geckos.io/client` 3.x connects unchanged (`path` is unused).
    /// With `authorize`, `POST /connections` is held for the handler ([`crate::Conns::
    /// webrtc_decide_geckos`] attaches the client's `userData`; refused: `401`). Default false.
    pub geckos: bool,
    /// Serve signalling on the TCP port of the listener's address (the default). False: bind
    /// only the UDP port; an HTTP listener the application runs answers the signalling
    /// requests it hands over with [`crate::Remote::webrtc_signal`] (`static_dir` is refused
    /// then: there is no port to serve it on).
    pub signalling: bool,
}

/// A signalling request held for [`crate::EventHandler::on_webrtc_offer`] (a `webrtc://`
/// listener with [`WebRtcOptions::authorize`]).
#[derive(Clone, Debug)]
pub struct WebRtcOffer {
    /// What to pass to [`crate::Conns::webrtc_decide`]; the peer's connection reports it
    /// from [`crate::Conns::webrtc_request`], to attach what the decision found.
    pub request: u64,
    /// The request's path (without its query).
    pub path: String,
    /// The request's headers, names lower-cased, values lossily decoded.
    pub headers: Vec<(String, String)>,
    /// The client's address.
    pub remote: SocketAddr,
}

impl Default for WebRtcOptions {
    fn default() -> Self {
        WebRtcOptions {
            path: "/.rtc/offer".into(),
            public_address: None,
            max_peers: 10_000,
            handshake_timeout: Duration::from_secs(10),
            unreliable_high_water: 64 * 1024,
            send_buffer: 256 * 1024,
            max_body: 16 * 1024,
            request_timeout: Duration::from_secs(10),
            static_dir: None,
            authorize: false,
            geckos: false,
            signalling: true,
        }
    }
}

impl WebRtcOptions {
    /// The endpoint configuration for a UDP socket bound to `bound`: refused (with
    /// [`Error::InvalidOption`]) when a value here is out of range, or when `bound` is
    /// unspecified and no `public_address` says what clients reach. The endpoint's own
    /// ranges are checked when it is made ([`riptide_webrtc::Endpoint::new`]).
    pub fn endpoint_config(&self, bound: SocketAddr) -> Result<EndpointConfig, Error> {
        let bad = |why: String| Error::InvalidOption(format!("webrtc: {why}"));
        if !self.path.starts_with('/') || self.path.len() > 256 {
            return Err(bad(format!(
                "path {:?} must start with / (at most 256 bytes)",
                self.path
            )));
        }
        if !(1024..=1 << 20).contains(&self.max_body) {
            return Err(bad(format!(
                "max_body {} is outside 1024..=1048576",
                self.max_body
            )));
        }
        if !self.signalling && self.static_dir.is_some() {
            return Err(bad(
                "static needs the signalling port (signalling is false)".into(),
            ));
        }
        if self.static_dir.as_ref().is_some_and(|d| !d.is_dir()) {
            return Err(bad(format!(
                "static {:?} is not a directory",
                self.static_dir
            )));
        }
        if self.request_timeout.is_zero() || self.request_timeout > Duration::from_secs(600) {
            return Err(bad(
                "request_timeout must be over 0 and at most 600 s".into()
            ));
        }
        let public = match self.public_address {
            Some(mut a) => {
                if a.port() == 0 {
                    a.set_port(bound.port());
                }
                a
            }
            None if bound.ip().is_unspecified() => {
                return Err(bad(format!(
                    "bound to {bound}: give public_address, the address clients reach"
                )))
            }
            None => bound,
        };
        let mut config = EndpointConfig::new(public);
        config.max_peers = self.max_peers;
        config.handshake_timeout = self.handshake_timeout;
        config.unreliable_high_water = self.unreliable_high_water;
        config.send_buffer = self.send_buffer;
        config.reliable_low_water = config.reliable_low_water.min(self.send_buffer / 2);
        config.max_offer_size = self.max_body;
        Ok(config)
    }
}
