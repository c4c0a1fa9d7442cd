//! One KCP session's packet layers, run in order: sealing goes from the top layer (nearest
//! KCP) down to the socket, opening from the bottom up. Two reusable datagram lists carry the
//! datagrams between layers, so a steady flow allocates nothing.

use crate::layer::{Datagrams, PacketLayer, Payload};
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
    /// A stack of a session's own `layers`, bottom first; `None` when there are none.
    pub(crate) fn new(layers: Vec<Box<dyn PacketLayer>>) -> Option<Box<PacketStack>> {
        if layers.is_empty() {
            return None;
        }
        Some(Box::new(PacketStack {
            layers,
            current: Datagrams::default(),
            next: Datagrams::default(),
        }))
    }

    /// Seals one datagram through every layer; returns what goes to the socket.
    pub(crate) fn seal(&mut self, now: Instant, payload: Payload, datagram: &[u8]) -> &Datagrams {
        self.current.clear();
        self.current.push_as(payload, datagram);
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
            for (payload, datagram) in current.iter() {
                layer.seal(now, payload, datagram, next);
            }
            std::mem::swap(current, next);
        }
        &self.current
    }

    /// Opens one datagram from the socket through every layer; returns what KCP (or the
    /// unreliable channel) gets: none while a layer waits for more, several after a recovery.
    /// An error from any layer drops the datagram.
    pub(crate) fn open(&mut self, now: Instant, datagram: &[u8]) -> Result<&Datagrams, Error> {
        self.current.clear();
        self.current.push(datagram);
        self.open_from(0, now)
    }

    /// Opens what the bottom `first` layers already opened (a gate's work) through the rest.
    pub(crate) fn open_above(
        &mut self,
        first: usize,
        now: Instant,
        opened: &Datagrams,
    ) -> Result<&Datagrams, Error> {
        self.current.clear();
        for (payload, datagram) in opened.iter() {
            self.current.push_as(payload, datagram);
        }
        self.open_from(first, now)
    }

    /// Passes `current` up through the layers from `first`.
    fn open_from(&mut self, first: usize, now: Instant) -> Result<&Datagrams, Error> {
        let PacketStack {
            layers,
            current,
            next,
        } = self;
        for layer in layers.iter_mut().skip(first) {
            next.clear();
            for (payload, datagram) in current.iter() {
                layer.open(now, payload, datagram, next)?;
            }
            std::mem::swap(current, next);
        }
        Ok(&self.current)
    }

    /// Bytes the layers add to a datagram at most.
    pub(crate) fn overhead(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.overhead())
            .fold(0, usize::saturating_add)
    }

    /// Every layer's counters, bottom layer first.
    pub(crate) fn counters(&self) -> Vec<(&'static str, u64)> {
        self.layers.iter().flat_map(|l| l.counters()).collect()
    }

    /// True when some layer can mark unreliable datagrams on the wire.
    pub(crate) fn carries_unreliable(&self) -> bool {
        self.layers.iter().any(|l| l.carries_unreliable())
    }

    /// True when the datagram last opened may move the session to its source address.
    pub(crate) fn may_migrate(&self) -> bool {
        self.layers.iter().any(|l| l.may_migrate())
    }

    /// The earliest deadline of any layer.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.layers.iter().filter_map(|l| l.poll_timeout()).min()
    }

    /// Runs the layers whose deadline passed; returns the datagrams they produced, sealed by
    /// the layers under each, ready for the socket. A layer's error ends the session.
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        out: &mut Datagrams,
    ) -> Result<(), Error> {
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
                layer.handle_timeout(now, &mut self.current)?;
            }
            for (payload, datagram) in self.seal_below(index, now).iter() {
                out.push_as(payload, datagram);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::PacketLayerFactory;
    use proptest::prelude::*;
    use std::sync::Arc;

    /// Splits each datagram in two halves, each with a marker byte (the shape of a layer that
    /// adds datagrams of its own, like parity shards); joins them back on open.
    #[derive(Default)]
    struct Halves {
        first: Option<Vec<u8>>,
    }

    impl PacketLayer for Halves {
        fn overhead(&self) -> usize {
            1
        }
        fn seal(&mut self, _: Instant, _: Payload, datagram: &[u8], out: &mut Datagrams) {
            let (a, b) = datagram.split_at(datagram.len() / 2);
            out.push(&[&[0u8][..], a].concat());
            out.push(&[&[1u8][..], b].concat());
        }
        fn open(
            &mut self,
            _: Instant,
            _: Payload,
            datagram: &[u8],
            out: &mut Datagrams,
        ) -> Result<(), Error> {
            match datagram.split_first() {
                Some((0, a)) => self.first = Some(a.to_vec()),
                Some((1, b)) => {
                    let a = self.first.take().ok_or(Error::ConnClosed)?;
                    out.push(&[a.as_slice(), b].concat());
                }
                _ => return Err(Error::ConnClosed),
            }
            Ok(())
        }
    }

    /// Adds one to every byte (no state).
    struct Shift;

    impl PacketLayer for Shift {
        fn overhead(&self) -> usize {
            0
        }
        fn seal(&mut self, _: Instant, payload: Payload, datagram: &[u8], out: &mut Datagrams) {
            let shifted: Vec<u8> = datagram.iter().map(|b| b.wrapping_add(1)).collect();
            out.push_as(payload, &shifted);
        }
        fn open(
            &mut self,
            _: Instant,
            payload: Payload,
            datagram: &[u8],
            out: &mut Datagrams,
        ) -> Result<(), Error> {
            let shifted: Vec<u8> = datagram.iter().map(|b| b.wrapping_sub(1)).collect();
            out.push_as(payload, &shifted);
            Ok(())
        }
    }

    fn stack() -> Box<PacketStack> {
        let factories: Vec<PacketLayerFactory> = vec![
            Arc::new(|| Box::new(Halves::default()) as Box<dyn PacketLayer>),
            Arc::new(|| Box::new(Shift) as Box<dyn PacketLayer>),
        ];
        PacketStack::new(factories.iter().map(|make| make()).collect()).expect("layers")
    }

    proptest! {
        /// Every datagram sealed by one stack opens to itself in another, one for one,
        /// with the bottom layer's extra datagrams absorbed on the way up.
        #[test]
        fn open_undoes_seal(datagrams in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..1500), 0..20)) {
            let now = Instant::now();
            let (mut tx, mut rx) = (stack(), stack());
            let mut received = Vec::new();
            for d in &datagrams {
                let wire: Vec<Vec<u8>> =
                    tx.seal(now, Payload::Kcp, d).iter().map(|(_, w)| w.to_vec()).collect();
                prop_assert_eq!(wire.len(), 2);
                for w in wire {
                    received.extend(rx.open(now, &w).unwrap().iter().map(|(_, o)| o.to_vec()));
                }
            }
            prop_assert_eq!(received, datagrams);
        }

        /// Garbage never panics the stack: it opens to something or is refused.
        #[test]
        fn garbage_is_refused_or_opened(junk in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = stack().open(Instant::now(), &junk);
        }
    }
}
