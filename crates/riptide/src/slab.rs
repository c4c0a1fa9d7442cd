//! Generational slab: the connection table's storage, so a handle to a closed connection can
//! never reach the connection that later reuses its slot.
//!
//! Written here rather than taken from `slab`/`slotmap` because the handle layout is part of the
//! JS boundary: `(slot, generation)` travel as two `i32` in the event batch and pack into one
//! JS-safe integer id (see [`ConnId::as_u64`]), and the slot doubles as the mio token.

/// Most slots a slab hands out: slots must fit in 24 bits so an id packs into 53 bits.
pub const MAX_SLOTS: u32 = 1 << 24;

/// Generations wrap within 29 bits so `(generation << 24) | slot` stays a JS-safe integer.
const GEN_MASK: u32 = (1 << 29) - 1;

/// Identifies one connection of one reactor for its whole life and never afterwards.
///
/// A stale id (its connection closed, the slot reused) is rejected by every operation with
/// [`crate::Error::ConnClosed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId {
    /// Index into the reactor's connection table.
    pub slot: u32,
    /// Incremented each time the slot is reused.
    pub generation: u32,
}

impl ConnId {
    /// Packs the id into an integer below 2^53, so JavaScript can hold it as a `number`.
    pub fn as_u64(self) -> u64 {
        (u64::from(self.generation) << 24) | u64::from(self.slot)
    }

    /// Inverse of [`ConnId::as_u64`].
    pub fn from_u64(v: u64) -> Self {
        ConnId {
            slot: (v & u64::from(MAX_SLOTS - 1)) as u32,
            generation: ((v >> 24) as u32) & GEN_MASK,
        }
    }
}

struct Entry<T> {
    generation: u32,
    value: Option<T>,
}

/// Slots per page. Pages never move, so growing the table never copies it: a doubling `Vec`
/// would, and on an allocator heap shared with a JS engine the old copies stay resident (idle
/// connections measured about twice their size in RSS).
const PAGE: usize = 256;

/// Pages of entries with a free list; removed slots are reused with a new generation.
pub struct Slab<T> {
    pages: Vec<Vec<Entry<T>>>,
    /// Slots made so far (all pages full but the last).
    slots: usize,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            pages: Vec::new(),
            slots: 0,
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Number of live values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no value is live.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn entry(&self, slot: u32) -> Option<&Entry<T>> {
        let slot = slot as usize;
        self.pages.get(slot / PAGE)?.get(slot % PAGE)
    }

    fn entry_mut(&mut self, slot: u32) -> Option<&mut Entry<T>> {
        let slot = slot as usize;
        self.pages.get_mut(slot / PAGE)?.get_mut(slot % PAGE)
    }

    /// The id the next [`Slab::insert`] will return, or `None` when the slab is full.
    pub fn vacant_id(&self) -> Option<ConnId> {
        match self.free.last() {
            Some(&slot) => Some(ConnId {
                slot,
                generation: self.entry(slot)?.generation,
            }),
            None if (self.slots as u32) < MAX_SLOTS => Some(ConnId {
                slot: self.slots as u32,
                generation: 0,
            }),
            None => None,
        }
    }

    /// Stores `value` and returns its id; gives the value back when the slab is full.
    pub fn insert(&mut self, value: T) -> Result<ConnId, T> {
        let Some(id) = self.vacant_id() else {
            return Err(value);
        };
        if self.free.pop().is_some() {
            if let Some(e) = self.entry_mut(id.slot) {
                e.value = Some(value);
            }
        } else {
            if self.slots.is_multiple_of(PAGE) {
                self.pages.push(Vec::with_capacity(PAGE));
            }
            if let Some(page) = self.pages.last_mut() {
                page.push(Entry {
                    generation: 0,
                    value: Some(value),
                });
            }
            self.slots += 1;
        }
        self.len += 1;
        Ok(id)
    }

    /// The value for `id`, if it is still live.
    pub fn get(&self, id: ConnId) -> Option<&T> {
        self.entry(id.slot)
            .filter(|e| e.generation == id.generation)
            .and_then(|e| e.value.as_ref())
    }

    /// The value for `id`, mutably, if it is still live.
    pub fn get_mut(&mut self, id: ConnId) -> Option<&mut T> {
        self.entry_mut(id.slot)
            .filter(|e| e.generation == id.generation)
            .and_then(|e| e.value.as_mut())
    }

    /// The live value in `slot` whatever its generation (poll events carry only the slot).
    pub fn get_by_slot_mut(&mut self, slot: u32) -> Option<(ConnId, &mut T)> {
        let e = self.entry_mut(slot)?;
        let generation = e.generation;
        e.value.as_mut().map(|v| (ConnId { slot, generation }, v))
    }

    /// Removes and returns the value for `id`; its slot's generation moves on.
    pub fn remove(&mut self, id: ConnId) -> Option<T> {
        let e = self
            .entry_mut(id.slot)
            .filter(|e| e.generation == id.generation)?;
        let value = e.value.take()?;
        e.generation = (e.generation + 1) & GEN_MASK;
        self.free.push(id.slot);
        self.len -= 1;
        Some(value)
    }

    /// Ids of all live values, in slot order.
    pub fn ids(&self) -> Vec<ConnId> {
        self.pages
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, e)| e.value.is_some())
            .map(|(slot, e)| ConnId {
                slot: slot as u32,
                generation: e.generation,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_id_misses_after_reuse() {
        let mut slab = Slab::default();
        let a = slab.insert("a").unwrap();
        assert_eq!(slab.remove(a), Some("a"));
        let b = slab.insert("b").unwrap();
        assert_eq!(a.slot, b.slot, "slot is reused");
        assert_ne!(a.generation, b.generation);
        assert_eq!(slab.get(a), None);
        assert_eq!(slab.get_mut(a), None);
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.get(b), Some(&"b"));
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn many_pages_keep_every_value_and_reuse_slots() {
        let mut slab = Slab::default();
        let ids: Vec<ConnId> = (0..3 * PAGE + 7).map(|i| slab.insert(i).unwrap()).collect();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(slab.get(*id), Some(&i));
        }
        for id in ids.iter().step_by(3) {
            slab.remove(*id);
        }
        assert_eq!(slab.len(), ids.len() - ids.len().div_ceil(3));
        assert_eq!(slab.ids().len(), slab.len());
        let again = slab.insert(usize::MAX).unwrap();
        assert!((again.slot as usize) < ids.len(), "a freed slot is reused");
        assert_eq!(slab.get(again), Some(&usize::MAX));
        let last = ids[ids.len() - 2]; // index 773: not removed
        assert_eq!(
            slab.get_by_slot_mut(last.slot).map(|(id, _)| id),
            Some(last)
        );
    }

    #[test]
    fn vacant_id_predicts_insert() {
        let mut slab = Slab::default();
        for i in 0..10 {
            let predicted = slab.vacant_id().unwrap();
            assert_eq!(slab.insert(i).unwrap(), predicted);
        }
        let third = ConnId {
            slot: 3,
            generation: 0,
        };
        slab.remove(third);
        let predicted = slab.vacant_id().unwrap();
        assert_eq!(predicted.slot, 3);
        assert_eq!(slab.insert(99).unwrap(), predicted);
    }

    #[test]
    fn id_packs_into_js_safe_integer() {
        let id = ConnId {
            slot: MAX_SLOTS - 1,
            generation: GEN_MASK,
        };
        assert!(id.as_u64() < (1u64 << 53));
        assert_eq!(ConnId::from_u64(id.as_u64()), id);
    }

    #[test]
    fn generation_wraps_without_escaping_mask() {
        let mut slab = Slab::default();
        slab.insert(()).unwrap();
        slab.pages[0][0].generation = GEN_MASK;
        let id = ConnId {
            slot: 0,
            generation: GEN_MASK,
        };
        slab.remove(id).unwrap();
        assert_eq!(slab.insert(()).unwrap().generation, 0);
    }

    #[test]
    fn ids_lists_occupied_slots() {
        let mut slab = Slab::default();
        let a = slab.insert(1).unwrap();
        let b = slab.insert(2).unwrap();
        let c = slab.insert(3).unwrap();
        slab.remove(b);
        assert_eq!(slab.ids(), vec![a, c]);
        assert!(!slab.is_empty());
    }
}
