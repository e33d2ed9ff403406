//! Generates the code of `#[step]` and `#[pipeline]`: each macro's parse → validate → expand,
//! and the pieces both expansions share.

mod pipeline;
mod step;

pub(crate) use pipeline::stub as pipeline_stub;
pub(crate) use step::companion as step_companion;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};
use syn::Visibility;

use crate::ast::{self, FnShape, Output, Param};
use crate::ctxt::Ctxt;
use crate::{attr, fallback, valid};

/// Expands `#[step(args)]` on `item`.
pub(crate) fn step(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new();
    let attrs = attr::parse_step(args, &mut cx);
    let not_a_fn = "`#[step]` can only be used on an `async fn`";
    let Some(item_fn) = ast::parse_fn(item.clone(), not_a_fn, &mut cx) else {
        return fallback::item(item, cx);
    };
    let step = ast::Step::new(attrs, item_fn);
    valid::step(&step, &mut cx);
    match cx.check() {
        Ok(()) => step::expand(&step),
        Err(err) => fallback::step(&step.shape, err),
    }
}

/// Expands `#[pipeline(args)]` on `item`.
pub(crate) fn pipeline(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new();
    let attrs = attr::parse_pipeline(args, &mut cx);
    let not_a_fn = "`#[pipeline]` can only be used on a `fn`";
    let Some(item_fn) = ast::parse_fn(item.clone(), not_a_fn, &mut cx) else {
        return fallback::item(item, cx);
    };
    let attrs_ok = cx.is_ok();
    let pipeline = ast::Pipeline::new(attrs, item_fn, &mut cx);
    let sound = valid::pipeline(&pipeline, &mut cx) && attrs_ok;
    match cx.check() {
        Ok(()) => pipeline::expand(&pipeline),
        Err(err) => fallback::pipeline(&pipeline, sound, err),
    }
}

/// `impl Task`, whose `add(b, args)` has body `add`.
pub(crate) fn impl_task(shape: &FnShape, output: &Output, add: TokenStream) -> TokenStream {
    let ident = shape.ident();
    let cfgs = shape.cfgs();
    let handles = handles_type(output);
    quote! {
        #(#cfgs)*
        impl ::tanto::__private::Task for #ident {
            type Handles = #handles;

            // Codegened only in a crate that adds the task to a pipeline, like a generic fn.
            #[inline]
            fn add(
                b: &mut ::tanto::__private::Builder,
                args: ::tanto::__private::Vec<::tanto::__private::Arg>,
            ) -> Self::Handles {
                #add
            }
        }
    }
}

/// What a call returns inside a pipeline: `()`, a handle, or a tuple of handles.
fn handles_type(output: &Output) -> TokenStream {
    match output {
        Output::Unit => quote!(()),
        Output::One(ty) => quote!(::tanto::__private::Handle<#ty>),
        Output::Tuple(tys) => quote!((#(::tanto::__private::Handle<#tys>,)*)),
    }
}

/// `&[ParamInfo { .. }, ..]` entries for the inputs.
fn param_infos(inputs: &[&Param]) -> Vec<TokenStream> {
    inputs
        .iter()
        .map(|input| {
            let name = input.name();
            let ty = ast::type_text(&input.ty);
            let is_dir = input.is("Dir");
            let is_file = input.is("File");
            let select = input.select.as_ref().map_or_else(
                || quote!(::tanto::__private::DirSelect::DEFAULT),
                |dir| {
                    let include = &dir.include.globs;
                    let exclude = &dir.exclude.globs;
                    let gitignore = dir.gitignore.as_ref().is_none_or(|b| b.value);
                    quote! {
                        ::tanto::__private::DirSelect {
                            include: &[#(#include),*],
                            exclude: &[#(#exclude),*],
                            gitignore: #gitignore,
                        }
                    }
                },
            );
            quote! {
                ::tanto::__private::ParamInfo {
                    name: #name,
                    ty: #ty,
                    is_dir: #is_dir,
                    is_file: #is_file,
                    select: #select,
                }
            }
        })
        .collect()
}

/// What a step or pipeline is, in wiring error messages.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Step,
    Pipeline,
}

/// What steps and pipelines both implement: `Arity<N>`, the wiring check of each input, and
/// the module of check traits named after the parameters.
pub(crate) fn task_common(shape: &FnShape, inputs: &[&Param], kind: Kind) -> TokenStream {
    let ident = shape.ident();
    let cfgs = shape.cfgs();
    let markers_mod = markers_mod(shape);
    let vis = &shape.item.vis;
    let arity = Literal::usize_unsuffixed(inputs.len());
    let wires = inputs.iter().enumerate().map(|(i, input)| {
        let wire = wire_fn(i);
        let ty = &input.ty;
        // A pattern (only in the stub of a step with errors) has no name to report.
        let check = match &input.ident {
            Some(name) => {
                let check = check_trait(name);
                quote!(#markers_mod::#check<#ty>)
            }
            None => quote!(::tanto::__private::Wire<#ty>),
        };
        quote! {
            #vis fn #wire<__TantoArg>(arg: __TantoArg) -> ::tanto::__private::Arg
            where
                __TantoArg: #check,
            {
                ::tanto::__private::wire::<#ty, __TantoArg>(arg)
            }
        }
    });
    // One fn per input that a pipeline passes each argument through, so a wrong one is
    // reported with the message of the input's check trait, which names the parameter. The
    // struct is hidden, so these are too.
    let wires = (!inputs.is_empty()).then(|| {
        quote! {
            #(#cfgs)*
            #[allow(dead_code, unreachable_pub, missing_docs)]
            impl #ident {
                #(#wires)*
            }
        }
    });
    let markers = markers(shape, inputs, kind);
    quote! {
        #(#cfgs)*
        impl ::tanto::__private::Arity<#arity> for #ident {}

        #wires

        #markers
    }
}

/// The module of the check trait of each input, whose `#[diagnostic::on_unimplemented]` names
/// the task and the parameter.
fn markers(shape: &FnShape, inputs: &[&Param], kind: Kind) -> TokenStream {
    let cfgs = shape.cfgs();
    let markers_mod = markers_mod(shape);
    let vis = &shape.item.vis;
    let marker_vis = inner_vis(vis);
    let kind = match kind {
        Kind::Step => "step",
        Kind::Pipeline => "pipeline",
    };
    let task = shape.name();
    let checks = inputs.iter().filter_map(|input| {
        let name = input.ident.as_ref()?;
        let check = check_trait(name);
        let message = format!(
            "{kind} `{task}` parameter `{}` expects `{{Expected}}`, but this argument is `{{Self}}`",
            ast::unraw(name)
        );
        // The blanket impl makes a failing check fail on `Wire`, and rustc then reports the
        // check trait it started from, whose message is this input's own. `Expected` is a
        // parameter because the parameter's type is written for the scope outside the module.
        Some(quote! {
            #[diagnostic::on_unimplemented(
                message = #message,
                label = "expected `{Expected}` or `Handle<{Expected}>` here",
                note = "an argument is a pipeline input, the output of an earlier step, or a literal of the parameter's type"
            )]
            #marker_vis trait #check<Expected>: ::tanto::__private::Wire<Expected> {}

            impl<Expected, Arg: ::tanto::__private::Wire<Expected>> #check<Expected> for Arg {}
        })
    });
    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_camel_case_types, unreachable_pub)]
        #vis mod #markers_mod {
            #(#checks)*
        }
    }
}

/// `__tanto_build`: the module of a task's check traits.
fn markers_mod(shape: &FnShape) -> Ident {
    format_ident!("__tanto_{}", shape.name())
}

/// `__tanto_src`: the check trait of parameter `src`.
fn check_trait(param: &Ident) -> Ident {
    format_ident!("__tanto_{}", ast::unraw(param))
}

/// `__tanto_wire_0`: the wiring check of input 0, on the task's struct.
pub(crate) fn wire_fn(i: usize) -> Ident {
    format_ident!("__tanto_wire_{i}")
}

/// The visibility, inside the marker module, that matches `vis` outside it.
fn inner_vis(vis: &Visibility) -> TokenStream {
    match vis {
        Visibility::Public(_) => quote!(pub),
        Visibility::Inherited => quote!(pub(super)),
        Visibility::Restricted(r) => {
            let path = &r.path;
            if path.is_ident("crate") {
                quote!(pub(crate))
            } else if path.is_ident("self") {
                quote!(pub(super))
            } else if path.is_ident("super") {
                quote!(pub(in super::super))
            } else if path.leading_colon.is_none()
                && path.segments.first().is_some_and(|s| s.ident == "crate")
            {
                quote!(pub(in #path))
            } else {
                quote!(pub)
            }
        }
    }
}

/// An identifier the user's code cannot see or shadow.
fn hygienic(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// `tokens` with every span set to `span`, so rustc reports them at the user's code.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = group.into();
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}
