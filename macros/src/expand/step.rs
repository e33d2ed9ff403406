//! Generates a `#[step]`: the fn as written, and beside it a companion struct of the same name
//! implementing `Step` (and so, through the runtime's blanket impl, `Task`).

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;

use super::{Kind, handles_type, hygienic, param_infos, task_common};
use crate::ast::{self, FnShape, Output, Param, Step};
use crate::attr::{Image, StepAttrs};

/// The expansion of a valid step.
pub(super) fn expand(step: &Step) -> TokenStream {
    let shape = &step.shape;
    let item = &shape.item;
    let ident = shape.ident();
    let cfgs = shape.cfgs();
    let name = step.name();
    let inputs: Vec<&Param> = shape.params.iter().skip(1).collect();
    let output = step.output();

    let doc = ast::first_paragraph(&shape.doc());
    // The fn's tokens in canonical text: the runtime hashes them into the key once.
    let tokens = tanto_tokens::canonical(item.to_token_stream());
    let code = code_info(shape);
    let fn_name = shape.name();
    let params_info = param_infos(&inputs);
    let output_text = output.text();
    let settings = settings(&step.attrs);
    let run_body = run_body(ident, &name, &inputs, &output);
    let companion = companion(shape);
    let handles = handles_type(&output);
    let common = task_common(shape, &inputs, Kind::Step);

    quote! {
        #item

        #companion

        // The step's one impl: the runtime's blanket impl makes every `Step` a `Task`.
        #(#cfgs)*
        impl ::tanto::__private::Step for #ident {
            type Handles = #handles;

            const INFO: ::tanto::__private::StepInfo = ::tanto::__private::StepInfo {
                name: #name,
                path: ::tanto::__private::concat!(::tanto::__private::module_path!(), "::", #fn_name),
                doc: #doc,
                tokens: #tokens,
                code: #code,
                params: &[#(#params_info),*],
                output: #output_text,
                settings: #settings,
            };

            // The engine a standalone context connects to: the `tanto` crate's Docker backend.
            const BACKEND: ::tanto::__private::Connect = ::tanto::__private::docker;

            // `#[inline]`, like `add`: the glue is codegened where a pipeline runs the step, not in
            // every crate that defines steps. The one async body is the runtime's `run_step`,
            // borrow checked once for every step.
            #[inline]
            fn run(
                __tanto_ctx: &::tanto::__private::Ctx,
                __tanto_inputs: ::tanto::__private::Vec<::tanto::__private::Artifact>,
            ) -> ::tanto::__private::BoxFuture<
                '_,
                ::tanto::__private::Result<::tanto::__private::Vec<::tanto::__private::Artifact>>,
            > {
                #run_body
            }
        }

        #common
    }
}

/// The `CodeInfo` literal: what the crate's build script recorded for this step, found by the
/// key of its signature and body, and for the crate. `option_env!` is `None` in a crate whose
/// build script does not call `tanto_build::digests()`, so such a crate compiles unchanged.
fn code_info(shape: &FnShape) -> TokenStream {
    let mut sig_and_block = shape.item.sig.to_token_stream();
    shape.item.block.to_tokens(&mut sig_and_block);
    let var = format!("TANTO_CODE_{}", tanto_tokens::lookup_key(sig_and_block));
    let compiled = compiled(&var);
    quote! {
        ::tanto::__private::CodeInfo {
            record: ::tanto::__private::option_env!(#var),
            compiled: &[#(#compiled),*],
            crate_record: ::tanto::__private::option_env!("TANTO_CODE"),
            package: ::tanto::__private::option_env!("CARGO_PKG_NAME"),
            version: ::tanto::__private::option_env!("CARGO_PKG_VERSION"),
            cfg_test: ::tanto::__private::cfg!(test),
        }
    }
}

/// The values of the variables and `cfg` keys the step's record marks as read when compiled
/// (its build script could not see them), each `(label, value)`: rustc reads them here, where
/// the step is compiled. The record is read from rustc's environment, which is this macro's.
fn compiled(var: &str) -> Vec<TokenStream> {
    use tanto_tokens::compiled::{Compiled, read_when_compiled};
    // A step the build script did not find (or whose key met another's) has the crate's.
    let Ok(record) = std::env::var(var).or_else(|_| std::env::var("TANTO_CODE")) else {
        return Vec::new();
    };
    read_when_compiled(&record)
        .into_iter()
        .map(|(label, what)| match what {
            Compiled::Env(name) => {
                quote!((#label, ::tanto::__private::option_env!(#name)))
            }
            Compiled::Cfg(key) => {
                let key = Ident::new(&key, proc_macro2::Span::call_site());
                // The step's own code names the key, so a lint on it is the user's already.
                quote!((#label, {
                    #[allow(unexpected_cfgs)]
                    let set = ::tanto::__private::cfg!(#key);
                    if set { ::tanto::__private::Some("set") } else { ::tanto::__private::None }
                }))
            }
        })
        .collect()
}

/// The struct beside the fn, in the type namespace, that pipelines name: `build(src)` in a
/// pipeline body is `build` as a type.
pub(crate) fn companion(shape: &FnShape) -> TokenStream {
    let ident = shape.ident();
    let vis = &shape.item.vis;
    let cfgs = shape.cfgs();
    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}
    }
}

/// `run`'s body, with no closure: take each input in order (stopping at the first that fails),
/// call the fn, and hand its future to the runtime's `run_step` with the fn that converts its
/// output.
fn run_body(ident: &Ident, name: &str, inputs: &[&Param], output: &Output) -> TokenStream {
    let args: Vec<Ident> = (0..inputs.len())
        .map(|i| format_ident!("__tanto_in{i}"))
        .collect();
    let takes = inputs.iter().map(|input| {
        let ty = &input.ty;
        let param = input.name();
        // Spanned at the parameter's type, so "cannot be a step input" lands on it.
        quote_spanned! {ty.span()=>
            ::tanto::__private::take_input::<#ty>(&mut __tanto_inputs, #param)
        }
    });
    let take = if inputs.is_empty() {
        quote!(let _ = __tanto_inputs;)
    } else {
        quote! {
            let mut __tanto_inputs = ::tanto::__private::Inputs::new(__tanto_inputs, #name);
            let (#(::tanto::__private::Some(#args),)*) = (#(#takes,)*) else {
                return __tanto_inputs.fail();
            };
        }
    };
    let outputs = match output {
        Output::Unit => quote!(::tanto::__private::no_output),
        // Spanned at the output's type, so "cannot be a step output" lands on it.
        Output::One(ty) => quote_spanned!(ty.span()=> ::tanto::__private::one_output::<#ty>),
        Output::Tuple(tys) => {
            let outs: Vec<Ident> = (0..tys.len())
                .map(|i| format_ident!("__tanto_out{i}"))
                .collect();
            let converts = tys.iter().zip(&outs).map(|(ty, out)| {
                let arg = Ident::new(&out.to_string(), ty.span());
                let convert = quote_spanned!(ty.span()=> ::tanto::__private::output(#arg));
                quote!(#convert?)
            });
            quote! {
                |(#(#outs,)*)| ::tanto::__private::Ok(::tanto::__private::vec![#(#converts),*])
            }
        }
    };
    quote! {
        #take
        ::tanto::__private::run_step(#ident(__tanto_ctx, #(#args),*), #outputs)
    }
}

/// The `StepSettings` literal: only what the attributes set, the rest from `DEFAULT`.
fn settings(attrs: &StepAttrs) -> TokenStream {
    let mut fields = Vec::new();
    let some_str = |lit: &syn::LitStr| quote!(::tanto::__private::Some(#lit));
    if let Some(image) = &attrs.image {
        let v = match image {
            Image::Lit(lit) => some_str(lit),
            // `StepSettings` is built in a const context, where a `&str` const can be named.
            Image::Const(path) => {
                // Typed at the path, so a const of another type is reported there alone.
                let ty = quote_spanned!(path.span()=> &'static str);
                let image = hygienic("__tanto_image");
                quote!(::tanto::__private::Some({ let #image: #ty = #path; #image }))
            }
        };
        fields.push(quote!(image: #v));
    }
    if !attrs.caches.is_empty() {
        let pairs = attrs.caches.iter().map(|(p, v)| quote!((#p, #v)));
        fields.push(quote!(caches: &[#(#pairs),*]));
    }
    if !attrs.env.is_empty() {
        let pairs = attrs.env.iter().map(|(k, v)| {
            let k = &k.name;
            quote!((#k, #v))
        });
        fields.push(quote!(env: &[#(#pairs),*]));
    }
    if let Some(workdir) = &attrs.workdir {
        let v = some_str(workdir);
        fields.push(quote!(workdir: #v));
    }
    if let Some(user) = &attrs.user {
        let v = some_str(user);
        fields.push(quote!(user: #v));
    }
    if let Some(ms) = attrs.timeout_ms {
        let ms = Literal::u64_unsuffixed(ms);
        fields.push(quote!(timeout: ::tanto::__private::Some(
            ::tanto::__private::Duration::from_millis(#ms)
        )));
    }
    if let Some(version) = &attrs.version {
        let v = some_str(version);
        fields.push(quote!(version: #v));
    }
    if attrs.side_effect {
        fields.push(quote!(side_effect: true));
    }
    if let Some(network) = attrs.network {
        fields.push(quote!(network: #network));
    }
    if let Some(in_key) = attrs.secret_in_key {
        fields.push(quote!(secret_in_key: #in_key));
    }
    if let Some(bytes) = attrs.memory {
        let bytes = Literal::u64_unsuffixed(bytes);
        fields.push(quote!(memory: ::tanto::__private::Some(#bytes)));
    }
    if let Some(millis) = attrs.millicpus {
        let millis = Literal::u32_unsuffixed(millis);
        fields.push(quote!(millicpus: ::tanto::__private::Some(#millis)));
    }
    if attrs.docker_socket {
        fields.push(quote!(docker_socket: true));
    }
    quote! {
        ::tanto::__private::StepSettings {
            #(#fields,)*
            ..::tanto::__private::StepSettings::DEFAULT
        }
    }
}
