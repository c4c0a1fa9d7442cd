//! geckos.io v2 compatibility: the signalling and the message framing the stock
//! `@geckos.io/client` 3.x speaks, so it connects to the endpoint unchanged.
//!
//! The server offers ([`Endpoint::offer`](crate::Endpoint::offer)) one data channel, `geckos.io`,
//! unordered with no retransmissions, announced in-band (DCEP); the client answers over HTTP
//! ([`http`]). Messages are JSON `{"<event>": data}` or raw ([`codec`]); `reliable: true` emits
//! are repeated under one id and delivered once ([`reliable`]).
//!
//! [`Geckos`] is the state next to one [`Endpoint`](crate::Endpoint): connection ids, each
//! peer's window of reliable ids, and the repeats still to send. The caller routes HTTP
//! requests ([`http::route`]) and the geckos peers' messages and closes through it, and keeps
//! one timer for [`Geckos::deadline`].
//!
//! ```no_run
//! use std::time::Instant;
//! use riptide_webrtc::geckos::{http, Decoded, Geckos, GeckosConfig, Repeat};
//! use riptide_webrtc::{Endpoint, EndpointConfig, Event};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut ep = Endpoint::new(EndpointConfig::new("203.0.113.5:9208".parse()?))?;
//! let mut geckos = Geckos::new(GeckosConfig::default())?;
//! # let (method, path, authorization, body) = ("POST", "/.wrtc/v2/connections", Some("t"), &b""[..]);
//! let now = Instant::now();
//!
//! // An HTTP request (send every response with `http::cors_headers`).
//! match http::route(method, path) {
//!     None => { /* not geckos's: the rest of the HTTP server */ }
//!     Some(http::Route::Connect) => {
//!         // The auth hook sees `authorization`; refuse with 401, or attach user data.
//!         let user_data = serde_json::json!({ "token": authorization });
//!         let (_peer, body) = geckos.connect(&mut ep, now, &user_data)?; // 200, JSON
//!     }
//!     Some(route) => {
//!         let response = geckos.respond(&mut ep, now, route, body);
//!         // response.status, response.content_type(), response.body
//!     }
//! }
//!
//! // The endpoint's events.
//! while let Some(event) = ep.poll_event() {
//!     match event {
//!         Event::Message { peer, binary, data, .. } if geckos.is_geckos(peer) => {
//!             match geckos.receive(now, peer, binary, &data) {
//!                 Some(Decoded::Emit { event, data, reliable_id }) => {
//!                     let reliable = reliable_id.map(|_| Repeat::default());
//!                     geckos.emit(&mut ep, now, peer, &event, &data, reliable)?;
//!                 }
//!                 Some(Decoded::Raw { binary, data }) => {
//!                     geckos.raw(&mut ep, now, peer, binary, &data)?;
//!                 }
//!                 Some(Decoded::Unrecognized) | None => {} // junk, or a repeat
//!             }
//!         }
//!         Event::Closed { peer, .. } => geckos.closed(peer),
//!         _ => {}
//!     }
//! }
//!
//! // One timer for every peer's repeats.
//! if geckos.deadline().is_some_and(|at| at <= now) {
//!     geckos.handle_timeout(&mut ep, now);
//! }
//! # Ok(())
//! # }
//! ```

pub mod codec;
pub mod http;
pub mod reliable;
mod session;

pub use codec::Decoded;
pub use reliable::Repeat;
pub use session::{Geckos, GeckosConfig, GeckosError, Response};
