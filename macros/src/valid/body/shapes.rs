//! What the expressions and patterns of a pipeline body are: the shapes the rules of
//! [`body`](super) tell apart, and the error for an expression that is none of them.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{BinOp, Expr, Pat};

use super::{ALLOWED, Context};
pub(super) use crate::ast::plain_name;
use crate::ast::unraw;
use crate::ctxt::Ctxt;

/// Whether `pat` only binds names: `x`, `_`, `(a, _)`, `x: Handle<Dir>`.
pub(super) fn binding_pat(pat: &Pat) -> bool {
    match pat {
        Pat::Ident(p) => p.by_ref.is_none() && p.subpat.is_none(),
        Pat::Wild(_) => true,
        Pat::Tuple(t) => t.elems.iter().all(binding_pat),
        Pat::Type(t) => binding_pat(&t.pat),
        Pat::Paren(p) => binding_pat(&p.pat),
        _ => false,
    }
}

/// A loop variable binds names, maybe through a reference: `x`, `&x`, `(a, b)`.
pub(super) fn loop_pat(pat: &Pat) -> bool {
    match pat {
        Pat::Reference(r) => loop_pat(&r.pat),
        Pat::Tuple(t) => t.elems.iter().all(loop_pat),
        Pat::Paren(p) => loop_pat(&p.pat),
        other => binding_pat(other),
    }
}

/// A list is bound to `mut name`, maybe with its type.
pub(super) fn list_pat(pat: &Pat) -> bool {
    match pat {
        Pat::Ident(p) => p.mutability.is_some() && p.by_ref.is_none() && p.subpat.is_none(),
        Pat::Type(t) => list_pat(&t.pat),
        _ => false,
    }
}

/// The names a pattern binds.
pub(super) fn pat_idents(pat: &Pat, out: &mut Vec<String>) {
    struct Idents<'a>(&'a mut Vec<String>);
    impl<'ast> syn::visit::Visit<'ast> for Idents<'_> {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.push(unraw(&p.ident));
            syn::visit::visit_pat_ident(self, p);
        }
        // A guard's expression binds nothing.
        fn visit_expr(&mut self, _: &'ast Expr) {}
    }
    syn::visit::Visit::visit_pat(&mut Idents(out), pat);
}

/// Whether `expr` is a plain name: a pipeline input, an earlier binding, or a loop variable.
pub(super) fn is_binding(expr: &Expr) -> bool {
    plain_name(expr).is_some()
}

/// Whether `func` names a tuple struct or an enum variant: a path whose last segment starts
/// with a capital letter.
pub(super) fn is_constructor(func: &Expr) -> bool {
    match func {
        Expr::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| unraw(&s.ident).starts_with(|c: char| c.is_ascii_uppercase())),
        Expr::Group(g) => is_constructor(&g.expr),
        _ => false,
    }
}

/// Whether `op` assigns, like `+=`.
pub(super) fn is_assign(op: &BinOp) -> bool {
    let text = op.to_token_stream().to_string();
    text.ends_with('=') && !matches!(text.as_str(), "==" | "!=" | "<=" | ">=")
}

/// Reports `expr`, at its most telling token, as not allowed in a pipeline body.
pub(super) fn not_allowed(expr: &Expr, context: Context, cx: &mut Ctxt) {
    let Some((tokens, what)) = telling_token(expr) else {
        let msg = match context {
            Context::Let => {
                "a `let` in a pipeline body must bind a step call, like `let bin = build(src);`"
            }
            Context::Stmt | Context::Tail => {
                &format!("this expression is not allowed in a pipeline body, {ALLOWED}")
            }
        };
        cx.error_spanned_by(expr, msg);
        return;
    };
    cx.error_spanned_by(
        tokens,
        format!("{what} is not allowed in a pipeline body, {ALLOWED}"),
    );
}

/// The token that says what kind of expression `expr` is, and its name, for the kinds people
/// try to write in a pipeline body.
pub(super) fn telling_token(expr: &Expr) -> Option<(TokenStream, &'static str)> {
    let found = match expr {
        Expr::If(e) => (e.if_token.to_token_stream(), "`if`"),
        Expr::ForLoop(e) => (e.for_token.to_token_stream(), "a `for` loop"),
        Expr::While(e) => (e.while_token.to_token_stream(), "a `while` loop"),
        Expr::Loop(e) => (e.loop_token.to_token_stream(), "a `loop`"),
        Expr::Match(e) => (e.match_token.to_token_stream(), "`match`"),
        Expr::Closure(e) => {
            let (begin, end) = (&e.inputs_begin, &e.inputs_end);
            (quote!(#begin #end), "a closure")
        }
        Expr::Macro(e) => {
            let (path, bang) = (&e.mac.path, &e.mac.bang_token);
            (quote!(#path #bang), "a macro call")
        }
        Expr::MethodCall(e) => (e.method.to_token_stream(), "a method call"),
        Expr::Block(e) => (e.to_token_stream(), "a block"),
        Expr::Unsafe(e) => (e.unsafe_token.to_token_stream(), "an `unsafe` block"),
        Expr::Async(e) => (e.async_token.to_token_stream(), "an `async` block"),
        Expr::Await(e) => (e.await_token.to_token_stream(), "`.await`"),
        Expr::Return(e) => (e.return_token.to_token_stream(), "`return`"),
        Expr::Try(e) => (e.question_token.to_token_stream(), "the `?` operator"),
        Expr::Assign(e) => (e.to_token_stream(), "an assignment"),
        Expr::Binary(e) => (e.op.to_token_stream(), "an operator"),
        Expr::Break(e) => (e.break_token.to_token_stream(), "`break`"),
        Expr::Continue(e) => (e.continue_token.to_token_stream(), "`continue`"),
        _ => return None,
    };
    Some(found)
}
