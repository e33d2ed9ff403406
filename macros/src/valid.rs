//! The rules a `#[step]` or `#[pipeline]` signature must follow, each broken one reported at the
//! narrowest token.

use syn::{ReturnType, Type};

use crate::ast::{self, FnShape, Param};
use crate::ctxt::Ctxt;

/// Checks a `#[step]` fn's signature.
pub(crate) fn step(shape: &FnShape, cx: &mut Ctxt) {
    let sig = &shape.item.sig;
    common(shape, "step", cx);
    // A `const fn` cannot be async either; saying so once is enough.
    if sig.asyncness.is_none() && sig.constness.is_none() {
        cx.error_spanned_by(sig.fn_token, "a step must be an `async fn`");
    }

    match shape.params.first() {
        Some(first) if ast::is_ctx(&first.ty) => {
            let plain = first.ident.is_some() || matches!(first.pat, syn::Pat::Wild(_));
            if !plain {
                cx.error_spanned_by(
                    &first.pat,
                    "the context parameter must be a plain name, like `ctx`",
                );
            }
        }
        Some(first) if ast::mentions_ctx(&first.ty) => cx.error_spanned_by(
            &first.ty,
            "a step takes its context by shared reference, like `ctx: &Ctx`",
        ),
        Some(first) => cx.error_spanned_by(
            &first.pat,
            "a step's first parameter must be its context, like `ctx: &Ctx`",
        ),
        None if shape.receiver.is_none() => cx.error_at(
            sig.paren_token.span.join(),
            "a step's first parameter must be its context, like `ctx: &Ctx`",
        ),
        None => {}
    }
    for attr in shape.params.iter().flat_map(|p| &p.dir_attrs) {
        cx.error_spanned_by(
            attr,
            "`#[dir(..)]` belongs on a pipeline's `Dir` parameter; a step's `Dir` comes from its caller",
        );
    }
    for input in shape.params.iter().skip(1) {
        if ast::mentions_ctx(&input.ty) {
            cx.error_spanned_by(
                &input.ty,
                "a step takes one context, as its first parameter",
            );
        } else {
            input_param(input, "step", cx);
        }
    }

    match ast::result_ok_type(&sig.output) {
        Some(ty) => {
            for out in ast::Output::from_type(ty).types() {
                owned_output(out, "step", cx);
            }
        }
        None => {
            let msg = "a step must return `Result<T>`, like `Result<()>` or `Result<Dir>`";
            match &sig.output {
                ReturnType::Default => cx.error_spanned_by(&sig.ident, msg),
                ReturnType::Type(_, ty) => cx.error_spanned_by(ty, msg),
            }
        }
    }
}

/// Checks a `#[pipeline]` fn's signature; its body is checked by `pipeline::body`.
pub(crate) fn pipeline(shape: &FnShape, cx: &mut Ctxt) {
    let sig = &shape.item.sig;
    common(shape, "pipeline", cx);
    if let Some(token) = sig.asyncness {
        cx.error_spanned_by(
            token,
            "a pipeline is a plain `fn`, not an `async fn`: it only wires steps together",
        );
    }
    for input in &shape.params {
        if ast::mentions_ctx(&input.ty) {
            cx.error_spanned_by(&input.ty, "a pipeline takes no context; only its steps do");
        } else {
            input_param(input, "pipeline", cx);
        }
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        for out in ast::Output::from_type(ty).types() {
            owned_output(out, "pipeline", cx);
        }
    }
}

/// Checks that `#[dir(..)]` is only on a pipeline's `Dir` parameters; its keys are checked by
/// `attr::parse_dir`.
pub(crate) fn pipeline_dirs(shape: &FnShape, cx: &mut Ctxt) {
    for param in &shape.params {
        let Some(attr) = param.dir_attrs.first() else {
            continue;
        };
        if !param.is("Dir") {
            let ty = ast::type_text(&param.ty);
            let msg = match &param.ident {
                Some(_) => format!(
                    "`#[dir(..)]` chooses the files of a `Dir` input; `{}` is a `{ty}`",
                    param.name()
                ),
                None => format!("`#[dir(..)]` chooses the files of a `Dir` input, not a `{ty}`"),
            };
            cx.error_spanned_by(attr, msg);
        }
    }
}

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
