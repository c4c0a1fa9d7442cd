//! The inbox: work other threads sent this reactor (adopted connections, writes, closes,
//! wakes, closures, stops).

use super::Reactor;
use crate::handler::EventHandler;
use crate::remote::Command;

impl Reactor {
    /// Runs up to `budget` inbox commands; returns how many ran.
    pub(super) fn run_commands<H: EventHandler>(
        &mut self,
        handler: &mut H,
        budget: usize,
    ) -> usize {
        let mut commands = std::mem::take(&mut self.commands);
        self.inbox.drain(budget.max(1), &mut commands);
        let n = commands.len();
        for cmd in commands.drain(..) {
            match cmd {
                Command::Adopt(std, peer, options, listener) => {
                    if let Ok(stream) = std.into_stream() {
                        self.open(stream, peer, &options, listener, handler);
                    }
                }
                Command::Write(id, data, done) => {
                    let r = self.conns.write(id, &data);
                    if let Some(done) = done {
                        done(r);
                    }
                }
                Command::Writev(id, bufs, done) => {
                    let slices: Vec<&[u8]> = bufs.iter().map(Vec::as_slice).collect();
                    let r = self.conns.writev(id, &slices);
                    if let Some(done) = done {
                        done(r);
                    }
                }
                Command::Close(id, done) => {
                    let r = self.conns.close(id);
                    if let Some(done) = done {
                        done(r);
                    }
                }
                Command::Wake(id) => {
                    if self.conns.contains(id) {
                        handler.on_traffic(&mut self.conns, id, &[]);
                    }
                }
                Command::Execute(task) => task(&mut self.conns),
                Command::Stop => self.stop_requested = true,
                Command::Drain(deadline) => self.drain(deadline, handler),
                #[cfg(unix)]
                Command::Export(reply) => {
                    let _ = reply.send(self.export_listeners());
                }
                Command::Release(done) => {
                    self.release_listeners();
                    let _ = done.send(());
                }
                Command::Publish(publication) => self.conns.hold(publication),
                Command::Carried(socket) => self.carried_input(socket, handler),
                Command::WebRtcSignal(address, request, remote, reply) => {
                    self.webrtc_signal(&address, (&request, remote), reply, handler);
                }
            }
            self.reap(handler);
        }
        self.commands = commands;
        n
    }
}
