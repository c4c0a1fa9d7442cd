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

pub mod codec;
pub mod http;
pub mod reliable;
mod session;

pub use codec::Decoded;
pub use reliable::Repeat;
pub use session::{Geckos, GeckosConfig, GeckosError, Response};
