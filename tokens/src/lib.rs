//! The canonical text of Rust tokens that tanto's code digests hash: one home for the form, so
//! that `tanto-macros` (which embeds a step's tokens in it) and `tanto-build` (which finds the
//! same step in the crate's sources by [`lookup_key`]) always agree. [`compiled`] is the other
//! thing they agree on: which entries of a step's record the expansion reads when compiled.
//!
//! Whitespace and comments are not tokens, and doc attributes are left out, so none of them
//! changes the text; any other edit to the code does. Every token is written with a tag and
//! either a terminator or its length, so no two token sequences have the same text:
//!
//! - a word (identifier or keyword): `i`, its text, a space;
//! - punctuation: `p`, the character, `j` when joined to the next one or `a` when alone;
//! - a literal: `l`, the byte length of its text, `:`, its text;
//! - a group: its opening delimiter (`0` for an invisible one), its tokens, then `)`.
//!
//! ```
//! let tokens: proc_macro2::TokenStream = "/// Docs.\nfn f() -> u8 { 1 + 2 }".parse().expect("tokens");
//! assert_eq!(tanto_tokens::canonical(tokens), "ifn if ()p-jp>aiu8 {l1:1p+al1:2)");
//! ```

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

pub mod compiled;

/// The canonical text of `stream`, doc attributes left out.
pub fn canonical(stream: TokenStream) -> String {
    let mut out = String::new();
    write(&mut out, stream);
    out
}

/// The key that matches a step the build script found in the sources to its `#[step]`
/// expansion: 32 hex digits of a 128-bit FNV-1a hash of the canonical text of the fn's
/// signature and body, printed by syn (attributes left out, since rustc may have expanded or
/// removed some before the macro sees the fn).
///
/// The key only finds a record; it is never a digest of the code. The code digest hashes the
/// step's own tokens in full, and the build script drops the records of two steps whose keys
/// meet, so a collision costs precision, never soundness.
pub fn lookup_key(sig_and_block: TokenStream) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let text = canonical(sig_and_block);
    let hash = [b"tanto step lookup v2\0".as_slice(), text.as_bytes()]
        .concat()
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u128::from(b)).wrapping_mul(PRIME));
    format!("{hash:032x}")
}

fn write(out: &mut String, stream: TokenStream) {
    let trees: Vec<TokenTree> = stream.into_iter().collect();
    let mut i = 0;
    while i < trees.len() {
        if let Some(len) = doc_attr_len(&trees[i..]) {
            i += len;
            continue;
        }
        match &trees[i] {
            TokenTree::Ident(ident) => {
                out.push('i');
                out.push_str(&ident.to_string());
                out.push(' ');
            }
            TokenTree::Punct(p) => {
                out.push('p');
                out.push(p.as_char());
                out.push(match p.spacing() {
                    Spacing::Joint => 'j',
                    Spacing::Alone => 'a',
                });
            }
            TokenTree::Literal(lit) => {
                let text = lit.to_string();
                out.push('l');
                out.push_str(&text.len().to_string());
                out.push(':');
                out.push_str(&text);
            }
            TokenTree::Group(g) => {
                out.push(match g.delimiter() {
                    Delimiter::Parenthesis => '(',
                    Delimiter::Bracket => '[',
                    Delimiter::Brace => '{',
                    Delimiter::None => '0',
                });
                write(out, g.stream());
                out.push(')');
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

    fn text(src: &str) -> String {
        canonical(src.parse().expect("valid tokens"))
    }

    const BUILD: &str = r#"
        /// Builds it.
        pub async fn build(ctx: &Ctx, src: Dir) -> Result<Dir> {
            let out = ctx.run(["cargo", "build"]).await?;
            Ok(out)
        }
    "#;

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
        assert_eq!(text(BUILD), text(edited));
        assert_eq!(
            lookup_key(BUILD.parse().expect("tokens")),
            lookup_key(edited.parse().expect("tokens"))
        );
    }

    #[test]
    fn a_code_edit_changes_it() {
        let edited = BUILD.replace(r#""build"]"#, r#""build", "--release"]"#);
        assert_ne!(text(BUILD), text(&edited));
        let renamed_local = BUILD.replace("out", "output");
        assert_ne!(text(BUILD), text(&renamed_local));
        let other_attr = format!("#[allow(unused)] {BUILD}");
        assert_ne!(text(BUILD), text(&other_attr));
        assert_ne!(
            lookup_key(BUILD.parse().expect("tokens")),
            lookup_key(renamed_local.parse().expect("tokens"))
        );
    }

    #[test]
    fn token_boundaries_count_not_layout() {
        assert_eq!(text("fn f() { a - -b }"), text("fn f() { a - - b }"));
        assert_ne!(text("fn f() { ab }"), text("fn f() { a b }"));
        assert_ne!(text("fn f() { (a) }"), text("fn f() { [a] }"));
        assert_ne!(text("f(a)"), text("f(a())"));
        assert_ne!(text("x(\"a\" 1)"), text("x(\"a 1\")"));
        assert_ne!(text("a &&b"), text("a & &b"));
    }

    #[test]
    fn the_lookup_key_is_32_hex_digits() {
        let key = lookup_key(BUILD.parse().expect("tokens"));
        assert_eq!(key.len(), 32);
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
