//! [`Token`]s turned into what matches a path's bytes: a direct test for the shapes most globs
//! take (`name`, `**/name`, `**/*.rs`, `dir/**`, `*.rs`), else a small NFA over bytes, run
//! with a set of states (a Pike VM without captures), so matching is linear in the path's
//! length times the glob's, whatever the glob.
//!
//! The semantics are `globset`'s with a literal separator: a glob matches a path's bytes, not
//! its characters, so `?` and a negated class match one byte of a non-ASCII character, and a
//! class of non-ASCII characters is a class of their UTF-8 bytes.

use std::cell::RefCell;

use super::parse::Token;

/// A compiled glob.
#[derive(Debug)]
pub(super) enum Program {
    /// Every path.
    All,
    /// Exactly these bytes.
    Exact(Vec<u8>),
    /// `**/lit`: `lit`, or any path ending in `/lit` (held here with its `/`).
    Basename(Vec<u8>),
    /// `**/*lit`: any path ending in `lit`.
    Suffix(Vec<u8>),
    /// `*lit`: a path without `/` before its ending `lit`.
    LastSuffix(Vec<u8>),
    /// `lit*`: a path starting with `lit`, without `/` after it.
    LastPrefix(Vec<u8>),
    /// `lit/**` or `lit/**/*`: any path starting with `lit/` (held here with its `/`).
    Under(Vec<u8>),
    /// Anything else.
    Nfa(Nfa),
}

impl Program {
    /// Compiles `tokens`.
    pub(super) fn new(tokens: &[Token]) -> Self {
        use Token::{Literal, RecursivePrefix, RecursiveSuffix, RecursiveZeroOrMore, ZeroOrMore};
        // The literal run `tokens[from..to]`, if every token there is a literal.
        let lit = |from: usize, to: usize| -> Option<Vec<u8>> {
            let mut out = Vec::new();
            for t in tokens.get(from..to)? {
                let Literal(c) = t else { return None };
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            }
            Some(out)
        };
        let n = tokens.len();
        let with_slash = |mut bytes: Vec<u8>, front: bool| {
            if front {
                bytes.insert(0, b'/');
            } else {
                bytes.push(b'/');
            }
            bytes
        };
        if let Some(all) = lit(0, n) {
            return Self::Exact(all);
        }
        let shape = match tokens {
            [RecursivePrefix] => Some(Self::All),
            [RecursivePrefix, ZeroOrMore, _, ..] => lit(2, n).map(Self::Suffix),
            [RecursivePrefix, _, ..] => lit(1, n).map(|l| Self::Basename(with_slash(l, true))),
            [ZeroOrMore, _, ..] => lit(1, n).map(Self::LastSuffix),
            [.., _, ZeroOrMore] => match &tokens[n - 2] {
                RecursiveZeroOrMore if n >= 3 => {
                    lit(0, n - 2).map(|l| Self::Under(with_slash(l, false)))
                }
                _ => lit(0, n - 1).map(Self::LastPrefix),
            },
            [_, .., RecursiveSuffix] => lit(0, n - 1).map(|l| Self::Under(with_slash(l, false))),
            _ => None,
        };
        shape.unwrap_or_else(|| Self::Nfa(Nfa::new(tokens)))
    }

    /// Whether the whole of `path` matches.
    pub(super) fn is_match(&self, path: &[u8]) -> bool {
        match self {
            Self::All => true,
            Self::Exact(lit) => path == lit.as_slice(),
            Self::Basename(slash_lit) => {
                path == &slash_lit[1..] || path.ends_with(slash_lit.as_slice())
            }
            Self::Suffix(lit) => path.ends_with(lit),
            Self::LastSuffix(lit) => {
                path.ends_with(lit) && !path[..path.len() - lit.len()].contains(&b'/')
            }
            Self::LastPrefix(lit) => path.starts_with(lit) && !path[lit.len()..].contains(&b'/'),
            Self::Under(lit_slash) => path.starts_with(lit_slash),
            Self::Nfa(nfa) => nfa.is_match(path),
        }
    }
}

/// One instruction of an [`Nfa`].
#[derive(Debug, Clone, Copy)]
enum Inst {
    /// This byte.
    Byte(u8),
    /// Any byte but `/`.
    NotSlash,
    /// Any byte.
    AnyByte,
    /// A byte of the class at this index.
    Class(usize),
    /// Go on at both.
    Split(usize, usize),
    /// Go on there.
    Jump(usize),
    /// The whole path matched.
    Match,
}

/// A glob as a Thompson NFA over bytes.
#[derive(Debug)]
pub(super) struct Nfa {
    insts: Vec<Inst>,
    /// 256-bit byte sets.
    classes: Vec<[u64; 4]>,
}

/// The states of one step of a run, as a sparse set.
#[derive(Default)]
struct States {
    dense: Vec<usize>,
    sparse: Vec<usize>,
}

impl States {
    fn reset(&mut self, n: usize) {
        self.dense.clear();
        if self.sparse.len() < n {
            self.sparse.resize(n, 0);
        }
    }

    fn insert(&mut self, pc: usize) -> bool {
        let i = self.sparse[pc];
        if i < self.dense.len() && self.dense[i] == pc {
            return false;
        }
        self.sparse[pc] = self.dense.len();
        self.dense.push(pc);
        true
    }
}

/// The two state sets and the work stack of a run, kept per thread.
#[derive(Default)]
struct Scratch {
    now: States,
    next: States,
    stack: Vec<usize>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

impl Nfa {
    /// Compiles `tokens`, whatever their shape.
    pub(super) fn new(tokens: &[Token]) -> Self {
        let mut nfa = Self {
            insts: Vec::new(),
            classes: Vec::new(),
        };
        if let [Token::RecursivePrefix] = tokens {
            // `**` alone (or `**/`) matches every path, the empty one included.
            nfa.star(Inst::AnyByte);
        } else {
            nfa.emit_all(tokens);
        }
        nfa.insts.push(Inst::Match);
        nfa
    }

    fn emit_all(&mut self, tokens: &[Token]) {
        for token in tokens {
            self.emit(token);
        }
    }

    fn emit(&mut self, token: &Token) {
        match token {
            Token::Literal(c) => {
                for &b in c.encode_utf8(&mut [0; 4]).as_bytes() {
                    self.insts.push(Inst::Byte(b));
                }
            }
            Token::Any => self.insts.push(Inst::NotSlash),
            Token::ZeroOrMore => self.star(Inst::NotSlash),
            // `(?:/?|.*/)`: that is, `(?:.*/)?`.
            Token::RecursivePrefix => self.maybe_any_then_slash(),
            Token::RecursiveSuffix => {
                self.insts.push(Inst::Byte(b'/'));
                self.star(Inst::AnyByte);
            }
            // `(?:/|/.*/)`: that is, `/(?:.*/)?`.
            Token::RecursiveZeroOrMore => {
                self.insts.push(Inst::Byte(b'/'));
                self.maybe_any_then_slash();
            }
            Token::Class { negated, ranges } => {
                self.classes.push(class_set(*negated, ranges));
                self.insts.push(Inst::Class(self.classes.len() - 1));
            }
            Token::Alternates(branches) => {
                // An alternate that says nothing is dropped, so `a{,b}` is `ab` only.
                let branches: Vec<_> = branches.iter().filter(|b| says_something(b)).collect();
                let Some((last, rest)) = branches.split_last() else {
                    return;
                };
                let mut ends = Vec::new();
                for branch in rest {
                    let split = self.insts.len();
                    self.insts.push(Inst::Split(split + 1, 0));
                    self.emit_all(branch);
                    ends.push(self.insts.len());
                    self.insts.push(Inst::Jump(0));
                    self.insts[split] = Inst::Split(split + 1, self.insts.len());
                }
                self.emit_all(last);
                let end = self.insts.len();
                for at in ends {
                    self.insts[at] = Inst::Jump(end);
                }
            }
        }
    }

    /// `inst*`.
    fn star(&mut self, inst: Inst) {
        let split = self.insts.len();
        self.insts.push(Inst::Split(split + 1, split + 3));
        self.insts.push(inst);
        self.insts.push(Inst::Jump(split));
    }

    /// `(?:.*/)?`.
    fn maybe_any_then_slash(&mut self) {
        let split = self.insts.len();
        self.insts.push(Inst::Split(split + 1, 0));
        self.star(Inst::AnyByte);
        self.insts.push(Inst::Byte(b'/'));
        self.insts[split] = Inst::Split(split + 1, self.insts.len());
    }

    /// Whether the whole of `path` matches.
    pub(super) fn is_match(&self, path: &[u8]) -> bool {
        SCRATCH.with_borrow_mut(|s| {
            let Scratch { now, next, stack } = s;
            let n = self.insts.len();
            now.reset(n);
            next.reset(n);
            self.follow(now, stack, 0);
            for &b in path {
                if now.dense.is_empty() {
                    return false;
                }
                next.reset(n);
                for &pc in &now.dense {
                    let takes = match self.insts[pc] {
                        Inst::Byte(want) => b == want,
                        Inst::NotSlash => b != b'/',
                        Inst::AnyByte => true,
                        Inst::Class(i) => {
                            (self.classes[i][usize::from(b >> 6)] >> (b & 63)) & 1 == 1
                        }
                        Inst::Split(..) | Inst::Jump(_) | Inst::Match => false,
                    };
                    if takes {
                        self.follow(next, stack, pc + 1);
                    }
                }
                std::mem::swap(now, next);
            }
            now.dense
                .iter()
                .any(|&pc| matches!(self.insts[pc], Inst::Match))
        })
    }

    /// Adds `pc` and every state it reaches without reading a byte.
    fn follow(&self, set: &mut States, stack: &mut Vec<usize>, pc: usize) {
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if !set.insert(pc) {
                continue;
            }
            match self.insts[pc] {
                Inst::Jump(to) => stack.push(to),
                Inst::Split(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                _ => {}
            }
        }
    }
}

/// Whether `tokens` match anything but the empty string's position: only alternates whose
/// every alternate says nothing do not.
fn says_something(tokens: &[Token]) -> bool {
    tokens.iter().any(|t| match t {
        Token::Alternates(branches) => branches.iter().any(|b| says_something(b)),
        _ => true,
    })
}

/// The bytes a class matches. Its ranges are written as UTF-8 bytes, as `globset` writes them
/// into a byte regex, and read back as that regex reads them: `a-é` is `a` to the first byte
/// of `é`, then its second byte alone. Such a range never runs backwards: reading checked that
/// its characters do not, and a non-ASCII character's last byte (0x80 to 0xbf) is below any
/// non-ASCII character's first (0xc2 to 0xf4).
fn class_set(negated: bool, ranges: &[(char, char)]) -> [u64; 4] {
    // `/` never matches: a plain class drops it from its ranges, a negated one adds it.
    let mut kept = Vec::new();
    for &(start, end) in ranges {
        if negated || start > '/' || end < '/' {
            kept.push((start, end));
            continue;
        }
        if start < '/' {
            kept.push((start, '.'));
        }
        if end > '/' {
            kept.push(('0', end));
        }
    }
    // A byte, or `None` for the `-` between a range's ends.
    let mut items: Vec<Option<u8>> = Vec::new();
    for (start, end) in kept {
        items.extend(start.encode_utf8(&mut [0; 4]).bytes().map(Some));
        if start != end {
            items.push(None);
            items.extend(end.encode_utf8(&mut [0; 4]).bytes().map(Some));
        }
    }
    let mut set = [0u64; 4];
    let mut add = |lo: u8, hi: u8| {
        for b in lo..=hi {
            set[usize::from(b >> 6)] |= 1 << (b & 63);
        }
    };
    let mut i = 0;
    while let Some(&Some(lo)) = items.get(i) {
        match items.get(i + 1..i + 3) {
            Some(&[None, Some(hi)]) => {
                debug_assert!(lo <= hi, "a class range runs backwards");
                add(lo, hi);
                i += 3;
            }
            _ => {
                add(lo, lo);
                i += 1;
            }
        }
    }
    if negated {
        add(b'/', b'/');
        for word in &mut set {
            *word = !*word;
        }
    }
    set
}
