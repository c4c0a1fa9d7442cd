//! What the timing wheel fires: the table handles its own deadlines (connect, close, partial
//! frame, KCP, layers) and hands the reactor what a handler must hear (user timers, idleness,
//! bytes a layer released on its deadline).

use super::connection::State;
use super::Conns;
use crate::flow::{IdleKind, Timer};
use crate::slab::ConnId;
use crate::Error;
use std::io;
use std::time::{Duration, Instant};

/// A fired timer the handler must hear about.
pub(crate) enum Fired {
    /// A user timer ([`Conns::set_timer`]): `on_timer`.
    User(ConnId, u64),
    /// The connection was idle: `on_idle`.
    Idle(ConnId, IdleKind),
    /// A layer released bytes for the application on its deadline: deliver them.
    Bytes(ConnId, Vec<u8>),
}

impl Conns {
    /// Calls `on_timer(id, token)` after `delay`, unless the connection closes first. Timers
    /// are one-shot; to cancel, ignore the token.
    pub fn set_timer(&mut self, id: ConnId, delay: Duration, token: u64) -> Result<(), Error> {
        self.get(id)?;
        self.timers
            .insert(Instant::now() + delay, Timer::User(id, token));
        Ok(())
    }

    /// Closes the connection with `ETIMEDOUT` if it is still connecting `after` from now.
    pub(crate) fn connect_deadline(&mut self, id: ConnId, after: Duration) {
        self.timers
            .insert(Instant::now() + after, Timer::Connect(id));
    }

    /// Moves the timers due by `now` to `out`.
    pub(crate) fn due_timers(&mut self, now: Instant, out: &mut Vec<Timer>) {
        self.timers.advance(now, out);
    }

    /// Handles one fired timer. Entries are never removed early, so each is checked against
    /// the connection's state here (lazy cancellation).
    pub(crate) fn fire(&mut self, timer: Timer, now: Instant) -> Option<Fired> {
        match timer {
            Timer::User(id, token) => self.contains(id).then_some(Fired::User(id, token)),
            Timer::Idle(id, kind) => self.check_idle(id, kind, now),
            Timer::Frame(id) => {
                let timeout = self.flow.frame_timeout.unwrap_or_default();
                match self.slab.get(id).and_then(|c| c.partial_since) {
                    Some(since) if now.saturating_duration_since(since) >= timeout => {
                        self.time_out(id, "partial frame timed out");
                    }
                    Some(since) => self.timers.insert(since + timeout, Timer::Frame(id)),
                    None => {}
                }
                None
            }
            Timer::Connect(id) => {
                if self.is_connecting(id) {
                    self.time_out(id, "connect timed out");
                }
                None
            }
            Timer::Close(id) => {
                if self.slab.get(id).is_some_and(|c| c.state == State::Closing) {
                    self.time_out(id, "close timed out");
                }
                None
            }
            Timer::Kcp(id) => {
                self.kcp_timeout(id);
                None
            }
            Timer::KcpExpire(id) => {
                self.kcp_expire(id, now);
                None
            }
            Timer::Rtc(socket, peer) => {
                self.rtc_timer(socket, riptide_webrtc::PeerId(peer), now);
                None
            }
            Timer::Geckos(socket) => {
                self.rtc_geckos_timer(socket, now);
                None
            }
            Timer::Layer(id) => self.layer_timeout(id, now).map(|b| Fired::Bytes(id, b)),
        }
    }

    /// Resets the connection with `ETIMEDOUT`.
    pub(super) fn time_out(&mut self, id: ConnId, what: &'static str) {
        let _ = self.destroy(
            id,
            Some(io::Error::new(io::ErrorKind::TimedOut, what).into()),
        );
    }

    /// Reports idleness when the connection has been idle for the configured time, and sets
    /// the next check (netty's `IdleStateHandler`: no timer churn on each read or write).
    fn check_idle(&mut self, id: ConnId, kind: IdleKind, now: Instant) -> Option<Fired> {
        let idle = self.flow.idle_timeout;
        let conn = self.slab.get(id)?;
        let (last, timeout) = match kind {
            IdleKind::Read => (conn.last_read, idle.read),
            IdleKind::Write => (conn.last_write, idle.write),
            IdleKind::All => (conn.last_read.max(conn.last_write), idle.all),
        };
        let timeout = timeout?;
        if now.saturating_duration_since(last) >= timeout {
            self.timers.insert(now + timeout, Timer::Idle(id, kind));
            Some(Fired::Idle(id, kind))
        } else {
            self.timers.insert(last + timeout, Timer::Idle(id, kind));
            None
        }
    }
}
