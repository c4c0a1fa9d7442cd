//! riptide's engine: event-driven TCP and Unix-socket servers on mio reactors, usable from
//! Rust directly or through the `riptide` npm package.
//!
//! A [`Reactor`] owns listeners and connections and dispatches readiness to an
//! [`EventHandler`]. Connections are named by [`ConnId`] handles (slot + generation), so a
//! handle kept after its connection closed can never touch a newer one. Writes go straight to
//! the socket when nothing is queued and are buffered otherwise. Other threads reach a reactor
//! through its [`Remote`] (asynchronous writes, closes, wakes, closures). An [`Engine`] runs one
//! or more reactors on threads and spreads connections by a [`LoadBalancing`] policy.
//!
//! ```no_run
//! use riptide::{ConnId, Conns, Engine};
//!
//! let engine = Engine::bind(["tcp://127.0.0.1:9000"])?;
//! // Echo: write every byte back.
//! let _ = engine.run(|conns: &mut Conns, id: ConnId, data: &[u8]| {
//!     let _ = conns.write(id, data);
//! })?;
//! # Ok::<(), riptide::Error>(())
//! ```

// Denied everywhere; the kernel TLS module alone allows it (argued block by block).
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(missing_docs)]

mod address;
mod admission;
mod balance;
mod carried;
mod carrier;
mod config;
mod conns;
mod crypt_layer;
mod engine;
mod error;
mod fec_layer;
mod flow;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod generation;
mod handler;
mod http_ws_layer;
#[cfg(unix)]
pub mod inherit;
mod kcp_options;
mod kcp_session;
mod kcp_table;
#[cfg(target_os = "linux")]
mod ktls;
mod layer;
mod outbound;
mod packet_stack;
mod platform;
mod proxy_layer;
mod publication;
mod pubsub;
mod reactor;
mod remote;
mod reuseport;
mod secure_layer;
mod slab;
mod socket;
mod stats;
mod stream;
mod stream_stack;
mod timer_wheel;
mod tls_layer;
mod tls_options;
mod tls_record_edge;
mod tls_sni;
mod topics;
mod udp_batch;
mod udp_sessions;
mod webrtc_answer;
mod webrtc_attach;
mod webrtc_geckos;
mod webrtc_options;
mod webrtc_request;
mod webrtc_signal;
mod webrtc_static;
mod webrtc_table;
mod ws_codec;
mod ws_layer;
mod ws_record;

pub use address::{tls_transport, Address};
pub use admission::Admission;
pub use balance::LoadBalancing;
pub use carrier::{
    check_peer, Carrier, CarrierOptions, CarrierStats, DatagramCarrier, MAX_DATAGRAM, MAX_PEER_LEN,
};
pub use config::{DialOptions, ListenOptions, ReactorConfig, SharedCodec};
pub use conns::{Conns, WebRtcCounts};
pub use engine::{Engine, EngineConfig, StopHandle};
pub use error::{io_code, Error};
pub use flow::{FlowConfig, IdleKind, IdleTimeout};
pub use generation::{generation as upgrade_generation, set_generation as set_upgrade_generation};
pub use handler::EventHandler;
pub use http_ws_layer::{Http1WsLayer, Http1WsOptions};
pub use kcp_options::{KcpCrypt, KcpOptions, KcpSecure};
#[cfg(target_os = "linux")]
pub use ktls::KernelTls;
pub use layer::{
    Datagrams, Gate, GateOut, LayerReport, LayerStatus, PacketGate, PacketGateFactory, PacketLayer,
    PacketLayerFactory, Payload, SharedWrite, StreamLayer, StreamLayerFactory, StreamOut,
};
/// Wakes a reactor's poll from any thread (re-exported from mio).
pub use mio::Waker;
pub use publication::MAX_TOPIC_LEN;
pub use pubsub::{Backpressure, InterestWatcher, PubSub, MAX_SUBSCRIPTIONS};
pub use reactor::{DrainStatus, Reactor, TurnOutcome, HANDSHAKE_GRACE};
pub use remote::{Completion, Remote};
/// The framing codecs (re-exported crate `riptide-codec`).
pub use riptide_codec as codec;
/// kcp-go's packet encryption (re-exported crate `riptide-crypt`): *compatible, not secure*.
pub use riptide_crypt as crypt;
/// The sans-IO KCP protocol (re-exported crate `riptide-kcp`).
pub use riptide_kcp as kcp;
/// Riptide's secure mode for KCP (re-exported crate `riptide-secure`).
pub use riptide_secure as secure;
/// The sans-IO WebRTC data-channel endpoint (re-exported crate `riptide-webrtc`).
pub use riptide_webrtc as webrtc;
/// The sans-IO WebSocket protocol (re-exported crate `riptide-ws`).
pub use riptide_ws as ws;
pub use slab::ConnId;
pub use socket::{KeepAlive, SocketOptions};
pub use stats::{KcpMetrics, ListenerMetrics, ReactorMetrics, ReactorStats};
pub use stream::PeerAddr;
pub use tls_layer::{TlsInfo, TlsLayer};
pub use tls_options::{
    TlsClientContext, TlsClientOptions, TlsServerContext, TlsServerOptions, CLIENT_SESSION_CACHE,
    DEFAULT_HANDSHAKE_TIMEOUT, SERVER_SESSION_CACHE,
};
pub use tls_sni::TlsSniCertificate;
pub use webrtc_attach::SignalCompletion;
pub use webrtc_options::{WebRtcOffer, WebRtcOptions};
pub use ws_codec::WsCodec;
pub use ws_layer::{WsClientOptions, WsLayer, WsOptions};

// The README's example runs as a doctest, so the crates.io page cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
