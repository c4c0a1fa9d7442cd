//! Test helpers the riptide crates share, as a dev-dependency only (never published): one copy
//! of each instead of one per crate.

#![forbid(unsafe_code)]

mod go_peer;
mod pattern;
mod regressions;

pub use go_peer::{go_build, run_go_peer};
pub use pattern::pattern;
pub use regressions::{replay_regressions, Harness};
