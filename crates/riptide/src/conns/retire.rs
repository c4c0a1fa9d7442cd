//! Listener sockets retiring after an upgrade in place: a secure `kcp://` listener's socket
//! keeps serving the sessions it holds (a reuseport program sends it their datagrams and
//! nothing else), and closes once the last one is gone, leaving its reuseport group.

use super::Conns;
use crate::carried::DatagramSocket;

impl Conns {
    /// True when listener socket `socket` has a gate whose session ids carry the upgrade
    /// generation ([`crate::PacketGate::routes_by_generation`]) and the socket is in a
    /// `SO_REUSEPORT` group the new process can join, this process's only socket there (one
    /// reactor: the routing program sends a generation to one socket).
    #[cfg(target_os = "linux")]
    pub(crate) fn routes_by_generation(&self, socket: usize) -> bool {
        if self.options.reuse_port_listeners != 1 {
            return false;
        }
        let gated = self
            .gates
            .get(&socket)
            .is_some_and(|g| g.routes_by_generation());
        gated
            && self
                .udp_at(socket)
                .is_some_and(|udp| socket2::SockRef::from(udp).reuse_port().unwrap_or(false))
    }

    /// Marks listener socket `socket` as retiring: it closes once it holds no session.
    #[cfg(target_os = "linux")]
    pub(crate) fn retire(&mut self, socket: usize) {
        if !self.retiring.contains(&socket) {
            self.retiring.push(socket);
        }
    }

    /// Closes the retiring sockets that hold no session any more (they leave their reuseport
    /// group); returns their indices.
    pub(crate) fn close_emptied_retiring(&mut self) -> Vec<usize> {
        if self.retiring.is_empty() {
            return Vec::new();
        }
        let (empty, busy): (Vec<usize>, Vec<usize>) = self
            .retiring
            .iter()
            .partition(|&&s| self.kcp_table.sessions_on(s) == 0);
        self.retiring = busy;
        for &socket in &empty {
            self.gates.remove(&socket);
            if let Some(slot) = self.sockets.get_mut(socket) {
                if let DatagramSocket::Udp(udp) = slot {
                    let _ = self.registry.deregister(udp);
                }
                *slot = DatagramSocket::Gone;
            }
        }
        empty
    }
}
