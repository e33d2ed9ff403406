//! `#[pipeline]`: turns a fn that wires steps into a unit struct implementing `Pipeline`.

mod body;

use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{Item, ReturnType};

use crate::ast::{self, FnShape, Output, Param};
use crate::attr::{self, PipelineAttrs};
use crate::ctxt::Ctxt;
use crate::expand::{self, hygienic};
use crate::valid;
use body::{Body, Call, Stmt, Tail};

/// Expands `#[pipeline(args)]` on `item`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new();
    let attrs = attr::parse_pipeline(args, &mut cx);
    let item_fn = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(item_fn)) => item_fn,
        Ok(other) => {
            cx.error_spanned_by(
                expand::item_kind(&other),
                "`#[pipeline]` can only be used on a `fn`",
            );
            let errors = cx.check().err().map(|e| e.to_compile_error());
            return quote! { #item #errors };
        }
        Err(err) => {
            let errors = err.to_compile_error();
            return quote! { #item #errors };
        }
    };
    let mut shape = FnShape::new(item_fn);
    valid::pipeline(&shape, &mut cx);
    let signature_ok = cx.is_ok();
    // A bad `#[dir(..)]` changes no type, so it still gets the stub that keeps callers quiet.
    valid::pipeline_dirs(&shape, &mut cx);
    for param in &mut shape.params {
        param.select = attr::parse_dir(&param.dir_attrs, &mut cx);
    }
    let body = body::parse(&shape.item.block, &mut cx);
    let output = output(&shape);
    if cx.is_ok() {
        check_output(&shape, &output, &body, &mut cx);
    }
    let pipeline = Pipeline {
        shape: &shape,
        attrs: &attrs,
        output,
    };
    match cx.check() {
        Ok(()) => pipeline.tokens(Some(&body)),
        Err(err) if signature_ok => {
            // The signature is sound: keep the struct and impls so callers see no new errors.
            let errors = err.to_compile_error();
            let stub = pipeline.tokens(None);
            quote! { #errors #stub }
        }
        Err(err) if shape.receiver.is_some() => {
            // A method lives in an `impl` block, where a struct cannot go: keep it as it is.
            let errors = err.to_compile_error();
            let item = &shape.item;
            quote! { #errors #item }
        }
        Err(err) => {
            let errors = err.to_compile_error();
            let stub = pipeline.bare_struct();
            quote! { #errors #stub }
        }
    }
}

fn output(shape: &FnShape) -> Output {
    match &shape.item.sig.output {
        ReturnType::Default => Output::Unit,
        ReturnType::Type(_, ty) => Output::from_type(ty),
    }
}

/// A pipeline that returns something must end with it, and one that returns nothing must not.
fn check_output(shape: &FnShape, output: &Output, body: &Body, cx: &mut Ctxt) {
    match (&shape.item.sig.output, output, &body.tail) {
        (ReturnType::Type(_, ty), Output::One(_) | Output::Tuple(_), None) if !body.has_tail => {
            let ty = ast::type_text(ty);
            cx.error_spanned_by(
                &shape.item.sig.output,
                format!("this pipeline returns `{ty}`, but its body does not end with an output"),
            );
        }
        (_, Output::Unit, Some(Tail::Expr(expr))) if !is_unit(expr) => cx.error_spanned_by(
            expr,
            "this pipeline has no return type, so its body cannot end with an output; add `-> T` to its signature",
        ),
        _ => {}
    }
}

fn is_unit(expr: &syn::Expr) -> bool {
    matches!(expr, syn::Expr::Tuple(t) if t.elems.is_empty())
}

struct Pipeline<'a> {
    shape: &'a FnShape,
    attrs: &'a PipelineAttrs,
    output: Output,
}

impl Pipeline<'_> {
    /// The struct without any impl, when the signature itself is broken.
    fn bare_struct(&self) -> TokenStream {
        let ident = self.shape.ident();
        let vis = &self.shape.item.vis;
        let cfgs = self.shape.cfgs();
        quote! {
            #(#cfgs)*
            #[allow(non_camel_case_types, dead_code)]
            #vis struct #ident;
        }
    }

    /// The whole expansion; with no body, `build` is a stub (used when the body has errors).
    fn tokens(&self, body: Option<&Body>) -> TokenStream {
        let shape = self.shape;
        let ident = shape.ident();
        let vis = &shape.item.vis;
        let cfgs = shape.cfgs();
        let docs = shape.item.attrs.iter().filter(|a| a.path().is_ident("doc"));
        let name = self
            .attrs
            .name
            .as_ref()
            .map_or_else(|| shape.name(), |lit| lit.value());
        let fn_name = shape.name();
        let doc = shape.doc();
        let inputs: Vec<&Param> = shape.params.iter().collect();
        let params_info = expand::param_infos(&inputs);
        let handles = expand::handles_type(&self.output);
        // `build` returns the handles spanned at the user's return type, so a mismatch with
        // the body's output is reported against it.
        let build_ret = match &shape.item.sig.output {
            ReturnType::Type(_, ty) => expand::respan(handles.clone(), ty.span()),
            ReturnType::Default => quote!(Self::Handles),
        };
        let common = expand::task_common(shape, &inputs);
        let b = hygienic("__tanto_b");
        let args = hygienic("__tanto_args");
        let build_body = match body {
            Some(body) => {
                let binds = inputs.iter().enumerate().map(|(i, input)| {
                    let ident = &input.ident;
                    let ty = &input.ty;
                    let param = input.name();
                    let i = Literal::usize_unsuffixed(i);
                    // `Plan::of` and `Task::add` pass exactly one argument per parameter.
                    quote! { let #ident = #b.param::<#ty>(#param, &#args[#i]); }
                });
                let stmts = body_tokens(body, &b);
                quote! { #(#binds)* #stmts }
            }
            None => quote! {
                let _ = (#b, #args);
                ::core::panic!("this pipeline has errors")
            },
        };

        quote! {
            #(#docs)*
            #(#cfgs)*
            #[allow(non_camel_case_types, dead_code)]
            #vis struct #ident;

            #(#cfgs)*
            impl ::tanto::__private::Pipeline for #ident {
                const INFO: ::tanto::__private::PipelineInfo = ::tanto::__private::PipelineInfo {
                    name: #name,
                    path: ::tanto::__private::concat!(::tanto::__private::module_path!(), "::", #fn_name),
                    doc: #doc,
                    params: &[#(#params_info),*],
                };

                fn build(
                    #b: &mut ::tanto::__private::Builder,
                    #args: ::tanto::__private::Vec<::tanto::__private::Arg>,
                ) -> #build_ret {
                    #build_body
                }
            }

            #(#cfgs)*
            impl ::tanto::__private::Task for #ident {
                type Handles = #handles;

                fn add(
                    b: &mut ::tanto::__private::Builder,
                    args: ::tanto::__private::Vec<::tanto::__private::Arg>,
                ) -> Self::Handles {
                    // A nested pipeline's steps are labelled `outer/inner/step`.
                    b.nested(<Self as ::tanto::__private::Pipeline>::INFO, |b| {
                        <Self as ::tanto::__private::Pipeline>::build(b, args)
                    })
                }
            }

            #common
        }
    }
}

fn body_tokens(body: &Body, b: &proc_macro2::Ident) -> TokenStream {
    let stmts = body.stmts.iter().map(|stmt| match stmt {
        Stmt::Let { pat, call } => {
            let call = call_tokens(call, b);
            quote! { let #pat = #call; }
        }
        Stmt::Call(call) => {
            let call = call_tokens(call, b);
            quote! { #call; }
        }
        Stmt::Use(item) => quote! { #item },
    });
    let tail = body.tail.as_ref().map(|tail| match tail {
        Tail::Expr(expr) => quote! { #expr },
        Tail::Call(call) => call_tokens(call, b),
    });
    quote! { #(#stmts)* #tail }
}

/// One step call: the callee's path in type position (its companion), an arity check at the
/// callee, a wiring check at each argument, then the call into the builder.
fn call_tokens(call: &Call, b: &proc_macro2::Ident) -> TokenStream {
    let path = &call.path;
    let span = path.span();
    let count = Literal::usize_unsuffixed(call.args.len());
    let task = quote_spanned!(span=> __TantoTask);
    let args = hygienic("__tanto_args");
    let wires = call.args.iter().enumerate().map(|(i, arg)| {
        let i = Literal::usize_unsuffixed(i);
        // Spanned at the argument, so a wrong wiring is reported on it.
        quote_spanned! {arg.span()=> ::tanto::__private::wire::<#task, #i, _>(#arg) }
    });
    // One alias, so a callee that is not a type is reported once, at its path.
    let alias = quote_spanned! {span=> type #task = #path; };
    let arity = quote_spanned! {span=> ::tanto::__private::arity::<#task, #count>(); };
    // The block is spanned at the callee, so a mismatch with its output is reported there.
    quote_spanned! {span=>
        {
            #alias
            #arity
            let #args = ::tanto::__private::vec![#(#wires),*];
            ::tanto::__private::call::<#task>(#b, #args)
        }
    }
}
