//! Token hashing for the build script's records, over `tanto-tokens`' canonical text: the form
//! in which `tanto-macros` embeds a step's tokens and computes its lookup key, so a step found
//! here and the step the macro expands are matched by their tokens.

use proc_macro2::TokenStream;
pub(crate) use tanto_tokens::lookup_key;

/// The digest of one item's tokens.
pub(crate) fn unit_digest(tokens: &TokenStream) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"tanto unit v2\0");
    hash_tokens(&mut hasher, tokens.clone());
    hasher.finalize()
}

/// Writes one tagged, length-prefixed field, so no two sequences of fields serialize alike.
pub(crate) fn field(hasher: &mut blake3::Hasher, tag: u8, bytes: &[u8]) {
    hasher.update(&[tag]);
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// Feeds `stream`'s canonical text to `hasher` as one field, without doc attributes.
pub(crate) fn hash_tokens(hasher: &mut blake3::Hasher, stream: TokenStream) {
    field(hasher, b't', tanto_tokens::canonical(stream).as_bytes());
}

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

    #[test]
    fn the_lookup_key_ignores_the_attributes_the_macro_never_sees() {
        let bare = "pub async fn a(ctx: &Ctx) -> Result<()> { Ok(()) }";
        let with_attrs = format!("/// Docs.\n#[step(image = \"x\")]\n#[allow(unused)]\n{bare}");
        assert_eq!(
            lookup_key(sig_and_block(bare)),
            lookup_key(sig_and_block(&with_attrs))
        );
        let other = "pub async fn a(ctx: &Ctx) -> Result<()> { Ok(((),).0) }";
        assert_ne!(
            lookup_key(sig_and_block(bare)),
            lookup_key(sig_and_block(other))
        );
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
