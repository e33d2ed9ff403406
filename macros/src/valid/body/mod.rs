//! The rules of a pipeline body: it calls steps, binds their outputs with `let`, collects them
//! in a `Vec`, loops and branches on values known before the run, and ends with its output.

use std::collections::HashMap;

use quote::quote;
use syn::{BinOp, Expr, Pat, UnOp};

use crate::ast::{Param, item_kind, unraw};
use crate::body::{Arm, Body, Call, Else, For, If, Match, Stmt, Value};
use crate::ctxt::Ctxt;

mod shapes;

use shapes::{
    binding_pat, is_assign, is_binding, is_constructor, list_pat, loop_pat, not_allowed,
    pat_idents, plain_name, telling_token,
};

/// What a pipeline body may contain, said after each thing it may not.
const ALLOWED: &str = "which may only call steps, bind or collect their outputs, loop or branch on values known before the run, and end with its output";

/// What a loop or a branch may go over, said after each thing it may not.
const PLAN_VALUES: &str = "a literal, a const, a range, a value input or a loop variable";

/// The methods a loop or a branch may call: std's, on values known before the run.
const METHODS: &[&str] = &[
    "iter",
    "into_iter",
    "enumerate",
    "rev",
    "contains",
    "is_empty",
    "len",
    "first",
    "last",
    "get",
    "starts_with",
    "ends_with",
    "as_str",
];

/// Where an expression that should be a step call was found.
#[derive(Clone, Copy)]
enum Context {
    Let,
    Stmt,
    Tail,
}

/// What a name in the body stands for.
#[derive(Clone, Copy)]
enum Name {
    /// A step's output, bound by `let`.
    Output,
    /// A `Dir` or `File` input, read when the pipeline runs.
    Artifact(&'static str),
    /// A `Secret` input.
    Secret,
    /// A value known before the run: a value input, a loop variable, a pattern's binding.
    Value,
    /// A list of step outputs, `let mut all = Vec::new();`.
    List,
}

/// What a loop or a branch does with an expression, for messages.
#[derive(Clone, Copy)]
enum Use {
    Loop,
    Branch,
    Match,
}

impl Use {
    fn verb(self) -> &'static str {
        match self {
            Use::Loop => "loop over",
            Use::Branch => "branch on",
            Use::Match => "match on",
        }
    }
}

/// Checks every statement of `body`, then its final expression; `params` are the pipeline's.
pub(super) fn body(body: &Body, params: &[Param], cx: &mut Ctxt) {
    let mut top = HashMap::new();
    for param in params {
        let Some(ident) = &param.ident else { continue };
        let name = if param.is("Dir") {
            Name::Artifact("Dir")
        } else if param.is("File") {
            Name::Artifact("File")
        } else if param.is("Secret") {
            Name::Secret
        } else {
            Name::Value
        };
        top.insert(unraw(ident), name);
    }
    let mut check = Check {
        cx,
        scopes: vec![top],
    };
    check.stmts(body);
    if let Some(tail) = &body.tail {
        check.tail(tail);
    }
}

struct Check<'a> {
    cx: &'a mut Ctxt,
    /// The names in scope, innermost last.
    scopes: Vec<HashMap<String, Name>>,
}

impl Check<'_> {
    fn lookup(&self, expr: &Expr) -> Option<(String, Name)> {
        let ident = plain_name(expr)?;
        let name = unraw(ident);
        let found = self
            .scopes
            .iter()
            .rev()
            .find_map(|s| s.get(&name).copied())?;
        Some((name, found))
    }

    fn bind(&mut self, pat: &Pat, name: Name) {
        let mut idents = Vec::new();
        pat_idents(pat, &mut idents);
        if let Some(scope) = self.scopes.last_mut() {
            for ident in idents {
                scope.insert(ident, name);
            }
        }
    }

    /// Checks `body` in a scope of its own, where `bind` names its values.
    fn scoped(&mut self, body: &Body, bind: &[&Pat]) {
        self.scopes.push(HashMap::new());
        for pat in bind {
            self.bind(pat, Name::Value);
        }
        self.stmts(body);
        self.scopes.pop();
    }

    fn stmts(&mut self, body: &Body) {
        for attr in &body.attrs {
            self.cx.error_spanned_by(
                attr,
                "a pipeline's statements take no attributes: the pipeline's body is run to build the plan, and a `#[cfg]` here would not remove its call; branch on an input (`if extra { step(); }`), or put the attribute on the whole `#[pipeline]` fn",
            );
        }
        for stmt in &body.stmts {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Let { local, value } => {
                if !binding_pat(&local.pat) {
                    self.cx.error_spanned_by(
                        &local.pat,
                        "a binding in a pipeline body must be a name, `_`, or a tuple of those",
                    );
                }
                let (Some(init), Some(value)) = (&local.init, value) else {
                    self.cx.error_spanned_by(
                        local,
                        "a `let` in a pipeline body must bind a step call, like `let bin = build(src);`",
                    );
                    return;
                };
                if let Some((else_token, _)) = &init.diverge {
                    self.cx.error_spanned_by(
                        else_token,
                        format!("`let .. else` is not allowed in a pipeline body, {ALLOWED}"),
                    );
                    return;
                }
                self.value(value, Context::Let);
                self.bind(&local.pat, Name::Output);
            }
            Stmt::List(local) => {
                if !list_pat(&local.pat) {
                    self.cx.error_spanned_by(
                        &local.pat,
                        "a list of step outputs is bound to a mutable name, like `let mut all = Vec::new();`",
                    );
                }
                self.bind(&local.pat, Name::List);
            }
            Stmt::Push { list, value, call } => self.push(list, value, call),
            Stmt::Expr(value) => self.value(value, Context::Stmt),
            Stmt::For(f) => self.for_loop(f),
            Stmt::If(i) => self.if_branch(i),
            Stmt::Match(m) => self.match_arms(m),
            Stmt::Use(_) => {}
            Stmt::Item(item) => self.cx.error_spanned_by(
                item_kind(item),
                "an item is not allowed in a pipeline body; define it outside the pipeline",
            ),
            Stmt::Macro(stmt) => {
                let (path, bang) = (&stmt.mac.path, &stmt.mac.bang_token);
                self.cx.error_spanned_by(
                    quote!(#path #bang),
                    format!("a macro call is not allowed in a pipeline body, {ALLOWED}"),
                );
            }
        }
    }

    /// `all.push(x)` collects a step call or a step's output into a list made in the body.
    fn push(&mut self, list: &syn::Ident, value: &Value, call: &syn::ExprMethodCall) {
        let name = unraw(list);
        let found = self.scopes.iter().rev().find_map(|s| s.get(&name).copied());
        if !matches!(found, Some(Name::List)) {
            self.cx.error_spanned_by(
                &call.receiver,
                format!(
                    "`{name}` is not a list of step outputs: make one with `let mut {name} = Vec::new();` before collecting into it"
                ),
            );
            return;
        }
        match value {
            Value::Call(call) => self.call(call),
            Value::Other(expr) if matches!(self.lookup(expr), Some((_, Name::Output))) => {}
            Value::Other(expr) => self.cx.error_spanned_by(
                expr,
                format!(
                    "only a step call or a step's output can be collected, like `{name}.push(build(src))`"
                ),
            ),
        }
    }

    fn for_loop(&mut self, f: &For) {
        let expr = &f.expr;
        if let Some(label) = &expr.label {
            self.cx.error_spanned_by(
                label,
                "a loop in a pipeline body takes no label: `break` and `continue` are not allowed in it",
            );
        }
        if !loop_pat(&expr.pat) {
            self.cx.error_spanned_by(
                &expr.pat,
                "a loop variable in a pipeline body must be a name, `_`, or a tuple of those",
            );
        }
        self.plan_expr(&expr.expr, Use::Loop);
        self.scoped(&f.body, &[&expr.pat]);
    }

    fn if_branch(&mut self, i: &If) {
        let mut bound = Vec::new();
        self.cond(&i.expr.cond, &mut bound);
        self.scoped(&i.then, &bound);
        match &i.otherwise {
            Some(Else::Block(body)) => self.scoped(body, &[]),
            Some(Else::If(next)) => self.if_branch(next),
            None => {}
        }
    }

    /// An `if`'s condition: a value known before the run, or `let pat = value`, joined by
    /// `&&`; the patterns' names go into `bound`.
    fn cond<'e>(&mut self, cond: &'e Expr, bound: &mut Vec<&'e Pat>) {
        match cond {
            Expr::Let(l) => {
                self.plan_expr(&l.expr, Use::Branch);
                bound.push(&l.pat);
            }
            Expr::Binary(b) if matches!(b.op, BinOp::And(_)) => {
                self.cond(&b.left, bound);
                self.cond(&b.right, bound);
            }
            Expr::Paren(p) => self.cond(&p.expr, bound),
            Expr::Group(g) => self.cond(&g.expr, bound),
            other => self.plan_expr(other, Use::Branch),
        }
    }

    fn match_arms(&mut self, m: &Match) {
        self.plan_expr(&m.expr.expr, Use::Match);
        for Arm { arm, body } in &m.arms {
            let pat = match &arm.pat {
                Pat::Guard(g) => {
                    // The guard sees the pattern's names.
                    self.scopes.push(HashMap::new());
                    self.bind(&g.pat, Name::Value);
                    self.plan_expr(&g.guard, Use::Branch);
                    self.scopes.pop();
                    &*g.pat
                }
                pat => pat,
            };
            match body {
                Ok(body) => self.scoped(body, &[pat]),
                Err(expr) => self.cx.error_spanned_by(
                    expr,
                    "an arm of a `match` in a pipeline body must be a block, a step call or `()`",
                ),
            }
        }
    }

    /// An expression a loop goes over or a branch tests: built of values known before the run.
    fn plan_expr(&mut self, expr: &Expr, usage: Use) {
        let verb = usage.verb();
        let instead = format!("{verb} {PLAN_VALUES}");
        if let Some((name, kind)) = self.lookup(expr) {
            let why = match kind {
                Name::Value => return,
                Name::Output => format!(
                    "a step's output is known only when the pipeline runs, after its steps are chosen; {instead}"
                ),
                Name::Artifact(ty) => format!(
                    "a `{ty}` input is read only when the pipeline runs, after its steps are chosen; {instead}"
                ),
                Name::List => format!(
                    "step outputs are known only when the pipeline runs, after its steps are chosen; {instead}"
                ),
                Name::Secret => "a `Secret` never chooses the steps of a pipeline".to_owned(),
            };
            self.cx
                .error_spanned_by(expr, format!("cannot {verb} `{name}`: {why}"));
            return;
        }
        match expr {
            Expr::Lit(_) | Expr::Path(_) => {}
            Expr::Array(a) => a.elems.iter().for_each(|e| self.plan_expr(e, usage)),
            Expr::Tuple(t) => t.elems.iter().for_each(|e| self.plan_expr(e, usage)),
            Expr::Paren(p) => self.plan_expr(&p.expr, usage),
            Expr::Group(g) => self.plan_expr(&g.expr, usage),
            Expr::Reference(r) if r.mutability.is_none() => self.plan_expr(&r.expr, usage),
            Expr::Unary(u) if matches!(u.op, UnOp::Not(_) | UnOp::Neg(_) | UnOp::Deref(_)) => {
                self.plan_expr(&u.expr, usage);
            }
            Expr::Binary(b) if !is_assign(&b.op) => {
                self.plan_expr(&b.left, usage);
                self.plan_expr(&b.right, usage);
            }
            Expr::Range(r) => {
                for end in r.start.iter().chain(&r.end) {
                    self.plan_expr(end, usage);
                }
            }
            Expr::Index(i) => {
                self.plan_expr(&i.expr, usage);
                self.plan_expr(&i.index, usage);
            }
            Expr::Field(f) => self.plan_expr(&f.base, usage),
            Expr::Cast(c) => self.plan_expr(&c.expr, usage),
            Expr::Repeat(r) => {
                self.plan_expr(&r.expr, usage);
                self.plan_expr(&r.len, usage);
            }
            Expr::MethodCall(m) if METHODS.iter().any(|allowed| m.method == allowed) => {
                self.plan_expr(&m.receiver, usage);
                m.args.iter().for_each(|e| self.plan_expr(e, usage));
            }
            Expr::MethodCall(m) => {
                let list: Vec<String> = METHODS.iter().map(|m| format!("`{m}`")).collect();
                let (last, rest) = list.split_last().unwrap_or((&list[0], &[]));
                // A copy made to use the value after the loop too: a borrow does that.
                let hint = match crate::ast::plain_name(&m.receiver) {
                    Some(name) if ["clone", "to_vec", "to_owned"].iter().any(|c| m.method == c) => {
                        format!("; to use `{name}` after the loop too, loop over `&{name}`")
                    }
                    _ => String::new(),
                };
                self.cx.error_spanned_by(
                    &m.method,
                    format!(
                        "`{}` cannot be called here: a loop or a branch of a pipeline body calls only {} or {last} on values known before the run{hint}",
                        m.method,
                        rest.join(", "),
                    ),
                );
            }
            // A tuple struct or an enum variant, `Some("dev")`: by Rust's naming, a value.
            Expr::Call(c) if is_constructor(&c.func) => {
                c.args.iter().for_each(|e| self.plan_expr(e, usage));
            }
            Expr::Struct(st) => {
                st.fields.iter().for_each(|f| self.plan_expr(&f.expr, usage));
                if let Some(rest) = &st.rest {
                    self.plan_expr(rest, usage);
                }
            }
            Expr::Call(c) => self.cx.error_spanned_by(
                &c.func,
                format!(
                    "a call cannot choose the steps of a pipeline, which are known before anything runs: a loop or a branch reads no file, no environment and no step's output; {instead}"
                ),
            ),
            other => match telling_token(other) {
                Some((tokens, what)) => self.cx.error_spanned_by(
                    tokens,
                    format!("{what} is not allowed in a pipeline body, {ALLOWED}"),
                ),
                None => self.cx.error_spanned_by(
                    other,
                    format!("this expression cannot choose the steps of a pipeline; {instead}"),
                ),
            },
        }
    }

    /// A statement's value must be a step call.
    fn value(&mut self, value: &Value, context: Context) {
        match value {
            Value::Call(call) => self.call(call),
            Value::Other(expr) => not_allowed(expr, context, self.cx),
        }
    }

    /// A call names its step by path, without generic arguments, and passes plain arguments.
    fn call(&mut self, call: &Call) {
        let Some(path) = call.path() else {
            self.cx.error_spanned_by(
                &call.func,
                "only a step or a pipeline can be called in a pipeline body, by its name or path",
            );
            return;
        };
        if let Some(seg) = path.segments.iter().find(|s| !s.arguments.is_empty()) {
            self.cx
                .error_spanned_by(&seg.arguments, "a step call takes no generic arguments");
        }
        for arg in &call.args {
            self.arg(arg);
        }
    }

    fn arg(&mut self, arg: &Expr) {
        match arg {
            _ if is_binding(arg) => {}
            Expr::Lit(_) => {}
            Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) && matches!(&*u.expr, Expr::Lit(_)) => {}
            // An argument passed by reference, so the body can use it again: a list or a value
            // given to more than one step, or looped over after a step took it.
            Expr::Reference(r) if r.mutability.is_none() => self.arg(&r.expr),
            Expr::Reference(_) => self.cx.error_spanned_by(
                arg,
                "a step cannot change its caller's value: pass the argument as it is, or by `&`",
            ),
            // A const or an enum variant by path (`images::BUSYBOX`, `Mode::Fast`), a value
            // like a literal; anything else a path names fails its wiring check, on it.
            Expr::Path(p)
                if p.qself.is_none() && p.path.segments.iter().all(|s| s.arguments.is_none()) => {}
            Expr::Group(g) => self.arg(&g.expr),
            Expr::Call(_) => self.cx.error_spanned_by(
                arg,
                "a call cannot be an argument in a pipeline body; pass a literal, or bind a step's output first, like `let out = step(..);`",
            ),
            _ => self.cx.error_spanned_by(
                arg,
                "an argument in a pipeline body must be a pipeline input, an earlier step's output, a literal or a const",
            ),
        }
    }

    /// The final expression is a step call, a binding, or a tuple of bindings.
    fn tail(&mut self, tail: &Value) {
        let expr = match tail {
            Value::Call(call) => return self.call(call),
            Value::Other(expr) => expr,
        };
        if let Some((name, Name::List)) = self.lookup(expr) {
            self.cx.error_spanned_by(
                expr,
                format!("`{name}`, a list of step outputs, cannot be a pipeline's output; pass it to a step and return that step's output"),
            );
            return;
        }
        match expr {
            _ if is_binding(expr) => {}
            Expr::Tuple(t) if t.elems.iter().all(is_binding) => {}
            Expr::Path(_) | Expr::Tuple(_) | Expr::Lit(_) | Expr::Reference(_) | Expr::Field(_) => {
                self.cx.error_spanned_by(
                    expr,
                    "a pipeline's output must be a binding, a tuple of bindings, or a step call",
                );
            }
            other => not_allowed(other, Context::Tail, self.cx),
        }
    }
}
