//! What one story holds, as the index sees it, and rules evaluated against it.
//!
//! A key's state carries a per-story stamp, so nothing is cleared between
//! stories.

use crate::program::{Block, ARG_MASK, OP_AND, OP_LEAF, OP_NEAR, OP_NOT, OP_OR};

/// What matching touches of a key, together: one cache line holds four.
#[derive(Clone, Copy, Default)]
pub struct KeyHot {
    /// stamp << 2 | the fields the key was found in (an old stamp: not found).
    pub state: u32,
    /// NEAR sides that use the key (its occurrences are recorded when > 0).
    pub near: u32,
    /// The key's postings: `Index::posts[at..at + len]`.
    pub at: u32,
    pub len: u32,
}

pub const TITLE: u8 = 1;
pub const BODY: u8 = 2;
const STAMP_MAX: u32 = (1 << 30) - 1;

/// Where a key occurs; recorded only for keys that some NEAR uses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Occ {
    key: u32,
    field: u8,
    start: u32,
    end: u32,
}

#[derive(Default)]
pub struct Story {
    stamp: u32,
    /// Keys found, in the order found.
    pub present: Vec<u32>,
    occ: Vec<Occ>,
    occ_sorted: bool,
    /// (rank, rule) of the rules found true; a rule may be in twice.
    pub matched: Vec<(u64, u32)>,
    /// Lexicon ids of the current field's tokens (NONE for unknown ones).
    pub ids: Vec<u32>,
    stack: Vec<bool>,
    left: Vec<(u32, u32)>,
    right: Vec<(u32, u32)>,
}

impl Story {
    pub fn begin(&mut self, hot: &mut [KeyHot]) {
        self.stamp += 1;
        if self.stamp > STAMP_MAX {
            hot.iter_mut().for_each(|h| h.state = 0);
            self.stamp = 1;
        }
        self.present.clear();
        self.occ.clear();
        self.occ_sorted = false;
        self.matched.clear();
    }

    /// Key `key` is in `field` at tokens start..end.
    #[inline]
    pub fn mark(&mut self, hot: &mut [KeyHot], key: u32, field: u8, start: u32, end: u32) {
        let h = &mut hot[key as usize];
        if h.state >> 2 != self.stamp {
            h.state = self.stamp << 2;
            self.present.push(key);
        }
        h.state |= field as u32;
        if h.near != 0 {
            self.occ.push(Occ { key, field, start, end });
        }
    }

    /// The fields `key` was found in.
    #[inline]
    pub fn fields(&self, hot: &[KeyHot], key: u32) -> u8 {
        let state = hot[key as usize].state;
        if state >> 2 == self.stamp {
            (state & 3) as u8
        } else {
            0
        }
    }

    /// Whether a leaf (key << 2 | fields) is true.
    #[inline]
    pub fn leaf(&self, hot: &[KeyHot], leaf: u32) -> bool {
        self.fields(hot, leaf >> 2) & (leaf & 3) as u8 != 0
    }

    /// Occurrences of a key in a field, once `occ` is sorted.
    fn occurrences(&self, key: u32, field: u8) -> &[Occ] {
        let lo = self.occ.partition_point(|o| (o.key, o.field) < (key, field));
        let hi = self.occ.partition_point(|o| (o.key, o.field) <= (key, field));
        &self.occ[lo..hi]
    }

    fn sort_occurrences(&mut self) {
        if !self.occ_sorted {
            self.occ.sort_unstable();
            self.occ_sorted = true;
        }
    }

    fn spans(&self, hot: &[KeyHot], block: &Block, sides: &[u32], field: u8, out: &mut Vec<(u32, u32)>) {
        out.clear();
        for &i in sides {
            let (key, mask) = block.leaf(i as usize);
            if mask & field != 0 && self.fields(hot, key) & field != 0 {
                out.extend(self.occurrences(key, field).iter().map(|o| (o.start, o.end)));
            }
        }
    }

    /// A leaf NEAR another (each key << 2 | fields), without the rule's block.
    pub fn near_pair(&mut self, hot: &[KeyHot], a: u32, b: u32, distance: u32) -> bool {
        self.sort_occurrences();
        let here = |leaf: u32, field: u8| leaf & field as u32 != 0 && self.fields(hot, leaf >> 2) & field != 0;
        for field in [TITLE, BODY] {
            if !here(a, field) || !here(b, field) {
                continue;
            }
            let (left, right) = (self.occurrences(a >> 2, field), self.occurrences(b >> 2, field));
            if close(left.iter().map(|o| (o.start, o.end)), right.iter().map(|o| (o.start, o.end)), distance) {
                return true;
            }
        }
        false
    }

    /// An occurrence of a left leaf and one of a right leaf in one field, not
    /// overlapping, at most `distance` tokens apart.
    fn near(&mut self, hot: &[KeyHot], block: &Block, j: usize) -> bool {
        self.sort_occurrences();
        let (lefts, rights, d) = block.near(j);
        let (mut left, mut right) = (std::mem::take(&mut self.left), std::mem::take(&mut self.right));
        let mut found = false;
        for field in [TITLE, BODY] {
            self.spans(hot, block, lefts, field, &mut left);
            if left.is_empty() {
                continue;
            }
            self.spans(hot, block, rights, field, &mut right);
            found = close(left.iter().copied(), right.iter().copied(), d);
            if found {
                break;
            }
        }
        self.left = left;
        self.right = right;
        found
    }

    /// The value of a rule's program for this story.
    pub fn eval(&mut self, hot: &[KeyHot], block: &Block) -> bool {
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        for &op in block.program {
            let arg = (op & ARG_MASK) as usize;
            match op >> 24 {
                OP_LEAF => {
                    let (key, mask) = block.leaf(arg);
                    stack.push(self.fields(hot, key) & mask != 0);
                }
                OP_NEAR => {
                    let v = self.near(hot, block, arg);
                    stack.push(v);
                }
                OP_NOT => {
                    let top = stack.last_mut().expect("checked when the rule was added");
                    *top = !*top;
                }
                OP_AND | OP_OR => {
                    let at = stack.len() - arg;
                    let v = if op >> 24 == OP_AND {
                        stack[at..].iter().all(|&b| b)
                    } else {
                        stack[at..].iter().any(|&b| b)
                    };
                    stack.truncate(at);
                    stack.push(v);
                }
                _ => unreachable!("checked when the rule was added"),
            }
        }
        let v = stack[0];
        self.stack = stack;
        v
    }
}

/// Two spans, one from each side, that do not overlap and have at most
/// `distance` tokens between them, in either order.
fn close(left: impl Iterator<Item = (u32, u32)>, right: impl Iterator<Item = (u32, u32)> + Clone, distance: u32) -> bool {
    let d = distance;
    left.into_iter().any(|(a0, a1)| right.clone().any(|(b0, b1)| (a1 <= b0 && b0 - a1 <= d) || (b1 <= a0 && a0 - b1 <= d)))
}
