//! Application carriers under KCP ([`crate::DatagramCarrier`]) in the table: added as datagram
//! sockets, the route of what each received (its listener's sessions, or its dial), what
//! their sessions sent (taken by the reactor for the handler), and a dial's carrier freed
//! when its connection goes.

use super::Conns;
use crate::carried::{Carried, DatagramSocket, Outbox, Role};
use crate::carrier::{DatagramCarrier, Inbound};
use crate::slab::ConnId;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Where a datagram a carrier received goes.
pub(crate) enum CarriedRoute {
    /// To the `kcp://` listener with this index, from this address.
    Listener(usize, SocketAddr),
    /// To this dialed session.
    Dial(ConnId),
    /// Nowhere (counted as dropped): a dial's carrier heard another peer, or the carrier is
    /// gone.
    Drop,
}

impl Conns {
    /// The index the next carrier added gets: the first freed slot, else a new one.
    pub(crate) fn vacant_socket(&self) -> usize {
        self.sockets
            .iter()
            .position(|s| matches!(s, DatagramSocket::Gone))
            .unwrap_or(self.sockets.len())
    }

    /// Adds an attached carrier at [`Conns::vacant_socket`]; returns that index.
    pub(crate) fn add_carried(&mut self, carried: Carried) -> usize {
        let socket = self.vacant_socket();
        let listener = match carried.role {
            Role::Listener { index, .. } => u16::try_from(index).ok(),
            Role::Dial { .. } => None,
        };
        let entry = DatagramSocket::Carried(Box::new(carried));
        match self.sockets.get_mut(socket) {
            Some(slot) => *slot = entry,
            None => self.sockets.push(entry),
        }
        self.set_socket_listener(socket, listener);
        self.carried.push(socket);
        socket
    }

    /// Notes the connection carried dial `socket` made.
    pub(crate) fn set_carried_dial(&mut self, socket: usize, id: ConnId) {
        if let Some(Role::Dial { conn, .. }) = self
            .sockets
            .get_mut(socket)
            .and_then(DatagramSocket::carried_mut)
            .map(|c| &mut c.role)
        {
            *conn = Some(id);
        }
    }

    /// Frees carrier `socket` (its carrier may serve another listener or dial); `dial_only`
    /// leaves a listener's carrier in place.
    pub(crate) fn release_carried(&mut self, socket: usize, dial_only: bool) {
        let Some(slot) = self.sockets.get_mut(socket) else {
            return;
        };
        let release = match slot.carried() {
            Some(c) => !dial_only || matches!(c.role, Role::Dial { .. }),
            None => false,
        };
        if release {
            *slot = DatagramSocket::Gone;
            self.carried.retain(|&s| s != socket);
        }
    }

    /// Frees every carrier (the reactor shuts down).
    pub(crate) fn release_all_carried(&mut self) {
        for socket in std::mem::take(&mut self.carried) {
            if let Some(slot) = self.sockets.get_mut(socket) {
                *slot = DatagramSocket::Gone;
            }
        }
    }

    /// Moves what carrier `socket` received into `into` (empty).
    pub(crate) fn take_carried_input(&self, socket: usize, into: &mut VecDeque<Inbound>) {
        if let Some(c) = self.sockets.get(socket).and_then(DatagramSocket::carried) {
            c.carrier.take_inbound(into);
        }
    }

    /// Where a datagram from the peer named `name` on carrier `socket` goes (a listener's
    /// carrier maps a new name to an address here).
    pub(crate) fn carried_route(&mut self, socket: usize, name: &str) -> CarriedRoute {
        let Some(c) = self
            .sockets
            .get_mut(socket)
            .and_then(DatagramSocket::carried_mut)
        else {
            return CarriedRoute::Drop;
        };
        let route = match (c.heard(name), &c.role) {
            (Some(addr), Role::Listener { index, .. }) => CarriedRoute::Listener(*index, addr),
            (Some(_), Role::Dial { conn: Some(id), .. }) => CarriedRoute::Dial(*id),
            _ => CarriedRoute::Drop,
        };
        if matches!(route, CarriedRoute::Drop) {
            c.carrier.count_dropped(1);
        }
        route
    }

    /// True when a carrier's sessions sent datagrams not yet handed to the handler.
    pub(crate) fn carried_output_pending(&self) -> bool {
        self.carried.iter().any(|&s| {
            self.sockets
                .get(s)
                .and_then(DatagramSocket::carried)
                .is_some_and(Carried::has_output)
        })
    }

    /// Moves what the sessions of one carrier sent into `into` (empty) and returns that
    /// carrier; `None` when no carrier has output.
    pub(crate) fn take_carried_output(&self, into: &mut Outbox) -> Option<DatagramCarrier> {
        self.carried.iter().find_map(|&s| {
            let c = self.sockets.get(s)?.carried()?;
            c.has_output().then(|| {
                c.take_output(into);
                c.carrier.clone()
            })
        })
    }
}
