//! The internal representation of an annotated fn: its attributes, parameters, output and (for a
//! pipeline) body, each kept with the user's tokens so errors and generated code can point back
//! at them. Parsing only: what is allowed is decided in `valid`.

use proc_macro2::{Ident, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Attribute, FnArg, GenericArgument, Item, ItemFn, Pat, PathArguments, ReturnType, Type};

use crate::attr::{self, DirAttrs, PipelineAttrs, StepAttrs};
use crate::body::Body;
use crate::ctxt::Ctxt;

/// A `#[step]` fn and its attributes.
pub(crate) struct Step {
    pub(crate) attrs: StepAttrs,
    pub(crate) shape: FnShape,
}

impl Step {
    pub(crate) fn new(attrs: StepAttrs, item: ItemFn) -> Self {
        Step {
            attrs,
            shape: FnShape::new(item),
        }
    }

    /// The `T` of the `Result<T>` it returns; `()` when it returns something else.
    pub(crate) fn output(&self) -> Output {
        result_ok_type(&self.shape.item.sig.output).map_or(Output::Unit, Output::from_type)
    }

    /// The step's label: `name = ".."`, or the fn's name.
    pub(crate) fn name(&self) -> String {
        label(self.attrs.name.as_ref(), &self.shape)
    }
}

/// A `#[pipeline]` fn, its attributes, its parameters' `#[dir(..)]` and its body.
pub(crate) struct Pipeline {
    pub(crate) attrs: PipelineAttrs,
    pub(crate) shape: FnShape,
    pub(crate) body: Body,
}

impl Pipeline {
    /// Takes `item` apart, parsing each parameter's `#[dir(..)]` and the body.
    pub(crate) fn new(attrs: PipelineAttrs, item: ItemFn, cx: &mut Ctxt) -> Self {
        let mut shape = FnShape::new(item);
        for param in &mut shape.params {
            param.select = attr::parse_dir(&param.dir_attrs, cx);
        }
        let body = Body::parse(&shape.item.block);
        Pipeline { attrs, shape, body }
    }

    /// What it returns: nothing, one output, or a tuple of them.
    pub(crate) fn output(&self) -> Output {
        match &self.shape.item.sig.output {
            ReturnType::Default => Output::Unit,
            ReturnType::Type(_, ty) => Output::from_type(ty),
        }
    }

    /// The pipeline's name on the command line: `name = ".."`, or the fn's name.
    pub(crate) fn name(&self) -> String {
        label(self.attrs.name.as_ref(), &self.shape)
    }
}

fn label(name: Option<&syn::LitStr>, shape: &FnShape) -> String {
    name.map_or_else(|| shape.name(), syn::LitStr::value)
}

/// The fn an attribute is on. Anything else is recorded in `cx` as `not_a_fn`, at its keyword.
pub(crate) fn parse_fn(item: TokenStream, not_a_fn: &str, cx: &mut Ctxt) -> Option<ItemFn> {
    match syn::parse2::<Item>(item) {
        Ok(Item::Fn(item_fn)) => Some(item_fn),
        Ok(other) => {
            cx.error_spanned_by(item_kind(&other), not_a_fn);
            None
        }
        Err(err) => {
            cx.syn_error(err);
            None
        }
    }
}

/// The keyword that says what kind of item this is, for "can only be used on" errors.
pub(crate) fn item_kind(item: &Item) -> TokenStream {
    match item {
        Item::Const(i) => i.const_token.to_token_stream(),
        Item::Enum(i) => i.enum_token.to_token_stream(),
        Item::Fn(i) => i.sig.fn_token.to_token_stream(),
        Item::ExternCrate(i) => i.extern_token.to_token_stream(),
        Item::Impl(i) => i.impl_token.to_token_stream(),
        Item::Macro(i) => i.mac.path.to_token_stream(),
        Item::Mod(i) => i.mod_token.to_token_stream(),
        Item::Static(i) => i.static_token.to_token_stream(),
        Item::Struct(i) => i.struct_token.to_token_stream(),
        Item::Trait(i) => i.trait_token.to_token_stream(),
        Item::Type(i) => i.type_token.to_token_stream(),
        Item::Union(i) => i.union_token.to_token_stream(),
        Item::Use(i) => i.use_token.to_token_stream(),
        other => other.to_token_stream(),
    }
}

/// One parameter as written: its pattern, the plain identifier if it is one, and its type.
pub(crate) struct Param {
    pub(crate) pat: Pat,
    pub(crate) ident: Option<Ident>,
    pub(crate) ty: Type,
    /// The `#[dir(..)]` attributes written on it, taken out of the fn.
    pub(crate) dir_attrs: Vec<Attribute>,
    /// The file selection parsed from `dir_attrs`, on a pipeline's parameter.
    pub(crate) select: Option<DirAttrs>,
}

impl Param {
    /// The parameter of `arg`, whose `#[dir(..)]` attributes move out of it into the `Param`.
    fn take_from_arg(arg: &mut syn::PatType) -> Self {
        let ident = match &*arg.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
            _ => None,
        };
        let (dir_attrs, others) = std::mem::take(&mut arg.attrs)
            .into_iter()
            .partition(|a| a.path().is_ident("dir"));
        arg.attrs = others;
        Param {
            pat: (*arg.pat).clone(),
            ident,
            ty: (*arg.ty).clone(),
            dir_attrs,
            select: None,
        }
    }

    /// The parameter's name without `r#`.
    pub(crate) fn name(&self) -> String {
        self.ident.as_ref().map(unraw).unwrap_or_default()
    }

    /// Whether the type's last path segment is `name` (`Dir`, `tanto::File`...).
    pub(crate) fn is(&self, name: &str) -> bool {
        last_segment_is(&self.ty, name)
    }
}

/// What a step returns (the `T` of `Result<T>`) or a pipeline returns.
pub(crate) enum Output {
    /// `()`, or no return type on a pipeline.
    Unit,
    /// One artifact.
    One(Box<Type>),
    /// A tuple, one artifact per element.
    Tuple(Vec<Type>),
}

impl Output {
    pub(crate) fn from_type(ty: &Type) -> Self {
        match ty {
            Type::Tuple(t) if t.elems.is_empty() => Output::Unit,
            Type::Tuple(t) => Output::Tuple(t.elems.iter().cloned().collect()),
            Type::Paren(p) => Output::from_type(&p.elem),
            other => Output::One(Box::new(other.clone())),
        }
    }

    /// The output types, in order.
    pub(crate) fn types(&self) -> Vec<&Type> {
        match self {
            Output::Unit => Vec::new(),
            Output::One(ty) => vec![ty],
            Output::Tuple(tys) => tys.iter().collect(),
        }
    }

    /// The output's type as text, for metadata.
    pub(crate) fn text(&self) -> String {
        match self {
            Output::Unit => "()".to_owned(),
            Output::One(ty) => type_text(ty),
            Output::Tuple(tys) => {
                let parts: Vec<String> = tys.iter().map(type_text).collect();
                format!("({})", parts.join(", "))
            }
        }
    }
}

/// An annotated fn taken apart: everything the checks and the expansion look at.
pub(crate) struct FnShape {
    pub(crate) item: ItemFn,
    pub(crate) receiver: Option<syn::Receiver>,
    pub(crate) params: Vec<Param>,
}

impl FnShape {
    /// Takes `item` apart. `#[dir(..)]` is not a real attribute, so it is removed from the fn:
    /// every expansion emits the fn without it.
    pub(crate) fn new(mut item: ItemFn) -> Self {
        let mut receiver = None;
        let mut params = Vec::new();
        for arg in &mut item.sig.inputs {
            match arg {
                FnArg::Receiver(r) => receiver = Some(r.clone()),
                FnArg::Typed(t) => params.push(Param::take_from_arg(t)),
            }
        }
        FnShape {
            item,
            receiver,
            params,
        }
    }

    pub(crate) fn ident(&self) -> &Ident {
        &self.item.sig.ident
    }

    /// The fn's name without `r#`.
    pub(crate) fn name(&self) -> String {
        unraw(self.ident())
    }

    /// The fn's rustdoc, unindented, one line per `///` line.
    pub(crate) fn doc(&self) -> String {
        doc_text(&self.item.attrs)
    }

    /// The `#[cfg]`s on the fn, which every generated item must carry too.
    pub(crate) fn cfgs(&self) -> Vec<&Attribute> {
        self.item
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("cfg"))
            .collect()
    }
}

/// Whether `ty` is `&Ctx` (any path ending in `Ctx`, by shared reference).
pub(crate) fn is_ctx(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => r.mutability.is_none() && last_segment_is(&r.elem, "Ctx"),
        _ => false,
    }
}

/// Whether `ty` mentions `Ctx` at all, for a better message than "not a step input".
pub(crate) fn mentions_ctx(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => mentions_ctx(&r.elem),
        other => last_segment_is(other, "Ctx"),
    }
}

/// The `T` of `Result<T>` or `Result<T, E>` (any path whose last segment is `Result`).
pub(crate) fn result_ok_type(ret: &ReturnType) -> Option<&Type> {
    let ReturnType::Type(_, ty) = ret else {
        return None;
    };
    let Type::Path(path) = &**ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

pub(crate) fn last_segment_is(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(p) => {
            p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == name)
        }
        Type::Group(g) => last_segment_is(&g.elem, name),
        Type::Paren(p) => last_segment_is(&p.elem, name),
        _ => false,
    }
}

/// A plain name, `x`, even in invisible delimiters.
pub(crate) fn plain_name(expr: &syn::Expr) -> Option<&Ident> {
    match expr {
        syn::Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
        syn::Expr::Group(g) => plain_name(&g.expr),
        _ => None,
    }
}

pub(crate) fn unraw(ident: &Ident) -> String {
    syn::ext::IdentExt::unraw(ident).to_string()
}

/// The lines of the `#[doc]` attributes in `attrs`, with the one space after `///` removed.
pub(crate) fn doc_text(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        let syn::Meta::NameValue(nv) = &attr.meta else {
            continue;
        };
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) = &nv.value
        else {
            continue;
        };
        for line in s.value().split('\n') {
            lines.push(line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned());
        }
    }
    let text = lines.join("\n");
    text.trim().to_owned()
}

/// The first paragraph of a doc text, on one line.
pub(crate) fn first_paragraph(doc: &str) -> String {
    doc.lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A type as a person would write it: `Vec<String>`, `&'a mut T`, `(Dir, File)`.
pub(crate) fn type_text(ty: &Type) -> String {
    let mut out = String::new();
    write_tokens(&mut out, ty.to_token_stream());
    out
}

fn write_tokens(out: &mut String, tokens: TokenStream) {
    // Whether the previous token was a word, so two words in a row get a space.
    let mut after_word = false;
    for tt in tokens {
        match tt {
            TokenTree::Ident(ident) => {
                if after_word {
                    out.push(' ');
                }
                out.push_str(&ident.to_string());
                after_word = true;
            }
            TokenTree::Literal(lit) => {
                if after_word {
                    out.push(' ');
                }
                out.push_str(&lit.to_string());
                after_word = true;
            }
            TokenTree::Punct(p) => {
                match p.as_char() {
                    ',' | ';' => out.push_str(&format!("{} ", p.as_char())),
                    '+' => out.push_str(" + "),
                    '=' if p.spacing() == Spacing::Alone => out.push_str(" = "),
                    '-' if p.spacing() == Spacing::Joint => out.push_str(" -"),
                    '>' if out.ends_with(" -") => out.push_str("> "),
                    c => out.push(c),
                }
                // A lifetime's `'` joins the word after it.
                after_word = false;
            }
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                    proc_macro2::Delimiter::Bracket => ("[", "]"),
                    proc_macro2::Delimiter::Brace => ("{", "}"),
                    proc_macro2::Delimiter::None => ("", ""),
                };
                out.push_str(open);
                write_tokens(out, g.stream());
                out.push_str(close);
                after_word = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(ty: &str) -> String {
        type_text(&syn::parse_str(ty).expect("a type"))
    }

    #[test]
    fn type_text_reads_like_source() {
        assert_eq!(text("Dir"), "Dir");
        assert_eq!(text("Vec < String >"), "Vec<String>");
        assert_eq!(
            text("std :: collections :: HashMap<String,u32>"),
            "std::collections::HashMap<String, u32>"
        );
        assert_eq!(text("& 'a mut T"), "&'a mut T");
        assert_eq!(text("(Dir , File)"), "(Dir, File)");
        assert_eq!(text("[u8; 4]"), "[u8; 4]");
        assert_eq!(
            text("Box<dyn Fn(u8) -> u8 + Send>"),
            "Box<dyn Fn(u8) -> u8 + Send>"
        );
    }

    #[test]
    fn docs() {
        let item: ItemFn = syn::parse_quote! {
            /// Builds the workspace
            /// in release mode.
            ///
            /// More text.
            fn f() {}
        };
        let doc = doc_text(&item.attrs);
        assert_eq!(doc, "Builds the workspace\nin release mode.\n\nMore text.");
        assert_eq!(
            first_paragraph(&doc),
            "Builds the workspace in release mode."
        );
    }
}
