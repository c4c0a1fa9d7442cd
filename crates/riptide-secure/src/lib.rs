//! riptide's secure mode for datagrams under KCP, sans-IO: no sockets, no clock reads
//! (`now` comes in as an [`Instant`](std::time::Instant)); datagrams in, datagrams and
//! events out.
//!
//! - **Handshake**: Noise `Noise_NK_25519_ChaChaPoly_BLAKE2s` through `snow`. The client
//!   pins the server's static public key; clients are anonymous. Or, with per-client keys
//!   (a server [`AllowedClients`] list, [`Initiator::with_client_key`]),
//!   `Noise_IK_25519_ChaChaPoly_BLAKE2s` as WireGuard: the client's static key travels
//!   encrypted in the init and an unlisted key gets no answer. Either way one round trip: [`Initiator`] sends an init, the server's [`Endpoint`] answers with a
//!   response carrying a random server-assigned session id (never 0).
//! - **Return routability before state**: the server keeps an answered handshake in a
//!   bounded pending table and creates the session ([`Incoming::Accept`]) only when the
//!   client's first transport packet opens under the new keys, which proves the client got
//!   the response at its address. Every reply to an unvalidated address is at most as long as
//!   the packet it answers (anti-amplification; counted in [`EndpointStats`]).
//! - **Under load** (too many pending handshakes or too many handshakes per second) the
//!   server answers inits with a stateless, encrypted cookie reply (WireGuard's mac1/mac2
//!   and cookie design) and only handshakes with inits that carry a valid cookie.
//! - **Transport**: ChaCha20-Poly1305 (RustCrypto) per datagram, the 64-bit packet counter
//!   in the clear header as an explicit nonce (`0u32 ‖ counter LE`), the header as AAD, a
//!   4096-bit sliding replay window marked only after the tag verifies, and a one-way key
//!   ratchet (Noise `REKEY`) per direction after N packets or T time, with the previous
//!   receive key kept for a grace period. See [`Transport`].
//! - **Sessions are routed by id**, not address, so a client whose NAT mapping changes
//!   keeps its session: [`Opened::newest`] tells the engine when a packet from a new address
//!   may move the session.
//!
//! The packet layout is documented in the [`packet`] module: a 16-byte
//! header (`typ | epoch | rsv u16 | receiver_id u32 LE | counter u64 LE`), a body, and a
//! 16-byte tag for transport packets: [`OVERHEAD`] = 32 bytes.
//!
//! Not from the seed design (gouxp): its fixed key, 64-bit DH and constant nonce gave no
//! security (research `kcp.md` §3); nothing of it is reused here.
//!
//! # Example
//!
//! ```
//! use std::time::Instant;
//! use riptide_secure::*;
//!
//! let now = Instant::now();
//! let keys = generate_keypair().unwrap();
//! let mut server = Endpoint::new(ServerConfig::new(keys.private.clone()), now).unwrap();
//! let client_addr = "192.0.2.1:4000".parse().unwrap();
//!
//! // Client: init → server: response.
//! let (mut initiator, init) = Initiator::new(&keys.public, now).unwrap();
//! let mut reply = Vec::new();
//! assert!(matches!(server.handle(now, client_addr, &init, &mut reply), Incoming::Reply));
//! let InitiatorEvent::Established(mut client) = initiator.handle(now, &reply).unwrap() else {
//!     panic!("expected a transport");
//! };
//!
//! // The client's first packet creates the session on the server.
//! let mut packet = Vec::new();
//! client.seal(now, Kind::Data, b"hello", &mut packet).unwrap();
//! let Incoming::Accept { id, transport: mut session, payload, .. } =
//!     server.handle(now, client_addr, &packet, &mut reply) else { panic!() };
//! assert_eq!((id, payload.as_slice()), (client.id(), &b"hello"[..]));
//!
//! // Later packets are routed by id and opened by the session's transport.
//! session.seal(now, Kind::Data, b"welcome", &mut packet).unwrap();
//! let mut plain = Vec::new();
//! let opened = client.open(now, &packet, &mut plain).unwrap();
//! assert_eq!((opened.kind, plain.as_slice()), (Kind::Data, &b"welcome"[..]));
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]
// Everything here handles bytes and numbers a peer chose: no silent overflow, no
// peer-steered index.
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::arithmetic_side_effects, clippy::indexing_slicing))]

mod allowed_clients;
mod endpoint;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod handshake;
mod initiator;
mod keys;
pub mod packet;
mod replay;
mod transport;

pub use allowed_clients::AllowedClients;
pub use endpoint::{
    DropCounts, DropReason, Endpoint, EndpointStats, Incoming, ServerConfig, PENDING_ENTRY_BYTES,
};
pub use error::SecureError;
pub use initiator::{Initiator, InitiatorConfig, InitiatorEvent};
pub use keys::{generate_keypair, public_key_from_slice, Keypair, PrivateKey, KEY_LEN};
pub use packet::{
    id_generation, PacketType, GENERATION_OFFSET, INIT_IK_LEN, MAX_PAYLOAD, OVERHEAD,
};
pub use replay::WINDOW_BITS;
pub use transport::{Kind, Opened, Transport, TransportConfig, TransportStats};

/// The Noise protocol name used by the handshake with anonymous clients.
pub const NOISE_PROTOCOL: &str = handshake::NOISE_PARAMS;
/// The Noise protocol name used by the handshake with client keys
/// ([`ServerConfig::allowed_clients`], [`Initiator::with_client_key`]).
pub const NOISE_PROTOCOL_IK: &str = handshake::NOISE_PARAMS_IK;

// The README's example runs as a doctest, so the crates.io page cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
