//! Warnings to stderr from the drivers' callbacks, which never panic.
//!
//! Node puts its stderr in non-blocking mode once JS touches `process.stderr` (and ava's
//! workers do), so a write can fail with `EAGAIN` while the reader lags: after a long panic
//! message (`RUST_BACKTRACE=1` writes hundreds of small pieces) the pipe is full. `eprintln!`
//! panics on such a failure; in a driver's panic recovery that second panic escapes to a
//! libuv or Node-API callback, which cannot unwind, and the process aborts. Here a warning
//! that cannot be written is dropped instead.

use std::fmt;
use std::io::Write;

/// Writes `riptide: <message>` and a newline to stderr, dropping it if stderr refuses.
pub fn warn(message: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "riptide: {message}");
}
