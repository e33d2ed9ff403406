//! The rules a `#[step]` or `#[pipeline]` must follow, in its attributes, signature and body,
//! each broken one reported at the narrowest token.

mod body;
mod pipeline;
mod step;

pub(crate) use pipeline::pipeline;
pub(crate) use step::step;

use syn::{LitStr, Type};

use crate::ast::{self, FnShape, Param};
use crate::ctxt::Ctxt;

/// The rules steps and pipelines share: a free, non-generic, plain Rust fn.
fn common(shape: &FnShape, what: &str, cx: &mut Ctxt) {
    let sig = &shape.item.sig;
    if let Some(receiver) = &shape.receiver {
        let msg = format!("a {what} cannot take `self`; make it a free function");
        cx.error_spanned_by(receiver, msg);
    }
    if let Some(token) = sig.constness {
        cx.error_spanned_by(token, format!("a {what} cannot be a `const fn`"));
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        cx.error_spanned_by(token, format!("a {what} cannot be an `unsafe fn`"));
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(abi, format!("a {what} cannot have an `extern` ABI"));
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, format!("a {what} cannot be variadic"));
    }
    let generics = &sig.generics;
    if !generics.params.is_empty() {
        let msg = format!("a {what} cannot have generic parameters");
        cx.error_spanned_by(generics, msg);
    } else if let Some(where_clause) = &generics.where_clause {
        cx.error_spanned_by(
            where_clause,
            format!("a {what} cannot have a `where` clause"),
        );
    }
}

/// An input is a plain name with an owned, nameable type.
fn input_param(param: &Param, what: &str, cx: &mut Ctxt) {
    if param.ident.is_none() {
        cx.error_spanned_by(
            &param.pat,
            format!("a {what} parameter must be a plain name, like `src: Dir`"),
        );
    }
    match &param.ty {
        Type::Reference(r) => {
            let msg = if ast::last_segment_is(&r.elem, "str") {
                format!("a {what} input must be owned: use `String` instead of `&str`")
            } else {
                let owned = ast::type_text(&r.elem);
                format!("a {what} input must be owned: use `{owned}` instead of a reference")
            };
            cx.error_spanned_by(&param.ty, msg);
        }
        Type::ImplTrait(_) => cx.error_spanned_by(
            &param.ty,
            format!("a {what} input cannot be `impl Trait`; use a concrete type"),
        ),
        _ => {}
    }
}

fn owned_output(ty: &Type, what: &str, cx: &mut Ctxt) {
    match ty {
        Type::Reference(_) => cx.error_spanned_by(
            ty,
            format!("a {what} output must be owned, like `Dir`, `File` or `String`"),
        ),
        Type::ImplTrait(_) => cx.error_spanned_by(
            ty,
            format!("a {what} output cannot be `impl Trait`; use a concrete type"),
        ),
        _ => {}
    }
}

/// A `name = ".."` is a graph label: non-empty, and without the `/` that separates nested
/// pipelines.
fn name(lit: &LitStr, cx: &mut Ctxt) {
    let value = lit.value();
    if value.trim().is_empty() {
        cx.error_spanned_by(lit, "`name` must not be empty");
    } else if value.contains('/') || value.chars().any(char::is_whitespace) {
        cx.error_spanned_by(
            lit,
            format!("invalid name `{value}`: a name cannot contain `/` or whitespace"),
        );
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use crate::ast::{Pipeline, Step};
    use crate::attr;
    use crate::ctxt::Ctxt;

    fn messages(cx: Ctxt) -> Vec<String> {
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn step_attribute_values() {
        let mut cx = Ctxt::new();
        let args = quote!(
            image = " ",
            cache("target" = "", "/ok" = "ok"),
            env("A=B" = "x", "" = "y"),
            workdir = "src",
            user = "",
            version = "",
            name = "a b",
        );
        let attrs = attr::parse_step(args, &mut cx);
        assert!(cx.is_ok());
        let item = syn::parse_quote!(
            async fn build(ctx: &Ctx) -> Result<()> {}
        );
        super::step(&Step::new(attrs, item), &mut cx);
        assert_eq!(
            messages(cx),
            [
                "`image` must not be empty",
                "`cache` must be an absolute path in the container, like `/src`",
                "`cache` must not be empty",
                "invalid environment variable name `A=B`",
                "invalid environment variable name ``",
                "`workdir` must be an absolute path in the container, like `/src`",
                "`user` must not be empty",
                "`version` must not be empty",
                "invalid name `a b`: a name cannot contain `/` or whitespace",
            ]
        );
    }

    #[test]
    fn pipeline_dirs_and_name() {
        let mut cx = Ctxt::new();
        let attrs = attr::parse_pipeline(quote!(name = ""), &mut cx);
        let item = syn::parse_quote!(
            fn ci(
                #[dir(include = ["src/**", ""], exclude = [])] src: Dir,
                #[dir(gitignore = false)] n: u32,
            ) {
            }
        );
        let pipeline = Pipeline::new(attrs, item, &mut cx);
        assert!(cx.is_ok());
        let sound = super::pipeline(&pipeline, &mut cx);
        assert!(!sound, "a bad name is not sound");
        assert_eq!(
            messages(cx),
            [
                "`name` must not be empty",
                "`#[dir(..)]` chooses the files of a `Dir` input; `n` is a `u32`",
                "a glob must not be empty",
                "an empty `exclude` leaves no file out; remove it",
            ]
        );
    }
}
