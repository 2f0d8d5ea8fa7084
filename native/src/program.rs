//! A rule as the index keeps it: one contiguous block of words, so deciding a
//! candidate touches one place in memory.
//!
//! Block layout, in u32 words:
//!
//!     n_leaves, program length, n_nears,
//!     leaves: key << 2 | fields (1 title, 2 body, 3 either) ...,
//!     program: opcode << 24 | argument ...,
//!     NEARs: n_left << 16 | n_right, distance, left leaves ..., right leaves ...
//!
//! The program is postfix: push a leaf's or a NEAR's value, NOT the top, AND
//! or OR the top n.

use pyo3::exceptions::PyValueError;
use pyo3::PyResult;

pub const OP_LEAF: u32 = 0;
pub const OP_NEAR: u32 = 1;
pub const OP_NOT: u32 = 2;
pub const OP_AND: u32 = 3;
pub const OP_OR: u32 = 4;
pub const ARG_MASK: u32 = (1 << 24) - 1;

// Leaf kinds, as `native.py` sends them.
pub const TERM: u8 = 0;
pub const PHRASE: u8 = 1;
pub const PREFIX: u8 = 2;

/// (kind, tokens, fields)
pub type LeafSpec = (u8, Vec<String>, u8);
/// (left leaves, right leaves, distance)
pub type NearSpec = (Vec<u16>, Vec<u16>, u32);

const HEAD: usize = 3;

/// Reject what would make evaluation go wrong, before anything is changed.
pub fn check(leaves: &[LeafSpec], nears: &[NearSpec], program: &[u32], anchors: &[u16]) -> PyResult<()> {
    let bad = |what: &str| Err(PyValueError::new_err(format!("malformed rule: {what}")));
    if leaves.is_empty() || leaves.len() > u16::MAX as usize {
        return bad("number of leaves");
    }
    for (kind, tokens, fields) in leaves {
        let ok = match *kind {
            TERM | PREFIX => tokens.len() == 1,
            PHRASE => tokens.len() >= 2,
            _ => false,
        };
        if !ok || !(1..=3).contains(fields) || tokens.iter().any(|t| t.is_empty()) {
            return bad("leaf");
        }
    }
    for (left, right, _) in nears {
        let sides = left.iter().chain(right);
        if left.is_empty() || right.is_empty() || left.len() > 0xFFFF || right.len() > 0xFFFF {
            return bad("NEAR");
        }
        if sides.clone().any(|&i| i as usize >= leaves.len()) {
            return bad("NEAR");
        }
    }
    if anchors.is_empty() || anchors.iter().any(|&i| i as usize >= leaves.len()) {
        return bad("anchors");
    }
    let mut depth = 0usize;
    for &op in program {
        let arg = (op & ARG_MASK) as usize;
        depth = match op >> 24 {
            OP_LEAF if arg < leaves.len() => depth + 1,
            OP_NEAR if arg < nears.len() => depth + 1,
            OP_NOT if depth >= 1 => depth,
            OP_AND | OP_OR if arg >= 1 && depth >= arg => depth - arg + 1,
            _ => return bad("program"),
        };
    }
    if depth != 1 {
        return bad("program");
    }
    Ok(())
}

/// Append a rule's block to `code`, with its leaves already turned into keys.
pub fn encode(code: &mut Vec<u32>, keys: &[u32], leaves: &[LeafSpec], nears: &[NearSpec], program: &[u32]) {
    code.push(leaves.len() as u32);
    code.push(program.len() as u32);
    code.push(nears.len() as u32);
    code.extend(keys.iter().zip(leaves).map(|(&key, (_, _, fields))| key << 2 | *fields as u32));
    code.extend_from_slice(program);
    for (left, right, distance) in nears {
        code.push((left.len() as u32) << 16 | right.len() as u32);
        code.push(*distance);
        code.extend(left.iter().chain(right).map(|&i| i as u32));
    }
}

/// A view of one rule's block.
#[derive(Clone, Copy)]
pub struct Block<'a> {
    pub leaves: &'a [u32],
    pub program: &'a [u32],
    pub n_nears: usize,
    nears: &'a [u32],
}

impl<'a> Block<'a> {
    #[inline]
    pub fn at(code: &'a [u32], at: u32) -> Self {
        let at = at as usize;
        let (n, len) = (code[at] as usize, code[at + 1] as usize);
        let leaves_at = at + HEAD;
        let program_at = leaves_at + n;
        Block {
            leaves: &code[leaves_at..program_at],
            program: &code[program_at..program_at + len],
            n_nears: code[at + 2] as usize,
            nears: &code[program_at + len..],
        }
    }

    /// How many words the block takes.
    pub fn len(&self) -> usize {
        let mut at = 0;
        for _ in 0..self.n_nears {
            let head = self.nears[at] as usize;
            at += 2 + (head >> 16) + (head & 0xFFFF);
        }
        HEAD + self.leaves.len() + self.program.len() + at
    }

    /// (key, fields) of leaf i.
    #[inline]
    pub fn leaf(&self, i: usize) -> (u32, u8) {
        let w = self.leaves[i];
        (w >> 2, (w & 3) as u8)
    }

    /// The j-th NEAR: (left leaves, right leaves, distance).
    pub fn near(&self, j: usize) -> (&'a [u32], &'a [u32], u32) {
        let mut at = 0;
        for _ in 0..j {
            let head = self.nears[at] as usize;
            at += 2 + (head >> 16) + (head & 0xFFFF);
        }
        let head = self.nears[at] as usize;
        let (nl, nr) = (head >> 16, head & 0xFFFF);
        (&self.nears[at + 2..at + 2 + nl], &self.nears[at + 2 + nl..at + 2 + nl + nr], self.nears[at + 1])
    }
}
