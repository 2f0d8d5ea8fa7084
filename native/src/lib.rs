//! The compiled core of the watch-rule matcher: `wirewatch.query._native.Index`.
//!
//! Python parses every query, cuts every story into tokens (the spec's own
//! definition, with Python's Unicode tables) and chooses each rule's anchors;
//! this core holds the index and answers "which rules does this story match".
//! `wirewatch/query/native.py` describes what a rule looks like on the way in.
//!
//! Per story, the work follows what is present, not how many rules there are:
//!
//! 1. Each token is looked up once in the lexicon, which says whether it is a
//!    term some rule uses, whether some phrase starts with it, and (cached,
//!    for tokens no rule names) which prefixes it starts with.  A phrase is
//!    found from the pair of token ids it starts with.  A key (term, phrase or
//!    prefix) found in a field is marked with that field.
//! 2. Each rule is posted under a few anchor literals, one of which must be
//!    true for the rule to be true.  The postings of the marked keys give the
//!    candidate rules; a rule that is only an OR of literals matches outright,
//!    any other is evaluated (a small postfix program over its literals and
//!    NEARs, NEARs on the recorded token positions).
//!
//! Scratch arrays indexed by key and rule carry a per-story stamp, so nothing
//! is cleared between stories.

use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use rustc_hash::FxHashMap;

const NONE: u32 = u32::MAX;
const TITLE: u8 = 1;
const BODY: u8 = 2;

// Leaf kinds, as `native.py` sends them.
const TERM: u8 = 0;
const PHRASE: u8 = 1;
const PREFIX: u8 = 2;

// Program instructions: opcode << 24 | argument.
const OP_LIT: u32 = 0;
const OP_NEAR: u32 = 1;
const OP_NOT: u32 = 2;
const OP_AND: u32 = 3;
const OP_OR: u32 = 4;
const ARG_MASK: u32 = (1 << 24) - 1;

/// Tokens that no rule names are kept only to remember which prefixes they
/// start with; past this many the lexicon drops them (a feed's vocabulary
/// keeps growing with names and numbers).
const LEX_CACHE_MAX: usize = 1 << 19;

struct Lex {
    /// The term key of this token, or NONE.
    term: u32,
    /// How many phrase keys start with this token.
    phrase_first: u32,
    /// Keys that hold this token (its term key, phrases it is in); 0 = only cached.
    refs: u32,
    /// `prefixes` is valid when this equals `Index::prefix_gen`.
    prefix_gen: u32,
    prefixes: Vec<u32>,
}

impl Lex {
    fn new() -> Self {
        Lex { term: NONE, phrase_first: 0, refs: 0, prefix_gen: 0, prefixes: Vec::new() }
    }
}

enum KeyKind {
    Term(u32),
    Phrase(Box<[u32]>),
    Prefix(Box<str>),
    Free,
}

struct Key {
    kind: KeyKind,
    /// Literals of live rules that name this key.
    refs: u32,
    /// Rules whose anchor this key is, with the fields it must be in.
    postings: Vec<Posting>,
}

#[derive(Clone, Copy)]
struct Posting {
    rule: u32,
    mask: u8,
    exact: bool,
}

struct Near {
    left: Box<[u16]>,
    right: Box<[u16]>,
    distance: u32,
}

struct Rule {
    name: Py<PyString>,
    /// The id as UTF-8 (surrogates passed through): byte order is code point order.
    sort_key: Box<[u8]>,
    /// (key, fields it may be in: TITLE, BODY or both).
    lits: Box<[(u32, u8)]>,
    nears: Box<[Near]>,
    program: Box<[u32]>,
    anchors: Box<[u16]>,
}

/// Where a key occurs: only recorded for keys that some NEAR uses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Occ {
    key: u32,
    field: u8,
    start: u32,
    end: u32,
}

#[derive(Default)]
struct Scratch {
    stamp: u32,
    key_seen: Vec<u32>,
    key_fields: Vec<u8>,
    present: Vec<u32>,
    occ: Vec<Occ>,
    occ_sorted: bool,
    rule_seen: Vec<u32>,
    matched: Vec<u32>,
    ids: Vec<u32>,
    stack: Vec<bool>,
    left: Vec<(u32, u32)>,
    right: Vec<(u32, u32)>,
}

impl Scratch {
    fn begin(&mut self) {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.key_seen.iter_mut().for_each(|x| *x = 0);
            self.rule_seen.iter_mut().for_each(|x| *x = 0);
            self.stamp = 1;
        }
        self.present.clear();
        self.occ.clear();
        self.occ_sorted = false;
        self.matched.clear();
    }

    #[inline]
    fn mark(&mut self, near_refs: &[u32], key: u32, field: u8, start: u32, end: u32) {
        let k = key as usize;
        if self.key_seen[k] != self.stamp {
            self.key_seen[k] = self.stamp;
            self.key_fields[k] = 0;
            self.present.push(key);
        }
        self.key_fields[k] |= field;
        if near_refs[k] != 0 {
            self.occ.push(Occ { key, field, start, end });
        }
    }

    #[inline]
    fn lit(&self, key: u32, mask: u8) -> bool {
        let k = key as usize;
        self.key_seen[k] == self.stamp && self.key_fields[k] & mask != 0
    }

    fn spans(&self, rule: &Rule, sides: &[u16], field: u8, out: &mut Vec<(u32, u32)>) {
        out.clear();
        for &i in sides {
            let (key, mask) = rule.lits[i as usize];
            if mask & field == 0 || !self.lit(key, field) {
                continue;
            }
            let lo = self.occ.partition_point(|o| (o.key, o.field) < (key, field));
            let hi = self.occ.partition_point(|o| (o.key, o.field) <= (key, field));
            out.extend(self.occ[lo..hi].iter().map(|o| (o.start, o.end)));
        }
    }

    /// An occurrence of a left leaf and one of a right leaf in one field, not
    /// overlapping, at most `distance` tokens apart.
    fn near(&mut self, rule: &Rule, near: &Near) -> bool {
        if !self.occ_sorted {
            self.occ.sort_unstable();
            self.occ_sorted = true;
        }
        let (mut left, mut right) = (std::mem::take(&mut self.left), std::mem::take(&mut self.right));
        let mut found = false;
        for field in [TITLE, BODY] {
            self.spans(rule, &near.left, field, &mut left);
            if left.is_empty() {
                continue;
            }
            self.spans(rule, &near.right, field, &mut right);
            let d = near.distance;
            found = left.iter().any(|&(a0, a1)| {
                right.iter().any(|&(b0, b1)| (a1 <= b0 && b0 - a1 <= d) || (b1 <= a0 && a0 - b1 <= d))
            });
            if found {
                break;
            }
        }
        self.left = left;
        self.right = right;
        found
    }

    fn eval(&mut self, rule: &Rule) -> bool {
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        for &op in rule.program.iter() {
            let arg = (op & ARG_MASK) as usize;
            match op >> 24 {
                OP_LIT => {
                    let (key, mask) = rule.lits[arg];
                    stack.push(self.lit(key, mask));
                }
                OP_NEAR => {
                    let v = self.near(rule, &rule.nears[arg]);
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

/// The rule index.  Not for use from several threads at once (Python's
/// `Matcher` holds the GIL across every call).
#[pyclass(module = "wirewatch.query._native")]
pub struct Index {
    lex_map: FxHashMap<Box<str>, u32>,
    lex: Vec<Lex>,
    lex_free: Vec<u32>,
    lex_limit: usize,
    keys: Vec<Key>,
    /// Per key: how many NEAR sides name it (its occurrences are recorded when > 0).
    near_refs: Vec<u32>,
    key_free: Vec<u32>,
    phrase_map: FxHashMap<Box<[u32]>, u32>,
    bigrams: FxHashMap<u64, Vec<u32>>,
    prefix_map: FxHashMap<Box<str>, u32>,
    /// (length in bytes, how many prefixes have it), by length.
    prefix_lens: Vec<(usize, u32)>,
    prefix_gen: u32,
    rules: Vec<Option<Rule>>,
    rule_free: Vec<u32>,
    s: Scratch,
}

#[inline]
fn bigram(a: u32, b: u32) -> u64 {
    (a as u64) << 32 | b as u64
}

type LeafSpec = (u8, Vec<String>, u8);
type NearSpec = (Vec<u16>, Vec<u16>, u32);

fn check_rule(leaves: &[LeafSpec], nears: &[NearSpec], program: &[u32], anchors: &[u16]) -> PyResult<()> {
    let bad = |what: &str| Err(PyValueError::new_err(format!("malformed rule: {what}")));
    if leaves.is_empty() || leaves.len() > u16::MAX as usize {
        return bad("number of leaves");
    }
    for (kind, tokens, mask) in leaves {
        let ok_len = match *kind {
            TERM | PREFIX => tokens.len() == 1,
            PHRASE => tokens.len() >= 2,
            _ => false,
        };
        if !ok_len || !(1..=3).contains(mask) || tokens.iter().any(|t| t.is_empty()) {
            return bad("leaf");
        }
    }
    for (left, right, _) in nears {
        if left.is_empty() || right.is_empty() || left.iter().chain(right).any(|&i| i as usize >= leaves.len()) {
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
            OP_LIT if arg < leaves.len() => depth + 1,
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

impl Index {
    fn lex_id(&mut self, token: &str) -> u32 {
        if let Some(&id) = self.lex_map.get(token) {
            return id;
        }
        let id = match self.lex_free.pop() {
            Some(id) => {
                self.lex[id as usize] = Lex::new();
                id
            }
            None => {
                self.lex.push(Lex::new());
                (self.lex.len() - 1) as u32
            }
        };
        self.lex_map.insert(token.into(), id);
        id
    }

    fn new_key(&mut self, kind: KeyKind) -> u32 {
        let key = Key { kind, refs: 0, postings: Vec::new() };
        match self.key_free.pop() {
            Some(k) => {
                self.keys[k as usize] = key;
                self.near_refs[k as usize] = 0;
                k
            }
            None => {
                self.keys.push(key);
                self.near_refs.push(0);
                self.s.key_seen.push(0);
                self.s.key_fields.push(0);
                (self.keys.len() - 1) as u32
            }
        }
    }

    fn prefixes_changed(&mut self) {
        self.prefix_gen = self.prefix_gen.wrapping_add(1);
        if self.prefix_gen == 0 {
            self.prefix_gen = 1;
        }
    }

    /// The key of a leaf, created if new; counts one more reference to it.
    fn acquire(&mut self, kind: u8, tokens: &[String]) -> u32 {
        let key = match kind {
            TERM => {
                let l = self.lex_id(&tokens[0]);
                match self.lex[l as usize].term {
                    NONE => {
                        let k = self.new_key(KeyKind::Term(l));
                        let lex = &mut self.lex[l as usize];
                        lex.term = k;
                        lex.refs += 1;
                        k
                    }
                    k => k,
                }
            }
            PHRASE => {
                let ids: Box<[u32]> = tokens.iter().map(|t| self.lex_id(t)).collect();
                match self.phrase_map.get(&ids) {
                    Some(&k) => k,
                    None => {
                        let k = self.new_key(KeyKind::Phrase(ids.clone()));
                        for &l in ids.iter() {
                            self.lex[l as usize].refs += 1;
                        }
                        self.lex[ids[0] as usize].phrase_first += 1;
                        self.bigrams.entry(bigram(ids[0], ids[1])).or_default().push(k);
                        self.phrase_map.insert(ids, k);
                        k
                    }
                }
            }
            _ => match self.prefix_map.get(tokens[0].as_str()) {
                Some(&k) => k,
                None => {
                    let prefix: Box<str> = tokens[0].as_str().into();
                    let k = self.new_key(KeyKind::Prefix(prefix.clone()));
                    let n = prefix.len();
                    match self.prefix_lens.binary_search_by_key(&n, |&(len, _)| len) {
                        Ok(i) => self.prefix_lens[i].1 += 1,
                        Err(i) => self.prefix_lens.insert(i, (n, 1)),
                    }
                    self.prefix_map.insert(prefix, k);
                    self.prefixes_changed();
                    k
                }
            },
        };
        self.keys[key as usize].refs += 1;
        key
    }

    fn unref_lex(&mut self, l: u32) {
        self.lex[l as usize].refs -= 1;
    }

    /// One reference fewer to a key; the last one takes the key out.
    fn release(&mut self, key: u32) {
        let k = key as usize;
        self.keys[k].refs -= 1;
        if self.keys[k].refs > 0 {
            return;
        }
        match std::mem::replace(&mut self.keys[k].kind, KeyKind::Free) {
            KeyKind::Term(l) => {
                self.lex[l as usize].term = NONE;
                self.unref_lex(l);
            }
            KeyKind::Phrase(ids) => {
                let pair = bigram(ids[0], ids[1]);
                if let Some(list) = self.bigrams.get_mut(&pair) {
                    list.retain(|&x| x != key);
                    if list.is_empty() {
                        self.bigrams.remove(&pair);
                    }
                }
                self.lex[ids[0] as usize].phrase_first -= 1;
                for &l in ids.iter() {
                    self.unref_lex(l);
                }
                self.phrase_map.remove(&ids);
            }
            KeyKind::Prefix(prefix) => {
                self.prefix_map.remove(&prefix);
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
        self.keys[k].postings = Vec::new();
        self.key_free.push(key);
    }

    /// Drop the tokens that only cache prefix look-ups.
    fn purge_lexicon(&mut self) {
        let Index { lex_map, lex, lex_free, .. } = self;
        lex_map.retain(|_, &mut id| {
            if lex[id as usize].refs > 0 {
                return true;
            }
            lex[id as usize] = Lex::new();
            lex_free.push(id);
            false
        });
        lex_map.shrink_to_fit();
        self.lex_limit = self.lex_map.len() + LEX_CACHE_MAX;
    }

    /// Mark the keys found in one field's tokens.
    fn scan(&mut self, field: u8, tokens: &Bound<'_, PyList>) -> PyResult<()> {
        if self.lex_map.len() > self.lex_limit {
            self.purge_lexicon();
        }
        let with_prefixes = !self.prefix_map.is_empty();
        let mut ids = std::mem::take(&mut self.s.ids);
        ids.clear();
        for (i, item) in tokens.iter().enumerate() {
            let item = item.cast_into::<PyString>().map_err(|_| PyTypeError::new_err("tokens must be str"))?;
            let text = item.to_str()?;
            let id = match self.lex_map.get(text) {
                Some(&id) => id,
                None if with_prefixes => self.lex_id(text),
                None => NONE,
            };
            ids.push(id);
            if id == NONE {
                continue;
            }
            let Index { lex, s, near_refs, prefix_map, prefix_lens, prefix_gen, .. } = self;
            let lex = &mut lex[id as usize];
            let at = i as u32;
            if lex.term != NONE {
                s.mark(near_refs, lex.term, field, at, at + 1);
            }
            if with_prefixes {
                if lex.prefix_gen != *prefix_gen {
                    lex.prefixes.clear();
                    for &(n, _) in prefix_lens.iter() {
                        if n > text.len() {
                            break;
                        }
                        if let Some(&k) = text.get(..n).and_then(|head| prefix_map.get(head)) {
                            lex.prefixes.push(k);
                        }
                    }
                    lex.prefix_gen = *prefix_gen;
                }
                for &k in lex.prefixes.iter() {
                    s.mark(near_refs, k, field, at, at + 1);
                }
            }
        }
        if !self.bigrams.is_empty() {
            for i in 0..ids.len().saturating_sub(1) {
                let (a, b) = (ids[i], ids[i + 1]);
                if a == NONE || b == NONE || self.lex[a as usize].phrase_first == 0 {
                    continue;
                }
                let Some(found) = self.bigrams.get(&bigram(a, b)) else { continue };
                for &k in found {
                    if let KeyKind::Phrase(t) = &self.keys[k as usize].kind {
                        if t.len() == 2 || ids[i + 2..].starts_with(&t[2..]) {
                            let (start, end) = (i as u32, (i + t.len()) as u32);
                            self.s.mark(&self.near_refs, k, field, start, end);
                        }
                    }
                }
            }
        }
        self.s.ids = ids;
        Ok(())
    }

    /// The rules whose anchors were found, evaluated where need be, into `s.matched`.
    fn collect(&mut self) {
        let Index { keys, rules, s, .. } = self;
        let mut i = 0;
        while i < s.present.len() {
            let key = s.present[i] as usize;
            let fields = s.key_fields[key];
            for p in keys[key].postings.iter() {
                let r = p.rule as usize;
                if p.mask & fields == 0 || s.rule_seen[r] == s.stamp {
                    continue;
                }
                s.rule_seen[r] = s.stamp;
                let rule = rules[r].as_ref().expect("postings name live rules");
                if p.exact || s.eval(rule) {
                    s.matched.push(p.rule);
                }
            }
            i += 1;
        }
    }
}

#[pymethods]
impl Index {
    #[new]
    fn new() -> Self {
        Index {
            lex_map: FxHashMap::default(),
            lex: Vec::new(),
            lex_free: Vec::new(),
            lex_limit: LEX_CACHE_MAX,
            keys: Vec::new(),
            near_refs: Vec::new(),
            key_free: Vec::new(),
            phrase_map: FxHashMap::default(),
            bigrams: FxHashMap::default(),
            prefix_map: FxHashMap::default(),
            prefix_lens: Vec::new(),
            prefix_gen: 1,
            rules: Vec::new(),
            rule_free: Vec::new(),
            s: Scratch::default(),
        }
    }

    /// Add a rule; returns its slot (for `remove`).
    ///
    /// leaves: (kind, tokens, fields) per leaf; nears: (left leaves, right
    /// leaves, distance); program: postfix over leaves and NEARs; anchors:
    /// leaves one of which is true whenever the rule is; exact: the rule is
    /// true whenever an anchor is.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        name: Bound<'_, PyString>,
        sort_key: Vec<u8>,
        leaves: Vec<LeafSpec>,
        nears: Vec<NearSpec>,
        program: Vec<u32>,
        anchors: Vec<u16>,
        exact: bool,
    ) -> PyResult<u32> {
        check_rule(&leaves, &nears, &program, &anchors)?;
        let lits: Box<[(u32, u8)]> = leaves.iter().map(|(kind, tokens, mask)| (self.acquire(*kind, tokens), *mask)).collect();
        let nears: Box<[Near]> = nears
            .into_iter()
            .map(|(left, right, distance)| Near { left: left.into(), right: right.into(), distance })
            .collect();
        for near in nears.iter() {
            for &i in near.left.iter().chain(near.right.iter()) {
                self.near_refs[lits[i as usize].0 as usize] += 1;
            }
        }
        let slot = match self.rule_free.pop() {
            Some(slot) => slot,
            None => {
                self.rules.push(None);
                self.s.rule_seen.push(0);
                (self.rules.len() - 1) as u32
            }
        };
        for &a in anchors.iter() {
            let (key, mask) = lits[a as usize];
            self.keys[key as usize].postings.push(Posting { rule: slot, mask, exact });
        }
        self.rules[slot as usize] = Some(Rule {
            name: name.unbind(),
            sort_key: sort_key.into(),
            lits,
            nears,
            program: program.into(),
            anchors: anchors.into(),
        });
        Ok(slot)
    }

    /// Take out the rule in `slot`.
    fn remove(&mut self, slot: u32) -> PyResult<()> {
        let rule = self
            .rules
            .get_mut(slot as usize)
            .and_then(Option::take)
            .ok_or_else(|| PyKeyError::new_err(slot))?;
        for &a in rule.anchors.iter() {
            let key = rule.lits[a as usize].0 as usize;
            self.keys[key].postings.retain(|p| p.rule != slot);
        }
        for near in rule.nears.iter() {
            for &i in near.left.iter().chain(near.right.iter()) {
                self.near_refs[rule.lits[i as usize].0 as usize] -= 1;
            }
        }
        for &(key, _) in rule.lits.iter() {
            self.release(key);
        }
        self.rule_free.push(slot);
        Ok(())
    }

    /// Names of the rules a story matches, sorted, given each field's tokens.
    #[pyo3(name = "match")]
    fn match_<'py>(
        &mut self,
        py: Python<'py>,
        title: &Bound<'py, PyList>,
        body: &Bound<'py, PyList>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.s.begin();
        self.scan(TITLE, title)?;
        self.scan(BODY, body)?;
        self.collect();
        let rules = &self.rules;
        let sort_key = |r: u32| &rules[r as usize].as_ref().expect("matched rules are live").sort_key;
        self.s.matched.sort_unstable_by(|&a, &b| sort_key(a).cmp(sort_key(b)));
        let names = self.s.matched.iter().map(|&r| rules[r as usize].as_ref().expect("live").name.bind(py));
        PyList::new(py, names)
    }

    /// Sizes, for tests and the benchmark: (rules, keys, lexicon entries, cached-only entries).
    fn stats(&self) -> (usize, usize, usize, usize) {
        let rules = self.rules.iter().filter(|r| r.is_some()).count();
        let keys = self.keys.len() - self.key_free.len();
        let cached = self.lex_map.values().filter(|&&id| self.lex[id as usize].refs == 0).count();
        (rules, keys, self.lex_map.len(), cached)
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Index>()?;
    Ok(())
}
