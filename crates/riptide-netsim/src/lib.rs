//! Sans-IO model of one lossy network path direction, for deterministic transport tests.
//!
//! A [`Link`] takes datagrams and a caller-supplied clock in milliseconds, and hands them back
//! later, dropped, duplicated, delayed, jittered, rate-limited and bounded the way a
//! [`LinkConfig`] says. It never reads a clock or opens a socket, so a KCP or codec test can
//! drive two `Link`s (one per direction) through virtual time and get the same result for the
//! same seed on every run.
//!
//! The `riptide-relay` binary in this crate wraps two `Link`s per client around real loopback
//! UDP sockets for end-to-end tests against other processes.
//!
//! ```
//! use riptide_netsim::{Link, LinkConfig};
//!
//! let config = LinkConfig { delay_min_ms: 10, delay_max_ms: 20, ..LinkConfig::default() };
//! let mut link = Link::new(config, 7);
//! link.send(0, b"hello");
//! let due = link.next_delivery().unwrap();
//! assert!((10..=20).contains(&due));
//! assert_eq!(link.poll(due - 1), None);
//! assert_eq!(link.poll(due).as_deref(), Some(&b"hello"[..]));
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod link;
mod rng;
mod stats;

pub use config::LinkConfig;
pub use link::Link;
pub use stats::LinkStats;

// The README's example runs as a doctest, so the crates.io page cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
