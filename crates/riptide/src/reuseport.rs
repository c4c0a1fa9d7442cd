//! Classic BPF programs for a `SO_REUSEPORT` group (`SO_ATTACH_REUSEPORT_CBPF`): the kernel
//! runs the group's program for each new TCP connection or UDP datagram and gives it to the
//! socket at the index the program returns (an index past the group's last socket falls back
//! to the kernel's hash). Sockets are indexed in the order they joined the group; when one
//! leaves, the last one takes its place. The program belongs to the group, not to the socket
//! it was attached through: it stays after that socket closes, until another is attached.
//!
//! - [`steer`], during a drain: every new connection to one socket, so none is queued on a
//!   listener about to close (docs/deploy.md, "Drain").
//! - [`route_generation`], during an upgrade in place of a secure `kcp://` listener: a
//!   transport datagram whose session id carries the old generation goes to the old process's
//!   socket, every other datagram to the new one (docs/deploy.md, "Upgrade in place").
#![allow(unsafe_code)]

use std::io;

/// `SO_ATTACH_REUSEPORT_CBPF` (asm-generic; the `libc` crate names it for Android only).
#[cfg(target_os = "linux")]
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;

/// One classic BPF instruction.
#[cfg(target_os = "linux")]
fn op(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        // Every BPF_* constant fits the 16-bit code field.
        code: u16::try_from(code).unwrap_or(u16::MAX),
        jt,
        jf,
        k,
    }
}

/// Attaches `filter` to the reuseport group of `socket` (the last attach wins).
#[cfg(target_os = "linux")]
fn attach(socket: std::os::fd::BorrowedFd<'_>, filter: &mut [libc::sock_filter]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len =
        u16::try_from(filter.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let program = libc::sock_fprog {
        len,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: `program` points at `filter`, both alive for the call; the kernel copies the
    // program and reads no more than `len` instructions. The size is that of `sock_fprog`.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
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

/// Attaches to the reuseport group of `listener` a program that returns `index`: every new
/// connection to the group goes to its socket `index`.
#[cfg(target_os = "linux")]
pub(crate) fn steer(listener: &mio::net::TcpListener, index: u32) -> io::Result<()> {
    use std::os::fd::AsFd;
    attach(
        listener.as_fd(),
        &mut [op(libc::BPF_RET | libc::BPF_K, index, 0, 0)],
    )
}

/// Reuseport steering needs Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn steer(_listener: &mio::net::TcpListener, _index: u32) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The program of [`route_generation`]. Offsets are into the UDP payload (the kernel pulls
/// the UDP header first); the length is checked before any load, as a load past the end
/// would end the program with 0 (socket 0).
#[cfg(target_os = "linux")]
fn generation_program(
    old_generation: u8,
    old_index: u32,
    new_index: u32,
) -> [libc::sock_filter; 9] {
    use libc::{
        BPF_ABS, BPF_B, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_K, BPF_LD, BPF_LEN, BPF_RET, BPF_W,
    };
    use riptide_secure::{PacketType, GENERATION_OFFSET, OVERHEAD};
    let first = PacketType::Data as u32;
    let last = PacketType::Keepalive as u32;
    // `u32::try_from` cannot fail for these small constants; the fallback is never used.
    let offset = u32::try_from(GENERATION_OFFSET).unwrap_or(u32::MAX);
    let shortest = u32::try_from(OVERHEAD).unwrap_or(u32::MAX);
    // Jump offsets count from the next instruction: `to_new` from instruction i is 7 - i.
    [
        /* 0 */ op(BPF_LD | BPF_W | BPF_LEN, 0, 0, 0),
        /* 1 */ op(BPF_JMP | BPF_JGE | BPF_K, shortest, 0, 6),
        /* 2 */ op(BPF_LD | BPF_B | BPF_ABS, 0, 0, 0),
        /* 3 */ op(BPF_JMP | BPF_JGE | BPF_K, first, 0, 4),
        /* 4 */ op(BPF_JMP | BPF_JGT | BPF_K, last, 3, 0),
        /* 5 */ op(BPF_LD | BPF_B | BPF_ABS, offset, 0, 0),
        /* 6 */ op(BPF_JMP | BPF_JEQ | BPF_K, u32::from(old_generation), 0, 1),
        /* 7 */ op(BPF_RET | BPF_K, old_index, 0, 0),
        /* 8 */ op(BPF_RET | BPF_K, new_index, 0, 0),
    ]
}

/// Attaches to the reuseport group of UDP socket `socket` a program for secure-mode KCP
/// (`riptide_secure`'s wire format): a transport packet (data, unreliable, keepalive; at
/// least a header and a tag long) whose session id's generation byte is `old_generation`
/// goes to socket `old_index`; everything else (handshakes, other generations, short or
/// foreign datagrams) to socket `new_index`.
#[cfg(target_os = "linux")]
pub(crate) fn route_generation(
    socket: std::os::fd::BorrowedFd<'_>,
    old_generation: u8,
    old_index: u32,
    new_index: u32,
) -> io::Result<()> {
    attach(
        socket,
        &mut generation_program(old_generation, old_index, new_index),
    )
}
