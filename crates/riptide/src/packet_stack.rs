//! One KCP session's packet layers, run in order: sealing goes from the top layer (nearest
//! KCP) down to the socket, opening from the bottom up. Two reusable datagram lists carry the
//! datagrams between layers, so a steady flow allocates nothing.

use crate::layer::{Datagrams, PacketLayer, PacketLayerFactory};
use crate::Error;
use std::time::Instant;

/// The packet layers of one session, bottom (nearest the socket) first.
pub(crate) struct PacketStack {
    layers: Vec<Box<dyn PacketLayer>>,
    /// The datagrams after the last layer run.
    current: Datagrams,
    /// Scratch list the next layer writes into.
    next: Datagrams,
}

impl PacketStack {
    /// A session's own instances of `factories`; `None` when there are none.
    pub(crate) fn new(factories: &[PacketLayerFactory]) -> Option<Box<PacketStack>> {
        if factories.is_empty() {
            return None;
        }
        Some(Box::new(PacketStack {
            layers: factories.iter().map(|make| make()).collect(),
            current: Datagrams::default(),
            next: Datagrams::default(),
        }))
    }

    /// Seals one datagram from KCP through every layer; returns what goes to the socket.
    pub(crate) fn seal(&mut self, now: Instant, datagram: &[u8]) -> &Datagrams {
        self.current.clear();
        self.current.push(datagram);
        self.seal_below(self.layers.len(), now)
    }

    /// Passes `current` down through the layers under `top` (exclusive).
    fn seal_below(&mut self, top: usize, now: Instant) -> &Datagrams {
        let PacketStack {
            layers,
            current,
            next,
        } = self;
        for layer in layers.iter_mut().take(top).rev() {
            next.clear();
            for datagram in current.iter() {
                layer.seal(now, datagram, next);
            }
            std::mem::swap(current, next);
        }
        &self.current
    }

    /// Opens one datagram from the socket through every layer; returns what KCP gets (none
    /// while a layer waits for more, several after a recovery). An error from any layer drops
    /// the datagram.
    pub(crate) fn open(&mut self, now: Instant, datagram: &[u8]) -> Result<&Datagrams, Error> {
        let PacketStack {
            layers,
            current,
            next,
        } = self;
        current.clear();
        current.push(datagram);
        for layer in layers.iter_mut() {
            next.clear();
            for datagram in current.iter() {
                layer.open(now, datagram, next)?;
            }
            std::mem::swap(current, next);
        }
        Ok(&self.current)
    }

    /// The earliest deadline of any layer.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.layers.iter().filter_map(|l| l.poll_timeout()).min()
    }

    /// Runs the layers whose deadline passed; returns the datagrams they produced, sealed by
    /// the layers under each, ready for the socket.
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Datagrams) {
        for index in 0..self.layers.len() {
            let due = self
                .layers
                .get(index)
                .and_then(|l| l.poll_timeout())
                .is_some_and(|at| at <= now);
            if !due {
                continue;
            }
            self.current.clear();
            if let Some(layer) = self.layers.get_mut(index) {
                layer.handle_timeout(now, &mut self.current);
            }
            for datagram in self.seal_below(index, now).iter() {
                out.push(datagram);
            }
        }
    }
}
