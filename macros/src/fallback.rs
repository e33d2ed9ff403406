//! What a macro emits when its item has errors: the errors, the user's item (a pipeline's stands
//! as its struct), and as much of a stub as the item allows, so the IDE keeps working and the
//! code that names the step or pipeline gets no follow-on errors.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::{self, FnShape, Output, Param, Pipeline};
use crate::ctxt::Ctxt;
use crate::expand;

/// An item that is not a fn, or that syn cannot parse: the item as it is, and the errors.
pub(crate) fn item(item: TokenStream, cx: Ctxt) -> TokenStream {
    let errors = cx.check().err().map(|e| e.to_compile_error());
    quote! { #item #errors }
}

/// A step with errors: its fn unchanged, the errors, and the companion struct with wiring-only
/// impls whose types are usable, so pipelines calling the step do not add errors of their own.
pub(crate) fn step(shape: &FnShape, err: syn::Error) -> TokenStream {
    let item = &shape.item;
    let errors = err.to_compile_error();
    if shape.receiver.is_some() {
        // A method lives in an `impl` block, where a companion struct cannot go.
        return quote! { #item #errors };
    }
    let companion = expand::step_companion(shape);
    if !item.sig.generics.params.is_empty() {
        return quote! { #item #errors #companion };
    }
    let usable = |ty: &syn::Type| !matches!(ty, syn::Type::Reference(_) | syn::Type::ImplTrait(_));
    let inputs: Vec<Param> = shape
        .params
        .iter()
        .filter(|p| !ast::mentions_ctx(&p.ty))
        .map(|p| Param {
            pat: p.pat.clone(),
            ident: p.ident.clone(),
            ty: if usable(&p.ty) {
                p.ty.clone()
            } else {
                syn::parse_quote!(())
            },
            dir_attrs: Vec::new(),
            select: None,
        })
        .collect();
    let output = ast::result_ok_type(&item.sig.output)
        .map(Output::from_type)
        .filter(|out| out.types().into_iter().all(usable))
        .unwrap_or(Output::Unit);
    let task = expand::impl_task(
        shape,
        &output,
        quote! {
            let _ = (b, args);
            ::core::panic!("this step has errors")
        },
    );
    let inputs: Vec<&Param> = inputs.iter().collect();
    let common = expand::task_common(shape, &inputs, expand::Kind::Step);
    quote! {
        #item
        #errors
        #companion

        #task

        #common
    }
}

/// A pipeline with errors. With a `sound` signature, the errors and the whole expansion with a
/// `build` that panics; otherwise the errors and a bare struct of its name, or, for a method,
/// the method as it is.
pub(crate) fn pipeline(pipeline: &Pipeline, sound: bool, err: syn::Error) -> TokenStream {
    let shape = &pipeline.shape;
    let errors = err.to_compile_error();
    if sound {
        let stub = expand::pipeline_stub(pipeline);
        return quote! { #errors #stub };
    }
    if shape.receiver.is_some() {
        // A method lives in an `impl` block, where a struct cannot go: keep it as it is.
        let item = &shape.item;
        return quote! { #errors #item };
    }
    let ident = shape.ident();
    let vis = &shape.item.vis;
    let cfgs = shape.cfgs();
    quote! {
        #errors
        #(#cfgs)*
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident;
    }
}
