//! The compiled core of the watch-rule matcher: `wirewatch.query._native.Index`.
//!
//! Python parses every query, cuts every story into tokens (the spec's own
//! definition, with Python's Unicode tables) and chooses each rule's anchors;
//! this core holds the index and answers "which rules does this story match".
//! `wirewatch/query/native.py` describes what a rule looks like on the way in.
//!
//! Per story, the work follows what the story holds, not how many rules
//! there are:
//!
//! 1. Each token is looked up once in the lexicon, which says whether it is a
//!    term some rule uses, whether some phrase starts with it, and which
//!    prefixes it starts with.  A phrase is found from the pair of tokens it
//!    starts with.  Each key (term, phrase or prefix) found is marked with the
//!    fields it was found in.
//! 2. Each rule is posted under a few anchor leaves, one of which is true
//!    whenever the rule is.  The postings of the keys found give the candidate
//!    rules; a rule that is only an OR of its anchors matches outright, any
//!    other is evaluated from its code block (`program.rs`), NEARs on the
//!    token positions recorded for the keys they use.
//! 3. The matches are sorted by rank (`order.rs`), which follows rule ids.

mod lexicon;
mod order;
mod program;
mod story;

use lexicon::{second_bit, Lexicon, CACHED_MAX, NONE, PREFIXES_INLINE};
use order::Order;
use program::{Block, LeafSpec, NearSpec, PHRASE, PREFIX, TERM};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use rustc_hash::FxHashMap;
use story::{Story, BODY, TITLE};

/// Code offsets share a word with a mode and fields (see `Posting`).
const MAX_CODE: usize = 1 << 27;
/// Keys share a word with their fields in a code block.
const MAX_KEYS: usize = 1 << 30;
/// In a token's prefix keys: the key anchors some rule, so its postings are
/// looked at (most prefixes anchor none; they are only asked about).
const EAGER: u32 = 1 << 31;

enum KeyKind {
    Term(Box<str>),
    /// Lexicon ids and the tokens themselves.
    Phrase(Box<[u32]>, Box<[Box<str>]>),
    Prefix(Box<str>),
    Free,
}

struct Key {
    kind: KeyKind,
    /// Leaves of live rules that are this key.
    refs: u32,
    /// Room for postings at `Run::at`.
    cap: u32,
}

/// Where a key's postings are: `Index::posts[at..at + len]` (apart from
/// `Key`, so that matching reads eight bytes per key found).
#[derive(Clone, Copy, Default)]
struct Run {
    at: u32,
    len: u32,
}

/// A rule posted under one of its anchors, with what decides it once the
/// anchor is found: for the common shapes, nothing or a leaf or two (`a`,
/// `b`: key << 2 | fields) given here; for the others, its code block.
#[derive(Clone, Copy)]
struct Posting {
    /// Where the rule sorts (`Order`).
    rank: u64,
    rule: u32,
    /// code offset << 5 | mode << 2 | the fields the anchor must be in.
    word: u32,
    a: u32,
    b: u32,
}

// How a candidate is decided (`native.py` says when each applies).
/// Run the block's program.
const EVAL: u32 = 0;
/// True.
const EXACT: u32 = 1;
/// True if `a` is.
const AND: u32 = 2;
/// True if `a` is not.
const AND_NOT: u32 = 3;
/// True if `a` or `b` is.
const AND_EITHER: u32 = 4;
/// True if the anchor is within `b` tokens of `a` (the rule is one NEAR of two leaves).
const NEAR: u32 = 5;
const MODE_SHIFT: u32 = 2;
const CODE_SHIFT: u32 = 5;

/// Phrases that start with a given pair of tokens.
struct Starts {
    /// The two-token phrase, or NONE.
    two: u32,
    /// Longer ones: (key, lexicon id of the third token, length); the first
    /// here (NONE key if none) so that the usual case reads no other memory.
    longer: (u32, u32, u32),
    more: Vec<(u32, u32, u32)>,
}

impl Starts {
    fn longer(&self) -> impl Iterator<Item = &(u32, u32, u32)> {
        std::iter::once(&self.longer).filter(|x| x.0 != NONE).chain(self.more.iter())
    }
}

struct Rule {
    /// The id as UTF-8 (surrogates passed through): byte order is code point order.
    sort_key: Box<[u8]>,
    code: u32,
    /// Leaves (indices) the rule is posted under.
    anchors: Box<[u16]>,
}

/// Ask for the cache line holding `x`: the misses of many independent
/// look-ups then overlap instead of coming one after another.
#[inline(always)]
fn prefetch<T>(x: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(x as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

#[inline]
fn bigram(a: u32, b: u32) -> u64 {
    (a as u64) << 32 | b as u64
}

/// The rule index.  Not for several threads at once (Python's `Matcher`
/// holds the GIL across every call).
#[pyclass(module = "wirewatch.query._native")]
pub struct Index {
    lexicon: Lexicon,
    /// Prefix keys of tokens that start more than `PREFIXES_INLINE`, by lexicon id.
    many_prefixes: FxHashMap<u32, Box<[u32]>>,
    keys: Vec<Key>,
    runs: Vec<Run>,
    key_free: Vec<u32>,
    /// Every key's postings, each key's together; moved keys leave garbage.
    posts: Vec<Posting>,
    post_garbage: usize,
    phrases: FxHashMap<Box<[u32]>, u32>,
    /// The first two tokens' lexicon ids -> phrases that start so.
    bigrams: FxHashMap<u64, Starts>,
    prefixes: FxHashMap<Box<str>, u32>,
    /// (length in bytes, how many prefixes have it), by length.
    prefix_lens: Vec<(usize, u32)>,
    /// Changes whenever the set of prefixes does; the lexicon's cached prefixes follow it.
    prefix_gen: u32,
    rules: Vec<Option<Rule>>,
    names: Vec<Option<Py<PyString>>>,
    rule_free: Vec<u32>,
    order: Order,
    /// Code blocks of the rules; removed rules leave garbage until `compact_code`.
    code: Vec<u32>,
    garbage: usize,
    story: Story,
}

impl Index {
    fn new_key(&mut self, kind: KeyKind) -> u32 {
        let key = Key { kind, refs: 0, cap: 0 };
        match self.key_free.pop() {
            Some(k) => {
                self.keys[k as usize] = key;
                self.runs[k as usize] = Run::default();
                k
            }
            None => {
                self.keys.push(key);
                self.runs.push(Run::default());
                (self.keys.len() - 1) as u32
            }
        }
    }

    /// Add a posting to a key, moving its postings to the end when they have no room.
    fn post(&mut self, key: u32, posting: Posting) {
        let (k, run) = (key as usize, &mut self.runs[key as usize]);
        let (at, len) = (run.at as usize, run.len as usize);
        if len as u32 == self.keys[k].cap {
            let cap = (2 * len).max(1);
            let moved = self.posts.len();
            self.posts.extend_from_within(at..at + len);
            self.posts.resize(moved + cap, posting);
            self.post_garbage += self.keys[k].cap as usize;
            self.keys[k].cap = cap as u32;
            run.at = moved as u32;
        }
        self.posts[run.at as usize + len] = posting;
        run.len += 1;
        if len == 0 {
            self.anchoring_changed(key);
        }
    }

    /// A key's postings became empty or not: the lexicon notes which prefix keys anchor rules.
    fn anchoring_changed(&mut self, key: u32) {
        if let KeyKind::Prefix(_) = self.keys[key as usize].kind {
            self.prefixes_changed();
        }
    }

    fn unpost(&mut self, key: u32, rule: u32) {
        let run = &mut self.runs[key as usize];
        let posts = &mut self.posts[run.at as usize..(run.at + run.len) as usize];
        let mut len = posts.len();
        let mut i = 0;
        while i < len {
            if posts[i].rule == rule {
                posts.swap(i, len - 1);
                len -= 1;
            } else {
                i += 1;
            }
        }
        let emptied = run.len > 0 && len == 0;
        run.len = len as u32;
        if emptied {
            self.anchoring_changed(key);
        }
    }

    /// Lay every key's postings out again, tightly, in key order.
    fn compact_posts(&mut self) {
        let mut posts = Vec::with_capacity(self.posts.len() - self.post_garbage);
        for (key, run) in self.keys.iter_mut().zip(self.runs.iter_mut()) {
            let (at, len) = (run.at as usize, run.len as usize);
            run.at = posts.len() as u32;
            key.cap = len as u32;
            posts.extend_from_slice(&self.posts[at..at + len]);
        }
        self.posts = posts;
        self.post_garbage = 0;
    }

    fn prefixes_changed(&mut self) {
        self.prefix_gen = self.prefix_gen.wrapping_add(1).max(1);
    }

    /// The key of a leaf, made if new; counts one more reference to it.
    fn acquire(&mut self, kind: u8, tokens: &[String]) -> u32 {
        let key = match kind {
            TERM => {
                let token = tokens[0].as_str();
                match self.lexicon.entry(token).term {
                    NONE => {
                        let k = self.new_key(KeyKind::Term(token.into()));
                        let lex = self.lexicon.entry(token);
                        lex.term = k;
                        lex.refs += 1;
                        k
                    }
                    k => k,
                }
            }
            PHRASE => {
                let ids: Box<[u32]> = tokens.iter().map(|t| self.lexicon.entry(t).id).collect();
                match self.phrases.get(&ids) {
                    Some(&k) => k,
                    None => {
                        let words: Box<[Box<str>]> = tokens.iter().map(|t| t.as_str().into()).collect();
                        let k = self.new_key(KeyKind::Phrase(ids.clone(), words));
                        for t in tokens {
                            self.lexicon.entry(t).refs += 1;
                        }
                        let first = self.lexicon.entry(&tokens[0]);
                        first.phrase_first += 1;
                        first.seconds |= second_bit(ids[1]);
                        let starts = self.bigrams.entry(bigram(ids[0], ids[1])).or_insert_with(|| Starts {
                            two: NONE,
                            longer: (NONE, 0, 0),
                            more: Vec::new(),
                        });
                        if ids.len() == 2 {
                            starts.two = k;
                        } else if starts.longer.0 == NONE {
                            starts.longer = (k, ids[2], ids.len() as u32);
                        } else {
                            starts.more.push((k, ids[2], ids.len() as u32));
                        }
                        self.phrases.insert(ids, k);
                        k
                    }
                }
            }
            PREFIX => match self.prefixes.get(tokens[0].as_str()) {
                Some(&k) => k,
                None => {
                    let prefix: Box<str> = tokens[0].as_str().into();
                    let k = self.new_key(KeyKind::Prefix(prefix.clone()));
                    let n = prefix.len();
                    match self.prefix_lens.binary_search_by_key(&n, |&(len, _)| len) {
                        Ok(i) => self.prefix_lens[i].1 += 1,
                        Err(i) => self.prefix_lens.insert(i, (n, 1)),
                    }
                    self.prefixes.insert(prefix, k);
                    self.prefixes_changed();
                    k
                }
            },
            _ => unreachable!("checked when the rule was added"),
        };
        self.keys[key as usize].refs += 1;
        key
    }

    /// One reference fewer to a key; the last one takes the key out.
    fn release(&mut self, key: u32) {
        let k = key as usize;
        self.keys[k].refs -= 1;
        if self.keys[k].refs > 0 {
            return;
        }
        match std::mem::replace(&mut self.keys[k].kind, KeyKind::Free) {
            KeyKind::Term(token) => {
                let lex = self.lexicon.get_mut(&token).expect("a key's tokens are in the lexicon");
                lex.term = NONE;
                lex.refs -= 1;
            }
            KeyKind::Phrase(ids, words) => {
                let pair = bigram(ids[0], ids[1]);
                if let Some(starts) = self.bigrams.get_mut(&pair) {
                    if starts.two == key {
                        starts.two = NONE;
                    }
                    starts.more.retain(|&(x, _, _)| x != key);
                    if starts.longer.0 == key {
                        starts.longer = starts.more.pop().unwrap_or((NONE, 0, 0));
                    }
                    if starts.two == NONE && starts.longer.0 == NONE {
                        self.bigrams.remove(&pair);
                    }
                }
                let first = self.lexicon.get_mut(&words[0]).expect("in the lexicon");
                first.phrase_first -= 1;
                if first.phrase_first == 0 {
                    first.seconds = 0;
                }
                for word in words.iter() {
                    self.lexicon.get_mut(word).expect("in the lexicon").refs -= 1;
                }
                self.phrases.remove(&ids);
            }
            KeyKind::Prefix(prefix) => {
                self.prefixes.remove(&prefix);
                if let Ok(i) = self.prefix_lens.binary_search_by_key(&prefix.len(), |&(len, _)| len) {
                    self.prefix_lens[i].1 -= 1;
                    if self.prefix_lens[i].1 == 0 {
                        self.prefix_lens.remove(i);
                    }
                }
                self.prefixes_changed();
            }
            KeyKind::Free => unreachable!("a free key has no references"),
        }
        self.post_garbage += self.keys[k].cap as usize;
        self.keys[k].cap = 0;
        self.runs[k] = Run::default();
        self.key_free.push(key);
    }

    /// Copy every rule's rank into its postings (after `Order` gave them all again).
    fn rerank(&mut self) {
        let order = &self.order;
        for run in self.runs.iter() {
            for p in self.posts[run.at as usize..(run.at + run.len) as usize].iter_mut() {
                p.rank = order.rank(p.rule);
            }
        }
    }

    /// Rewrite the code blocks without those of removed rules.
    fn compact_code(&mut self) {
        let mut code = Vec::with_capacity(self.code.len() - self.garbage);
        for rule in self.rules.iter_mut().flatten() {
            let len = Block::at(&self.code, rule.code).len();
            let at = rule.code as usize;
            rule.code = code.len() as u32;
            code.extend_from_slice(&self.code[at..at + len]);
        }
        self.code = code;
        self.garbage = 0;
        let rules = &self.rules;
        for run in self.runs.iter() {
            for p in self.posts[run.at as usize..(run.at + run.len) as usize].iter_mut() {
                let at = rules[p.rule as usize].as_ref().expect("postings name live rules").code;
                p.word = at << CODE_SHIFT | (p.word & ((1 << CODE_SHIFT) - 1));
            }
        }
    }

    /// Mark the keys found in one field's tokens.
    fn scan(&mut self, field: u8, tokens: &Bound<'_, PyList>) -> PyResult<()> {
        let with_prefixes = !self.prefixes.is_empty();
        let Index { lexicon, many_prefixes, story, runs, prefixes, prefix_lens, prefix_gen, .. } = self;
        // Lexicon id of each token (NONE if unknown), and which tokens may follow it in a phrase.
        let mut ids = std::mem::take(&mut story.ids);
        ids.clear();
        let mut seconds = std::mem::take(&mut story.seconds);
        seconds.clear();
        for (i, item) in tokens.iter().enumerate() {
            let item = item.cast_into::<PyString>().map_err(|_| PyTypeError::new_err("tokens must be str"))?;
            let text = item.to_str()?;
            let Some(lex) = lexicon.find(text, with_prefixes) else {
                ids.push(NONE);
                seconds.push(0);
                continue;
            };
            ids.push(lex.id);
            seconds.push(lex.seconds);
            let at = i as u32;
            if lex.term != NONE {
                story.mark(lex.term, true, field, at, at + 1);
            }
            if !with_prefixes {
                continue;
            }
            if lex.prefix_gen != *prefix_gen {
                let found: Vec<u32> = prefix_lens
                    .iter()
                    .take_while(|&&(n, _)| n <= text.len())
                    .filter_map(|&(n, _)| text.get(..n).and_then(|head| prefixes.get(head)).copied())
                    .map(|k| if runs[k as usize].len > 0 { k | EAGER } else { k })
                    .collect();
                lex.n_prefixes = found.len() as u32;
                lex.prefix = [NONE; PREFIXES_INLINE];
                if found.len() <= PREFIXES_INLINE {
                    lex.prefix[..found.len()].copy_from_slice(&found);
                } else {
                    many_prefixes.insert(lex.id, found.into());
                }
                lex.prefix_gen = *prefix_gen;
            }
            let n = lex.n_prefixes as usize;
            let found = if n <= PREFIXES_INLINE { &lex.prefix[..n] } else { &many_prefixes[&lex.id][..] };
            for &k in found {
                story.mark(k & !EAGER, k & EAGER != 0, field, at, at + 1);
            }
        }
        if !self.bigrams.is_empty() {
            for i in 0..ids.len().saturating_sub(1) {
                let (a, b) = (ids[i], ids[i + 1]);
                if b == NONE || seconds[i] & second_bit(b) == 0 {
                    continue;
                }
                let Some(starts) = self.bigrams.get(&bigram(a, b)) else { continue };
                if starts.two != NONE {
                    self.story.mark(starts.two, true, field, i as u32, i as u32 + 2);
                }
                for &(k, third, len) in starts.longer() {
                    let end = i + len as usize;
                    if end > ids.len() || ids[i + 2] != third {
                        continue;
                    }
                    if len > 3 {
                        let KeyKind::Phrase(words, _) = &self.keys[k as usize].kind else { continue };
                        if ids[i + 3..end] != words[3..] {
                            continue;
                        }
                    }
                    self.story.mark(k, true, field, i as u32, end as u32);
                }
            }
        }
        self.story.ids = ids;
        self.story.seconds = seconds;
        Ok(())
    }

    /// The rules whose anchors were found, decided, into `story.matched`.
    fn collect(&mut self) {
        let Index { runs, posts, code, story, .. } = self;
        // Where the found keys' postings are, then the postings, asked for
        // together so that the misses overlap.
        for &key in story.present.iter() {
            prefetch(&runs[key as usize]);
        }
        for &key in story.present.iter() {
            let run = runs[key as usize];
            if run.len > 0 {
                prefetch(&posts[run.at as usize]);
            }
        }
        for i in 0..story.present.len() {
            let key = story.present[i];
            let run = runs[key as usize];
            let fields = story.fields(key) as u32;
            for p in posts[run.at as usize..(run.at + run.len) as usize].iter() {
                if p.word & fields == 0 {
                    continue;
                }
                let true_ = match p.word >> MODE_SHIFT & 7 {
                    EXACT => true,
                    AND => story.leaf(p.a),
                    AND_NOT => !story.leaf(p.a),
                    AND_EITHER => story.leaf(p.a) || story.leaf(p.b),
                    NEAR => story.near_pair(key << 2 | (p.word & 3), p.a, p.b),
                    _ => story.eval(&Block::at(code, p.word >> CODE_SHIFT)),
                };
                if true_ {
                    story.matched.push((p.rank, p.rule));
                }
            }
        }
    }
}

#[pymethods]
impl Index {
    /// `cached_tokens`: how many tokens no rule names the lexicon keeps (for
    /// their prefixes) before it drops them.
    #[new]
    #[pyo3(signature = (cached_tokens = CACHED_MAX))]
    fn new(cached_tokens: usize) -> Self {
        Index {
            lexicon: Lexicon::new(cached_tokens),
            many_prefixes: FxHashMap::default(),
            keys: Vec::new(),
            runs: Vec::new(),
            key_free: Vec::new(),
            posts: Vec::new(),
            post_garbage: 0,
            phrases: FxHashMap::default(),
            bigrams: FxHashMap::default(),
            prefixes: FxHashMap::default(),
            prefix_lens: Vec::new(),
            prefix_gen: 1,
            rules: Vec::new(),
            names: Vec::new(),
            rule_free: Vec::new(),
            order: Order::new(),
            code: Vec::new(),
            garbage: 0,
            story: Story::default(),
        }
    }

    /// Add a rule; returns its slot (for `remove`).  `sort_key` must differ
    /// from every other rule's.
    ///
    /// leaves: (kind, tokens, fields) per leaf; nears: (left leaves, right
    /// leaves, distance); program: postfix over leaves and NEARs; anchors:
    /// leaves one of which is true whenever the rule is; decide: (mode, x, y)
    /// says what else makes the rule true once an anchor is (see `Posting`):
    /// x and y are leaves, but y is the distance for NEAR.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        name: Bound<'_, PyString>,
        sort_key: Vec<u8>,
        leaves: Vec<LeafSpec>,
        nears: Vec<NearSpec>,
        program: Vec<u32>,
        anchors: Vec<u16>,
        decide: (u32, u32, u32),
    ) -> PyResult<u32> {
        program::check(&leaves, &nears, &program, &anchors)?;
        let (mode, x, y) = decide;
        let n = leaves.len() as u32;
        let ok = match mode {
            EVAL | EXACT => true,
            AND | AND_NOT => x < n,
            AND_EITHER => x < n && y < n,
            NEAR => x < n && anchors.len() == 1,
            _ => false,
        };
        if !ok {
            return Err(PyValueError::new_err("malformed rule: decide"));
        }
        if self.keys.len() + leaves.len() >= MAX_KEYS || self.code.len() + program.len() + (1 << 20) >= MAX_CODE {
            return Err(PyValueError::new_err("too many rules"));
        }
        let keys: Vec<u32> = leaves.iter().map(|(kind, tokens, _)| self.acquire(*kind, tokens)).collect();
        let at = self.code.len() as u32;
        program::encode(&mut self.code, &keys, &leaves, &nears, &program);
        let slot = match self.rule_free.pop() {
            Some(slot) => slot,
            None => {
                self.rules.push(None);
                self.names.push(None);
                (self.rules.len() - 1) as u32
            }
        };
        let sort_key: Box<[u8]> = sort_key.into();
        let reranked = self.order.insert(sort_key.clone(), slot);
        let rank = self.order.rank(slot);
        let leaf = |i: u32| if i < n { keys[i as usize] << 2 | leaves[i as usize].2 as u32 } else { 0 };
        let (a, b) = (leaf(x), if mode == NEAR { y } else { leaf(y) });
        for &anchor in anchors.iter() {
            let word = at << CODE_SHIFT | mode << MODE_SHIFT | leaves[anchor as usize].2 as u32;
            self.post(keys[anchor as usize], Posting { rank, rule: slot, word, a, b });
        }
        self.rules[slot as usize] = Some(Rule { sort_key, code: at, anchors: anchors.into() });
        self.names[slot as usize] = Some(name.unbind());
        if reranked {
            self.rerank();
        }
        Ok(slot)
    }

    /// Take out the rule in `slot`.
    fn remove(&mut self, slot: u32) -> PyResult<()> {
        let rule = self.rules.get_mut(slot as usize).and_then(Option::take).ok_or_else(|| PyKeyError::new_err(slot))?;
        self.names[slot as usize] = None;
        self.order.remove(&rule.sort_key);
        let block = Block::at(&self.code, rule.code);
        let keys: Vec<u32> = (0..block.leaves.len()).map(|i| block.leaf(i).0).collect();
        self.garbage += block.len();
        for &a in rule.anchors.iter() {
            self.unpost(keys[a as usize], slot);
        }
        for key in keys {
            self.release(key);
        }
        self.rule_free.push(slot);
        if self.garbage > (1 << 20).max(self.code.len() / 2) {
            self.compact_code();
        }
        if self.post_garbage > (1 << 16).max(self.posts.len() / 2) {
            self.compact_posts();
        }
        Ok(())
    }

    /// Lay the index out again, tightly (after a bulk load).
    fn compact(&mut self) {
        self.compact_code();
        self.compact_posts();
    }

    /// Names of the rules a story matches, sorted, given each field's tokens.
    #[pyo3(name = "match")]
    fn match_<'py>(
        &mut self,
        py: Python<'py>,
        title: &Bound<'py, PyList>,
        body: &Bound<'py, PyList>,
    ) -> PyResult<Bound<'py, PyList>> {
        if self.lexicon.trim() {
            self.many_prefixes.clear();
            self.prefixes_changed();
        }
        self.story.begin();
        self.scan(TITLE, title)?;
        self.scan(BODY, body)?;
        self.collect();
        let matched = &mut self.story.matched;
        matched.sort_unstable();
        matched.dedup();
        let names = &self.names;
        for &(_, r) in matched.iter() {
            prefetch(&names[r as usize]);
        }
        for &(_, r) in matched.iter() {
            if let Some(name) = &names[r as usize] {
                prefetch(name.as_ptr());
            }
        }
        PyList::new(
            py,
            matched.iter().map(|&(_, r)| names[r as usize].as_ref().expect("matched rules are live").bind(py)),
        )
    }

    /// Sizes, for tests: (rules, keys, lexicon entries, entries only cached for prefixes).
    fn stats(&self) -> (usize, usize, usize, usize) {
        let rules = self.rules.iter().filter(|r| r.is_some()).count();
        (rules, self.keys.len() - self.key_free.len(), self.lexicon.len(), self.lexicon.cached_only())
    }
}

/// Kafka's murmur2 of a key, as its Java client and aiokafka compute it to pick a key's partition
/// (aiokafka's is pure Python: a twentieth of `rules apply` at 100,000 rules).
#[pyfunction]
fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Index>()?;
    m.add_function(wrap_pyfunction!(murmur2, m)?)?;
    Ok(())
}
