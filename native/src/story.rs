//! What one story holds, as the index sees it, and rules evaluated against it.
//!
//! The keys found are kept in a small table of this story's own (a few
//! hundred entries, in the L1 cache), so that marking a key and asking about
//! one touch nothing of the index's large arrays.

use crate::lexicon::NONE;
use crate::program::{Block, ARG_MASK, OP_AND, OP_LEAF, OP_NEAR, OP_NOT, OP_OR};

pub const TITLE: u8 = 1;
pub const BODY: u8 = 2;

/// Where a key occurs; each key's occurrences are a list through `next`.
#[derive(Clone, Copy)]
struct Occ {
    field: u8,
    start: u32,
    end: u32,
    next: u32,
}

/// The spans of a key's occurrences in one field.
#[derive(Clone)]
struct Spans<'a> {
    occ: &'a [Occ],
    at: u32,
    field: u8,
}

impl Iterator for Spans<'_> {
    type Item = (u32, u32);

    fn next(&mut self) -> Option<(u32, u32)> {
        while self.at != NONE {
            let o = self.occ[self.at as usize];
            self.at = o.next;
            if o.field == self.field {
                return Some((o.start, o.end));
            }
        }
        None
    }
}

/// A key found in this story: the fields it is in and its last occurrence.
#[derive(Clone, Copy)]
struct Found {
    key: u32,
    fields: u8,
    occ: u32,
}

const EMPTY: Found = Found { key: NONE, fields: 0, occ: NONE };

pub struct Story {
    /// Open addressing on the key, at most half full; `used` says which slots to empty.
    table: Vec<Found>,
    shift: u32,
    used: Vec<u32>,
    /// Keys found that may anchor rules, in the order found.
    pub present: Vec<u32>,
    occ: Vec<Occ>,
    /// (rank, rule) of the rules found true; a rule may be in twice.
    pub matched: Vec<(u64, u32)>,
    /// Lexicon ids of the current field's tokens (NONE for unknown ones).
    pub ids: Vec<u32>,
    /// `Lex::seconds` of the current field's tokens.
    pub seconds: Vec<u32>,
    stack: Vec<bool>,
    left: Vec<(u32, u32)>,
    right: Vec<(u32, u32)>,
}

impl Default for Story {
    fn default() -> Self {
        let n: usize = 1024;
        Story {
            table: vec![EMPTY; n],
            shift: 32 - n.trailing_zeros(),
            used: Vec::new(),
            present: Vec::new(),
            occ: Vec::new(),
            matched: Vec::new(),
            ids: Vec::new(),
            seconds: Vec::new(),
            stack: Vec::new(),
            left: Vec::new(),
            right: Vec::new(),
        }
    }
}

impl Story {
    pub fn begin(&mut self) {
        for &i in self.used.iter() {
            self.table[i as usize] = EMPTY;
        }
        self.used.clear();
        self.present.clear();
        self.occ.clear();
        self.matched.clear();
    }

    /// The slot of `key`, or the empty one where it would go.
    #[inline]
    fn slot(&self, key: u32) -> usize {
        let mask = self.table.len() - 1;
        let mut i = (key.wrapping_mul(0x9E37_79B1) >> self.shift) as usize;
        loop {
            let k = self.table[i].key;
            if k == key || k == NONE {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let n = self.table.len() * 2;
        let old = std::mem::replace(&mut self.table, vec![EMPTY; n]);
        self.shift = 32 - n.trailing_zeros();
        self.used.clear();
        for found in old.into_iter().filter(|f| f.key != NONE) {
            let i = self.slot(found.key);
            self.table[i] = found;
            self.used.push(i as u32);
        }
    }

    /// Key `key` is in `field` at tokens start..end; `anchors`: it may have
    /// postings (only such keys are looked at by `Index::collect`).
    #[inline]
    pub fn mark(&mut self, key: u32, anchors: bool, field: u8, start: u32, end: u32) {
        if 2 * (self.used.len() + 1) > self.table.len() {
            self.grow();
        }
        let i = self.slot(key);
        let found = &mut self.table[i];
        if found.key == NONE {
            *found = Found { key, fields: 0, occ: NONE };
            self.used.push(i as u32);
            if anchors {
                self.present.push(key);
            }
        }
        found.fields |= field;
        self.occ.push(Occ { field, start, end, next: found.occ });
        found.occ = (self.occ.len() - 1) as u32;
    }

    /// The fields `key` was found in.
    #[inline]
    pub fn fields(&self, key: u32) -> u8 {
        self.table[self.slot(key)].fields
    }

    /// Whether a leaf (key << 2 | fields) is true.
    #[inline]
    pub fn leaf(&self, leaf: u32) -> bool {
        self.fields(leaf >> 2) & (leaf & 3) as u8 != 0
    }

    /// The spans of a key's occurrences in a field.
    fn occurrences(&self, key: u32, field: u8) -> Spans<'_> {
        Spans { occ: &self.occ, at: self.table[self.slot(key)].occ, field }
    }

    fn spans(&self, block: &Block, sides: &[u32], field: u8, out: &mut Vec<(u32, u32)>) {
        out.clear();
        for &i in sides {
            let (key, mask) = block.leaf(i as usize);
            if mask & field != 0 {
                out.extend(self.occurrences(key, field));
            }
        }
    }

    /// A leaf NEAR another (each key << 2 | fields), without the rule's block.
    pub fn near_pair(&self, a: u32, b: u32, distance: u32) -> bool {
        [TITLE, BODY].into_iter().any(|field| {
            a & b & field as u32 != 0
                && close(self.occurrences(a >> 2, field), self.occurrences(b >> 2, field), distance)
        })
    }

    /// An occurrence of a left leaf and one of a right leaf in one field, not
    /// overlapping, at most `distance` tokens apart.
    fn near(&mut self, block: &Block, j: usize) -> bool {
        let (lefts, rights, d) = block.near(j);
        let (mut left, mut right) = (std::mem::take(&mut self.left), std::mem::take(&mut self.right));
        let mut found = false;
        for field in [TITLE, BODY] {
            self.spans(block, lefts, field, &mut left);
            if left.is_empty() {
                continue;
            }
            self.spans(block, rights, field, &mut right);
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
    pub fn eval(&mut self, block: &Block) -> bool {
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        for &op in block.program {
            let arg = (op & ARG_MASK) as usize;
            match op >> 24 {
                OP_LEAF => {
                    let (key, mask) = block.leaf(arg);
                    stack.push(self.fields(key) & mask != 0);
                }
                OP_NEAR => {
                    let v = self.near(block, arg);
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
fn close(
    left: impl Iterator<Item = (u32, u32)>,
    right: impl Iterator<Item = (u32, u32)> + Clone,
    distance: u32,
) -> bool {
    let d = distance;
    left.into_iter()
        .any(|(a0, a1)| right.clone().any(|(b0, b1)| (a1 <= b0 && b0 - a1 <= d) || (b1 <= a0 && a0 - b1 <= d)))
}
