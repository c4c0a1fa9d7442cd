//! Work sent to a reactor from other threads: connections to adopt, writes, closes, wakes and
//! closures. One MPSC channel per reactor plus a coalesced wake-up: senders wake the reactor
//! only when it has no wake pending, and each sender's commands run in the order sent.

use crate::config::ListenOptions;
use crate::conns::Conns;
use crate::publication::{Publication, PublicationSink};
use crate::slab::ConnId;
use crate::stats::{Counters, ReactorMetrics, ReactorStats};
use crate::stream::{PeerAddr, StdStream};
use crate::webrtc_attach::{SignalCompletion, SignalReply};
use crate::Error;
use crossbeam_channel::{Receiver, Sender};
use mio::Waker;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Called once on the reactor thread with the outcome of an asynchronous write or close.
pub type Completion = Box<dyn FnOnce(Result<(), Error>) + Send>;

/// A closure run on the reactor thread with its connection table.
pub(crate) type Task = Box<dyn FnOnce(&mut Conns) + Send>;

/// One unit of cross-thread work.
pub(crate) enum Command {
    /// A connection accepted elsewhere (the load balancer chose this reactor), with its
    /// listener's options (shared: one allocation per listener, not per connection) and index.
    Adopt(StdStream, PeerAddr, Arc<ListenOptions>, u16),
    /// Write bytes; `done` reports `Ok` once they are written or queued, or the error.
    Write(ConnId, Vec<u8>, Option<Completion>),
    /// Write several buffers in order, as one.
    Writev(ConnId, Vec<Vec<u8>>, Option<Completion>),
    /// Close after pending writes.
    Close(ConnId, Option<Completion>),
    /// Deliver an `on_traffic` with no bytes (gnet's `Wake`).
    Wake(ConnId),
    /// Run a closure on the reactor.
    Execute(Task),
    /// Stop the reactor's driver loop (thread driver).
    Stop,
    /// Begin a graceful stop that resets what is left at the deadline ([`crate::Reactor::drain`]).
    Drain(std::time::Instant),
    /// Send duplicates of the reactor's listening sockets ([`crate::Reactor::export_listeners`]).
    #[cfg(unix)]
    Export(std::sync::mpsc::Sender<std::io::Result<Vec<crate::inherit::ExportedListener>>>),
    /// Stop serving the listeners ([`crate::Reactor::release_listeners`]), then say so: what
    /// the listeners accepted before is counted in [`Remote::connections`] by then.
    Release(std::sync::mpsc::Sender<()>),
    /// Deliver a published message to this reactor's subscribers of its topic.
    Publish(Arc<Publication>),
    /// Datagrams wait on the application carrier attached as datagram socket `socket`
    /// ([`crate::DatagramCarrier::receive`]).
    Carried(usize),
    /// A signalling request for a `webrtc://` listener from an HTTP listener it is attached
    /// to ([`Remote::webrtc_signal`]): its URL, the `http1` frame, the client, the reply.
    WebRtcSignal(String, Vec<u8>, std::net::SocketAddr, SignalReply),
}

/// The sending side of a reactor's inbox. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Remote {
    pub(crate) index: usize,
    tx: Sender<Command>,
    waker: Arc<Waker>,
    wake_pending: Arc<AtomicBool>,
    pub(crate) load: Arc<AtomicUsize>,
    counters: Arc<Counters>,
}

/// The receiving side, owned by the reactor.
pub(crate) struct Inbox {
    rx: Receiver<Command>,
    wake_pending: Arc<AtomicBool>,
}

pub(crate) fn channel(
    index: usize,
    waker: Arc<Waker>,
    load: Arc<AtomicUsize>,
    counters: Arc<Counters>,
) -> (Remote, Inbox) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let wake_pending = Arc::new(AtomicBool::new(false));
    let remote = Remote {
        index,
        tx,
        waker,
        wake_pending: wake_pending.clone(),
        load,
        counters,
    };
    (remote, Inbox { rx, wake_pending })
}

impl Remote {
    /// The reactor's index within its engine.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Connections currently open on the reactor.
    pub fn connections(&self) -> usize {
        self.load.load(Ordering::Relaxed)
    }

    /// The reactor's operator counters now; [`ReactorStats::total`] adds up an engine's.
    pub fn stats(&self) -> ReactorStats {
        self.counters.snapshot()
    }

    /// Every counter of the reactor now, per listener too ([`ReactorMetrics`]).
    pub fn metrics(&self) -> ReactorMetrics {
        self.counters.metrics(self.index, &self.load)
    }

    /// Queues `cmd`, waking the reactor if no wake is pending. Fails with
    /// [`Error::EngineStopped`] (returning nothing) once the reactor is gone.
    pub(crate) fn send(&self, cmd: Command) -> Result<(), Error> {
        self.try_send(cmd).map_err(|_| Error::EngineStopped)
    }

    /// Like [`Remote::send`], but gives the command back when the reactor is gone.
    pub(crate) fn try_send(&self, cmd: Command) -> Result<(), Command> {
        self.tx.send(cmd).map_err(|e| e.into_inner())?;
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            // A failed wake means the poll is gone; the command then dies with the channel.
            let _ = self.waker.wake();
        }
        Ok(())
    }

    /// Writes `data` to connection `id` from any thread; `done` runs on the reactor thread.
    pub fn async_write(
        &self,
        id: ConnId,
        data: Vec<u8>,
        done: Option<Completion>,
    ) -> Result<(), Error> {
        self.send(Command::Write(id, data, done))
    }

    /// Writes several buffers to connection `id` in order, as one message
    /// ([`Conns::writev`]), from any thread; `done` runs on the reactor thread.
    pub fn async_writev(
        &self,
        id: ConnId,
        bufs: Vec<Vec<u8>>,
        done: Option<Completion>,
    ) -> Result<(), Error> {
        self.send(Command::Writev(id, bufs, done))
    }

    /// Hands a signalling request to the `webrtc://` listener bound at `webrtc_address` (its
    /// URL as bound, `webrtc://127.0.0.1:9208`), served by this reactor (reactor 0 of the
    /// engine that bound it), from any thread: `request` is the frame an `http1` listener's
    /// handler got (`on_traffic`), `remote_address` its client. `done` runs once on this
    /// reactor's thread with the whole HTTP response to write back (the same the listener's
    /// own signalling port would send, `connection: keep-alive` unless the request closes the
    /// connection), or an error ([`SignalCompletion`]). Offers of a listener with `authorize`
    /// are held for [`crate::EventHandler::on_webrtc_offer`] first. `done` always runs
    /// exactly once: with [`Error::EngineStopped`] once the reactor is gone (on this thread
    /// when it is gone already).
    pub fn webrtc_signal(
        &self,
        webrtc_address: &str,
        request: &[u8],
        remote_address: std::net::SocketAddr,
        done: SignalCompletion,
    ) {
        let cmd = Command::WebRtcSignal(
            webrtc_address.to_owned(),
            request.to_vec(),
            remote_address,
            SignalReply::new(done),
        );
        // Refused, the command drops here and its reply reports the stop.
        let _ = self.try_send(cmd);
    }

    /// Closes connection `id` from any thread after its pending writes.
    pub fn close(&self, id: ConnId) -> Result<(), Error> {
        self.send(Command::Close(id, None))
    }

    /// Schedules an `on_traffic` with no bytes for `id`.
    pub fn wake(&self, id: ConnId) -> Result<(), Error> {
        self.send(Command::Wake(id))
    }

    /// Asks the reactor for duplicates of its listening sockets
    /// ([`crate::Reactor::export_listeners`]); they arrive on the returned channel.
    #[cfg(unix)]
    pub fn export_listeners(
        &self,
    ) -> Result<
        std::sync::mpsc::Receiver<std::io::Result<Vec<crate::inherit::ExportedListener>>>,
        Error,
    > {
        let (tx, rx) = std::sync::mpsc::channel();
        self.send(Command::Export(tx))?;
        Ok(rx)
    }

    /// Makes the reactor stop serving its listeners ([`crate::Reactor::release_listeners`]);
    /// the returned channel gets `()` once it has. Until then the listeners may still accept,
    /// so a caller that counts the connections left to drain waits for it first.
    pub fn release_listeners(&self) -> Result<std::sync::mpsc::Receiver<()>, Error> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.send(Command::Release(tx))?;
        Ok(rx)
    }

    /// Runs `task` on the reactor thread.
    pub fn execute(&self, task: impl FnOnce(&mut Conns) + Send + 'static) -> Result<(), Error> {
        self.send(Command::Execute(Box::new(task)))
    }
}

impl PublicationSink for Remote {
    fn send_publication(&self, publication: Arc<Publication>) {
        // A reactor that stopped has no subscribers left to deliver to.
        let _ = self.try_send(Command::Publish(publication));
    }
}

impl Inbox {
    /// Takes up to `max` commands. Clears the pending-wake flag first, so a command sent while
    /// draining wakes the reactor again.
    pub(crate) fn drain(&self, max: usize, out: &mut Vec<Command>) {
        self.wake_pending.store(false, Ordering::Release);
        out.extend(self.rx.try_iter().take(max));
    }

    /// True when commands are waiting.
    pub(crate) fn has_more(&self) -> bool {
        !self.rx.is_empty()
    }
}
