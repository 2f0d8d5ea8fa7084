//! The tokens the index knows, each looked up once per occurrence in a story.
//!
//! An entry says whether the token is a term some rule uses, whether some
//! phrase starts with it, and which prefix keys it starts with.  Tokens that
//! no rule names are kept too, only to remember their prefixes (that costs a
//! look-up per prefix length once, not per story), and are dropped when there
//! are too many of them.

use hashbrown::hash_map::RawEntryMut;
use hashbrown::HashMap;
use rustc_hash::FxBuildHasher;
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

pub const NONE: u32 = u32::MAX;

/// Tokens that only cache prefixes, at most, by default (a feed's vocabulary
/// keeps growing with names and numbers).
pub const CACHED_MAX: usize = 1 << 19;

const INLINE: usize = 22;

/// A token; short ones (nearly all) are stored in the table itself, so a
/// look-up compares bytes without following a pointer.
#[derive(Clone)]
pub enum Tok {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<str>),
}

impl From<&str> for Tok {
    fn from(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Tok::Inline { len: s.len() as u8, buf }
        } else {
            Tok::Heap(s.into())
        }
    }
}

impl Borrow<str> for Tok {
    fn borrow(&self) -> &str {
        match self {
            // SAFETY: the bytes were copied whole from a `&str` in `from`.
            Tok::Inline { len, buf } => unsafe { std::str::from_utf8_unchecked(&buf[..*len as usize]) },
            Tok::Heap(s) => s,
        }
    }
}

impl Hash for Tok {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes, so that look-ups by `&str` find it.
        Borrow::<str>::borrow(self).hash(state)
    }
}

impl PartialEq for Tok {
    fn eq(&self, other: &Self) -> bool {
        Borrow::<str>::borrow(self) == Borrow::<str>::borrow(other)
    }
}

impl Eq for Tok {}

pub struct Lex {
    /// Stable while the entry lives; phrases are sequences of these.
    pub id: u32,
    /// The term key of this token, or NONE.
    pub term: u32,
    /// How many phrase keys start with this token.
    pub phrase_first: u32,
    /// Which tokens may follow it in those phrases: bit `second_bit(id)` of
    /// each second token (a one-word Bloom filter; removed phrases leave
    /// their bits until no phrase starts with the token).
    pub seconds: u32,
    /// Keys that hold this token (its term key, phrases it is in); 0 = only cached.
    pub refs: u32,
    /// `prefix` and `n_prefixes` are valid when this equals the index's prefix generation.
    pub prefix_gen: u32,
    /// The prefix keys the token starts with, if no more than `PREFIXES_INLINE`
    /// (else the index keeps them all elsewhere, by id).
    pub prefix: [u32; PREFIXES_INLINE],
    pub n_prefixes: u32,
}

pub const PREFIXES_INLINE: usize = 3;

pub struct Lexicon {
    map: HashMap<Tok, Lex, FxBuildHasher>,
    free_ids: Vec<u32>,
    next_id: u32,
    cached_max: usize,
    limit: usize,
}

impl Lexicon {
    pub fn new(cached_max: usize) -> Self {
        Lexicon { map: HashMap::default(), free_ids: Vec::new(), next_id: 0, cached_max, limit: cached_max }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn cached_only(&self) -> usize {
        self.map.values().filter(|lex| lex.refs == 0).count()
    }

    pub fn get_mut(&mut self, token: &str) -> Option<&mut Lex> {
        self.map.get_mut(token)
    }

    /// The entry for `token`, made if new.
    pub fn entry(&mut self, token: &str) -> &mut Lex {
        let Lexicon { map, free_ids, next_id, .. } = self;
        match map.raw_entry_mut().from_key(token) {
            RawEntryMut::Occupied(entry) => entry.into_mut(),
            RawEntryMut::Vacant(entry) => {
                let id = free_ids.pop().unwrap_or_else(|| {
                    *next_id += 1;
                    *next_id - 1
                });
                let lex = Lex {
                    id,
                    term: NONE,
                    phrase_first: 0,
                    seconds: 0,
                    refs: 0,
                    prefix_gen: 0,
                    prefix: [NONE; PREFIXES_INLINE],
                    n_prefixes: 0,
                };
                entry.insert(Tok::from(token), lex).1
            }
        }
    }

    /// The entry for `token`; made if new when `make`.
    #[inline]
    pub fn find(&mut self, token: &str, make: bool) -> Option<&mut Lex> {
        if make {
            Some(self.entry(token))
        } else {
            self.map.get_mut(token)
        }
    }

    /// Drop the cached-only tokens when there are too many; call between
    /// stories.  True if it did (ids were freed).
    pub fn trim(&mut self) -> bool {
        if self.map.len() <= self.limit {
            return false;
        }
        let free_ids = &mut self.free_ids;
        self.map.retain(|_, lex| {
            if lex.refs > 0 {
                return true;
            }
            free_ids.push(lex.id);
            false
        });
        self.map.shrink_to_fit();
        self.limit = self.map.len() + self.cached_max;
        true
    }
}

/// The bit of `Lex::seconds` for a token id.
#[inline]
pub fn second_bit(id: u32) -> u32 {
    1 << (id.wrapping_mul(0x9E37_79B1) >> 27)
}
