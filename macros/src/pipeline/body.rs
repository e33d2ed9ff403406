//! Parses and checks a pipeline body: step calls, `let` bindings of them, and a final output.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Block, Expr, Pat, Path, UnOp};

use crate::ctxt::Ctxt;
use crate::expand::item_kind;

/// What a pipeline body may contain, said after each thing it may not.
const ALLOWED: &str =
    "which may only call steps, bind their outputs with `let`, and end with its output";

/// A call of a step or pipeline: `build(src, "release")`.
pub(crate) struct Call {
    /// The callee, used as a type: the step's companion.
    pub(crate) path: Path,
    /// The arguments: inputs, earlier bindings, or literals.
    pub(crate) args: Vec<Expr>,
}

/// One statement of the body.
pub(crate) enum Stmt {
    /// `let pat = call;`
    Let { pat: Pat, call: Call },
    /// `call;`
    Call(Call),
    /// `use ..;`, kept as written.
    Use(syn::ItemUse),
}

/// The body's final expression.
pub(crate) enum Tail {
    /// A binding or a tuple of bindings.
    Expr(Expr),
    /// A step call, whose output is the pipeline's.
    Call(Call),
}

/// A checked pipeline body.
pub(crate) struct Body {
    pub(crate) stmts: Vec<Stmt>,
    pub(crate) tail: Option<Tail>,
    /// Whether the body ends with an expression, even one that was rejected.
    pub(crate) has_tail: bool,
}

/// Parses `block`, recording every statement that is not allowed.
pub(crate) fn parse(block: &Block, cx: &mut Ctxt) -> Body {
    let mut body = Body {
        stmts: Vec::new(),
        tail: None,
        has_tail: false,
    };
    let count = block.stmts.len();
    for (i, stmt) in block.stmts.iter().enumerate() {
        match stmt {
            syn::Stmt::Local(local) => {
                if !binding_pat(&local.pat) {
                    cx.error_spanned_by(
                        &local.pat,
                        "a binding in a pipeline body must be a name, `_`, or a tuple of those",
                    );
                }
                let Some(init) = &local.init else {
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
                if let Some(call) = call(&init.expr, Context::Let, cx) {
                    body.stmts.push(Stmt::Let {
                        pat: local.pat.clone(),
                        call,
                    });
                }
            }
            syn::Stmt::Item(syn::Item::Use(item)) => body.stmts.push(Stmt::Use(item.clone())),
            syn::Stmt::Item(item) => cx.error_spanned_by(
                item_kind(item),
                "an item is not allowed in a pipeline body; define it outside the pipeline",
            ),
            syn::Stmt::Macro(stmt) => {
                let (path, bang) = (&stmt.mac.path, &stmt.mac.bang_token);
                cx.error_spanned_by(
                    quote!(#path #bang),
                    format!("a macro call is not allowed in a pipeline body, {ALLOWED}"),
                );
            }
            syn::Stmt::Expr(expr, None) if i + 1 == count => {
                body.has_tail = true;
                body.tail = tail(expr, cx);
            }
            syn::Stmt::Expr(expr, _) => {
                if let Some(call) = call(expr, Context::Stmt, cx) {
                    body.stmts.push(Stmt::Call(call));
                }
            }
        }
    }
    body
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

/// Where an expression that should be a step call was found.
#[derive(Clone, Copy)]
enum Context {
    Let,
    Stmt,
    Tail,
}

fn call(expr: &Expr, context: Context, cx: &mut Ctxt) -> Option<Call> {
    let call = match expr {
        Expr::Call(call) => call,
        Expr::Group(group) => return self::call(&group.expr, context, cx),
        other => {
            not_allowed(other, context, cx);
            return None;
        }
    };
    let path = match &*call.func {
        Expr::Path(p) if p.qself.is_none() => &p.path,
        other => {
            cx.error_spanned_by(
                other,
                "only a step or a pipeline can be called in a pipeline body, by its name or path",
            );
            return None;
        }
    };
    let mut ok = true;
    if let Some(seg) = path.segments.iter().find(|s| !s.arguments.is_empty()) {
        cx.error_spanned_by(&seg.arguments, "a step call takes no generic arguments");
        ok = false;
    }
    for arg in &call.args {
        ok &= check_arg(arg, cx);
    }
    ok.then(|| Call {
        path: path.clone(),
        args: call.args.iter().cloned().collect(),
    })
}

fn check_arg(arg: &Expr, cx: &mut Ctxt) -> bool {
    match arg {
        _ if is_binding(arg) => true,
        Expr::Lit(_) => true,
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) && matches!(&*u.expr, Expr::Lit(_)) => true,
        Expr::Group(g) => check_arg(&g.expr, cx),
        Expr::Call(_) => {
            cx.error_spanned_by(
                arg,
                "a call cannot be an argument in a pipeline body; pass a literal, or bind a step's output first, like `let out = step(..);`",
            );
            false
        }
        _ => {
            cx.error_spanned_by(
                arg,
                "an argument in a pipeline body must be a pipeline input, an earlier step's output, or a literal",
            );
            false
        }
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

fn tail(expr: &Expr, cx: &mut Ctxt) -> Option<Tail> {
    match expr {
        Expr::Call(_) => call(expr, Context::Tail, cx).map(Tail::Call),
        _ if is_binding(expr) => Some(Tail::Expr(expr.clone())),
        Expr::Tuple(t) if t.elems.iter().all(is_binding) => Some(Tail::Expr(expr.clone())),
        Expr::Path(_) | Expr::Tuple(_) | Expr::Lit(_) | Expr::Reference(_) | Expr::Field(_) => {
            cx.error_spanned_by(
                expr,
                "a pipeline's output must be a binding, a tuple of bindings, or a step call",
            );
            None
        }
        other => {
            not_allowed(other, Context::Tail, cx);
            None
        }
    }
}

/// Reports `expr`, at its most telling token, as not allowed in a pipeline body.
fn not_allowed(expr: &Expr, context: Context, cx: &mut Ctxt) {
    let (tokens, what): (TokenStream, &str) = match expr {
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
        other => {
            let msg = match context {
                Context::Let => {
                    "a `let` in a pipeline body must bind a step call, like `let bin = build(src);`"
                }
                Context::Stmt | Context::Tail => {
                    &format!("this expression is not allowed in a pipeline body, {ALLOWED}")
                }
            };
            cx.error_spanned_by(other, msg);
            return;
        }
    };
    cx.error_spanned_by(
        tokens,
        format!("{what} is not allowed in a pipeline body, {ALLOWED}"),
    );
}
