//! One connection's stream layers, run in order: bytes from the peer go up from the bottom
//! layer (nearest the transport), bytes from the application go down from the top. Bytes a
//! layer produces of its own (a handshake reply) go down through the layers under it only.
//! Scratch buffers are kept between calls, so a steady flow allocates nothing.

use crate::layer::{
    LayerReport, LayerStatus, SharedWrite, StreamLayer, StreamLayerFactory, StreamOut,
};
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
    /// The earliest layer deadline on the timing wheel, if one is armed.
    armed: Option<Instant>,
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
            armed: None,
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
                Err(e) => {
                    // A failing layer's last words (a TLS alert) still go to the peer.
                    let _ = self.send_below(index, now, &own, wire);
                    Err(e)
                }
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

    /// The shared encoding the top layer asks publications in ([`StreamLayer::shared_variant`]).
    pub(crate) fn shared_variant(&mut self) -> Option<u32> {
        self.entries.last_mut()?.layer.shared_variant()
    }

    /// A record shared with other connections (a publication): the top layer may pass it on
    /// as it is ([`StreamLayer::write_shared`]). Returns `Some(at)` when `record[at..]` goes
    /// to the transport unchanged (no layer is under the one that passed it), so the caller
    /// can queue the shared buffer itself; otherwise what it became is appended to `wire`.
    pub(crate) fn write_shared(
        &mut self,
        now: Instant,
        record: &[u8],
        wire: &mut Vec<u8>,
    ) -> Result<Option<usize>, Error> {
        let top = self.entries.len();
        let shared = match self.entries.last_mut() {
            Some(e) if e.status == LayerStatus::Ready => e.layer.write_shared(now, record),
            _ => SharedWrite::Write,
        };
        match shared {
            SharedWrite::Pass(at) if top == 1 => Ok(Some(at)),
            SharedWrite::Pass(at) => {
                let rest = record.get(at..).unwrap_or_default();
                self.send_below(top.saturating_sub(1), now, rest, wire)
                    .map(|()| None)
            }
            SharedWrite::Skip => Ok(None),
            SharedWrite::Write => self.write(now, record, wire).map(|()| None),
        }
    }

    /// A control message for the top layer ([`StreamLayer::control`]): what it answers goes
    /// down through the layers under it into `wire`.
    pub(crate) fn control(
        &mut self,
        now: Instant,
        message: &[u8],
        wire: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let top = self.entries.len().saturating_sub(1);
        let mut own = std::mem::take(&mut self.own);
        own.clear();
        let result = match self.entries.last_mut() {
            Some(e) => e.layer.control(now, message, &mut own),
            None => Ok(()),
        };
        let sent = result.and_then(|()| self.send_below(top, now, &own, wire));
        self.own = own;
        sent
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

    /// The first layer's [`crate::StreamLayer::outcome`], top first (the layer nearest the
    /// application ended the protocol).
    pub(crate) fn outcome(&mut self) -> Option<Error> {
        self.entries
            .iter_mut()
            .rev()
            .find_map(|e| e.layer.outcome())
    }

    /// The earliest layer deadline, when it is earlier than the one already armed (so the
    /// caller puts it on the timing wheel once, not on every pass).
    pub(crate) fn arm(&mut self) -> Option<Instant> {
        let at = self.poll_timeout()?;
        if self.armed.is_some_and(|armed| armed <= at) {
            return None;
        }
        self.armed = Some(at);
        Some(at)
    }

    /// A deadline fired at `now`: forgets what was armed, so the next one is armed again.
    pub(crate) fn fired(&mut self, now: Instant) {
        if self.armed.is_some_and(|armed| armed <= now) {
            self.armed = None;
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

    /// Takes the bottom layer out when it is passing bytes (a TLS layer handing its records
    /// to the kernel, which then sits below every other layer).
    #[cfg(target_os = "linux")]
    pub(crate) fn take_bottom(&mut self) -> Option<Box<dyn StreamLayer>> {
        if self.entries.first()?.status != LayerStatus::Ready {
            return None;
        }
        Some(self.entries.remove(0).layer)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// XORs both ways with a key.
    struct Xor(u8);

    impl StreamLayer for Xor {
        fn read(
            &mut self,
            _: Instant,
            data: &[u8],
            out: &mut StreamOut<'_>,
        ) -> Result<LayerStatus, Error> {
            out.up.extend(data.iter().map(|b| b ^ self.0));
            Ok(LayerStatus::Ready)
        }
        fn write(&mut self, _: Instant, data: &[u8], down: &mut Vec<u8>) -> Result<(), Error> {
            down.extend(data.iter().map(|b| b ^ self.0));
            Ok(())
        }
        /// Sends a control message to the peer reversed, then scrambled as any write.
        fn control(
            &mut self,
            now: Instant,
            message: &[u8],
            down: &mut Vec<u8>,
        ) -> Result<(), Error> {
            let reversed: Vec<u8> = message.iter().rev().copied().collect();
            self.write(now, &reversed, down)
        }
    }

    /// Strips a header of `left` bytes, then removes itself (the shape of PROXY); says
    /// `HI` first.
    struct Header {
        left: usize,
    }

    impl StreamLayer for Header {
        fn start(&mut self, _: Instant, down: &mut Vec<u8>) -> Result<LayerStatus, Error> {
            down.extend_from_slice(b"HI");
            Ok(if self.left == 0 {
                LayerStatus::Done
            } else {
                LayerStatus::Pending
            })
        }
        fn read(
            &mut self,
            _: Instant,
            data: &[u8],
            out: &mut StreamOut<'_>,
        ) -> Result<LayerStatus, Error> {
            let skip = self.left.min(data.len());
            self.left -= skip;
            out.up.extend_from_slice(&data[skip..]);
            Ok(if self.left == 0 {
                LayerStatus::Done
            } else {
                LayerStatus::Pending
            })
        }
        fn write(&mut self, _: Instant, data: &[u8], down: &mut Vec<u8>) -> Result<(), Error> {
            down.extend_from_slice(data);
            Ok(())
        }
    }

    /// Answers anything with `NO` and fails (the shape of a TLS alert before a close).
    struct Refuse;

    impl StreamLayer for Refuse {
        fn read(
            &mut self,
            _: Instant,
            _: &[u8],
            out: &mut StreamOut<'_>,
        ) -> Result<LayerStatus, Error> {
            out.down.extend_from_slice(b"NO");
            Err(Error::Tls("refused".into()))
        }
        fn write(&mut self, _: Instant, data: &[u8], down: &mut Vec<u8>) -> Result<(), Error> {
            down.extend_from_slice(data);
            Ok(())
        }
    }

    #[test]
    fn a_failing_layer_still_sends_its_last_words() {
        let now = Instant::now();
        let mut s = stack(vec![Box::new(Xor(7)), Box::new(Refuse)]);
        s.start(now, &mut Vec::new()).unwrap();
        let (mut app, mut wire) = (Vec::new(), Vec::new());
        let err = s
            .read(now, b"hi", &mut app, &mut wire, &mut LayerReport::default())
            .unwrap_err();
        assert_eq!(err.code(), "ERR_TLS_HANDSHAKE");
        assert_eq!(wire, [b'N' ^ 7, b'O' ^ 7]);
        assert!(app.is_empty());
    }

    #[test]
    fn a_control_message_goes_to_the_top_layer_and_its_answer_through_those_below() {
        let now = Instant::now();
        let mut s = stack(vec![Box::new(Xor(7)), Box::new(Xor(1))]);
        s.start(now, &mut Vec::new()).unwrap();
        let mut wire = Vec::new();
        s.control(now, b"ab", &mut wire).unwrap();
        assert_eq!(wire, [b'b' ^ 1 ^ 7, b'a' ^ 1 ^ 7]);
        // A top layer that takes none refuses it, and nothing goes out.
        let mut s = stack(vec![Box::new(Xor(7)), Box::new(Refuse)]);
        let mut wire = Vec::new();
        assert_eq!(
            s.control(now, b"ab", &mut wire).unwrap_err().code(),
            "ERR_INVALID_ARG_VALUE"
        );
        assert!(wire.is_empty());
    }

    fn stack(layers: Vec<Box<dyn StreamLayer>>) -> Box<StreamStack> {
        StreamStack::new(layers).expect("layers")
    }

    /// `data` cut at `cuts` (positions, any order, clamped).
    fn chunks(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        at.push(0);
        at.push(data.len());
        at.sort_unstable();
        at.windows(2).map(|w| data[w[0]..w[1]].to_vec()).collect()
    }

    proptest! {
        /// What one stack writes, another with the same layers reads back unchanged,
        /// however the bytes are cut on the way.
        #[test]
        fn write_then_read_is_identity(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
            k1 in any::<u8>(),
            k2 in any::<u8>(),
        ) {
            let now = Instant::now();
            let mut sender = stack(vec![Box::new(Xor(k1)), Box::new(Xor(k2))]);
            let mut receiver = stack(vec![Box::new(Xor(k1)), Box::new(Xor(k2))]);
            let mut wire = Vec::new();
            sender.start(now, &mut wire).unwrap();
            receiver.start(now, &mut Vec::new()).unwrap();
            prop_assert!(!sender.pending());
            for chunk in chunks(&data, &cuts) {
                sender.write(now, &chunk, &mut wire).unwrap();
            }
            let expected: Vec<u8> = data.iter().map(|b| b ^ k1 ^ k2).collect();
            prop_assert_eq!(&wire, &expected);
            let (mut app, mut replies) = (Vec::new(), Vec::new());
            for chunk in chunks(&wire, &cuts) {
                receiver
                    .read(now, &chunk, &mut app, &mut replies, &mut LayerReport::default())
                    .unwrap();
            }
            prop_assert_eq!(app, data);
            prop_assert!(replies.is_empty());
        }

        /// A layer that strips a header and removes itself passes everything after the
        /// header on, whatever the cuts; its first words go through the layer under it.
        #[test]
        fn a_finished_layer_leaves_and_bytes_pass(
            data in proptest::collection::vec(any::<u8>(), 0..500),
            header in 0usize..40,
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
            key in any::<u8>(),
        ) {
            let now = Instant::now();
            let mut s = stack(vec![Box::new(Xor(key)), Box::new(Header { left: header })]);
            let mut wire = Vec::new();
            s.start(now, &mut wire).unwrap();
            prop_assert_eq!(wire, vec![b'H' ^ key, b'I' ^ key]);
            prop_assert_eq!(s.pending(), header > 0);
            let sent: Vec<u8> = data.iter().map(|b| b ^ key).collect();
            let mut app = Vec::new();
            for chunk in chunks(&sent, &cuts) {
                s.read(now, &chunk, &mut app, &mut Vec::new(), &mut LayerReport::default())
                    .unwrap();
            }
            prop_assert_eq!(&app[..], &data[header.min(data.len())..]);
            prop_assert_eq!(s.pending(), data.len() < header);
            prop_assert_eq!(s.entries.len(), if data.len() < header { 2 } else { 1 });
        }
    }
}
