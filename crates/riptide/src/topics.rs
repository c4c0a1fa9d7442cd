//! One reactor's topic index: which of its connections subscribe to which topic, both ways, so
//! a publish finds its subscribers in one lookup and a closing connection leaves every topic
//! it was in. Sans-IO: ids and names only.

use crate::pubsub::MAX_SUBSCRIPTIONS;
use crate::slab::ConnId;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What the index knows of one connection that has subscribed.
#[derive(Default)]
struct Subscriber {
    /// Its topics (at most [`MAX_SUBSCRIPTIONS`]).
    topics: Vec<Arc<str>>,
    /// Messages dropped for it by the `drop` backpressure policy.
    dropped: u64,
}

/// The outcome of [`TopicIndex::subscribe`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Subscribed {
    /// Newly subscribed, under this shared name.
    Added(Arc<str>),
    /// It was subscribed already.
    Already,
    /// It holds [`MAX_SUBSCRIPTIONS`] topics already.
    Full,
}

/// Topic → subscribers and connection → topics, of one reactor.
#[derive(Default)]
pub(crate) struct TopicIndex {
    topics: HashMap<Arc<str>, HashSet<ConnId>>,
    subscribers: HashMap<ConnId, Subscriber>,
}

impl TopicIndex {
    /// Subscribes `id` to `topic`.
    pub(crate) fn subscribe(&mut self, id: ConnId, topic: &str) -> Subscribed {
        let sub = self.subscribers.entry(id).or_default();
        if sub.topics.iter().any(|t| &**t == topic) {
            return Subscribed::Already;
        }
        if sub.topics.len() >= MAX_SUBSCRIPTIONS {
            return Subscribed::Full;
        }
        let name = match self.topics.get_key_value(topic) {
            Some((name, _)) => name.clone(),
            None => Arc::from(topic),
        };
        sub.topics.push(name.clone());
        self.topics.entry(name.clone()).or_default().insert(id);
        Subscribed::Added(name)
    }

    /// Unsubscribes `id` from `topic`; false when it was not subscribed.
    pub(crate) fn unsubscribe(&mut self, id: ConnId, topic: &str) -> bool {
        let Some(sub) = self.subscribers.get_mut(&id) else {
            return false;
        };
        let Some(at) = sub.topics.iter().position(|t| &**t == topic) else {
            return false;
        };
        sub.topics.swap_remove(at);
        self.leave(id, topic);
        true
    }

    /// True when `id` subscribes to `topic`.
    pub(crate) fn is_subscribed(&self, id: ConnId, topic: &str) -> bool {
        self.topics.get(topic).is_some_and(|s| s.contains(&id))
    }

    /// Forgets `id` (it closed); returns the topics it was subscribed to.
    pub(crate) fn remove(&mut self, id: ConnId) -> Vec<Arc<str>> {
        let Some(sub) = self.subscribers.remove(&id) else {
            return Vec::new();
        };
        for topic in &sub.topics {
            self.leave(id, topic);
        }
        sub.topics
    }

    /// Subscribers of `topic` on this reactor, appended to `out`.
    pub(crate) fn subscribers_into(&self, topic: &str, out: &mut Vec<ConnId>) {
        if let Some(set) = self.topics.get(topic) {
            out.extend(set.iter().copied());
        }
    }

    /// Subscribers of `topic` on this reactor.
    pub(crate) fn count(&self, topic: &str) -> usize {
        self.topics.get(topic).map_or(0, HashSet::len)
    }

    /// Counts a message dropped for `id`.
    pub(crate) fn record_drop(&mut self, id: ConnId) {
        if let Some(sub) = self.subscribers.get_mut(&id) {
            sub.dropped = sub.dropped.saturating_add(1);
        }
    }

    /// Messages dropped for `id` so far.
    pub(crate) fn dropped(&self, id: ConnId) -> u64 {
        self.subscribers.get(&id).map_or(0, |s| s.dropped)
    }

    /// Takes `id` out of `topic`'s set, and the topic out of the index once empty.
    fn leave(&mut self, id: ConnId, topic: &str) {
        if let Some(set) = self.topics.get_mut(topic) {
            set.remove(&id);
            if set.is_empty() {
                self.topics.remove(topic);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(slot: u32) -> ConnId {
        ConnId {
            slot,
            generation: 1,
        }
    }

    #[test]
    fn subscribe_unsubscribe_and_count() {
        let mut index = TopicIndex::default();
        assert!(matches!(index.subscribe(id(1), "a"), Subscribed::Added(_)));
        assert_eq!(index.subscribe(id(1), "a"), Subscribed::Already);
        assert!(matches!(index.subscribe(id(2), "a"), Subscribed::Added(_)));
        assert_eq!(index.count("a"), 2);
        assert!(index.is_subscribed(id(2), "a"));
        assert!(index.unsubscribe(id(2), "a"));
        assert!(!index.unsubscribe(id(2), "a"));
        assert!(!index.is_subscribed(id(2), "a"));
        assert_eq!(index.count("a"), 1);
        let mut out = Vec::new();
        index.subscribers_into("a", &mut out);
        assert_eq!(out, vec![id(1)]);
    }

    #[test]
    fn the_topic_name_is_shared_by_its_subscribers() {
        let mut index = TopicIndex::default();
        let (Subscribed::Added(first), Subscribed::Added(second)) = (
            index.subscribe(id(1), "room"),
            index.subscribe(id(2), "room"),
        ) else {
            panic!("both are new subscriptions");
        };
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn removing_a_connection_leaves_all_its_topics() {
        let mut index = TopicIndex::default();
        for t in ["a", "b", "c"] {
            index.subscribe(id(1), t);
        }
        index.subscribe(id(2), "b");
        let mut left: Vec<String> = index.remove(id(1)).iter().map(|t| t.to_string()).collect();
        left.sort();
        assert_eq!(left, ["a", "b", "c"]);
        assert_eq!(index.count("a"), 0);
        assert_eq!(index.count("b"), 1);
        assert!(
            !index.topics.contains_key("a"),
            "an empty topic is forgotten"
        );
        assert!(index.remove(id(1)).is_empty());
    }

    #[test]
    fn subscriptions_per_connection_are_capped() {
        let mut index = TopicIndex::default();
        for i in 0..MAX_SUBSCRIPTIONS {
            assert!(matches!(
                index.subscribe(id(1), &i.to_string()),
                Subscribed::Added(_)
            ));
        }
        assert_eq!(index.subscribe(id(1), "one more"), Subscribed::Full);
        assert!(index.unsubscribe(id(1), "0"));
        assert!(matches!(
            index.subscribe(id(1), "one more"),
            Subscribed::Added(_)
        ));
    }

    #[test]
    fn drops_are_counted_per_subscriber() {
        let mut index = TopicIndex::default();
        index.subscribe(id(1), "a");
        index.record_drop(id(1));
        index.record_drop(id(1));
        index.record_drop(id(9));
        assert_eq!(index.dropped(id(1)), 2);
        assert_eq!(index.dropped(id(9)), 0);
    }

    proptest! {
        /// Any sequence of subscribes, unsubscribes and removals leaves both directions of the
        /// index agreeing with a plain set of pairs.
        #[test]
        fn both_directions_agree(ops in prop::collection::vec((0u8..3, 0u32..6, 0u8..5), 0..200)) {
            let mut index = TopicIndex::default();
            let mut model: HashSet<(u32, String)> = HashSet::new();
            for (op, conn, topic) in ops {
                let topic = format!("t{topic}");
                match op {
                    0 => {
                        index.subscribe(id(conn), &topic);
                        model.insert((conn, topic));
                    }
                    1 => {
                        let was = model.remove(&(conn, topic.clone()));
                        prop_assert_eq!(index.unsubscribe(id(conn), &topic), was);
                    }
                    _ => {
                        index.remove(id(conn));
                        model.retain(|(c, _)| *c != conn);
                    }
                }
            }
            for t in 0..5 {
                let topic = format!("t{t}");
                let expected = model.iter().filter(|(_, name)| *name == topic).count();
                prop_assert_eq!(index.count(&topic), expected);
                for c in 0..6 {
                    prop_assert_eq!(index.is_subscribed(id(c), &topic), model.contains(&(c, topic.clone())));
                }
            }
            for (conn, sub) in &index.subscribers {
                for t in &sub.topics {
                    prop_assert!(model.contains(&(conn.slot, t.to_string())));
                }
            }
        }
    }
}
