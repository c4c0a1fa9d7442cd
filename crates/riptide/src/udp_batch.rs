//! Batched UDP I/O: many datagrams per system call. On Linux a receive takes up to [`BATCH`]
//! datagrams in one `recvmmsg`, and a KCP session's flush sends what it produced in one
//! `sendmmsg` per [`BATCH`]; elsewhere the same calls move one datagram per system call
//! (`recv_from`, `send_to`), so the reactor has one code path.
//!
//! Written on `libc` rather than taken from `quinn-udp`: that crate sends through GSO only
//! (one destination, equal-sized segments), while a KCP flush is of mixed sizes (full
//! segments, acks, FEC parity), and its socket setup turns on don't-fragment and ECN, which
//! would change what kcp-go peers see. The `unsafe` here is the `recvmmsg`/`sendmmsg` calls
//! and reading the addresses they fill; each block says why it is sound.

use mio::net::UdpSocket;
use std::io;
use std::net::SocketAddr;

/// Bytes that hold any UDP payload (65,507 over IPv4, 65,527 over IPv6 without jumbograms),
/// and the largest datagram a [`crate::DatagramCarrier`] takes.
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// Datagrams one receive batch holds, and the most one `sendmmsg` sends.
pub(crate) const BATCH: usize = 16;

/// One datagram of a [`RecvBatch`]: its slot, length and sender.
#[derive(Clone, Copy)]
struct Received {
    slot: usize,
    len: usize,
    peer: SocketAddr,
}

/// A fixed pool of [`BATCH`] receive buffers of [`MAX_DATAGRAM`] bytes each (any UDP
/// payload fits one: none is cut short), allocated at the first receive and never grown, so a
/// flood costs no more memory than this; pages the kernel never writes stay unmapped.
#[derive(Default)]
pub(crate) struct RecvBatch {
    buf: Vec<u8>,
    got: Vec<Received>,
}

impl RecvBatch {
    /// Receives what waits on `socket`: up to `max` (at most [`BATCH`]) datagrams on Linux,
    /// one elsewhere.
    /// Returns how many it holds (an empty socket is `WouldBlock`); a datagram the kernel
    /// marked truncated is dropped (none can be, with buffers of any UDP size), so a batch may
    /// hold none.
    pub(crate) fn recv(&mut self, socket: &UdpSocket, max: usize) -> io::Result<usize> {
        if self.buf.is_empty() {
            self.buf = vec![0; BATCH * MAX_DATAGRAM];
            self.got = Vec::with_capacity(BATCH);
        }
        self.got.clear();
        let slots = MAX_DATAGRAM * max.clamp(1, BATCH);
        let buf = self.buf.get_mut(..slots).unwrap_or_default();
        #[cfg(target_os = "linux")]
        sys::recv(socket, buf, &mut self.got)?;
        #[cfg(not(target_os = "linux"))]
        {
            let (len, peer) = socket.recv_from(buf)?;
            self.got.push(Received { slot: 0, len, peer });
        }
        Ok(self.got.len())
    }

    /// Bytes of the datagrams of the last receive.
    pub(crate) fn bytes(&self) -> usize {
        self.got.iter().map(|r| r.len).sum()
    }

    /// The datagrams of the last receive, in arrival order, with their senders.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], SocketAddr)> {
        self.got.iter().map(|r| {
            let start = r.slot * MAX_DATAGRAM;
            let data = self.buf.get(start..start + r.len.min(MAX_DATAGRAM));
            (data.unwrap_or_default(), r.peer)
        })
    }
}

/// Sends `datagrams` to `peer` on `socket`, or to its connected peer with `None` (without an
/// address the kernel uses the route it cached at connect), `sendmmsg` by `sendmmsg` on Linux.
/// UDP is lossy: a datagram the kernel refuses (a full buffer, an ICMP error from an earlier
/// send) is dropped and the rest still go, as one `send_to` each would. Returns the
/// datagrams and bytes sent.
pub(crate) fn send<'a>(
    socket: &UdpSocket,
    peer: Option<SocketAddr>,
    datagrams: impl Iterator<Item = &'a [u8]>,
) -> (u64, u64) {
    #[cfg(target_os = "linux")]
    let sent = sys::send(socket, peer, datagrams);
    #[cfg(not(target_os = "linux"))]
    let sent = datagrams.fold((0, 0), |(sent, bytes), datagram| {
        let result = match peer {
            Some(peer) => send_one(socket, datagram, peer),
            None => socket.send(datagram),
        };
        match result {
            Ok(n) => (sent + 1, bytes + n as u64),
            Err(_) => (sent, bytes),
        }
    });
    sent
}

/// Sends one datagram to `peer` on `socket`: a connected one takes it too (Linux takes
/// `sendto` with the connected address; BSDs answer `EISCONN`, then `send`).
pub(crate) fn send_one(socket: &UdpSocket, datagram: &[u8], peer: SocketAddr) -> io::Result<usize> {
    match socket.send_to(datagram, peer) {
        Err(e) if crate::platform::is_already_connected(&e) => socket.send(datagram),
        other => other,
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod sys {
    use super::*;
    use socket2::{SockAddr, SockAddrStorage};
    use std::os::fd::AsRawFd;

    /// One `recvmmsg` into `buf`'s slots of [`MAX_DATAGRAM`] (at most [`BATCH`]).
    pub(super) fn recv(
        socket: &UdpSocket,
        buf: &mut [u8],
        got: &mut Vec<Received>,
    ) -> io::Result<()> {
        let mut names: [SockAddrStorage; BATCH] =
            std::array::from_fn(|_| SockAddrStorage::zeroed());
        let mut iovecs = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; BATCH];
        let mut slots = 0;
        for (iov, slot) in iovecs.iter_mut().zip(buf.chunks_exact_mut(MAX_DATAGRAM)) {
            *iov = libc::iovec {
                iov_base: slot.as_mut_ptr().cast(),
                iov_len: slot.len(),
            };
            slots += 1;
        }
        // SAFETY: an all-zero `mmsghdr` is valid (null name, no iovecs, no control).
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for ((msg, iov), name) in msgs.iter_mut().zip(iovecs.iter_mut()).zip(names.iter_mut()) {
            msg.msg_hdr.msg_name = (name as *mut SockAddrStorage).cast();
            msg.msg_hdr.msg_namelen = name.size_of();
            msg.msg_hdr.msg_iov = iov;
            msg.msg_hdr.msg_iovlen = 1;
        }
        let n = loop {
            // SAFETY: the first `slots` headers each point at one iovec over its own slot of
            // `buf` (writable for `iov_len`) and at their own `sockaddr_storage` (writable for
            // `msg_namelen`); `buf`, `iovecs`, `names` and `msgs` outlive the call. The socket
            // is non-blocking and there is no timeout.
            let n = unsafe {
                libc::recvmmsg(
                    socket.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    slots as libc::c_uint,
                    0,
                    std::ptr::null_mut(),
                )
            };
            match usize::try_from(n) {
                Ok(n) => break n,
                Err(_) => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        };
        for (slot, (msg, name)) in msgs.iter().zip(names).take(n).enumerate() {
            if msg.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                continue;
            }
            // SAFETY: the kernel filled `name` with the sender's address and set
            // `msg_namelen` to its length (at most the storage's size).
            let addr = unsafe { SockAddr::new(name, msg.msg_hdr.msg_namelen) };
            if let Some(peer) = addr.as_socket() {
                got.push(Received {
                    slot,
                    len: msg.msg_len as usize,
                    peer,
                });
            }
        }
        Ok(())
    }

    /// `sendmmsg`s of up to [`BATCH`] datagrams to `peer` (the connected one: `None`).
    pub(super) fn send<'a>(
        socket: &UdpSocket,
        peer: Option<SocketAddr>,
        datagrams: impl Iterator<Item = &'a [u8]>,
    ) -> (u64, u64) {
        let addr = peer.map(SockAddr::from);
        let mut datagrams = datagrams.peekable();
        let (mut sent, mut bytes) = (0u64, 0u64);
        let mut iovecs = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; BATCH];
        while datagrams.peek().is_some() {
            let mut count = 0;
            for (iov, datagram) in iovecs.iter_mut().zip(datagrams.by_ref()) {
                *iov = libc::iovec {
                    iov_base: datagram.as_ptr().cast_mut().cast(),
                    iov_len: datagram.len(),
                };
                count += 1;
            }
            let mut from = 0;
            while from < count {
                let batch = iovecs.get_mut(from..count).unwrap_or_default();
                match send_some(socket, addr.as_ref(), batch) {
                    Ok(n) => {
                        sent += n as u64;
                        bytes += batch.iter().take(n).map(|i| i.iov_len as u64).sum::<u64>();
                        from += n.max(1);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // Dropped, as `send_to` would drop it: KCP resends.
                    Err(_) => from += 1,
                }
            }
        }
        (sent, bytes)
    }

    /// One `sendmmsg` of `iovecs` (one datagram each) to `addr` (the connected peer:
    /// `None`); how many went.
    fn send_some(
        socket: &UdpSocket,
        addr: Option<&SockAddr>,
        iovecs: &mut [libc::iovec],
    ) -> io::Result<usize> {
        // SAFETY: an all-zero `mmsghdr` is valid (null name, no iovecs, no control).
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (msg, iov) in msgs.iter_mut().zip(iovecs.iter_mut()) {
            if let Some(addr) = addr {
                msg.msg_hdr.msg_name = addr.as_ptr().cast_mut().cast();
                msg.msg_hdr.msg_namelen = addr.len();
            }
            msg.msg_hdr.msg_iov = iov;
            msg.msg_hdr.msg_iovlen = 1;
        }
        let count = iovecs.len().min(BATCH);
        // SAFETY: the first `count` headers each point at one iovec over a live datagram
        // (the kernel only reads it) and at `addr` if any (read only, `msg_namelen` bytes);
        // all outlive the call.
        let n = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                count as libc::c_uint,
                0,
            )
        };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, UdpSocket as StdUdp};

    fn bound() -> UdpSocket {
        let socket = StdUdp::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket.set_nonblocking(true).unwrap();
        UdpSocket::from_std(socket)
    }

    /// Datagrams of every size from 0 to the largest UDP payload, each its own bytes.
    fn datagrams() -> Vec<Vec<u8>> {
        let sizes = (0..40).map(|i| i * 37).chain([1350, 1500, 9000, 65_507]);
        sizes
            .enumerate()
            .map(|(i, n)| (0..n).map(|b| (b * 7 + i) as u8).collect())
            .collect()
    }

    /// Receives until the socket is empty: every datagram with its sender, and the most one
    /// receive returned.
    fn drain(batch: &mut RecvBatch, socket: &UdpSocket) -> (Vec<(Vec<u8>, SocketAddr)>, usize) {
        let (mut got, mut most) = (Vec::new(), 0);
        loop {
            match batch.recv(socket, BATCH) {
                Ok(n) => {
                    most = most.max(n);
                    got.extend(batch.iter().map(|(d, peer)| (d.to_vec(), peer)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (got, most),
                Err(e) => panic!("receive failed: {e}"),
            }
        }
    }

    #[test]
    fn sends_and_receives_every_datagram_in_order_within_the_pool() {
        let (from, to) = (bound(), bound());
        let sent = datagrams();
        let (count, bytes) = send(
            &from,
            Some(to.local_addr().unwrap()),
            sent.iter().map(Vec::as_slice),
        );
        assert_eq!(count, sent.len() as u64);
        assert_eq!(bytes, sent.iter().map(Vec::len).sum::<usize>() as u64);
        let mut batch = RecvBatch::default();
        let (got, most) = drain(&mut batch, &to);
        let expected: Vec<_> = sent
            .into_iter()
            .map(|d| (d, from.local_addr().unwrap()))
            .collect();
        assert_eq!(got, expected);
        assert!(most <= BATCH);
        if cfg!(target_os = "linux") {
            assert!(most > 1, "recvmmsg took one datagram at a time");
        }
        // The pool is what it was made with, whatever arrived.
        assert_eq!(batch.buf.len(), BATCH * MAX_DATAGRAM);
    }

    #[test]
    fn sends_to_the_connected_peer_without_an_address() {
        let (from, to) = (bound(), bound());
        from.connect(to.local_addr().unwrap()).unwrap();
        let sent = datagrams();
        let (count, _) = send(&from, None, sent.iter().map(Vec::as_slice));
        assert_eq!(count, sent.len() as u64);
        let mut batch = RecvBatch::default();
        let (got, _) = drain(&mut batch, &to);
        assert_eq!(got.into_iter().map(|(d, _)| d).collect::<Vec<_>>(), sent);
    }

    #[test]
    fn a_receive_takes_no_more_than_asked() {
        let (from, to) = (bound(), bound());
        let sent = datagrams();
        send(
            &from,
            Some(to.local_addr().unwrap()),
            sent.iter().map(Vec::as_slice),
        );
        let mut batch = RecvBatch::default();
        assert_eq!(batch.recv(&to, 1).unwrap(), 1);
        assert_eq!(
            batch.iter().map(|(d, _)| d.to_vec()).collect::<Vec<_>>(),
            [sent[0].clone()]
        );
        let expected = if cfg!(target_os = "linux") { 3 } else { 1 };
        assert_eq!(batch.recv(&to, 3).unwrap(), expected);
        assert_eq!(
            batch.bytes(),
            sent[1..=expected].iter().map(Vec::len).sum::<usize>()
        );
    }

    #[test]
    fn a_datagram_the_kernel_refuses_is_dropped_and_the_rest_go() {
        let (from, to) = (bound(), bound());
        // Over the largest UDP payload: EMSGSIZE for that one alone.
        let sent = [vec![1u8; 10], vec![2u8; 70_000], vec![3u8; 20]];
        let (count, bytes) = send(
            &from,
            Some(to.local_addr().unwrap()),
            sent.iter().map(Vec::as_slice),
        );
        assert_eq!((count, bytes), (2, 30));
        let mut batch = RecvBatch::default();
        let (got, _) = drain(&mut batch, &to);
        assert_eq!(
            got.into_iter().map(|(d, _)| d).collect::<Vec<_>>(),
            [sent[0].clone(), sent[2].clone()]
        );
    }
}
