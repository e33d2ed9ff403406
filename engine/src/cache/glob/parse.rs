//! A glob's text read into [`Token`]s, by the grammar of `globset` (the syntax tanto documents
//! for folder filters and the one the `ignore` crate reads rule files with):
//!
//! - `?` one character but `/`, `*` any run of them;
//! - `**` a whole component: `**/x` at any depth, `x/**` everything below `x`, `x/**/y` any
//!   number of folders between; elsewhere `**` is two `*`;
//! - `[...]` a class (`!` or `^` negates it, `a-z` ranges, `[:alpha:]` and the other POSIX
//!   names, a leading `]` or `-` literal);
//! - `{a,b}` alternates, nested at most 100 deep;
//! - `\` escapes the next character.

use std::iter::Peekable;
use std::str::Chars;

use super::GlobError;

/// One piece of a glob.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Token {
    /// This character.
    Literal(char),
    /// `?`: one character but `/`.
    Any,
    /// `*`: any run of characters but `/`.
    ZeroOrMore,
    /// `**/` at the start: nothing, `/`, or any path ending in `/`.
    RecursivePrefix,
    /// `/**` at the end: `/` and anything after it.
    RecursiveSuffix,
    /// `/**/` inside: `/`, or `/` and any path ending in `/`.
    RecursiveZeroOrMore,
    /// `[...]`: one character of these ranges, or of none of them.
    Class {
        /// `[!...]` or `[^...]`.
        negated: bool,
        /// Inclusive ranges; a single character is a range of one.
        ranges: Vec<(char, char)>,
    },
    /// `{a,b}`: one of these sequences.
    Alternates(Vec<Vec<Token>>),
}

/// How deep `{` may nest before the glob is refused.
const MAX_NESTING: usize = 100;

/// Reads `glob`; with `lenient`, a `[` that no `]` closes is a literal `[`, as in a rule file.
pub(super) fn parse(glob: &str, lenient: bool) -> Result<Vec<Token>, GlobError> {
    let mut p = Parser {
        chars: glob.chars().peekable(),
        prev: None,
        cur: None,
        branches: vec![Vec::new()],
        open: Vec::new(),
        lenient,
        unclosed_class: false,
    };
    p.parse()?;
    if p.branches.len() > 1 {
        return Err(GlobError::UnclosedAlternates);
    }
    Ok(p.branches.pop().unwrap_or_default())
}

struct Parser<'a> {
    chars: Peekable<Chars<'a>>,
    /// The character read before `cur`.
    prev: Option<char>,
    /// The character read last.
    cur: Option<char>,
    /// The sequences being read: the glob's, then one per alternate inside open braces.
    branches: Vec<Vec<Token>>,
    /// For each open `{`, the index in `branches` of its first alternate.
    open: Vec<usize>,
    lenient: bool,
    /// A `[` went unclosed (lenient only): no later `[` can close, so all are literal.
    unclosed_class: bool,
}

impl Parser<'_> {
    fn parse(&mut self) -> Result<(), GlobError> {
        while let Some(c) = self.bump() {
            match c {
                '?' => self.push(Token::Any),
                '*' => self.star()?,
                '[' if !self.unclosed_class => self.class()?,
                '{' => {
                    if self.open.len() >= MAX_NESTING {
                        return Err(GlobError::TooDeep);
                    }
                    self.open.push(self.branches.len());
                    self.branches.push(Vec::new());
                }
                '}' => {
                    let start = self.open.pop().ok_or(GlobError::UnopenedAlternates)?;
                    let alternates = self.branches.drain(start..).collect();
                    self.push(Token::Alternates(alternates));
                }
                ',' if !self.open.is_empty() => self.branches.push(Vec::new()),
                '\\' => {
                    let c = self.bump().ok_or(GlobError::DanglingEscape)?;
                    self.push(Token::Literal(c));
                }
                c => self.push(Token::Literal(c)),
            }
        }
        Ok(())
    }

    fn bump(&mut self) -> Option<char> {
        self.prev = self.cur;
        self.cur = self.chars.next();
        self.cur
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn branch(&mut self) -> &mut Vec<Token> {
        // `branches` always holds the glob's own sequence: `}` drains only what `{` added.
        self.branches.last_mut().expect("the glob's own sequence")
    }

    fn push(&mut self, token: Token) {
        self.branch().push(token);
    }

    /// After a `*`: one star, or `**` as a whole component, or two stars.
    fn star(&mut self) -> Result<(), GlobError> {
        let before = self.prev;
        if self.peek() != Some('*') {
            self.push(Token::ZeroOrMore);
            return Ok(());
        }
        self.bump();
        let two_stars = |p: &mut Self| {
            p.push(Token::ZeroOrMore);
            p.push(Token::ZeroOrMore);
        };
        if self.branch().is_empty() {
            // At the start of the glob or of an alternate.
            if self.peek().is_some_and(|c| c != '/') {
                two_stars(self);
            } else {
                self.push(Token::RecursivePrefix);
                self.bump();
            }
            return Ok(());
        }
        if before != Some('/') && (self.branches.len() <= 1 || !matches!(before, Some(',' | '{'))) {
            two_stars(self);
            return Ok(());
        }
        let suffix = match self.peek() {
            None => {
                self.bump();
                true
            }
            Some(',' | '}') if self.branches.len() >= 2 => true,
            Some('/') => {
                self.bump();
                false
            }
            Some(_) => {
                two_stars(self);
                return Ok(());
            }
        };
        // The `/` before the stars is part of the token that replaces it.
        let last = self.branch().pop();
        self.push(match last {
            Some(Token::RecursivePrefix) => Token::RecursivePrefix,
            Some(Token::RecursiveSuffix) => Token::RecursiveSuffix,
            _ if suffix => Token::RecursiveSuffix,
            _ => Token::RecursiveZeroOrMore,
        });
        Ok(())
    }

    /// After a `[`: a class up to its `]`.
    fn class(&mut self) -> Result<(), GlobError> {
        let saved = (self.chars.clone(), self.prev, self.cur);
        let negated = matches!(self.peek(), Some('!' | '^'));
        if negated {
            self.bump();
        }
        let mut ranges: Vec<(char, char)> = Vec::new();
        let mut first = true;
        let mut in_range = false;
        loop {
            let Some(c) = self.bump() else {
                if !self.lenient {
                    return Err(GlobError::UnclosedClass);
                }
                (self.chars, self.prev, self.cur) = saved;
                self.unclosed_class = true;
                self.push(Token::Literal('['));
                return Ok(());
            };
            match c {
                ']' if !first => break,
                '-' if !first && !in_range => in_range = true,
                '[' if !in_range && self.peek() == Some(':') => match self.posix_class() {
                    Some(named) => ranges.extend_from_slice(named),
                    None => ranges.push(('[', '[')),
                },
                c if in_range => {
                    let last = ranges.last_mut().expect("a range has a start");
                    last.1 = c;
                    if last.1 < last.0 {
                        return Err(GlobError::InvalidRange(last.0, last.1));
                    }
                    in_range = false;
                }
                c => ranges.push((c, c)),
            }
            first = false;
        }
        if in_range {
            ranges.push(('-', '-'));
        }
        self.push(Token::Class { negated, ranges });
        Ok(())
    }

    /// After `[` with `:` next: the ranges of `[:name:]`, or `None` when it is none (nothing
    /// read, unless it has the form of one).
    fn posix_class(&mut self) -> Option<&'static [(char, char)]> {
        let saved = (self.chars.clone(), self.prev, self.cur);
        self.bump();
        let mut name = String::new();
        loop {
            match self.bump() {
                // An unknown name between `[:` and `:]` is read all the same: the class
                // goes on after it with a literal `[`.
                Some(':') if self.peek() == Some(']') => {
                    self.bump();
                    return posix_ranges(&name);
                }
                Some(c) if c.is_ascii_lowercase() && name.len() < 8 => name.push(c),
                _ => break,
            }
        }
        (self.chars, self.prev, self.cur) = saved;
        None
    }
}

/// The ASCII ranges of a POSIX class name: the same in every locale.
fn posix_ranges(name: &str) -> Option<&'static [(char, char)]> {
    Some(match name {
        "alnum" => &[('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => &[('A', 'Z'), ('a', 'z')],
        "blank" => &[('\t', '\t'), (' ', ' ')],
        "cntrl" => &[('\x00', '\x1f'), ('\x7f', '\x7f')],
        "digit" => &[('0', '9')],
        "graph" => &[('!', '~')],
        "lower" => &[('a', 'z')],
        "print" => &[(' ', '~')],
        "punct" => &[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => &[('\t', '\r'), (' ', ' ')],
        "upper" => &[('A', 'Z')],
        "xdigit" => &[('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return None,
    })
}
