//! Topic pub/sub for JS: subscriptions of a connection, and publishes and subscriber counts
//! of the engine (all in `riptide::Conns`; this maps arguments and errors only).

use crate::{settle, NativeEngine};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use riptide::Backpressure;

/// The engine's policy for slow subscribers from the validated `backpressure` option.
pub fn backpressure(policy: &str, max: u32) -> Backpressure {
    let max = max as usize;
    match policy {
        "drop" => Backpressure::Drop { max },
        "close" => Backpressure::Close { max },
        _ => Backpressure::Buffer,
    }
}

#[napi]
impl NativeEngine {
    /// Subscribes the connection to `topic`; false when it was subscribed already.
    #[napi]
    pub fn subscribe(&self, env: Env, slot: u32, generation: u32, topic: String) -> Result<bool> {
        self.on_conn(&env, slot, generation, |r, id| {
            r.conns().subscribe(id, &topic)
        })
    }

    /// Unsubscribes the connection from `topic`; false when it was not subscribed.
    #[napi]
    pub fn unsubscribe(&self, env: Env, slot: u32, generation: u32, topic: String) -> Result<bool> {
        self.on_conn(&env, slot, generation, |r, id| {
            r.conns().unsubscribe(id, &topic)
        })
    }

    /// True when the connection subscribes to `topic`.
    #[napi]
    pub fn is_subscribed(
        &self,
        env: Env,
        slot: u32,
        generation: u32,
        topic: String,
    ) -> Result<bool> {
        self.on_conn(&env, slot, generation, |r, id| {
            r.conns().is_subscribed(id, &topic)
        })
    }

    /// Messages the `drop` policy skipped for the connection.
    #[napi]
    pub fn dropped_messages(&self, env: Env, slot: u32, generation: u32) -> Result<f64> {
        self.on_conn(&env, slot, generation, |r, id| {
            r.conns().dropped_messages(id)
        })
        .map(|n| n as f64)
    }

    /// Publishes `data` to every subscriber of `topic` on every reactor; returns how many it
    /// was queued for. JS flushes its staged writes first, so a publish keeps its place
    /// among them.
    #[napi]
    pub fn publish(&self, env: Env, topic: String, data: &[u8]) -> Result<u32> {
        let sent = self
            .driver
            .with_reactor(|r| r.conns().publish(&topic, data));
        settle(&env, sent, riptide::Error::EngineStopped).map(|n| n as u32)
    }

    /// Sends `data` on the unreliable channel of this reactor's subscribers of `topic` that
    /// have one (WebRTC peers, KCP sessions with FEC or secure mode); returns how many took it.
    #[napi]
    pub fn publish_unreliable(&self, env: Env, topic: String, data: &[u8]) -> Result<u32> {
        let sent = self
            .driver
            .with_reactor(|r| r.conns().publish_unreliable(&topic, data));
        settle(&env, sent, riptide::Error::EngineStopped).map(|n| n as u32)
    }

    /// Subscribers of `topic` over every reactor of the engine.
    #[napi]
    pub fn subscriber_count(&self, topic: String) -> u32 {
        self.shared.config.pubsub.subscriber_count(&topic) as u32
    }
}

#[napi]
impl NativeEngine {
    /// Reports `token` to this thread's completion handler once some topic's subscriber count
    /// over the engine has gone from 0 to more or back to 0 since the last
    /// `takeInterestChanges` (the cross-instance bus's one broker subscription per topic).
    #[napi]
    pub fn watch_interest(&self, token: f64) {
        if let Some(done) = crate::completions::completion_for(token) {
            self.shared
                .config
                .pubsub
                .watch_interest(Box::new(move || done(Ok(()))));
        }
    }

    /// The topics whose subscriber count crossed 0 since the last call, each once.
    #[napi]
    pub fn take_interest_changes(&self) -> Vec<String> {
        self.shared
            .config
            .pubsub
            .take_interest_changes()
            .iter()
            .map(|t| t.to_string())
            .collect()
    }
}
