//! Delivering what the connection table queued to the handler, in order: writability,
//! opens, completed writes, errors, half-closes, WebRTC messages and closes.

use super::{inbound, Reactor};
use crate::conns::Notice;
use crate::handler::EventHandler;
use crate::Error;

impl Reactor {
    /// Delivers the queued notices, in order (see [`Reactor::reap`]).
    pub(super) fn deliver_notices<H: EventHandler>(&mut self, handler: &mut H) {
        while let Some(notice) = self.conns.next_notice() {
            match notice {
                Notice::Writability(id, writable) => {
                    if self.conns.contains(id) {
                        handler.on_writability(&mut self.conns, id, writable);
                    }
                }
                Notice::Opened(id) => {
                    if self.conns.contains(id) {
                        handler.on_open(&mut self.conns, id);
                        // Bytes a layer let through before the open come right after it.
                        if self.conns.inbound_len(id).is_ok_and(|n| n > 0) {
                            inbound::deliver(&mut self.conns, handler, id, &[]);
                        }
                        if self.draining.is_some() && self.conns.is_open(id) {
                            handler.on_drain(&mut self.conns, id);
                        }
                    }
                }
                Notice::Written(id, token) => {
                    handler.on_write_done(&mut self.conns, id, token, None)
                }
                Notice::Error(id, err) => {
                    if self.conns.contains(id) {
                        handler.on_error(&mut self.conns, id, &err);
                    }
                }
                Notice::Message(id, reliable, data) => {
                    if !self.conns.contains(id) {
                    } else if reliable {
                        inbound::deliver(&mut self.conns, handler, id, &data);
                    } else {
                        handler.on_unreliable(&mut self.conns, id, &data);
                    }
                }
                Notice::End(id) => {
                    if self.conns.contains(id) {
                        handler.on_end(&mut self.conns, id);
                    }
                }
                Notice::Close(id, err, refused) => {
                    if refused {
                        if let (Some(e), Ok(peer)) = (&err, self.conns.peer_addr(id)) {
                            self.counters.handshake_error();
                            self.conns.count_handshake_error(id);
                            handler.on_handshake_error(e, &peer);
                        }
                    }
                    for token in self.conns.remove(id) {
                        handler.on_write_done(&mut self.conns, id, token, Some(&Error::ConnClosed));
                    }
                    if let Some(d) = self.draining.as_mut() {
                        // A WebSocket close handshake is an orderly close too.
                        if err.is_none() || matches!(err, Some(Error::WebSocketClose { .. })) {
                            d.drained += 1;
                        } else {
                            d.reset += 1;
                        }
                    }
                    handler.on_close(&mut self.conns, id, err.as_ref());
                }
            }
        }
    }
}
