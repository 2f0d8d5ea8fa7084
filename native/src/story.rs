//! What one story holds, as the index sees it, and rules evaluated against it.
//!
//! A key's state carries a per-story stamp, so nothing is cleared between
//! stories.

use crate::lexicon::NONE;
use crate::program::{Block, ARG_MASK, OP_AND, OP_LEAF, OP_NEAR, OP_NOT, OP_OR};

const NEAR_BIT: u32 = 4;
const LAZY_BIT: u32 = 8;
const STAMP_SHIFT: u32 = 4;
const STAMP_MAX: u32 = (1 << (32 - STAMP_SHIFT)) - 1;

/// What matching touches of a key, together: one cache line holds four.
#[derive(Clone, Copy, Default)]
pub struct KeyHot {
    /// stamp << 4 | LAZY_BIT | NEAR_BIT | the fields the key was found in.
    /// With an old stamp the key was not found in this story.  NEAR_BIT: some
    /// NEAR uses the key, so its occurrences are recorded.  LAZY_BIT: the key
    /// is never marked; what it was found in is read from `Story::lazy` when
    /// a rule asks (see `Story::note_lazy`).
    state: u32,
    /// The key's postings: `Index::posts[at..at + len]`.
    pub at: u32,
    pub len: u32,
    /// This story's last occurrence of the key (in `Story::occ`), if recorded.
    occ: u32,
}

impl KeyHot {
    pub fn set_near(&mut self, used: bool) {
        self.state = if used { self.state | NEAR_BIT } else { self.state & !NEAR_BIT };
    }

    pub fn set_lazy(&mut self, lazy: bool) {
        self.state = if lazy { self.state | LAZY_BIT } else { self.state & !LAZY_BIT };
    }
}

pub const TITLE: u8 = 1;
pub const BODY: u8 = 2;

/// Where a key occurs; recorded only for keys that some NEAR uses, each
/// key's occurrences a list through `next`.
#[derive(Clone, Copy)]
struct Occ {
    field: u8,
    start: u32,
    end: u32,
    next: u32,
}

/// The spans of a key's occurrences in one field: from its list in `occ`,
/// or, for a lazy key, from `lazy`.
#[derive(Clone)]
enum Spans<'a> {
    Listed { occ: &'a [Occ], at: u32, field: u8 },
    Lazy { lazy: std::slice::Iter<'a, (u32, u8, u32)>, key: u32, field: u8 },
}

impl Iterator for Spans<'_> {
    type Item = (u32, u32);

    fn next(&mut self) -> Option<(u32, u32)> {
        match self {
            Spans::Listed { occ, at, field } => {
                while *at != NONE {
                    let o = occ[*at as usize];
                    *at = o.next;
                    if o.field == *field {
                        return Some((o.start, o.end));
                    }
                }
                None
            }
            Spans::Lazy { lazy, key, field } => {
                lazy.find(|&&(k, f, _)| k == *key && f == *field).map(|&(_, _, at)| (at, at + 1))
            }
        }
    }
}

#[derive(Default)]
pub struct Story {
    stamp: u32,
    /// Keys found, in the order found.
    pub present: Vec<u32>,
    occ: Vec<Occ>,
    /// (key, field, token) for lazy keys found.
    lazy: Vec<(u32, u8, u32)>,
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
            hot.iter_mut().for_each(|h| h.state &= NEAR_BIT | LAZY_BIT);
            self.stamp = 1;
        }
        self.present.clear();
        self.occ.clear();
        self.lazy.clear();
        self.matched.clear();
    }

    /// Key `key` is in `field` at tokens start..end.
    #[inline]
    pub fn mark(&mut self, hot: &mut [KeyHot], key: u32, field: u8, start: u32, end: u32) {
        let h = &mut hot[key as usize];
        if h.state >> STAMP_SHIFT != self.stamp {
            h.state = self.stamp << STAMP_SHIFT | (h.state & (NEAR_BIT | LAZY_BIT));
            h.occ = NONE;
            self.present.push(key);
        }
        h.state |= field as u32;
        if h.state & NEAR_BIT != 0 {
            self.occ.push(Occ { field, start, end, next: h.occ });
            h.occ = (self.occ.len() - 1) as u32;
        }
    }

    /// A lazy key (one-token, no postings: prefixes) is in `field` at `token`.
    ///
    /// Most prefix keys a story holds anchor no rule and are asked about by
    /// few; noting them in a short list costs less than marking each.
    #[inline]
    pub fn note_lazy(&mut self, key: u32, field: u8, token: u32) {
        self.lazy.push((key, field, token));
    }

    /// The fields `key` was found in.
    #[inline]
    pub fn fields(&self, hot: &[KeyHot], key: u32) -> u8 {
        let state = hot[key as usize].state;
        if state & LAZY_BIT != 0 {
            return self.lazy.iter().filter(|e| e.0 == key).fold(0, |fields, e| fields | e.1);
        }
        if state >> STAMP_SHIFT == self.stamp {
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

    /// The spans of a key's occurrences in a field (the key must have been found).
    fn occurrences<'a>(&'a self, hot: &[KeyHot], key: u32, field: u8) -> Spans<'a> {
        let h = &hot[key as usize];
        if h.state & LAZY_BIT != 0 {
            Spans::Lazy { lazy: self.lazy.iter(), key, field }
        } else {
            Spans::Listed { occ: &self.occ, at: h.occ, field }
        }
    }

    fn spans(&self, hot: &[KeyHot], block: &Block, sides: &[u32], field: u8, out: &mut Vec<(u32, u32)>) {
        out.clear();
        for &i in sides {
            let (key, mask) = block.leaf(i as usize);
            if mask & field != 0 && self.fields(hot, key) & field != 0 {
                out.extend(self.occurrences(hot, key, field));
            }
        }
    }

    /// A leaf NEAR another (each key << 2 | fields), without the rule's block.
    pub fn near_pair(&self, hot: &[KeyHot], a: u32, b: u32, distance: u32) -> bool {
        let here = |leaf: u32, field: u8| leaf & field as u32 != 0 && self.fields(hot, leaf >> 2) & field != 0;
        for field in [TITLE, BODY] {
            if !here(a, field) || !here(b, field) {
                continue;
            }
            if close(self.occurrences(hot, a >> 2, field), self.occurrences(hot, b >> 2, field), distance) {
                return true;
            }
        }
        false
    }

    /// An occurrence of a left leaf and one of a right leaf in one field, not
    /// overlapping, at most `distance` tokens apart.
    fn near(&mut self, hot: &[KeyHot], block: &Block, j: usize) -> bool {
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
