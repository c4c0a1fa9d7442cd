//! Operating-system differences in one place: errno values and their names. Linux, macOS and
//! the BSDs number errors differently (`EINPROGRESS` is 115 on Linux, 36 on macOS), so every
//! errno comparison goes through the `libc` constants of the target here instead of literals.

use std::io;

/// Errno names Node reports (`uv_err_name`), keyed by this platform's values. Searched in
/// order, so where two names share a value (Linux's `ENOTSUP`/`EOPNOTSUPP`) the first wins,
/// as in libuv.
#[cfg(unix)]
const ERRNO_NAMES: &[(i32, &str)] = &[
    (libc::EPIPE, "EPIPE"),
    (libc::ECONNRESET, "ECONNRESET"),
    (libc::ECONNREFUSED, "ECONNREFUSED"),
    (libc::ECONNABORTED, "ECONNABORTED"),
    (libc::ETIMEDOUT, "ETIMEDOUT"),
    (libc::ENETUNREACH, "ENETUNREACH"),
    (libc::EHOSTUNREACH, "EHOSTUNREACH"),
    (libc::ENETDOWN, "ENETDOWN"),
    (libc::ENETRESET, "ENETRESET"),
    (libc::EHOSTDOWN, "EHOSTDOWN"),
    (libc::EADDRINUSE, "EADDRINUSE"),
    (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
    (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
    (libc::EPFNOSUPPORT, "EPFNOSUPPORT"),
    (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
    (libc::ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT"),
    (libc::EPROTOTYPE, "EPROTOTYPE"),
    (libc::ENOPROTOOPT, "ENOPROTOOPT"),
    (libc::EPROTO, "EPROTO"),
    (libc::ENOTSUP, "ENOTSUP"),
    (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    (libc::ENOTSOCK, "ENOTSOCK"),
    (libc::EDESTADDRREQ, "EDESTADDRREQ"),
    (libc::EMSGSIZE, "EMSGSIZE"),
    (libc::EISCONN, "EISCONN"),
    (libc::ENOTCONN, "ENOTCONN"),
    (libc::ESHUTDOWN, "ESHUTDOWN"),
    (libc::ETOOMANYREFS, "ETOOMANYREFS"),
    (libc::EINPROGRESS, "EINPROGRESS"),
    (libc::EALREADY, "EALREADY"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::EINTR, "EINTR"),
    (libc::ENOBUFS, "ENOBUFS"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EMFILE, "EMFILE"),
    (libc::ENFILE, "ENFILE"),
    (libc::ENOSPC, "ENOSPC"),
    (libc::EDQUOT, "EDQUOT"),
    (libc::EACCES, "EACCES"),
    (libc::EPERM, "EPERM"),
    (libc::EINVAL, "EINVAL"),
    (libc::EFAULT, "EFAULT"),
    (libc::EBADF, "EBADF"),
    (libc::ENOENT, "ENOENT"),
    (libc::EEXIST, "EEXIST"),
    (libc::ENOTDIR, "ENOTDIR"),
    (libc::EISDIR, "EISDIR"),
    (libc::ENOTEMPTY, "ENOTEMPTY"),
    (libc::ENAMETOOLONG, "ENAMETOOLONG"),
    (libc::ELOOP, "ELOOP"),
    (libc::EROFS, "EROFS"),
    (libc::EXDEV, "EXDEV"),
    (libc::ENODEV, "ENODEV"),
    (libc::ENXIO, "ENXIO"),
    (libc::ENOTBLK, "ENOTBLK"),
    (libc::ENOTTY, "ENOTTY"),
    (libc::ETXTBSY, "ETXTBSY"),
    (libc::EFBIG, "EFBIG"),
    (libc::ESPIPE, "ESPIPE"),
    (libc::EMLINK, "EMLINK"),
    (libc::EBUSY, "EBUSY"),
    (libc::EIO, "EIO"),
    (libc::ESRCH, "ESRCH"),
    (libc::ECHILD, "ECHILD"),
    (libc::E2BIG, "E2BIG"),
    (libc::ENOEXEC, "ENOEXEC"),
    (libc::EDOM, "EDOM"),
    (libc::ERANGE, "ERANGE"),
    (libc::EDEADLK, "EDEADLK"),
    (libc::ENOLCK, "ENOLCK"),
    (libc::ENOSYS, "ENOSYS"),
    (libc::ENOMSG, "ENOMSG"),
    (libc::EIDRM, "EIDRM"),
    (libc::ECANCELED, "ECANCELED"),
    (libc::EOVERFLOW, "EOVERFLOW"),
    (libc::EILSEQ, "EILSEQ"),
    (libc::ESTALE, "ESTALE"),
    (libc::EREMOTE, "EREMOTE"),
    (libc::EBADMSG, "EBADMSG"),
    (libc::EMULTIHOP, "EMULTIHOP"),
    (libc::ENOLINK, "ENOLINK"),
    (libc::ENOTRECOVERABLE, "ENOTRECOVERABLE"),
    (libc::EOWNERDEAD, "EOWNERDEAD"),
];

/// The errno name (`EPIPE`, `ENETUNREACH`...) of an OS error number of this platform, as
/// Node names it; `None` for a number the table does not know, and everywhere off Unix
/// (Windows socket errors are not errno values).
pub(crate) fn errno_name(code: i32) -> Option<&'static str> {
    #[cfg(unix)]
    {
        ERRNO_NAMES
            .iter()
            .find(|&&(value, _)| value == code)
            .map(|&(_, name)| name)
    }
    #[cfg(not(unix))]
    {
        let _ = code;
        None
    }
}

/// True where a read shorter than the buffer shows the poller that the socket is drained.
/// epoll and kqueue (edge-triggered) report data arriving later as a new edge whatever the last
/// read returned. mio's Windows backend (AFD polling) re-arms a socket's readiness only after
/// an operation on it returned `WouldBlock` (mio's "draining readiness" rule), so there a
/// reader must read on until it does, or the connection never hears of its next bytes.
pub(crate) const SHORT_READ_DRAINS: bool = cfg!(unix);

/// True for `EISCONN`: the socket is already connected. BSD-derived systems answer it to a
/// `sendto` that names the peer of a connected UDP socket (Linux accepts that `sendto`).
pub(crate) fn is_already_connected(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::EISCONN)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// True for the errors of a non-blocking connect that has started: `EINPROGRESS`, or
/// `EAGAIN` from a Unix-socket connect whose backlog is full (both "would block").
pub(crate) fn is_in_progress(e: &io::Error) -> bool {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::EINPROGRESS) {
        return true;
    }
    e.kind() == io::ErrorKind::WouldBlock
}

/// True for accept errors meaning "out of descriptors or memory", which pausing can outlast.
pub(crate) fn is_resource_limit(e: &io::Error) -> bool {
    #[cfg(unix)]
    if matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    ) {
        return true;
    }
    e.kind() == io::ErrorKind::OutOfMemory
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_platform_values() {
        assert_eq!(errno_name(libc::EPIPE), Some("EPIPE"));
        assert_eq!(errno_name(libc::ENETUNREACH), Some("ENETUNREACH"));
        assert_eq!(errno_name(libc::EHOSTUNREACH), Some("EHOSTUNREACH"));
        assert_eq!(errno_name(libc::EINPROGRESS), Some("EINPROGRESS"));
        assert_eq!(errno_name(libc::EMFILE), Some("EMFILE"));
        assert_eq!(errno_name(libc::EWOULDBLOCK), Some("EAGAIN"));
        assert_eq!(errno_name(0), None);
        assert_eq!(errno_name(-1), None);
        assert_eq!(errno_name(100_000), None);
    }

    #[test]
    fn every_name_is_an_errno_name_and_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for &(value, name) in ERRNO_NAMES {
            assert!(value > 0, "{name}");
            assert!(
                name.starts_with('E')
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
                "{name}"
            );
            assert!(seen.insert(name), "{name} listed twice");
        }
    }

    #[test]
    fn already_connected_is_eisconn_only() {
        assert!(is_already_connected(&io::Error::from_raw_os_error(
            libc::EISCONN
        )));
        assert!(!is_already_connected(&io::Error::from_raw_os_error(
            libc::ENOTCONN
        )));
        assert!(!is_already_connected(&io::ErrorKind::Other.into()));
    }
}
