//! The callbacks a reactor dispatches to. One handler serves every connection of a reactor,
//! like a gnet `EventHandler` or a netty pipeline's last handler.

use crate::{ConnId, Conns, Error};

/// Receives a reactor's connection events. Every method runs on the reactor's thread, inside
/// [`crate::Reactor::turn`]; `conns` lets it write to or close any connection, not only the one
/// the event is about.
pub trait EventHandler {
    /// A connection was accepted. Its id stays valid until [`EventHandler::on_close`].
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        let _ = (conns, id);
    }

    /// Bytes arrived. `data` is borrowed from the reactor's read buffer: copy what you keep.
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]);

    /// The connection is gone (the peer closed, an error, or [`Conns::close`]). `err` is `None`
    /// for an orderly close. The id is already stale here.
    fn on_close(&mut self, conns: &mut Conns, id: ConnId, err: Option<&Error>) {
        let _ = (conns, id, err);
    }
}
