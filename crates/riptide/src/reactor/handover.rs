//! Handing the listening sockets to another process (an upgrade in place, docs/deploy.md):
//! duplicates to pass on, and letting go of them once the new process serves them.

use super::Reactor;
use crate::stream::Listener;

impl Reactor {
    /// Duplicates of this reactor's listening sockets (TCP, Unix and UDP; not carriers, nor
    /// listeners a stop or [`Reactor::release_listeners`] closed), to hand to a new process
    /// ([`crate::inherit`]). The listeners keep serving. Fails when a descriptor cannot be
    /// duplicated (`EMFILE`...): a new process must get every socket or none.
    #[cfg(unix)]
    pub fn export_listeners(&self) -> std::io::Result<Vec<crate::inherit::ExportedListener>> {
        use std::os::fd::AsFd;
        let mut out = Vec::new();
        for (index, l) in self.listeners.iter().enumerate() {
            let (fd, datagram, routed) = match l {
                Listener::Tcp(t) => (t.as_fd().try_clone_to_owned(), false, false),
                Listener::Unix(u, _) => (u.as_fd().try_clone_to_owned(), false, false),
                Listener::Datagram(socket, _) => match self.conns.udp_at(*socket) {
                    Some(udp) => (udp.as_fd().try_clone_to_owned(), true, self.routed(*socket)),
                    None => continue,
                },
                Listener::Closed => continue,
            };
            out.push(crate::inherit::ExportedListener {
                index,
                local: l.local_addr()?,
                datagram,
                routed,
                fd: fd?,
            });
        }
        Ok(out)
    }

    /// Stops serving the listeners without ending what they serve: stream listeners stop
    /// accepting and their descriptors close (a Unix socket's file stays, as another process
    /// listens on it now), and UDP sockets stop being read (their sessions can still send, and
    /// get nothing more). After an upgrade in place the new process, which shares the
    /// sockets, serves them alone. Connections stay open.
    ///
    /// Except a secure `kcp://` listener's socket in a `SO_REUSEPORT` group: the new process
    /// joined the group with a socket of its own and routes this process's sessions here
    /// ([`crate::upgrade_generation`]), so the socket is read until its last session is gone,
    /// then closed.
    pub fn release_listeners(&mut self) {
        for l in &mut self.listeners {
            #[cfg(target_os = "linux")]
            if let Listener::Datagram(socket, _) = *l {
                if self.conns.routes_by_generation(socket) {
                    self.conns.retire(socket);
                    continue;
                }
            }
            let _ = self.poll.registry().deregister(l);
            #[cfg(unix)]
            if let Listener::Unix(_, path) = l {
                // The file belongs to the new owner of the socket: dropping must not remove it.
                *path = std::path::PathBuf::new();
            }
            *l = Listener::Closed;
        }
    }
}

impl Reactor {
    /// Whether listener socket `socket` is handed over by generation (Linux only).
    #[cfg(unix)]
    fn routed(&self, socket: usize) -> bool {
        #[cfg(target_os = "linux")]
        return self.conns.routes_by_generation(socket);
        #[cfg(not(target_os = "linux"))]
        {
            let _ = socket;
            false
        }
    }

    /// Closes the retiring listeners ([`Reactor::release_listeners`]) whose last session is
    /// gone.
    pub(super) fn close_emptied_retiring(&mut self) {
        for socket in self.conns.close_emptied_retiring() {
            for l in &mut self.listeners {
                if matches!(*l, Listener::Datagram(s, _) if s == socket) {
                    *l = Listener::Closed;
                }
            }
        }
    }
}
