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

mod address;
mod admission;
mod balance;
mod carrier;
mod conns;
mod engine;
mod error;
mod flow;
mod handler;
mod kcp_session;
mod outbound;
mod platform;
mod reactor;
mod remote;
mod slab;
mod socket;
mod stream;
mod timer_wheel;

pub use address::Address;
pub use admission::Admission;
pub use balance::LoadBalancing;
pub use carrier::Carrier;
pub use conns::Conns;
pub use engine::{Engine, EngineConfig, StopHandle};
pub use error::{io_code, Error};
pub use flow::{FlowConfig, IdleKind, IdleTimeouts};
pub use handler::EventHandler;
pub use kcp_session::KcpOptions;
/// Wakes a reactor's poll from any thread (re-exported from mio).
pub use mio::Waker;
/// The framing codecs (re-exported crate `riptide-codec`).
pub use riptide_codec as codec;
/// The sans-IO KCP protocol (re-exported crate `riptide-kcp`).
pub use riptide_kcp as kcp;

/// A codec factory shared by a listener's connections (each gets its own codec from it).
pub type SharedCodec = std::sync::Arc<dyn riptide_codec::CodecFactory>;

/// What a listener does to each connection it accepts before handing it to the handler.
#[derive(Clone, Debug, Default)]
pub struct ListenOptions {
    /// Framing of the connections (`None`: raw bytes).
    pub codec: Option<SharedCodec>,
    /// Expect a PROXY protocol header first (from a load balancer): `on_open` waits for it
    /// and the peer address becomes the original client's; a missing or bad header closes
    /// the connection with `ERR_PROXY_PROTOCOL`.
    pub proxy: Option<riptide_codec::ProxyMode>,
    /// How long the PROXY header may take (then `ETIMEDOUT`).
    pub proxy_timeout: std::time::Duration,
    /// KCP parameters of a `kcp://` listener (`None`: [`KcpOptions::default`]); ignored by
    /// other transports.
    pub kcp: Option<KcpOptions>,
}
pub use reactor::{DrainStatus, Reactor, ReactorConfig, ReactorStats, TurnOutcome, MAX_DATAGRAM};
pub use remote::{Command, Completion, Remote, Task};
pub use slab::{ConnId, MAX_SLOTS};
pub use socket::{KeepAlive, SocketOptions};
pub use stream::{PeerAddr, StdStream, Stream};
pub use timer_wheel::TimerWheel;
