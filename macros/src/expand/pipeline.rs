//! Generates a `#[pipeline]`: a unit struct of the fn's name implementing `Pipeline` and `Task`,
//! whose `build` is the body with each step call rewritten into checked graph calls.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{quote, quote_spanned};
use syn::ReturnType;
use syn::spanned::Spanned as _;

use super::{Kind, handles_type, hygienic, impl_task, param_infos, respan, task_common, wire_fn};
use crate::ast::{Param, Pipeline, plain_name, unraw};
use crate::body::{Body, Call, Else, For, If, Stmt, Value};

/// The expansion of a valid pipeline.
pub(super) fn expand(pipeline: &Pipeline) -> TokenStream {
    tokens(pipeline, Some(&pipeline.body))
}

/// What stands in for a pipeline whose signature is sound but whose `#[dir(..)]`s or body have
/// errors: the same struct and impls, with a `build` that panics, so callers see no new errors.
pub(crate) fn stub(pipeline: &Pipeline) -> TokenStream {
    tokens(pipeline, None)
}

/// The whole expansion; with no body, `build` is a stub.
fn tokens(pipeline: &Pipeline, body: Option<&Body>) -> TokenStream {
    let shape = &pipeline.shape;
    let ident = shape.ident();
    let vis = &shape.item.vis;
    let cfgs = shape.cfgs();
    let docs = shape.item.attrs.iter().filter(|a| a.path().is_ident("doc"));
    let output = pipeline.output();
    let inputs: Vec<&Param> = shape.params.iter().collect();
    let impl_pipeline = impl_pipeline(pipeline, &inputs, body);
    let task = impl_task(
        shape,
        &output,
        // A nested pipeline's steps are labelled `outer/inner/step`.
        quote! {
            b.nested(<Self as ::tanto::__private::Pipeline>::INFO, |b| {
                <Self as ::tanto::__private::Pipeline>::build(b, args)
            })
        },
    );
    let common = task_common(shape, &inputs, Kind::Pipeline);
    // Each output type must be able to leave a run (a `Secret` cannot); the check is spanned at
    // the type, so the error lands on the user's return type.
    let output_checks = output.types().into_iter().map(|ty| {
        quote_spanned! {ty.span()=>
            ::tanto::__private::pipeline_output::<#ty>();
        }
    });

    quote! {
        #(#docs)*
        #(#cfgs)*
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident;

        #(#cfgs)*
        const _: () = {
            #[allow(dead_code)]
            fn __tanto_outputs() {
                #(#output_checks)*
            }
        };

        #impl_pipeline

        #task

        #common
    }
}

/// `impl Pipeline`: the pipeline's metadata, and `build`, which binds each parameter to its
/// argument and runs the body (or, with no body, panics).
fn impl_pipeline(pipeline: &Pipeline, inputs: &[&Param], body: Option<&Body>) -> TokenStream {
    let shape = &pipeline.shape;
    let ident = shape.ident();
    let cfgs = shape.cfgs();
    let name = pipeline.name();
    let fn_name = shape.name();
    let doc = shape.doc();
    let params_info = param_infos(inputs);
    // `build` returns the handles spanned at the user's return type, so a mismatch with the
    // body's output is reported against it.
    let build_ret = match &shape.item.sig.output {
        ReturnType::Type(_, ty) => respan(handles_type(&pipeline.output()), ty.span()),
        ReturnType::Default => quote!(Self::Handles),
    };
    let b = hygienic("__tanto_b");
    let args = hygienic("__tanto_args");
    let build_body = match body {
        Some(body) => {
            let plan_names = body.plan_names();
            let mut values = Vec::new();
            let binds = inputs.iter().enumerate().map(|(i, input)| {
                let ident = &input.ident;
                let ty = &input.ty;
                let param = input.name();
                let i = Literal::usize_unsuffixed(i);
                let is_value = !(input.is("Dir") || input.is("File") || input.is("Secret"));
                if is_value && plan_names.contains(&param) {
                    // An input the body loops or branches on is bound as its value.
                    values.push(ident);
                    return quote! { let #ident = #b.value::<#ty>(#param, &#args[#i]); };
                }
                // `Plan::of` and `Task::add` pass exactly one argument per parameter; a value the
                // command line gave is checked as the parameter's type before the run.
                if is_value {
                    return quote! { let #ident = #b.value_param::<#ty>(#param, &#args[#i]); };
                }
                quote! { let #ident = #b.param::<#ty>(#param, &#args[#i]); }
            });
            let binds: Vec<TokenStream> = binds.collect();
            // Every value is asked for first, so the plan names each one it lacks; without
            // them, nothing of the body can be built.
            let known = (!values.is_empty()).then(|| {
                quote! {
                    let (#(::tanto::__private::Some(#values),)*) = (#(#values,)*) else {
                        return ::tanto::__private::unbuilt();
                    };
                }
            });
            let extra_args = extra_args(body);
            let scope = Scope {
                b: &b,
                values: (inputs.iter())
                    .filter(|i| !(i.is("Dir") || i.is("File") || i.is("Secret")))
                    .map(|i| i.name())
                    .filter(|name| plan_names.contains(name))
                    .collect(),
            };
            let stmts = body_tokens(body, &scope);
            quote! { #extra_args #(#binds)* #known #stmts }
        }
        None => quote! {
            let _ = (#b, #args);
            ::core::panic!("this pipeline has errors")
        },
    };
    quote! {
        #(#cfgs)*
        impl ::tanto::__private::Pipeline for #ident {
            const INFO: ::tanto::__private::PipelineInfo = ::tanto::__private::PipelineInfo {
                name: #name,
                path: ::tanto::__private::concat!(::tanto::__private::module_path!(), "::", #fn_name),
                doc: #doc,
                params: &[#(#params_info),*],
            };

            // The container engine: the Docker backend of the `tanto` crate, which plugs it in
            // here, as its engine crate never names bollard.
            const BACKEND: ::tanto::__private::Connect = ::tanto::__private::docker;

            fn build(
                #b: &mut ::tanto::__private::Builder,
                #args: ::tanto::__private::Vec<::tanto::__private::Arg>,
            ) -> #build_ret {
                #build_body
            }
        }
    }
}

/// What the rewritten body needs: the builder's name, and the pipeline's inputs bound as their
/// values (those it loops or branches on), by name.
struct Scope<'a> {
    b: &'a Ident,
    values: BTreeSet<String>,
}

/// The body with each step call rewritten; `valid::body` has rejected everything else.
fn body_tokens(body: &Body, cx: &Scope<'_>) -> TokenStream {
    let stmts = body.stmts.iter().map(|stmt| stmt_tokens(stmt, cx));
    let tail = body.tail.as_ref().map(|tail| value_tokens(tail, cx));
    quote! { #(#stmts)* #tail }
}

fn value_tokens(value: &Value, cx: &Scope<'_>) -> TokenStream {
    match value {
        Value::Other(expr) => quote! { #expr },
        Value::Call(call) => call_tokens(call, cx),
    }
}

fn stmt_tokens(stmt: &Stmt, cx: &Scope<'_>) -> TokenStream {
    match stmt {
        Stmt::Let {
            local,
            value: Some(Value::Call(call)),
        } => {
            let pat = &local.pat;
            let call = call_tokens(call, cx);
            quote! { let #pat = #call; }
        }
        Stmt::Expr(Value::Call(call)) => {
            let call = call_tokens(call, cx);
            quote! { #call; }
        }
        Stmt::List(local) => quote! { #local },
        Stmt::Push { value, call, .. } => {
            let (receiver, dot, method) = (&call.receiver, &call.dot_token, &call.method);
            let value = value_tokens(value, cx);
            quote! { #receiver #dot #method(#value); }
        }
        Stmt::For(_) | Stmt::If(_) | Stmt::Match(_) => choice_tokens(stmt, cx),
        Stmt::Use(item) => quote! { #item },
        Stmt::Let { .. } | Stmt::Expr(_) | Stmt::Item(_) | Stmt::Macro(_) => {
            unreachable!("a pipeline body with errors is not expanded")
        }
    }
}

/// A loop or a branch, between the builder's `enter_choice` and `leave_choice` with the names
/// it goes by, so the steps it adds name the inputs that chose them.
fn choice_tokens(stmt: &Stmt, cx: &Scope<'_>) -> TokenStream {
    let b = cx.b;
    let inner = match stmt {
        Stmt::For(f) => for_tokens(f, cx),
        Stmt::If(i) => if_tokens(i, cx),
        Stmt::Match(m) => {
            let scrutinee = &m.expr.expr;
            let arms = m.arms.iter().map(|arm| {
                let Ok(body) = &arm.body else {
                    unreachable!("a pipeline body with errors is not expanded")
                };
                let pat = &arm.arm.pat;
                let body = body_tokens(body, cx);
                quote! { #pat => { #body } }
            });
            quote! { match #scrutinee { #(#arms)* } }
        }
        _ => unreachable!("only a loop or a branch chooses steps"),
    };
    let names: Vec<String> = (stmt.choice_names().into_iter())
        .filter(|n| cx.values.contains(n))
        .collect();
    if names.is_empty() {
        return inner;
    }
    let names = names.iter();
    quote! {
        #b.enter_choice(&[#(#names),*]);
        #inner
        #b.leave_choice();
    }
}

/// A loop over values known before the run, unrolled as the body runs: each iteration's item
/// labels the steps it adds.
fn for_tokens(f: &For, cx: &Scope<'_>) -> TokenStream {
    let b = cx.b;
    let (pat, iter) = (&f.expr.pat, &f.expr.expr);
    let item = hygienic("__tanto_item");
    let label = hygienic("__tanto_label");
    let body = body_tokens(&f.body, cx);
    // Spanned at what the loop goes over, so an item that is not a plan value (a handle) is
    // reported there.
    let items = quote_spanned! {iter.span()=> ::tanto::__private::plan_items(#iter) };
    quote! {
        for (#label, #item) in #items {
            ::tanto::__private::enter_item(#b, #label);
            let #pat = #item;
            #body
            #b.leave_item();
        }
    }
}

/// An `if` on values known before the run: the branch taken adds its steps.
fn if_tokens(i: &If, cx: &Scope<'_>) -> TokenStream {
    let cond = &i.expr.cond;
    let then = body_tokens(&i.then, cx);
    let otherwise = i.otherwise.as_ref().map(|e| match e {
        Else::Block(body) => {
            let body = body_tokens(body, cx);
            quote! { else { #body } }
        }
        Else::If(next) => {
            let next = if_tokens(next, cx);
            quote! { else #next }
        }
    });
    quote! { if #cond { #then } #otherwise }
}

/// `<Task>::__tanto_wire_N` for every `N` the body passes, for a task without input `N`: its
/// inherent `__tanto_wire_N` comes first when it has one, so this only serves an extra
/// argument, which `Param` (never implemented) then reports as having no parameter.
fn extra_args(body: &Body) -> Option<TokenStream> {
    let most = body.calls().iter().map(|call| call.args.len()).max()?;
    let wires = (0..most).map(|i| {
        let wire = wire_fn(i);
        let i = Literal::usize_unsuffixed(i);
        quote! {
            fn #wire<A>(arg: A) -> ::tanto::__private::Arg
            where
                A: ::tanto::__private::Param<Self, #i>,
            {
                ::tanto::__private::extra_arg::<Self, #i, A>(arg)
            }
        }
    });
    Some(quote! {
        #[allow(dead_code)]
        trait __TantoExtraArg: ::core::marker::Sized {
            #(#wires)*
        }
        impl<T> __TantoExtraArg for T {}
    })
}

/// One step call: the callee's path in type position (its companion), an arity check at the
/// callee, a wiring check at each argument, then the call into the builder.
fn call_tokens(call: &Call, cx: &Scope<'_>) -> TokenStream {
    let b = cx.b;
    let Some(path) = call.path() else {
        unreachable!("a pipeline body with errors is not expanded")
    };
    let span = path.span();
    let count = Literal::usize_unsuffixed(call.args.len());
    let task = quote_spanned!(span=> __TantoTask);
    let args = hygienic("__tanto_args");
    let wires = call.args.iter().enumerate().map(|(i, arg)| {
        let mut wire = wire_fn(i);
        wire.set_span(arg.span());
        // Spanned at the argument, so a wrong wiring is reported on it.
        quote_spanned! {arg.span()=> <#task>::#wire(#arg) }
    });
    // One alias, so a callee that is not a type is reported once, at its path.
    let alias = quote_spanned! {span=> type #task = #path; };
    let arity = quote_spanned! {span=> ::tanto::__private::arity::<#task, #count>(); };
    // An input bound as its value reaches the step as a literal: the builder is told which,
    // so the graph still draws the edge.
    let reads: Vec<String> = (call.args.iter())
        .filter_map(|arg| match arg {
            syn::Expr::Reference(r) => plain_name(&r.expr),
            other => plain_name(other),
        })
        .map(unraw)
        .filter(|n| cx.values.contains(n))
        .collect();
    let reads = (!reads.is_empty()).then(|| quote! { #b.reads(&[#(#reads),*]); });
    // The block is spanned at the callee, so a mismatch with its output is reported there.
    quote_spanned! {span=>
        {
            #alias
            #arity
            let #args = ::tanto::__private::vec![#(#wires),*];
            #reads
            ::tanto::__private::call::<#task>(#b, #args)
        }
    }
}
