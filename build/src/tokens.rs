//! Canonical token hashing: the same serialization as `tanto-macros`' code digest, so a step
//! found here and the step the macro expands are matched by their tokens.
//!
//! Tokens are serialized as tagged, length-prefixed fields (word text, punctuation with its
//! spacing, literal text, group delimiters); whitespace and comments are not tokens, and doc
//! attributes are skipped, so neither changes a digest.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

/// The key that matches a step found in the sources to its `#[step]` expansion: a hash of its
/// signature and body, printed by syn (attributes left out, since rustc may have expanded or
/// removed some before the macro sees the fn). `tanto-macros` computes the same key.
pub(crate) fn lookup_key(sig_and_block: &TokenStream) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"tanto step lookup v1\0");
    hash_tokens(&mut hasher, sig_and_block.clone());
    hasher.finalize().to_hex()[..32].to_owned()
}

/// The digest of one item's tokens.
pub(crate) fn unit_digest(tokens: &TokenStream) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"tanto unit v1\0");
    hash_tokens(&mut hasher, tokens.clone());
    hasher.finalize()
}

/// Writes one tagged, length-prefixed field, so no two token sequences serialize alike.
pub(crate) fn field(hasher: &mut blake3::Hasher, tag: u8, bytes: &[u8]) {
    hasher.update(&[tag]);
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// Feeds `stream` to `hasher` canonically, without doc attributes.
pub(crate) fn hash_tokens(hasher: &mut blake3::Hasher, stream: TokenStream) {
    let trees: Vec<TokenTree> = stream.into_iter().collect();
    let mut i = 0;
    while i < trees.len() {
        if let Some(len) = doc_attr_len(&trees[i..]) {
            i += len;
            continue;
        }
        match &trees[i] {
            TokenTree::Ident(ident) => field(hasher, b'i', ident.to_string().as_bytes()),
            TokenTree::Punct(p) => {
                let spacing = match p.spacing() {
                    Spacing::Joint => b'j',
                    Spacing::Alone => b'a',
                };
                let mut buf = [0u8; 4];
                hasher.update(&[b'p', spacing]);
                field(hasher, b'c', p.as_char().encode_utf8(&mut buf).as_bytes());
            }
            TokenTree::Literal(lit) => field(hasher, b'l', lit.to_string().as_bytes()),
            TokenTree::Group(g) => {
                let open = match g.delimiter() {
                    Delimiter::Parenthesis => b'(',
                    Delimiter::Bracket => b'[',
                    Delimiter::Brace => b'{',
                    Delimiter::None => b'0',
                };
                hasher.update(&[b'g', open]);
                hash_tokens(hasher, g.stream());
                hasher.update(b"e");
            }
        }
        i += 1;
    }
}

/// The number of tokens of a `#[doc ..]` or `#![doc ..]` attribute starting `trees`, if one does.
fn doc_attr_len(trees: &[TokenTree]) -> Option<usize> {
    let TokenTree::Punct(pound) = trees.first()? else {
        return None;
    };
    if pound.as_char() != '#' {
        return None;
    }
    let bang = matches!(trees.get(1), Some(TokenTree::Punct(p)) if p.as_char() == '!');
    let at = if bang { 2 } else { 1 };
    let TokenTree::Group(group) = trees.get(at)? else {
        return None;
    };
    if group.delimiter() != Delimiter::Bracket {
        return None;
    }
    match group.stream().into_iter().next() {
        Some(TokenTree::Ident(ident)) if ident == "doc" => Some(at + 1),
        _ => None,
    }
}

/// The macro's own digest code, so the test below checks that both compute one key.
#[cfg(test)]
#[path = "../../macros/src/digest.rs"]
#[allow(dead_code, unreachable_pub)]
mod macro_digest;

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens as _;

    fn sig_and_block(src: &str) -> TokenStream {
        let item: syn::ItemFn = syn::parse_str(src).expect("a fn");
        let mut tokens = item.sig.to_token_stream();
        item.block.to_tokens(&mut tokens);
        tokens
    }

    use super::macro_digest;

    const STEPS: [&str; 4] = [
        "async fn a(ctx: &Ctx) -> Result<()> { Ok(()) }",
        r#"pub async fn build(ctx: &Ctx, src: Dir) -> Result<Dir> {
            let c = ctx.container().with_mounted_dir("/src", &src);
            c.sh(&format!("{SETUP} && cargo build --profile {}", 'x')).await?;
            c.dir("/tmp/bin").await
        }"#,
        "async fn t<'a>(ctx: &'a Ctx, n: u64) -> Result<u64> { Ok(n.wrapping_sub(-1i64 as u64) >> 2) }",
        "async fn m(ctx: &Ctx) -> Result<()> { let v = vec![1, 2]; crate::x::y::<u8>(&v)?; Ok(()) }",
    ];

    #[test]
    fn the_lookup_key_is_the_one_the_macro_computes() {
        for src in STEPS {
            let tokens = sig_and_block(src);
            assert_eq!(
                lookup_key(&tokens),
                macro_digest::lookup_key(&tokens),
                "{src}"
            );
        }
    }

    #[test]
    fn layout_comments_and_docs_leave_digests_alone() {
        let a = "fn f() -> u8 { /* one */ 1 + 2 }";
        let b = "/// Docs.\nfn f()   ->   u8 {\n    // two\n    1 + 2\n}";
        let parse = |s: &str| s.parse::<TokenStream>().expect("tokens");
        assert_eq!(unit_digest(&parse(a)), unit_digest(&parse(b)));
        assert_ne!(
            unit_digest(&parse(a)),
            unit_digest(&parse("fn f() -> u8 { 1 + 3 }"))
        );
    }
}
