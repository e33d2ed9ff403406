//! The code digest of a step: a BLAKE3 hash of its name and of its fn's tokens.
//!
//! The tokens are serialized canonically (word text, punctuation with its spacing, literal text,
//! group delimiters) so whitespace and comments never change the digest, while any edit to the
//! code does. Doc attributes are skipped: editing a step's docs must not invalidate its cache.
//!
//! [`lookup_key`] names the step in what `tanto_build::digests()` found in the crate's sources;
//! `tanto-build` computes it the same way, and its tests include this file to check that.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

/// The hex digest of step `name` whose fn (without its `#[step]` attribute) is `item`.
pub(crate) fn code_digest(name: &str, item: &TokenStream) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"tanto step code v1\0");
    field(&mut hasher, b'n', name.as_bytes());
    tokens(&mut hasher, item.clone());
    hasher.finalize().to_hex().to_string()
}

/// The key under which the crate's build script records what step `sig_and_block` (the fn's
/// signature and body, printed by syn) uses: 32 hex digits.
pub(crate) fn lookup_key(sig_and_block: &TokenStream) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"tanto step lookup v1\0");
    tokens(&mut hasher, sig_and_block.clone());
    hasher.finalize().to_hex()[..32].to_owned()
}

/// Writes one tagged, length-prefixed field, so no two token sequences serialize alike.
fn field(hasher: &mut blake3::Hasher, tag: u8, bytes: &[u8]) {
    hasher.update(&[tag]);
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

fn tokens(hasher: &mut blake3::Hasher, stream: TokenStream) {
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
                tokens(hasher, g.stream());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(name: &str, src: &str) -> String {
        code_digest(name, &src.parse().expect("valid tokens"))
    }

    const BUILD: &str = r#"
        /// Builds it.
        pub async fn build(ctx: &Ctx, src: Dir) -> Result<Dir> {
            let out = ctx.run(["cargo", "build"]).await?;
            Ok(out)
        }
    "#;

    #[test]
    fn is_hex_blake3() {
        let d = digest("build", BUILD);
        assert_eq!(d.len(), 64);
        assert!(d.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn whitespace_comments_and_docs_do_not_change_it() {
        let edited = r#"
            /// Builds the whole workspace, with a better explanation.
            #[doc = "and an extra paragraph"]
            pub async fn build(
                ctx: &Ctx,   // the context
                src: Dir
            ) -> Result<Dir> {
                /* compile */ let out = ctx.run(["cargo", "build"]).await?;

                Ok(out)
            }
        "#;
        assert_eq!(digest("build", BUILD), digest("build", edited));
    }

    #[test]
    fn a_code_edit_changes_it() {
        let edited = BUILD.replace(r#""build"]"#, r#""build", "--release"]"#);
        assert_ne!(digest("build", BUILD), digest("build", &edited));
        let renamed_local = BUILD.replace("out", "output");
        assert_ne!(digest("build", BUILD), digest("build", &renamed_local));
        let other_attr = format!("#[allow(unused)] {BUILD}");
        assert_ne!(digest("build", BUILD), digest("build", &other_attr));
    }

    #[test]
    fn the_name_is_part_of_it() {
        assert_ne!(digest("build", BUILD), digest("build-release", BUILD));
        let body = "async fn a(ctx: &Ctx) -> Result<()> { Ok(()) }";
        let other = "async fn b(ctx: &Ctx) -> Result<()> { Ok(()) }";
        assert_ne!(digest("a", body), digest("b", other));
    }

    #[test]
    fn token_boundaries_count_not_layout() {
        assert_eq!(
            digest("s", "fn f() { a - -b }"),
            digest("s", "fn f() { a - - b }")
        );
        assert_ne!(digest("s", "fn f() { ab }"), digest("s", "fn f() { a b }"));
        assert_ne!(digest("s", "fn f() { (a) }"), digest("s", "fn f() { [a] }"));
    }
}
