//! The rules of a `#[step]`: its attributes' values and its signature.

use syn::{LitStr, ReturnType};

use super::{common, input_param, name, owned_output};
use crate::ast::{self, Step};
use crate::attr::{Image, StepAttrs};
use crate::ctxt::Ctxt;

/// Checks a `#[step]`: its attributes, then its signature.
pub(crate) fn step(step: &Step, cx: &mut Ctxt) {
    attrs(&step.attrs, cx);
    signature(step, cx);
}

/// The values the keys of `#[step(..)]` may take; their syntax was checked by `attr`.
fn attrs(attrs: &StepAttrs, cx: &mut Ctxt) {
    // A const's value is not known here; the runtime reports an image it cannot pull.
    if let Some(Image::Lit(image)) = &attrs.image {
        non_empty(image, "image", cx);
    }
    for (path, volume) in &attrs.caches {
        absolute(path, "cache", cx);
        non_empty(volume, "cache", cx);
    }
    for (key, _) in &attrs.env {
        if key.name.is_empty() || key.name.contains('=') {
            let msg = format!("invalid environment variable name `{}`", key.name);
            cx.error_at(key.span, msg);
        }
    }
    if let Some(workdir) = &attrs.workdir {
        absolute(workdir, "workdir", cx);
    }
    if let Some(user) = &attrs.user {
        non_empty(user, "user", cx);
    }
    if let Some(version) = &attrs.version {
        non_empty(version, "version", cx);
    }
    if let Some(lit) = &attrs.name {
        name(lit, cx);
    }
}

fn non_empty(lit: &LitStr, key: &str, cx: &mut Ctxt) {
    if lit.value().trim().is_empty() {
        cx.error_spanned_by(lit, format!("`{key}` must not be empty"));
    }
}

fn absolute(lit: &LitStr, key: &str, cx: &mut Ctxt) {
    if !lit.value().starts_with('/') {
        let msg = format!("`{key}` must be an absolute path in the container, like `/src`");
        cx.error_spanned_by(lit, msg);
    }
}

/// A step is an `async fn` taking `ctx: &Ctx` and inputs, and returning `Result<T>`.
fn signature(step: &Step, cx: &mut Ctxt) {
    let shape = &step.shape;
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
