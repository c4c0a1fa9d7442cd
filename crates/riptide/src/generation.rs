//! This process's upgrade generation, and the new process's side of handing over a secure
//! `kcp://` listener during an upgrade in place (docs/deploy.md, "Upgrade in place").
//!
//! Every process has a generation, 0 for one started fresh and one more (wrapping at 256)
//! than its parent's for one started by an upgrade. The secure mode puts it in the low byte
//! of every session id it hands out. When a new process gets a secure listener's UDP socket
//! and that socket is in a `SO_REUSEPORT` group, it does not read it: it attaches a program
//! to the group that gives the old generation's transport datagrams to the handed-over socket
//! (index 0) and every other datagram to socket 1, then binds its own socket into the group,
//! which makes it socket 1. Until that bind, index 1 does not exist and the kernel's hash
//! picks among the group's only socket, the old one: no datagram of an old session ever
//! reaches the new process. The old process keeps reading its socket until its sessions are
//! gone, then closes it; the kernel moves the new socket to index 0, ready for the next
//! upgrade.

use std::sync::atomic::{AtomicU8, Ordering};

/// This process's generation.
static GENERATION: AtomicU8 = AtomicU8::new(0);

/// This process's upgrade generation: 0 unless [`set_generation`] said otherwise.
pub fn generation() -> u8 {
    GENERATION.load(Ordering::Relaxed)
}

/// Sets this process's upgrade generation (riptide's upgrade passes the parent's plus one);
/// secure `kcp://` listeners made from now on put it in their session ids. Set it before
/// serving.
pub fn set_generation(generation: u8) {
    GENERATION.store(generation, Ordering::Relaxed);
}

/// The socket a new process serves a secure `kcp://` listener with, given the handed-over
/// one: when `inherited` is in a `SO_REUSEPORT` group and was the old process's only socket
/// on its address (no other one bound there waits in the pool), a socket of this process
/// bound into the group after the routing program is attached (see the module docs), and
/// `inherited` is closed here; otherwise `inherited` itself, read from now on (the old
/// process stops reading it: its sessions end, as for plain KCP). The old process makes the
/// same choice (`Conns::routes_by_generation`) when both run the same configuration.
#[cfg(target_os = "linux")]
pub(crate) fn join_group(
    inherited: mio::net::UdpSocket,
    options: &crate::SocketOptions,
) -> Result<mio::net::UdpSocket, crate::Error> {
    use std::os::fd::AsFd;
    let local = inherited.local_addr()?;
    let sibling = crate::inherit::pending()
        .iter()
        .any(|s| s.kind == crate::inherit::InheritedKind::Udp(local));
    if sibling || !socket2::SockRef::from(&inherited).reuse_port()? {
        return Ok(inherited);
    }
    crate::reuseport::route_generation(inherited.as_fd(), generation().wrapping_sub(1), 0, 1)?;
    let mut own = options.clone();
    own.reuse_port = true;
    let socket = own.bind_udp(local)?;
    drop(inherited);
    Ok(socket)
}

/// Without Linux's reuseport programs the handed-over socket is served as it is.
#[cfg(not(target_os = "linux"))]
pub(crate) fn join_group(
    inherited: mio::net::UdpSocket,
    _options: &crate::SocketOptions,
) -> Result<mio::net::UdpSocket, crate::Error> {
    Ok(inherited)
}
