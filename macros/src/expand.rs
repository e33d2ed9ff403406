//! Generates the code of `#[step]`, and the pieces `#[pipeline]` shares with it.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{Item, Visibility};

use crate::ast::{self, FnShape, Output, Param};
use crate::attr::{self, StepAttrs};
use crate::ctxt::Ctxt;
use crate::{digest, valid};

/// Expands `#[step(args)]` on `item`.
pub(crate) fn step(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new();
    let attrs = attr::parse_step(args, &mut cx);
    let item_fn = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(item_fn)) => item_fn,
        Ok(other) => {
            cx.error_spanned_by(
                item_kind(&other),
                "`#[step]` can only be used on an `async fn`",
            );
            return with_errors(item, cx);
        }
        Err(err) => {
            cx.syn_error(err);
            return with_errors(item, cx);
        }
    };
    let shape = FnShape::new(item_fn);
    valid::step(&shape, &mut cx);
    match cx.check() {
        Ok(()) => step_tokens(&shape, &attrs),
        Err(err) => step_fallback(&shape, err),
    }
}

/// On errors: the user's fn unchanged (so the IDE keeps working), the errors, and a bare
/// companion so pipelines that name the step do not add errors of their own.
fn step_fallback(shape: &FnShape, err: syn::Error) -> TokenStream {
    let item = &shape.item;
    let errors = err.to_compile_error();
    if shape.receiver.is_some() {
        // A method lives in an `impl` block, where a companion struct cannot go.
        return quote! { #item #errors };
    }
    let ident = shape.ident();
    let vis = &item.vis;
    let cfgs = shape.cfgs();
    let companion = quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}
    };
    if !item.sig.generics.params.is_empty() {
        return quote! { #item #errors #companion };
    }
    // Wiring-only impls with whatever types are usable, so pipelines calling the step do not
    // add errors of their own.
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
    let handles = handles_type(&output);
    let common = task_common(shape, &inputs.iter().collect::<Vec<_>>());
    quote! {
        #item
        #errors
        #companion

        #(#cfgs)*
        impl ::tanto::__private::Task for #ident {
            type Handles = #handles;

            fn add(
                b: &mut ::tanto::__private::Builder,
                args: ::tanto::__private::Vec<::tanto::__private::Arg>,
            ) -> Self::Handles {
                let _ = (b, args);
                ::core::panic!("this step has errors")
            }
        }

        #common
    }
}

fn with_errors(item: TokenStream, cx: Ctxt) -> TokenStream {
    let errors = cx.check().err().map(|e| e.to_compile_error());
    quote! { #item #errors }
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

fn step_tokens(shape: &FnShape, attrs: &StepAttrs) -> TokenStream {
    let item = &shape.item;
    let ident = shape.ident();
    let vis = &item.vis;
    let cfgs = shape.cfgs();
    let name = attrs
        .name
        .as_ref()
        .map_or_else(|| shape.name(), |lit| lit.value());
    let inputs: Vec<&Param> = shape.params.iter().skip(1).collect();
    let output = ast::result_ok_type(&item.sig.output).map_or(Output::Unit, ast::Output::from_type);

    let doc = ast::first_paragraph(&shape.doc());
    let digest = digest::code_digest(&name, &item.to_token_stream());
    let fn_name = shape.name();
    let params_info = param_infos(&inputs);
    let output_text = output.text();
    let settings = settings(attrs);
    let handles = handles_type(&output);
    let run_body = run_body(ident, &name, &inputs, &output);
    let common = task_common(shape, &inputs);

    quote! {
        #item

        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}

        #(#cfgs)*
        impl ::tanto::__private::Task for #ident {
            type Handles = #handles;

            fn add(
                b: &mut ::tanto::__private::Builder,
                args: ::tanto::__private::Vec<::tanto::__private::Arg>,
            ) -> Self::Handles {
                <Self::Handles as ::tanto::__private::FromNode>::from_node(b.step(
                    <#ident as ::tanto::__private::Step>::INFO,
                    <#ident as ::tanto::__private::Step>::run,
                    args,
                ))
            }
        }

        #(#cfgs)*
        impl ::tanto::__private::Step for #ident {
            const INFO: ::tanto::__private::StepInfo = ::tanto::__private::StepInfo {
                name: #name,
                path: ::tanto::__private::concat!(::tanto::__private::module_path!(), "::", #fn_name),
                doc: #doc,
                code_digest: #digest,
                params: &[#(#params_info),*],
                output: #output_text,
                settings: #settings,
            };

            fn run(
                __tanto_ctx: &::tanto::__private::Ctx,
                __tanto_inputs: ::tanto::__private::Vec<::tanto::__private::Artifact>,
            ) -> ::tanto::__private::BoxFuture<
                '_,
                ::tanto::__private::Result<::tanto::__private::Vec<::tanto::__private::Artifact>>,
            > {
                ::tanto::__private::Box::pin(async move { #run_body })
            }
        }

        #common
    }
}

/// `run`'s body: take each input in order, call the fn, turn its output into artifacts.
fn run_body(ident: &Ident, name: &str, inputs: &[&Param], output: &Output) -> TokenStream {
    let args: Vec<Ident> = (0..inputs.len())
        .map(|i| format_ident!("__tanto_in{i}"))
        .collect();
    let takes = inputs.iter().zip(&args).map(|(input, arg)| {
        let ty = &input.ty;
        let param = input.name();
        // Spanned at the parameter's type, so "cannot be a step input" lands on it.
        let take = quote_spanned! {ty.span()=>
            ::tanto::__private::take_input::<#ty>(&mut __tanto_inputs, #name, #param)
        };
        quote! { let #arg = #take?; }
    });
    let call = quote! { #ident(__tanto_ctx, #(#args),*).await? };
    let outs: Vec<Ident> = (0..output.types().len())
        .map(|i| format_ident!("__tanto_out{i}"))
        .collect();
    let converts = output.types().into_iter().zip(&outs).map(|(ty, out)| {
        // Spanned at the output's type, so "cannot be a step output" lands on it.
        let arg = Ident::new(&out.to_string(), ty.span());
        let convert = quote_spanned!(ty.span()=> ::tanto::__private::output(#arg));
        quote!(#convert?)
    });
    let bind = match output {
        Output::Unit => quote! { #call; },
        Output::One(_) => quote! { let __tanto_out0 = #call; },
        Output::Tuple(_) => quote! { let (#(#outs,)*) = #call; },
    };
    quote! {
        let mut __tanto_inputs = __tanto_inputs.into_iter();
        #(#takes)*
        #bind
        ::tanto::__private::Ok(::tanto::__private::vec![#(#converts),*])
    }
}

/// What a call returns inside a pipeline: `()`, a handle, or a tuple of handles.
pub(crate) fn handles_type(output: &Output) -> TokenStream {
    match output {
        Output::Unit => quote!(()),
        Output::One(ty) => quote!(::tanto::__private::Handle<#ty>),
        Output::Tuple(tys) => quote!((#(::tanto::__private::Handle<#tys>,)*)),
    }
}

/// `&[ParamInfo { .. }, ..]` entries for the inputs.
pub(crate) fn param_infos(inputs: &[&Param]) -> Vec<TokenStream> {
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
                    let include = &dir.include;
                    let exclude = &dir.exclude;
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

/// What steps and pipelines both implement: `Param<I>` per input, `Arity<N>`, and the module
/// of marker types named after the parameters.
pub(crate) fn task_common(shape: &FnShape, inputs: &[&Param]) -> TokenStream {
    let ident = shape.ident();
    let cfgs = shape.cfgs();
    let markers_mod = format_ident!("__tanto_{}", shape.name());
    let vis = &shape.item.vis;
    let marker_vis = inner_vis(vis);
    let arity = Literal::usize_unsuffixed(inputs.len());
    let markers = inputs.iter().filter_map(|input| input.ident.as_ref());
    let params = inputs.iter().enumerate().map(|(i, input)| {
        let i = Literal::usize_unsuffixed(i);
        let ty = &input.ty;
        let marker = match &input.ident {
            Some(m) => quote!(#markers_mod::#m),
            None => quote!(()),
        };
        quote! {
            #(#cfgs)*
            impl ::tanto::__private::Param<#i> for #ident {
                type Type = #ty;
                type Name = #marker;
            }
        }
    });
    quote! {
        #(#params)*

        #(#cfgs)*
        impl ::tanto::__private::Arity<#arity> for #ident {}

        // Zero-sized types named after the parameters, so wiring errors can say which one.
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code, unreachable_pub)]
        #vis mod #markers_mod {
            #(#marker_vis struct #markers;)*
        }
    }
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

/// The `StepSettings` literal: only what the attributes set, the rest from `DEFAULT`.
fn settings(attrs: &StepAttrs) -> TokenStream {
    let mut fields = Vec::new();
    let some_str = |lit: &syn::LitStr| quote!(::tanto::__private::Some(#lit));
    if let Some(image) = &attrs.image {
        let v = some_str(image);
        fields.push(quote!(image: #v));
    }
    if !attrs.caches.is_empty() {
        let pairs = attrs.caches.iter().map(|(p, v)| quote!((#p, #v)));
        fields.push(quote!(caches: &[#(#pairs),*]));
    }
    if !attrs.env.is_empty() {
        let pairs = attrs.env.iter().map(|(k, v)| quote!((#k, #v)));
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

/// An identifier the user's code cannot see or shadow.
pub(crate) fn hygienic(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// `tokens` with every span set to `span`, so rustc reports them at the user's code.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
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
