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
            let (fd, datagram) = match l {
                Listener::Tcp(t) => (t.as_fd().try_clone_to_owned(), false),
                Listener::Unix(u, _) => (u.as_fd().try_clone_to_owned(), false),
                Listener::Datagram(socket, _) => match self.conns.udp_at(*socket) {
                    Some(udp) => (udp.as_fd().try_clone_to_owned(), true),
                    None => continue,
                },
                Listener::Closed => continue,
            };
            out.push(crate::inherit::ExportedListener {
                index,
                local: l.local_addr()?,
                datagram,
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
    pub fn release_listeners(&mut self) {
        for l in &mut self.listeners {
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
