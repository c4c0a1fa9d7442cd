//! One connection's stream layers, run in order: bytes from the peer go up from the bottom
//! layer (nearest the transport), bytes from the application go down from the top. Bytes a
//! layer produces of its own (a handshake reply) go down through the layers under it only.
//! Scratch buffers are kept between calls, so a steady flow allocates nothing.

use crate::layer::{LayerReport, LayerStatus, StreamLayer, StreamLayerFactory, StreamOut};
use crate::Error;
use std::time::Instant;

/// A layer and where it stands.
struct Entry {
    layer: Box<dyn StreamLayer>,
    status: LayerStatus,
}

/// The stream layers of one connection, bottom first.
pub(crate) struct StreamStack {
    entries: Vec<Entry>,
    /// Scratch buffers for the bytes between two layers, both ways.
    up: [Vec<u8>; 2],
    down: [Vec<u8>; 2],
    /// A layer's own bytes for the peer, before they pass the layers under it.
    own: Vec<u8>,
}

impl StreamStack {
    /// A stack of `layers`, not started yet; `None` when there are none.
    pub(crate) fn new(layers: Vec<Box<dyn StreamLayer>>) -> Option<Box<StreamStack>> {
        if layers.is_empty() {
            return None;
        }
        Some(Box::new(StreamStack {
            entries: layers
                .into_iter()
                .map(|layer| Entry {
                    layer,
                    status: LayerStatus::Pending,
                })
                .collect(),
            up: Default::default(),
            down: Default::default(),
            own: Vec::new(),
        }))
    }

    /// Instances of `factories`, bottom first.
    pub(crate) fn make(factories: &[StreamLayerFactory]) -> Vec<Box<dyn StreamLayer>> {
        factories.iter().map(|make| make()).collect()
    }

    /// True while some layer still negotiates (the connection is not open yet).
    pub(crate) fn pending(&self) -> bool {
        self.entries
            .iter()
            .any(|e| e.status == LayerStatus::Pending)
    }

    /// True once every layer is done and the stack can be dropped.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Starts every layer once the transport is connected; what they say first is appended
    /// to `wire`.
    pub(crate) fn start(&mut self, now: Instant, wire: &mut Vec<u8>) -> Result<(), Error> {
        for index in 0..self.entries.len() {
            let mut own = std::mem::take(&mut self.own);
            own.clear();
            let status = match self.entries.get_mut(index) {
                Some(e) => e.layer.start(now, &mut own)?,
                None => continue,
            };
            self.set_status(index, status);
            let sent = self.send_below(index, now, &own, wire);
            self.own = own;
            sent?;
        }
        self.drop_done();
        Ok(())
    }

    /// Bytes from the peer: appends what reaches the top to `app` and the layers' own replies
    /// to `wire`; facts go to `report`.
    pub(crate) fn read(
        &mut self,
        now: Instant,
        data: &[u8],
        app: &mut Vec<u8>,
        wire: &mut Vec<u8>,
        report: &mut LayerReport,
    ) -> Result<(), Error> {
        let result = self.read_from(0, now, data, app, wire, report);
        self.drop_done();
        result
    }

    /// Feeds `data` to layer `first` and the layers above it.
    fn read_from(
        &mut self,
        first: usize,
        now: Instant,
        data: &[u8],
        app: &mut Vec<u8>,
        wire: &mut Vec<u8>,
        report: &mut LayerReport,
    ) -> Result<(), Error> {
        let [mut current, mut next] = std::mem::take(&mut self.up);
        current.clear();
        current.extend_from_slice(data);
        let mut result = Ok(());
        for index in first..self.entries.len() {
            next.clear();
            let mut own = std::mem::take(&mut self.own);
            own.clear();
            let status = match self.entries.get_mut(index) {
                Some(e) if e.status == LayerStatus::Done => {
                    // Done earlier in this call: bytes pass it by.
                    self.own = own;
                    continue;
                }
                Some(e) => e.layer.read(
                    now,
                    &current,
                    &mut StreamOut {
                        up: &mut next,
                        down: &mut own,
                        report,
                    },
                ),
                None => Ok(LayerStatus::Ready),
            };
            let sent = match status {
                Ok(status) => {
                    self.set_status(index, status);
                    self.send_below(index, now, &own, wire)
                }
                Err(e) => Err(e),
            };
            self.own = own;
            if let Err(e) = sent {
                result = Err(e);
                break;
            }
            std::mem::swap(&mut current, &mut next);
        }
        if result.is_ok() {
            app.extend_from_slice(&current);
        }
        self.up = [current, next];
        result
    }

    /// Bytes from the application: appends what they become at the bottom to `wire`.
    pub(crate) fn write(
        &mut self,
        now: Instant,
        data: &[u8],
        wire: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.send_below(self.entries.len(), now, data, wire)
    }

    /// The application closes: every layer, top first, says its last bytes into `wire`.
    pub(crate) fn close(&mut self, now: Instant, wire: &mut Vec<u8>) {
        for index in (0..self.entries.len()).rev() {
            let mut own = std::mem::take(&mut self.own);
            own.clear();
            if let Some(e) = self.entries.get_mut(index) {
                e.layer.close(now, &mut own);
            }
            // A layer failing on its last bytes changes nothing: the connection is closing.
            let _ = self.send_below(index, now, &own, wire);
            self.own = own;
        }
    }

    /// The earliest deadline of any layer.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.entries
            .iter()
            .filter_map(|e| e.layer.poll_timeout())
            .min()
    }

    /// Runs the layers whose deadline passed: their bytes for the peer go to `wire`, bytes for
    /// the application (through the layers above) to `app`.
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        app: &mut Vec<u8>,
        wire: &mut Vec<u8>,
        report: &mut LayerReport,
    ) -> Result<(), Error> {
        for index in 0..self.entries.len() {
            let due = self
                .entries
                .get(index)
                .and_then(|e| e.layer.poll_timeout())
                .is_some_and(|at| at <= now);
            if !due {
                continue;
            }
            let (mut up, mut own) = (Vec::new(), Vec::new());
            let status = match self.entries.get_mut(index) {
                Some(e) => e.layer.handle_timeout(
                    now,
                    &mut StreamOut {
                        up: &mut up,
                        down: &mut own,
                        report,
                    },
                )?,
                None => continue,
            };
            self.set_status(index, status);
            self.send_below(index, now, &own, wire)?;
            if !up.is_empty() {
                self.read_from(index + 1, now, &up, app, wire, report)?;
            }
        }
        self.drop_done();
        Ok(())
    }

    /// Bytes the layers hold on their way to the peer.
    pub(crate) fn buffered(&self) -> usize {
        self.entries
            .iter()
            .map(|e| e.layer.buffered())
            .fold(0, usize::saturating_add)
    }

    /// Passes `data` down through the layers under `top` (exclusive) and appends the result
    /// to `wire`.
    fn send_below(
        &mut self,
        top: usize,
        now: Instant,
        data: &[u8],
        wire: &mut Vec<u8>,
    ) -> Result<(), Error> {
        if data.is_empty() {
            return Ok(());
        }
        if top == 0 {
            wire.extend_from_slice(data);
            return Ok(());
        }
        let [mut current, mut next] = std::mem::take(&mut self.down);
        current.clear();
        current.extend_from_slice(data);
        let mut result = Ok(());
        for e in self.entries.iter_mut().take(top).rev() {
            if e.status == LayerStatus::Done {
                continue;
            }
            next.clear();
            if let Err(err) = e.layer.write(now, &current, &mut next) {
                result = Err(err);
                break;
            }
            std::mem::swap(&mut current, &mut next);
        }
        if result.is_ok() {
            wire.extend_from_slice(&current);
        }
        self.down = [current, next];
        result
    }

    fn set_status(&mut self, index: usize, status: LayerStatus) {
        if let Some(e) = self.entries.get_mut(index) {
            e.status = status;
        }
    }

    /// Removes the layers that finished.
    fn drop_done(&mut self) {
        self.entries.retain(|e| e.status != LayerStatus::Done);
    }
}
