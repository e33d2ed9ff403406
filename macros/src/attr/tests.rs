//! Tests of attribute parsing.

use super::*;

#[test]
fn collects_every_error() {
    let mut cx = Ctxt::new();
    let args: TokenStream = syn::parse_quote!(
        imgae = "x",
        timeout = "ten",
        image = "a",
        image = "b",
        side_effect,
        cpus = "many"
    );
    let attrs = parse_step(args, &mut cx);
    let image = match attrs.image {
        Some(Image::Lit(lit)) => lit.value(),
        _ => panic!("a literal image"),
    };
    assert_eq!(image, "a");
    assert!(attrs.side_effect);
    let err = cx.check().expect_err("four errors");
    let messages: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert!(messages[0].starts_with("unknown step attribute `imgae`, expected one of `image`"));
    assert!(messages[1].starts_with("invalid timeout `ten`"));
    assert_eq!(messages[2], "duplicate step attribute `image`");
    assert!(messages[3].starts_with("invalid CPU count `many`"));
}

/// The attributes of `f`'s first parameter.
pub(crate) fn param_attrs(f: syn::Signature) -> Vec<Attribute> {
    match f.inputs.into_iter().next() {
        Some(syn::FnArg::Typed(param)) => param.attrs,
        _ => panic!("a typed parameter"),
    }
}

fn values(globs: &Globs) -> Vec<String> {
    globs.globs.iter().map(LitStr::value).collect()
}

#[test]
fn dir_selects_and_collects_every_error() {
    let attrs = param_attrs(syn::parse_quote!(
        fn ci(
            #[dir(include = ["src/**", "Cargo.*"], exclude = "docs/**", gitignore = false)]
            src: Dir,
        )
    ));
    let mut cx = Ctxt::new();
    let dir = parse_dir(&attrs, &mut cx).expect("a selection");
    assert!(cx.is_ok());
    assert_eq!(values(&dir.include), ["src/**", "Cargo.*"]);
    assert_eq!(values(&dir.exclude), ["docs/**"]);
    assert_eq!(dir.gitignore.map(|b| b.value), Some(false));

    let attrs = param_attrs(syn::parse_quote!(
        fn ci(
            #[dir(include = ["src/**", 3, ""], exclud = "x", include = "y", gitignore = "no")]
            #[dir(exclude = "z")]
            src: Dir,
        )
    ));
    let mut cx = Ctxt::new();
    let dir = parse_dir(&attrs, &mut cx).expect("a selection");
    // An empty glob is well-formed; `valid` rejects it.
    assert_eq!(values(&dir.include), ["src/**", ""]);
    let err = cx.check().expect_err("five errors");
    let messages: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
    assert_eq!(
        messages,
        [
            "duplicate `#[dir(..)]` on one parameter; put all its keys in one",
            r#"expected a glob string, like `"src/**"`"#,
            "unknown dir attribute `exclud`, expected one of `include`, `exclude`, `gitignore`",
            "duplicate dir attribute `include`",
            "expected `true` or `false`, like `gitignore = false`",
        ]
    );
}
