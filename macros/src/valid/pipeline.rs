//! The rules of a `#[pipeline]`: its name, signature, `#[dir(..)]`s, body and output.

use syn::ReturnType;

use super::{body, common, input_param, name, owned_output};
use crate::ast::{self, FnShape, Output, Pipeline};
use crate::attr::{DirAttrs, Globs};
use crate::body::{Body, Value};
use crate::ctxt::Ctxt;

/// Checks a `#[pipeline]`. Returns whether its name and signature are sound: then only its
/// `#[dir(..)]`s or body can have errors, which change no type, so a stub can stand in for it.
pub(crate) fn pipeline(pipeline: &Pipeline, cx: &mut Ctxt) -> bool {
    let shape = &pipeline.shape;
    let before = cx.count();
    if let Some(lit) = &pipeline.attrs.name {
        name(lit, cx);
    }
    signature(shape, cx);
    let sound = cx.count() == before;
    dirs(shape, cx);
    body::body(&pipeline.body, &shape.params, cx);
    // The output is only compared with the body when everything else is right.
    if cx.is_ok() {
        output(shape, &pipeline.output(), &pipeline.body, cx);
    }
    sound
}

/// A pipeline is a plain fn whose parameters are its inputs and which returns its outputs.
fn signature(shape: &FnShape, cx: &mut Ctxt) {
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

/// `#[dir(..)]` is only on a pipeline's `Dir` parameters, with globs that select something.
fn dirs(shape: &FnShape, cx: &mut Ctxt) {
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
    for dir in shape.params.iter().filter_map(|p| p.select.as_ref()) {
        dir_values(dir, cx);
    }
}

fn dir_values(dir: &DirAttrs, cx: &mut Ctxt) {
    let empty_list = [
        (
            &dir.include,
            "an empty `include` would select no files; leave it out to take every file",
        ),
        (
            &dir.exclude,
            "an empty `exclude` leaves no file out; remove it",
        ),
    ];
    for (globs, msg) in empty_list {
        let Globs { globs, empty_list } = globs;
        if let Some(span) = empty_list {
            cx.error_at(*span, msg);
        }
        for glob in globs.iter().filter(|g| g.value().is_empty()) {
            cx.error_spanned_by(glob, "a glob must not be empty");
        }
    }
}

/// A pipeline that returns something must end with it, and one that returns nothing must not.
fn output(shape: &FnShape, output: &Output, body: &Body, cx: &mut Ctxt) {
    let sig = &shape.item.sig;
    match (&sig.output, output, &body.tail) {
        (ReturnType::Type(_, ty), Output::One(_) | Output::Tuple(_), None) => {
            let ty = ast::type_text(ty);
            cx.error_spanned_by(
                &sig.output,
                format!("this pipeline returns `{ty}`, but its body does not end with an output"),
            );
        }
        (_, Output::Unit, Some(Value::Other(expr))) if !is_unit(expr) => cx.error_spanned_by(
            expr,
            "this pipeline has no return type, so its body cannot end with an output; add `-> T` to its signature",
        ),
        _ => {}
    }
}

fn is_unit(expr: &syn::Expr) -> bool {
    matches!(expr, syn::Expr::Tuple(t) if t.elems.is_empty())
}
