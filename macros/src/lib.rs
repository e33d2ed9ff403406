//! The `#[step]` and `#[pipeline]` attribute macros of tanto.

use proc_macro::TokenStream;

/// Marks an `async fn` as a step.
#[proc_macro_attribute]
pub fn step(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Marks a fn as a pipeline.
#[proc_macro_attribute]
pub fn pipeline(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
