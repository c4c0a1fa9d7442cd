//! The timers of a turn: the connection table handles its own deadlines and hands back what
//! the handler must hear.

use super::Reactor;
use crate::conns::Fired;
use crate::handler::EventHandler;
use std::time::Instant;

impl Reactor {
    /// Runs the connection timers due by `now`: user timers, idle checks, connect, close and
    /// partial-frame deadlines, KCP and layer deadlines.
    pub(super) fn run_timers<H: EventHandler>(&mut self, now: Instant, handler: &mut H) {
        let mut fired = std::mem::take(&mut self.fired);
        self.conns.due_timers(now, &mut fired);
        for timer in fired.drain(..) {
            match self.conns.fire(timer, now) {
                Some(Fired::User(id, token)) => handler.on_timer(&mut self.conns, id, token),
                Some(Fired::Idle(id, kind)) => handler.on_idle(&mut self.conns, id, kind),
                Some(Fired::Bytes(id, bytes)) => self.deliver_released(id, &bytes, handler),
                None => {}
            }
            self.reap(handler);
        }
        self.fired = fired;
        self.close_emptied_retiring();
    }
}
