//! The rules of a pipeline body: it only calls steps, binds their outputs with `let`, and ends
//! with its output.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Expr, Pat, UnOp};

use crate::ast::item_kind;
use crate::body::{Body, Call, Stmt, Value};
use crate::ctxt::Ctxt;

/// What a pipeline body may contain, said after each thing it may not.
const ALLOWED: &str =
    "which may only call steps, bind their outputs with `let`, and end with its output";

/// Where an expression that should be a step call was found.
#[derive(Clone, Copy)]
enum Context {
    Let,
    Stmt,
    Tail,
}

/// Checks every statement of `body`, then its final expression.
pub(super) fn body(body: &Body, cx: &mut Ctxt) {
    for stmt in &body.stmts {
        match stmt {
            Stmt::Let { local, value } => {
                if !binding_pat(&local.pat) {
                    cx.error_spanned_by(
                        &local.pat,
                        "a binding in a pipeline body must be a name, `_`, or a tuple of those",
                    );
                }
                let (Some(init), Some(value)) = (&local.init, value) else {
                    cx.error_spanned_by(
                        local,
                        "a `let` in a pipeline body must bind a step call, like `let bin = build(src);`",
                    );
                    continue;
                };
                if let Some((else_token, _)) = &init.diverge {
                    cx.error_spanned_by(
                        else_token,
                        format!("`let .. else` is not allowed in a pipeline body, {ALLOWED}"),
                    );
                    continue;
                }
                self::value(value, Context::Let, cx);
            }
            Stmt::Expr(value) => self::value(value, Context::Stmt, cx),
            Stmt::Use(_) => {}
            Stmt::Item(item) => cx.error_spanned_by(
                item_kind(item),
                "an item is not allowed in a pipeline body; define it outside the pipeline",
            ),
            Stmt::Macro(stmt) => {
                let (path, bang) = (&stmt.mac.path, &stmt.mac.bang_token);
                cx.error_spanned_by(
                    quote!(#path #bang),
                    format!("a macro call is not allowed in a pipeline body, {ALLOWED}"),
                );
            }
        }
    }
    if let Some(tail) = &body.tail {
        self::tail(tail, cx);
    }
}

/// Whether `pat` only binds names: `x`, `_`, `(a, _)`, `x: Handle<Dir>`.
fn binding_pat(pat: &Pat) -> bool {
    match pat {
        Pat::Ident(p) => p.by_ref.is_none() && p.subpat.is_none(),
        Pat::Wild(_) => true,
        Pat::Tuple(t) => t.elems.iter().all(binding_pat),
        Pat::Type(t) => binding_pat(&t.pat),
        Pat::Paren(p) => binding_pat(&p.pat),
        _ => false,
    }
}

/// A statement's value must be a step call.
fn value(value: &Value, context: Context, cx: &mut Ctxt) {
    match value {
        Value::Call(call) => self::call(call, cx),
        Value::Other(expr) => not_allowed(expr, context, cx),
    }
}

/// A call names its step by path, without generic arguments, and passes plain arguments.
fn call(call: &Call, cx: &mut Ctxt) {
    let Some(path) = call.path() else {
        cx.error_spanned_by(
            &call.func,
            "only a step or a pipeline can be called in a pipeline body, by its name or path",
        );
        return;
    };
    if let Some(seg) = path.segments.iter().find(|s| !s.arguments.is_empty()) {
        cx.error_spanned_by(&seg.arguments, "a step call takes no generic arguments");
    }
    for arg in &call.args {
        self::arg(arg, cx);
    }
}

fn arg(arg: &Expr, cx: &mut Ctxt) {
    match arg {
        _ if is_binding(arg) => {}
        Expr::Lit(_) => {}
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) && matches!(&*u.expr, Expr::Lit(_)) => {}
        Expr::Group(g) => self::arg(&g.expr, cx),
        Expr::Call(_) => cx.error_spanned_by(
            arg,
            "a call cannot be an argument in a pipeline body; pass a literal, or bind a step's output first, like `let out = step(..);`",
        ),
        _ => cx.error_spanned_by(
            arg,
            "an argument in a pipeline body must be a pipeline input, an earlier step's output, or a literal",
        ),
    }
}

/// Whether `expr` is a plain name: a pipeline input or an earlier binding.
fn is_binding(expr: &Expr) -> bool {
    match expr {
        Expr::Path(p) => p.qself.is_none() && p.path.get_ident().is_some(),
        Expr::Group(g) => is_binding(&g.expr),
        _ => false,
    }
}

/// The final expression is a step call, a binding, or a tuple of bindings.
fn tail(tail: &Value, cx: &mut Ctxt) {
    let expr = match tail {
        Value::Call(call) => return self::call(call, cx),
        Value::Other(expr) => expr,
    };
    match expr {
        _ if is_binding(expr) => {}
        Expr::Tuple(t) if t.elems.iter().all(is_binding) => {}
        Expr::Path(_) | Expr::Tuple(_) | Expr::Lit(_) | Expr::Reference(_) | Expr::Field(_) => {
            cx.error_spanned_by(
                expr,
                "a pipeline's output must be a binding, a tuple of bindings, or a step call",
            );
        }
        other => not_allowed(other, Context::Tail, cx),
    }
}

/// Reports `expr`, at its most telling token, as not allowed in a pipeline body.
fn not_allowed(expr: &Expr, context: Context, cx: &mut Ctxt) {
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
fn telling_token(expr: &Expr) -> Option<(TokenStream, &'static str)> {
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
