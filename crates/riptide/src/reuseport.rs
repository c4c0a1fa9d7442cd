//! Steering a `SO_REUSEPORT` group during a drain: a one-instruction classic BPF program
//! (`SO_ATTACH_REUSEPORT_CBPF`) makes the kernel give every new connection of the group to
//! the socket at one index, so none is queued on a listener about to close (docs/deploy.md,
//! "Drain").
#![allow(unsafe_code)]

use std::io;

/// `SO_ATTACH_REUSEPORT_CBPF` (asm-generic; the `libc` crate names it for Android only).
#[cfg(target_os = "linux")]
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;

/// Attaches to the reuseport group of `listener` a program that returns `index`: every new
/// connection to the group goes to its socket `index`. An index past the group's last socket
/// makes the kernel fall back to its hash. The program belongs to the group, not to
/// `listener`: it stays after `listener` closes, until another is attached.
#[cfg(target_os = "linux")]
pub(crate) fn steer(listener: &mio::net::TcpListener, index: u32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut filter = [libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: index,
    }];
    let program = libc::sock_fprog {
        len: 1,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: `program` points at `filter`, both alive for the call; the kernel copies the
    // program and reads no more than `len` instructions. The size is that of `sock_fprog`.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            std::ptr::from_ref(&program).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reuseport steering needs Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn steer(_listener: &mio::net::TcpListener, _index: u32) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}
