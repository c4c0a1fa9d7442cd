//! Errno values and OS differences, in one place: the rest of the engine asks questions
//! ("did the connect start?", "is this a resource limit?") instead of comparing numbers.

use std::io;

/// True for the errors of a non-blocking connect that has started (`EINPROGRESS`; `EAGAIN`
/// from a Unix-socket connect whose backlog is full).
pub(crate) fn is_in_progress(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::EINPROGRESS)
}

/// True for accept errors meaning "out of descriptors or memory", which pausing can outlast.
pub(crate) fn is_resource_limit(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    ) || e.kind() == io::ErrorKind::OutOfMemory
}
