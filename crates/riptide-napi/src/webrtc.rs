//! WebRTC options from JS (`serve('webrtc://…', h, { webrtc })`) to the engine's
//! [`riptide::WebRtcOptions`] (the TS layer fills the defaults and checks types and ranges;
//! this converts units and parses the public address), and `webrtcSignal`: a signalling
//! request an HTTP listener received, answered by the `webrtc://` listener it is attached to.

use crate::NativeEngine;
use napi::bindgen_prelude::{Buffer, Env, Object};
use napi_derive::napi;
use std::time::Duration;

/// A `webrtc://` listener's parameters as JS gives them (every field filled in by TS).
#[napi(object)]
pub struct NativeWebRtc {
    /// Where clients `POST` their offer.
    pub path: String,
    /// The host candidate advertised (`ip:port`; port 0: the listener's); none: the bound
    /// address.
    pub public_address: Option<String>,
    /// Most peers at once, half-open ones included.
    pub max_peers: u32,
    /// ms a peer has from its answer to both channels being open.
    pub handshake_timeout: f64,
    /// Bytes an unreliable channel may hold before sends are dropped.
    pub unreliable_high_water: f64,
    /// Bytes a peer's channels may hold unacknowledged; also the largest message sent.
    pub send_buffer: f64,
    /// Largest signalling request body.
    pub max_body: f64,
    /// ms a signalling connection has to send its whole request.
    pub request_timeout: f64,
    /// The directory `GET` requests on the signalling port are answered from (absolute).
    pub static_dir: Option<String>,
    /// JS has an `authorize` hook: offers wait for `webrtcDecide`.
    pub authorize: bool,
    /// geckos.io v2 mode (`/.wrtc/v2/…` signalling and geckos's message framing).
    pub geckos: bool,
    /// Signalling on the listener's own TCP port; false: only through `webrtcSignal`.
    pub signalling: bool,
}

impl NativeWebRtc {
    /// The engine's WebRTC options.
    pub fn options(&self) -> Result<riptide::WebRtcOptions, riptide::Error> {
        let bad = |what: &str| riptide::Error::InvalidOption(format!("webrtc.{what}"));
        let public_address = self
            .public_address
            .as_deref()
            .map(|a| a.parse().map_err(|_| bad("publicAddress must be ip:port")))
            .transpose()?;
        let ms = crate::millis::millis;
        let bytes = |v: f64, name: &str| {
            if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= (1u64 << 40) as f64 {
                Ok(v as usize)
            } else {
                Err(bad(&format!("{name} must be a whole number of bytes")))
            }
        };
        Ok(riptide::WebRtcOptions {
            path: self.path.clone(),
            public_address,
            max_peers: self.max_peers as usize,
            handshake_timeout: ms("webrtc.handshakeTimeout", self.handshake_timeout)?,
            unreliable_high_water: bytes(self.unreliable_high_water, "unreliableHighWater")?,
            send_buffer: bytes(self.send_buffer, "sendBuffer")?,
            max_body: bytes(self.max_body, "maxBody")?,
            request_timeout: ms("webrtc.requestTimeout", self.request_timeout)?
                .max(Duration::from_millis(1)),
            static_dir: self.static_dir.as_ref().map(std::path::PathBuf::from),
            authorize: self.authorize,
            geckos: self.geckos,
            signalling: self.signalling,
        })
    }
}

/// What a reactor's `webrtc://` listeners hold (Rust `riptide::WebRtcCounts`).
#[napi(object)]
#[derive(Default)]
pub struct NativeWebRtcCounts {
    /// Peers, half-open ones included.
    pub peers: u32,
    /// Peers whose channels opened (connections).
    pub open: u32,
    /// Peers whose source address is noted.
    pub addresses: u32,
    /// Peers with a live timing-wheel entry.
    pub deadlines: u32,
    /// Unreliable messages dropped because the channel was congested.
    pub congested: f64,
}

impl From<riptide::WebRtcCounts> for NativeWebRtcCounts {
    fn from(c: riptide::WebRtcCounts) -> Self {
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        NativeWebRtcCounts {
            peers: n(c.peers),
            open: n(c.open),
            addresses: n(c.addresses),
            deadlines: n(c.deadlines),
            congested: c.congested as f64,
        }
    }
}

/// What `webrtcSignal` resolves to: the whole HTTP response, or the error's code and message.
#[napi(object)]
pub struct NativeSignalReply {
    /// The response bytes to write to the HTTP connection.
    pub response: Option<Buffer>,
    /// The error's stable code (`ERR_INVALID_ADDRESS`, `ERR_ENGINE_STOPPED`, ...).
    pub code: Option<String>,
    /// The error's message.
    pub message: Option<String>,
}

#[napi]
impl NativeEngine {
    /// Hands the `http1` request frame `request` from `remote_address` (`ip:port`) to the
    /// `webrtc://` listener bound at `webrtc_address` (its URL, on this engine's reactor 0):
    /// resolves to its whole HTTP response, or an error code ([`riptide::Remote::
    /// webrtc_signal`]). An offer held for `authorize` resolves once JS decided.
    #[napi(ts_return_type = "Promise<NativeSignalReply>")]
    pub fn webrtc_signal<'env>(
        &self,
        env: &'env Env,
        webrtc_address: String,
        request: &[u8],
        remote_address: String,
    ) -> napi::Result<Object<'env>> {
        let (deferred, promise) = env.create_deferred()?;
        let settle = move |result: Result<Vec<u8>, riptide::Error>| {
            deferred.resolve(move |_| {
                Ok(match result {
                    Ok(bytes) => NativeSignalReply {
                        response: Some(bytes.into()),
                        code: None,
                        message: None,
                    },
                    Err(e) => NativeSignalReply {
                        response: None,
                        code: Some(e.code().to_owned()),
                        message: Some(e.to_string()),
                    },
                })
            });
        };
        let remote = match remote_address.parse() {
            Ok(remote) => remote,
            Err(_) => {
                let why = format!("remoteAddress {remote_address:?} must be ip:port");
                settle(Err(riptide::Error::InvalidOption(why)));
                return Ok(promise);
            }
        };
        match self.driver.with_reactor(|r| r.remote()) {
            Some(r) => r.webrtc_signal(&webrtc_address, request, remote, Box::new(settle)),
            None => settle(Err(riptide::Error::EngineStopped)),
        }
        Ok(promise)
    }
}
