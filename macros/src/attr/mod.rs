//! Parses the arguments of `#[step(..)]`, `#[pipeline(..)]` and a pipeline parameter's
//! `#[dir(..)]`: the keys, their syntax and duplicates. What a value may be is checked in `valid`.

mod units;

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use syn::ext::IdentExt as _;
use syn::meta::ParseNestedMeta;
use syn::parse::{ParseBuffer, ParseStream, Parser as _};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Lit, LitBool, LitStr, Meta, Token};

use crate::ctxt::Ctxt;

/// Every key `#[step(..)]` accepts, in the order error messages list them.
const STEP_KEYS: &[&str] = &[
    "image",
    "cache",
    "env",
    "workdir",
    "user",
    "timeout",
    "version",
    "side_effect",
    "name",
    "network",
    "memory",
    "cpus",
    "docker_socket",
    "secret_in_key",
];

/// Every key `#[pipeline(..)]` accepts.
const PIPELINE_KEYS: &[&str] = &["name"];

/// Every key `#[dir(..)]` accepts, in the order error messages list them.
const DIR_KEYS: &[&str] = &["include", "exclude", "gitignore"];

/// The settings written in `#[step(..)]`, each kept with its literal for spans.
#[derive(Default)]
pub(crate) struct StepAttrs {
    pub(crate) image: Option<Image>,
    pub(crate) caches: Vec<(LitStr, LitStr)>,
    pub(crate) env: Vec<(EnvName, LitStr)>,
    pub(crate) workdir: Option<LitStr>,
    pub(crate) user: Option<LitStr>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) version: Option<LitStr>,
    pub(crate) side_effect: bool,
    pub(crate) name: Option<LitStr>,
    pub(crate) network: Option<bool>,
    pub(crate) memory: Option<u64>,
    pub(crate) millicpus: Option<u32>,
    pub(crate) docker_socket: bool,
    pub(crate) secret_in_key: Option<bool>,
}

/// `image = ..`: the image's name, or a const holding it.
pub(crate) enum Image {
    /// `image = "rust:1.95-slim"`
    Lit(LitStr),
    /// `image = IMAGE` or `image = cargo_steps::IMAGE`: the path of a `&str` const.
    Const(syn::ExprPath),
}

/// The name of an environment variable in `env(..)`, written as a word or a string.
pub(crate) struct EnvName {
    pub(crate) name: String,
    pub(crate) span: Span,
}

/// The settings written in `#[pipeline(..)]`.
#[derive(Default)]
pub(crate) struct PipelineAttrs {
    pub(crate) name: Option<LitStr>,
}

/// The file selection written in `#[dir(..)]` on a pipeline's `Dir` parameter.
#[derive(Default)]
pub(crate) struct DirAttrs {
    pub(crate) include: Globs,
    pub(crate) exclude: Globs,
    pub(crate) gitignore: Option<LitBool>,
}

/// The globs of `include` or `exclude`.
#[derive(Default)]
pub(crate) struct Globs {
    pub(crate) globs: Vec<LitStr>,
    /// The brackets of a list written without any element, `[]`.
    pub(crate) empty_list: Option<Span>,
}

/// Parses `#[step(..)]`'s arguments, recording every problem in `cx`.
pub(crate) fn parse_step(args: TokenStream, cx: &mut Ctxt) -> StepAttrs {
    let mut attrs = StepAttrs::default();
    let keys = Keys {
        what: "step",
        known: STEP_KEYS,
        repeatable: &["cache", "env"],
    };
    keys.parse(args, cx, |key, meta, _| step_value(key, meta, &mut attrs));
    attrs
}

/// Parses `#[pipeline(..)]`'s arguments, recording every problem in `cx`.
pub(crate) fn parse_pipeline(args: TokenStream, cx: &mut Ctxt) -> PipelineAttrs {
    let mut attrs = PipelineAttrs::default();
    let keys = Keys {
        what: "pipeline",
        known: PIPELINE_KEYS,
        repeatable: &[],
    };
    keys.parse(args, cx, |_, meta, _| {
        attrs.name = Some(string(meta)?);
        Ok(())
    });
    attrs
}

/// Parses a parameter's `#[dir(..)]` attributes (at most one), recording every problem in `cx`.
pub(crate) fn parse_dir(attrs: &[Attribute], cx: &mut Ctxt) -> Option<DirAttrs> {
    let (first, rest) = attrs.split_first()?;
    for extra in rest {
        cx.error_spanned_by(
            extra,
            "duplicate `#[dir(..)]` on one parameter; put all its keys in one",
        );
    }
    let no_keys =
        "`#[dir]` needs `include`, `exclude` or `gitignore`; leave it out to take every file";
    let tokens = match &first.meta {
        Meta::List(list) if !list.tokens.is_empty() => list.tokens.clone(),
        Meta::List(_) | Meta::Path(_) => {
            cx.error_spanned_by(first, no_keys);
            return None;
        }
        Meta::NameValue(_) => {
            cx.error_spanned_by(
                first,
                r#"expected a list of keys, like `#[dir(exclude = "docs/**")]`"#,
            );
            return None;
        }
    };
    let mut dir = DirAttrs::default();
    let keys = Keys {
        what: "dir",
        known: DIR_KEYS,
        repeatable: &[],
    };
    keys.parse(tokens, cx, |key, meta, cx| {
        dir_value(key, meta, &mut dir, cx)
    });
    Some(dir)
}

/// The `key = value` arguments one attribute accepts.
struct Keys {
    /// The attribute's name, for error messages.
    what: &'static str,
    /// Every key it accepts.
    known: &'static [&'static str],
    /// The keys that may be given more than once.
    repeatable: &'static [&'static str],
}

impl Keys {
    /// Parses `tokens` as `key = value` arguments: each key must be known and, unless
    /// repeatable, given once; `value` parses the rest of each. Every problem is recorded in
    /// `cx`, and parsing goes on after each.
    fn parse(
        &self,
        tokens: TokenStream,
        cx: &mut Ctxt,
        mut value: impl FnMut(&str, &ParseNestedMeta<'_>, &mut Ctxt) -> syn::Result<()>,
    ) {
        let mut seen: Vec<String> = Vec::new();
        let parser = syn::meta::parser(|meta| {
            let Some(key) = known_key(&meta, self.known, self.what, cx) else {
                return skip_value(meta.input);
            };
            if !self.repeatable.contains(&key.as_str()) && seen.contains(&key) {
                cx.error_spanned_by(
                    &meta.path,
                    format!("duplicate {} attribute `{key}`", self.what),
                );
                return skip_value(meta.input);
            }
            seen.push(key.clone());
            if let Err(err) = value(&key, &meta, cx) {
                cx.syn_error(err);
                skip_value(meta.input)?;
            }
            Ok(())
        });
        if let Err(err) = parser.parse2(tokens) {
            cx.syn_error(err);
        }
    }
}

/// The key of `meta` if it is one of `keys`; otherwise records an error listing them.
fn known_key(
    meta: &ParseNestedMeta<'_>,
    keys: &[&str],
    what: &str,
    cx: &mut Ctxt,
) -> Option<String> {
    let key = meta.path.get_ident().map(|ident| ident.unraw().to_string());
    match key {
        Some(key) if keys.contains(&key.as_str()) => Some(key),
        _ => {
            let written = meta
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect::<Vec<_>>()
                .join("::");
            let expected = keys
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let msg = if keys.len() == 1 {
                format!("unknown {what} attribute `{written}`, expected {expected}")
            } else {
                format!("unknown {what} attribute `{written}`, expected one of {expected}")
            };
            cx.error_spanned_by(&meta.path, msg);
            None
        }
    }
}

/// Skips what is left of one argument, up to the next top-level comma.
fn skip_value(input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

fn step_value(key: &str, meta: &ParseNestedMeta<'_>, attrs: &mut StepAttrs) -> syn::Result<()> {
    match key {
        "image" => attrs.image = Some(image(meta)?),
        "cache" => cache(meta, attrs)?,
        "env" => env(meta, attrs)?,
        "workdir" => attrs.workdir = Some(string(meta)?),
        "user" => attrs.user = Some(string(meta)?),
        "timeout" => attrs.timeout_ms = Some(units(meta, units::parse_duration_ms)?),
        "version" => attrs.version = Some(string(meta)?),
        "side_effect" => attrs.side_effect = flag(meta, "side_effect")?,
        "name" => attrs.name = Some(string(meta)?),
        "network" => attrs.network = Some(meta.value()?.parse::<LitBool>()?.value),
        "memory" => attrs.memory = Some(units(meta, units::parse_memory)?),
        "cpus" => attrs.millicpus = Some(units(meta, units::parse_millicpus)?),
        "docker_socket" => attrs.docker_socket = flag(meta, "docker_socket")?,
        "secret_in_key" => {
            attrs.secret_in_key = Some(meta.value()?.parse::<LitBool>()?.value);
        }
        _ => unreachable!("key `{key}` is in STEP_KEYS but has no parser"),
    }
    Ok(())
}

fn string(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    meta.value()?.parse()
}

fn image(meta: &ParseNestedMeta<'_>) -> syn::Result<Image> {
    let input = meta.value()?;
    if input.peek(LitStr) {
        return Ok(Image::Lit(input.parse()?));
    }
    match input.parse::<Expr>()? {
        Expr::Path(path) if path.attrs.is_empty() => Ok(Image::Const(path)),
        other => Err(syn::Error::new_spanned(
            other,
            r#"expected a string literal or the path of a `&str` const, like `image = "rust:1.95-slim"` or `image = IMAGE`"#,
        )),
    }
}

/// A string in one of the small languages of `units`, like `timeout = "10m"`.
fn units<T>(meta: &ParseNestedMeta<'_>, parse: fn(&str) -> Result<T, String>) -> syn::Result<T> {
    let lit = string(meta)?;
    parse(&lit.value()).map_err(|msg| syn::Error::new(lit.span(), msg))
}

fn flag(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<bool> {
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        Ok(true)
    } else {
        Err(meta.error(format!("`{key}` is a flag and takes no value")))
    }
}

/// `cache("/container/path" = "volume", ..)`.
fn cache(meta: &ParseNestedMeta<'_>, attrs: &mut StepAttrs) -> syn::Result<()> {
    let content = parens(meta, r#"cache("/container/path" = "volume")"#)?;
    loop {
        if content.is_empty() {
            break;
        }
        let path = content.parse::<LitStr>()?;
        content.parse::<Token![=]>()?;
        let volume = content.parse::<LitStr>()?;
        if attrs.caches.iter().any(|(p, _)| p.value() == path.value()) {
            let msg = format!("duplicate cache path `{}`", path.value());
            return Err(syn::Error::new(path.span(), msg));
        }
        attrs.caches.push((path, volume));
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(())
}

/// `env(KEY = "value", ..)`; a key may also be a string literal.
fn env(meta: &ParseNestedMeta<'_>, attrs: &mut StepAttrs) -> syn::Result<()> {
    let content = parens(meta, r#"env(KEY = "value")"#)?;
    loop {
        if content.is_empty() {
            break;
        }
        let key = if content.peek(LitStr) {
            let lit = content.parse::<LitStr>()?;
            EnvName {
                name: lit.value(),
                span: lit.span(),
            }
        } else {
            let ident = content.call(Ident::parse_any)?;
            EnvName {
                name: ident.unraw().to_string(),
                span: ident.span(),
            }
        };
        content.parse::<Token![=]>()?;
        let value = content.parse::<LitStr>()?;
        if attrs.env.iter().any(|(k, _)| k.name == key.name) {
            let msg = format!("duplicate environment variable `{}`", key.name);
            return Err(syn::Error::new(key.span, msg));
        }
        attrs.env.push((key, value));
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(())
}

fn parens<'a>(meta: &ParseNestedMeta<'a>, example: &str) -> syn::Result<ParseBuffer<'a>> {
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!("expected a list, like `{example}`")));
    }
    let content;
    syn::parenthesized!(content in meta.input);
    Ok(content)
}

/// One `key = value` of `#[dir(..)]`. A syntax error is returned; a wrong element of a list is
/// recorded in `cx`, so every bad element is reported.
fn dir_value(
    key: &str,
    meta: &ParseNestedMeta<'_>,
    dir: &mut DirAttrs,
    cx: &mut Ctxt,
) -> syn::Result<()> {
    let expected = match key {
        "include" => {
            r#"expected a glob or a list of globs, like `include = ["src/**", "Cargo.*"]`"#
        }
        "exclude" => r#"expected a glob or a list of globs, like `exclude = "docs/**"`"#,
        _ => "expected `true` or `false`, like `gitignore = false`",
    };
    if !meta.input.peek(Token![=]) {
        return Err(syn::Error::new_spanned(&meta.path, expected));
    }
    let input = meta.value()?;
    if key == "gitignore" {
        if input.peek(LitBool) {
            dir.gitignore = Some(input.parse()?);
        } else {
            cx.error_spanned_by(input.parse::<Expr>()?, expected);
        }
        return Ok(());
    }
    let globs = if key == "include" {
        &mut dir.include
    } else {
        &mut dir.exclude
    };
    if input.peek(LitStr) {
        globs.globs.push(input.parse::<LitStr>()?);
    } else if input.peek(syn::token::Bracket) {
        // Parsed on its own, so a syntax error inside the list is reported once.
        let list: proc_macro2::Group = input.parse()?;
        let elems = Punctuated::<Expr, Token![,]>::parse_terminated.parse2(list.stream())?;
        if elems.is_empty() {
            globs.empty_list = Some(list.span());
        }
        for elem in elems {
            match elem {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => globs.globs.push(s),
                other => cx.error_spanned_by(other, r#"expected a glob string, like `"src/**"`"#),
            }
        }
    } else {
        cx.error_spanned_by(input.parse::<Expr>()?, expected);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
