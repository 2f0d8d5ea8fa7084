//! Rule ids in sorted order, as numbers: a story's matches are sorted by
//! comparing two integers instead of two strings somewhere in memory.
//!
//! Each rule gets a rank between its neighbours' (order maintenance with
//! gaps); when a gap runs out, every rank is given again, evenly spaced, and
//! the caller copies them to wherever it keeps them.

use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Unbounded};

const STRIDE: u64 = 1 << 32;

pub struct Order {
    by_key: BTreeMap<Box<[u8]>, u32>,
    /// Per slot.
    rank: Vec<u64>,
}

impl Order {
    pub fn new() -> Self {
        Order { by_key: BTreeMap::new(), rank: Vec::new() }
    }

    #[inline]
    pub fn rank(&self, slot: u32) -> u64 {
        self.rank[slot as usize]
    }

    /// Add `key` (not present) for `slot`; true if every rank changed.
    pub fn insert(&mut self, key: Box<[u8]>, slot: u32) -> bool {
        if self.rank.len() <= slot as usize {
            self.rank.resize(slot as usize + 1, 0);
        }
        let before =
            self.by_key.range::<[u8], _>((Unbounded, Excluded(&*key))).next_back().map(|(_, &s)| self.rank[s as usize]);
        let after =
            self.by_key.range::<[u8], _>((Excluded(&*key), Unbounded)).next().map(|(_, &s)| self.rank[s as usize]);
        let rank = match (before, after) {
            (None, None) => Some(u64::MAX / 2),
            (Some(a), None) => a.checked_add(STRIDE),
            (None, Some(b)) => b.checked_sub(STRIDE).or(if b >= 2 { Some(b / 2) } else { None }),
            (Some(a), Some(b)) => {
                if b - a >= 2 {
                    Some(a + (b - a) / 2)
                } else {
                    None
                }
            }
        };
        self.by_key.insert(key, slot);
        match rank {
            Some(r) => {
                self.rank[slot as usize] = r;
                false
            }
            None => {
                for (i, &s) in self.by_key.values().enumerate() {
                    self.rank[s as usize] = (i as u64 + 1) * STRIDE;
                }
                true
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) {
        self.by_key.remove(key);
    }
}
