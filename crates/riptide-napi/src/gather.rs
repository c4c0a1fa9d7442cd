//! The staged writes of one batch to connections without message boundaries, gathered per
//! connection: each connection's runs leave in one `writev(2)` at the end of the batch (or
//! before an op that must follow them), straight from JS's staging array. Only what the
//! socket does not take is copied, into the connection's queue.

use riptide::{ConnId, Conns};
use std::collections::HashSet;

/// Byte ranges of the staging array, per connection, in the order JS staged them.
#[derive(Default)]
pub struct Gather {
    /// `(connection, start, end)`; adjacent ranges of one connection are joined.
    runs: Vec<(ConnId, usize, usize)>,
    /// The connections with runs, so that an op on another connection costs no scan.
    pending: HashSet<ConnId>,
}

impl Gather {
    /// Adds `data[start..end]` behind the connection's earlier runs.
    pub fn push(&mut self, id: ConnId, start: usize, end: usize) {
        if let Some(last) = self.runs.last_mut() {
            if last.0 == id && last.2 == start {
                last.2 = end;
                return;
            }
        }
        self.runs.push((id, start, end));
        self.pending.insert(id);
    }

    /// Writes the connection's runs now: an op that must follow its writes (a close, a
    /// marker, a drain estimate) comes next.
    pub fn flush_one(&mut self, conns: &mut Conns, data: &[u8], id: ConnId) {
        if !self.pending.remove(&id) {
            return;
        }
        let mut slices = Vec::new();
        self.runs.retain(|&(run, start, end)| {
            if run != id {
                return true;
            }
            slices.extend(data.get(start..end));
            false
        });
        conns.write_gathered(id, &slices);
    }

    /// Writes every connection's runs, one `writev` each, and empties the gather.
    pub fn flush(&mut self, conns: &mut Conns, data: &[u8]) {
        // Stable: each connection's runs stay in the order they were staged.
        self.runs.sort_by_key(|(id, ..)| (id.slot, id.generation));
        let mut slices = Vec::new();
        let mut rest = &self.runs[..];
        while let Some(&(id, ..)) = rest.first() {
            let n = rest.iter().take_while(|r| r.0 == id).count();
            let (mine, after) = rest.split_at(n);
            slices.clear();
            slices.extend(
                mine.iter()
                    .filter_map(|&(_, start, end)| data.get(start..end)),
            );
            conns.write_gathered(id, &slices);
            rest = after;
        }
        self.runs.clear();
        self.pending.clear();
    }
}
