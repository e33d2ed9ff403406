//! Collects every error found while parsing and validating, so one compile shows them all.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;

/// The errors of one macro invocation, in the order they were found.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Vec<syn::Error>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records an error spanning `tokens`.
    pub(crate) fn error_spanned_by(&mut self, tokens: impl ToTokens, msg: impl std::fmt::Display) {
        // One instance of syn's generic constructor, not one per caller's types: less code to
        // compile in every user's first build.
        self.push_spanned(tokens.into_token_stream(), msg.to_string());
    }

    fn push_spanned(&mut self, tokens: TokenStream, msg: String) {
        self.errors.push(syn::Error::new_spanned(tokens, msg));
    }

    /// Records an error at `span`.
    pub(crate) fn error_at(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, msg));
    }

    /// Records an error from syn.
    pub(crate) fn syn_error(&mut self, err: syn::Error) {
        self.errors.push(err);
    }

    /// Whether nothing went wrong so far.
    pub(crate) fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// How many errors were found so far.
    pub(crate) fn count(&self) -> usize {
        self.errors.len()
    }

    /// All errors merged into one, or `Ok` when there were none.
    pub(crate) fn check(self) -> syn::Result<()> {
        let mut errors = self.errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for rest in errors {
            combined.combine(rest);
        }
        Err(combined)
    }
}
