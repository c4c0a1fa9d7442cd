//! A user-space lossy UDP relay over loopback: the socket side of `riptide-relay`.
//!
//! Each client address gets its own upstream socket (so the server sees one peer per client)
//! and two independent [`Link`](riptide_netsim::Link)s, one per direction, driven by a real
//! monotonic clock.

mod args;
mod error;
mod report;
mod server;
mod session;
mod signal;

pub use args::{Args, USAGE};
pub use error::RelayError;
pub use report::listen_json;
pub use server::Relay;
pub use signal::install_stop_handlers;
