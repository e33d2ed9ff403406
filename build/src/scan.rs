//! What an item's tokens refer to: paths, method names, macro calls, the names inside format
//! strings, `cfg` keys, `env!` variables and `include_str!` files, and what the `use`
//! declarations among them (in a fn body, a block, a macro argument) bind.
//!
//! The scan works on tokens, not on a syntax tree, so macro arguments (`format!("{SETUP}")`,
//! `vec![helper()]`) are read like any other code. It over-approximates on purpose: a field or
//! a local variable that shares an item's name pulls the item in, which costs precision, never
//! soundness.

use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

use crate::syntax::use_tree;

/// What one item's tokens name.
#[derive(Default, Debug, PartialEq, Eq)]
pub(crate) struct Refs {
    /// Paths, `["crate", "x", "y"]`; a leading `::` is the segment `"::"`.
    pub(crate) paths: Vec<Vec<String>>,
    /// Names called as methods, `.name(..)`.
    pub(crate) methods: Vec<String>,
    /// Macro paths, `name!` or `a::name!`.
    pub(crate) macros: Vec<Vec<String>>,
    /// Keys in `cfg(..)`, `cfg!(..)` and `cfg_attr(..)`: `feature`, `unix`, `target_os`.
    pub(crate) cfgs: Vec<String>,
    /// Variables read by `env!` and `option_env!`.
    pub(crate) envs: Vec<String>,
    /// Files read by `include_str!`, `include_bytes!` and `include!`: `None` for a path that
    /// is not a literal the build script can work out.
    pub(crate) includes: Vec<Option<PathBuf>>,
    /// What the `use` declarations among the tokens bind, `(name, path)`: those of a fn body,
    /// a block or a macro argument. They resolve where the item's own names do.
    pub(crate) uses: Vec<(String, Vec<String>)>,
    /// Their glob imports, `use a::b::*`.
    pub(crate) globs: Vec<Vec<String>>,
}

const KEYWORDS: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "static",
    "struct",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "yield",
    "Self",
    "macro_rules",
    "union",
    "_",
];

/// Whether `word` is a keyword that no path goes on from (`Self::X` does).
fn is_keyword(word: &str) -> bool {
    word != "Self" && KEYWORDS.contains(&word)
}

/// The references in `tokens`, an item of file `file`.
pub(crate) fn refs(tokens: &TokenStream, file: &Path) -> Refs {
    let mut refs = Refs::default();
    walk(tokens.clone(), file, &mut refs);
    refs
}

fn is_punct(t: Option<&TokenTree>, c: char) -> bool {
    matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

/// Whether `trees[i..]` starts with `::`.
fn is_path_sep(trees: &[TokenTree], i: usize) -> bool {
    is_punct(trees.get(i), ':') && is_punct(trees.get(i + 1), ':')
}

// Long, but one pass: each token kind in turn.
fn walk(stream: TokenStream, file: &Path, refs: &mut Refs) {
    let trees: Vec<TokenTree> = stream.into_iter().collect();
    let mut i = 0;
    while i < trees.len() {
        // Docs name no item (`#[doc = ".."]` would otherwise resolve to a fn called `doc`).
        let at = if is_punct(trees.get(i + 1), '!') {
            i + 2
        } else {
            i + 1
        };
        if let Some(TokenTree::Group(g)) = trees.get(at)
            && is_punct(trees.get(i), '#')
            && g.delimiter() == Delimiter::Bracket
            && matches!(g.stream().into_iter().next(), Some(TokenTree::Ident(d)) if d == "doc")
        {
            i = at + 1;
            continue;
        }
        match &trees[i] {
            TokenTree::Group(g) => walk(g.stream(), file, refs),
            TokenTree::Literal(lit) => format_names(&lit.to_string(), refs),
            TokenTree::Punct(_) => {
                // `a::b`, but not `use ::dep::x` or `as ::dep::T`.
                let before_word = i > 0
                    && matches!(&trees[i - 1], TokenTree::Ident(w) if !is_keyword(&w.to_string()));
                let starts_path = !before_word
                    && is_path_sep(&trees, i)
                    && matches!(trees.get(i + 2), Some(TokenTree::Ident(_)));
                // `Vec::<u8>::new`, `<T as Trait>::f`: an item of the type or the trait before,
                // which bring their impls, or a trait's method.
                if starts_path && after_generic_args(&trees, i) {
                    let (path, next) = path_at(&trees, i + 2);
                    refs.methods.extend(path);
                    i = next;
                    continue;
                }
                // `::name` starting a path: an extern crate.
                if starts_path {
                    let (path, next) = path_at(&trees, i + 2);
                    let mut full = vec!["::".to_owned()];
                    full.extend(path);
                    i = classify(full, &trees, next, file, refs);
                    continue;
                }
            }
            TokenTree::Ident(ident) => {
                let prev = i.checked_sub(1).map(|p| &trees[p]);
                let name = ident.to_string();
                // `'a` is a lifetime, `$x` a macro variable (but `$crate` is the crate).
                if is_punct(prev, '\'') || (is_punct(prev, '$') && name != "crate") {
                    i += 1;
                    continue;
                }
                // Its paths are read as any others too, so what it names is reached even when
                // only a method call uses it (`use dep::Ext as _;`), as before.
                if ident == "use" {
                    use_declaration(&trees, i, refs);
                }
                // `.name`: a method (when called) or a field; `x.0` never reaches here.
                if is_punct(prev, '.') && !(i >= 2 && is_punct(trees.get(i - 2), '.')) {
                    let called = matches!(trees.get(i + 1), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis)
                        || is_path_sep(&trees, i + 1);
                    if called {
                        refs.methods.push(name);
                    }
                    i += 1;
                    continue;
                }
                let (path, next) = path_at(&trees, i);
                i = classify(path, &trees, next, file, refs);
                continue;
            }
        }
        i += 1;
    }
}

/// Whether the `::` at `trees[i]` follows generic arguments or a qualified self, `Vec::<u8>` or
/// `<T as Trait>`, rather than `impl<T>` or `for<'a>` before a path that starts with `::`.
fn after_generic_args(trees: &[TokenTree], i: usize) -> bool {
    let arrow = |j: usize| {
        j > 0
            && matches!(&trees[j - 1], TokenTree::Punct(p)
                if matches!(p.as_char(), '-' | '=') && p.spacing() == Spacing::Joint)
    };
    if i == 0 || !is_punct(trees.get(i - 1), '>') || arrow(i - 1) {
        return false;
    }
    let mut depth = 0usize;
    for j in (0..i).rev() {
        match &trees[j] {
            TokenTree::Punct(p) if p.as_char() == '>' && !arrow(j) => depth += 1,
            TokenTree::Punct(p) if p.as_char() == '<' && !is_punct(trees.get(j + 1), '=') => {
                depth -= 1;
                if depth == 0 {
                    let opener = j.checked_sub(1).map(|o| &trees[o]);
                    return !matches!(opener, Some(TokenTree::Ident(w)) if w == "impl" || w == "for");
                }
            }
            _ => {}
        }
    }
    // No `<` opens it: a comparison, `a > ::b`.
    false
}

/// Records what the `use` declaration at `trees[i]` binds. Not `use<'a>` in a bound, nor one
/// syn cannot read (`use $m::*;` in a macro's body).
fn use_declaration(trees: &[TokenTree], i: usize, refs: &mut Refs) {
    if is_punct(trees.get(i + 1), '<') {
        return;
    }
    let end = (i..trees.len())
        .find(|&j| is_punct(trees.get(j), ';'))
        .unwrap_or(trees.len());
    let mut tokens = TokenStream::new();
    let mut j = i;
    while j < end {
        // `$crate` in a macro's body is the crate.
        if !(is_punct(trees.get(j), '$')
            && matches!(trees.get(j + 1), Some(TokenTree::Ident(c)) if c == "crate"))
        {
            tokens.extend([trees[j].clone()]);
        }
        j += 1;
    }
    tokens.extend(";".parse::<TokenStream>());
    let Ok(item) = syn::parse2::<syn::ItemUse>(tokens) else {
        return;
    };
    let mut prefix = Vec::new();
    if item.leading_colon.is_some() {
        prefix.push("::".to_owned());
    }
    use_tree(&mut prefix, &item.tree, &mut refs.uses, &mut refs.globs);
}

/// The path `a::b::c` whose first word is at `trees[i]`, and the index after it.
fn path_at(trees: &[TokenTree], mut i: usize) -> (Vec<String>, usize) {
    let mut path = Vec::new();
    while let Some(TokenTree::Ident(ident)) = trees.get(i) {
        path.push(ident.to_string());
        i += 1;
        // `use ::dep::x`: a keyword is no segment of the path after it.
        if is_keyword(&ident.to_string()) {
            break;
        }
        if is_path_sep(trees, i) && matches!(trees.get(i + 2), Some(TokenTree::Ident(_))) {
            i += 2;
        } else {
            break;
        }
    }
    (path, i)
}

/// Records `path`, which ends before `trees[next]`: a macro call when `!` follows, a `cfg`
/// predicate, or a plain path. Returns where scanning goes on.
fn classify(
    path: Vec<String>,
    trees: &[TokenTree],
    next: usize,
    file: &Path,
    refs: &mut Refs,
) -> usize {
    let last = path.last().cloned().unwrap_or_default();
    let bang = is_punct(trees.get(next), '!') && !is_punct(trees.get(next + 1), '=');
    let args_at = if bang { next + 1 } else { next };
    let args = match trees.get(args_at) {
        Some(TokenTree::Group(g)) if g.delimiter() != Delimiter::None => Some(g.stream()),
        _ => None,
    };
    if matches!(last.as_str(), "cfg" | "cfg_attr")
        && path.len() == 1
        && let Some(args) = &args
    {
        cfg_keys(args.clone(), &mut refs.cfgs);
    }
    if bang {
        if path.len() == 1 && last == "macro_rules" {
            return next + 1;
        }
        match (last.as_str(), &args) {
            ("env" | "option_env", Some(args)) => {
                if let Some(TokenTree::Literal(lit)) = args.clone().into_iter().next() {
                    refs.envs.extend(string_value(&lit.to_string()));
                }
            }
            ("include" | "include_str" | "include_bytes", Some(args)) => {
                refs.includes.push(include_path(args, file));
            }
            _ => {}
        }
        refs.macros.push(path);
        return args_at;
    }
    if path.len() == 1 && KEYWORDS.contains(&last.as_str()) {
        return next;
    }
    refs.paths.push(path);
    next
}

/// The keys a `cfg` predicate tests: `feature` in `feature = "x"`, `unix`, `target_os`.
fn cfg_keys(stream: TokenStream, out: &mut Vec<String>) {
    for tree in stream {
        match tree {
            TokenTree::Ident(i) if !matches!(i.to_string().as_str(), "all" | "any" | "not") => {
                out.push(i.to_string());
            }
            TokenTree::Group(g) => cfg_keys(g.stream(), out),
            _ => {}
        }
    }
}

/// Every word directly in `tokens` or in its groups.
pub(crate) fn idents(tokens: &TokenStream) -> Vec<String> {
    let mut out = Vec::new();
    for tree in tokens.clone() {
        match tree {
            TokenTree::Ident(i) => out.push(i.to_string()),
            TokenTree::Group(g) => out.extend(idents(&g.stream())),
            _ => {}
        }
    }
    out
}

/// The value of a plain or raw string literal, as written (escapes other than `\"` and `\\`
/// are left alone: enough for names and paths).
pub(crate) fn string_value(lit: &str) -> Option<String> {
    if let Some(raw) = lit.strip_prefix('r') {
        let hashes = raw.len() - raw.trim_start_matches('#').len();
        let body = raw.get(hashes + 1..raw.len().checked_sub(hashes + 1)?)?;
        return Some(body.to_owned());
    }
    let body = lit.strip_prefix('"')?.strip_suffix('"')?;
    Some(body.replace("\\\"", "\"").replace("\\\\", "\\"))
}

/// Names captured by a format string, `{SETUP}` or `{width:>8}`; `{{` is not one.
fn format_names(lit: &str, refs: &mut Refs) {
    if !(lit.starts_with('"') || lit.starts_with('r')) || !lit.contains('{') {
        return;
    }
    let bytes = lit.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' {
            if bytes.get(i + 1) == Some(&b'{') {
                i += 2;
                continue;
            }
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
                end += 1;
            }
            let word = &lit[start..end];
            let first_ok = word.as_bytes().first().is_some_and(|b| !b.is_ascii_digit());
            if first_ok && matches!(bytes.get(end), Some(b'}' | b':')) {
                refs.paths.push(vec![word.to_owned()]);
            }
            i = end;
            continue;
        }
        i += 1;
    }
}

/// The file an `include!`-like macro with arguments `args`, written in `file`, reads: a string
/// literal (relative to `file`'s folder), or `concat!` of literals and `env!("..")`. `None`
/// when it is anything else.
pub(crate) fn include_path(args: &TokenStream, file: &Path) -> Option<PathBuf> {
    let text = eval_str(args)?;
    let dir = file.parent().unwrap_or(Path::new("."));
    Some(dir.join(text))
}

fn eval_str(tokens: &TokenStream) -> Option<String> {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    match trees.as_slice() {
        [TokenTree::Literal(lit)] => string_value(&lit.to_string()),
        [
            TokenTree::Ident(m),
            TokenTree::Punct(bang),
            TokenTree::Group(g),
        ] if bang.as_char() == '!' => match m.to_string().as_str() {
            "concat" => {
                let mut out = String::new();
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                for part in inner.split(|t| is_punct(Some(t), ',')) {
                    if part.is_empty() {
                        continue;
                    }
                    out.push_str(&eval_str(&part.iter().cloned().collect())?);
                }
                Some(out)
            }
            "env" => std::env::var(eval_str(&g.stream())?).ok(),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests;
