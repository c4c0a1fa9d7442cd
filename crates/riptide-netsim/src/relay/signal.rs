//! SIGTERM/SIGINT turn into a flag the event loop checks between polls (signal-hook sets it
//! from the handler; `epoll_wait` and `kevent` return `EINTR` on a signal, so the loop notices
//! at once).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

/// Set once a stop signal arrived.
static STOP: LazyLock<Arc<AtomicBool>> = LazyLock::new(Arc::default);

/// Installs handlers for SIGTERM and SIGINT that request a clean stop.
pub fn install_stop_handlers() -> std::io::Result<()> {
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&STOP))?;
    }
    Ok(())
}

/// True once SIGTERM or SIGINT has arrived.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}
