//! Expansion snapshots: representative steps and pipelines, expanded in process and printed
//! with prettyplease.

use proc_macro2::TokenStream;
use quote::quote;

fn pretty(tokens: TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(err) => panic!("the expansion does not parse: {err}\n{tokens}"),
    }
}

fn step(args: TokenStream, item: TokenStream) -> String {
    pretty(crate::expand::step(args, item))
}

fn pipeline(args: TokenStream, item: TokenStream) -> String {
    pretty(crate::expand::pipeline(args, item))
}

#[test]
fn step_minimal() {
    let expansion = step(
        quote!(image = "rust:1.95-slim"),
        quote! {
            /// Checks formatting.
            ///
            /// Second paragraph.
            pub async fn fmt(ctx: &Ctx, src: Dir) -> Result<()> {
                let _ = (ctx, src);
                Ok(())
            }
        },
    );
    insta::assert_snapshot!(expansion);
}

#[test]
fn step_all_attributes() {
    let expansion = step(
        quote!(
            image = "rust:1.95-slim",
            cache(
                "/usr/local/cargo/registry" = "cargo-registry",
                "/src/target" = "target"
            ),
            env(CARGO_TERM_COLOR = "never"),
            env("RUST_LOG" = "debug"),
            workdir = "/src",
            timeout = "1h30m",
            version = "2",
            side_effect,
            name = "build-release",
            user = "1000",
            network = false,
            memory = "2g",
            cpus = "1.5",
            docker_socket,
        ),
        quote! {
            /// Builds the workspace.
            pub async fn build(ctx: &tanto::Ctx, src: Dir, profile: String) -> tanto::Result<Dir> {
                let _ = (ctx, profile);
                Ok(src)
            }
        },
    );
    insta::assert_snapshot!(expansion);
}

#[test]
fn step_image_const() {
    let expansion = step(
        quote!(image = cargo_steps::IMAGE, network = false),
        quote! {
            pub async fn fmt(ctx: &Ctx, src: Dir) -> Result<()> {
                let _ = (ctx, src);
                Ok(())
            }
        },
    );
    insta::assert_snapshot!(expansion);
}

#[test]
fn step_tuple_output() {
    let expansion = step(
        TokenStream::new(),
        quote! {
            pub(crate) async fn split(_ctx: &Ctx, bin: Dir, tag: u32) -> Result<(Dir, File, Report)> {
                unimplemented!()
            }
        },
    );
    insta::assert_snapshot!(expansion);
}

#[test]
fn step_errors_keep_the_fn() {
    let expansion = step(
        quote!(imgae = "x", timeout = "ten"),
        quote! {
            fn build(src: &str) -> Dir {
                todo!()
            }
        },
    );
    insta::assert_snapshot!(expansion);
}

#[test]
fn pipeline_diamond() {
    let expansion = pipeline(
        TokenStream::new(),
        quote! {
            /// CI for the workspace.
            pub fn ci(src: Dir, profile: String) -> Dir {
                fmt(src);
                let bin = build(src, profile);
                let (a, b) = other::split(bin, "x");
                cargo_steps::test(src);
                bin
            }
        },
    );
    insta::assert_snapshot!(expansion);
}

#[test]
fn pipeline_tuple_output_and_name() {
    let expansion = pipeline(
        quote!(name = "release"),
        quote! {
            fn release(src: Dir) -> (Dir, File) {
                let bin = build(src, "release", 3, -1);
                package(bin)
            }
        },
    );
    insta::assert_snapshot!(expansion);
}

#[test]
fn pipeline_body_errors_keep_a_stub() {
    let expansion = pipeline(
        TokenStream::new(),
        quote! {
            pub fn ci(src: Dir) {
                if src { fmt(src); }
                for x in src { build(x); }
                let f = |x| build(x);
                println!("hi");
                src.check();
            }
        },
    );
    insta::assert_snapshot!(expansion);
}

#[test]
fn pipeline_matrix() {
    let expansion = pipeline(
        TokenStream::new(),
        quote! {
            /// Tests every toolchain with every feature, then publishes under `--release`.
            pub fn matrix(src: Dir, toolchains: Vec<String>, release: bool, note: String) -> String {
                let mut results = Vec::new();
                for toolchain in &toolchains {
                    for feature in FEATURES {
                        let input = cell_input(src, toolchain, feature);
                        results.push(cell(input, toolchain, feature));
                    }
                }
                let all = summary(results, note);
                if release {
                    publish(all);
                } else if let Some(first) = toolchains.first() {
                    check(src, first);
                }
                match toolchains.len() {
                    0 => (),
                    1 => fmt(src),
                    _ => { clippy(src); }
                }
                all
            }
        },
    );
    insta::assert_snapshot!(expansion);
}

#[test]
fn pipeline_dir_select() {
    let expansion = pipeline(
        TokenStream::new(),
        quote! {
            /// Tests the sources only.
            pub fn ci(
                #[dir(include = ["src/**", "Cargo.*"], exclude = "src/generated/**")] src: Dir,
                #[dir(gitignore = false)] assets: Dir,
                docs: Dir,
            ) {
                test(src, assets, docs);
            }
        },
    );
    assert!(!expansion.contains("#[dir"), "{expansion}");
    insta::assert_snapshot!(expansion);
}

#[test]
fn step_dir_errors_keep_the_fn_without_it() {
    let expansion = step(
        TokenStream::new(),
        quote! {
            async fn build(
                ctx: &Ctx,
                #[allow(unused)] #[dir(exclude = "docs/**")] src: Dir,
            ) -> Result<Dir> {
                let _ = ctx;
                Ok(src)
            }
        },
    );
    // The error message names `#[dir(..)]`; the fn must not carry it.
    assert!(!expansion.contains("#[dir(exclude"), "{expansion}");
    insta::assert_snapshot!(expansion);
}
