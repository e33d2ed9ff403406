//! Parses a pipeline body into its statements and final expression, each kept as written:
//! `valid::body` says which are allowed, and the expansion rewrites the step calls. Loops and
//! branches hold bodies of their own, parsed the same way.

use std::collections::BTreeSet;

use proc_macro2::Ident;
use syn::{Block, Expr, ExprCall, Path};

/// A pipeline body, or the block of a loop or a branch, statement by statement.
pub(crate) struct Body {
    pub(crate) stmts: Vec<Stmt>,
    /// The final expression, without a semicolon: the pipeline's output. Always `None` in a
    /// loop or a branch, whose last call is a statement like the others.
    pub(crate) tail: Option<Value>,
    /// The attributes on its statements, which the expansion would drop (a `#[cfg]` would
    /// not remove its call from the plan): each is refused.
    pub(crate) attrs: Vec<syn::Attribute>,
}

/// One statement of the body.
pub(crate) enum Stmt {
    /// `let pat = value;`, also without a value or with an `else`; `value` is `None` without
    /// one.
    Let {
        local: syn::Local,
        value: Option<Value>,
    },
    /// `let mut all = Vec::new();` (or `vec![]`): a list to collect step outputs in.
    List(syn::Local),
    /// `all.push(value);`: `value` collected into the list `list`.
    Push {
        list: Ident,
        value: Value,
        call: syn::ExprMethodCall,
    },
    /// `value;`
    Expr(Value),
    /// `for pat in expr { .. }`
    For(For),
    /// `if cond { .. } else ..`
    If(If),
    /// `match expr { pat => .., }`
    Match(Match),
    /// `use ..;`
    Use(syn::ItemUse),
    /// Any other item.
    Item(syn::Item),
    /// `mac!(..);`
    Macro(syn::StmtMacro),
}

/// What a statement or the tail computes: a call, or any other expression.
pub(crate) enum Value {
    Call(Call),
    Other(Expr),
}

/// A call, `build(src, "release")`: in a valid body, of a step or pipeline by its path.
pub(crate) struct Call {
    /// The callee as written.
    pub(crate) func: Expr,
    /// The arguments: in a valid body, inputs, earlier bindings, or literals.
    pub(crate) args: Vec<Expr>,
}

/// A `for` loop: its header as written, and its body.
pub(crate) struct For {
    pub(crate) expr: syn::ExprForLoop,
    pub(crate) body: Body,
}

/// An `if`: its condition as written, its block, and what follows `else`.
pub(crate) struct If {
    pub(crate) expr: syn::ExprIf,
    pub(crate) then: Body,
    pub(crate) otherwise: Option<Else>,
}

/// What follows an `else`.
pub(crate) enum Else {
    Block(Box<Body>),
    If(Box<If>),
}

/// A `match`: its scrutinee as written, and its arms.
pub(crate) struct Match {
    pub(crate) expr: syn::ExprMatch,
    pub(crate) arms: Vec<Arm>,
}

/// One arm of a `match`: its pattern and guard as written, and its body; `Err` with the
/// expression when the arm is neither a block, a call nor `()`.
pub(crate) struct Arm {
    pub(crate) arm: syn::Arm,
    pub(crate) body: Result<Body, Box<Expr>>,
}

impl Call {
    fn new(call: &ExprCall) -> Self {
        Call {
            func: (*call.func).clone(),
            args: call.args.iter().cloned().collect(),
        }
    }

    /// The callee if it is a path, like `build` or `cargo_steps::test`.
    pub(crate) fn path(&self) -> Option<&Path> {
        match &self.func {
            Expr::Path(p) if p.qself.is_none() => Some(&p.path),
            _ => None,
        }
    }
}

impl Body {
    /// Takes `block` apart into statements and its final expression. A final loop or branch
    /// is a statement: it has no value.
    pub(crate) fn parse(block: &Block) -> Self {
        let mut body = Body::parse_stmts(block);
        if let Some(Value::Other(expr)) = &body.tail
            && let Some(stmt) = control_flow(expr)
        {
            body.stmts.push(stmt);
            body.tail = None;
        }
        body
    }

    /// The block of a loop or a branch: every expression in it is a statement.
    fn parse_block(block: &Block) -> Self {
        let mut body = Body::parse_stmts(block);
        if let Some(tail) = body.tail.take() {
            body.stmts.push(Stmt::of_value(tail));
        }
        body
    }

    fn parse_stmts(block: &Block) -> Self {
        let mut body = Body {
            stmts: Vec::new(),
            tail: None,
            attrs: Vec::new(),
        };
        let count = block.stmts.len();
        for (i, stmt) in block.stmts.iter().enumerate() {
            body.attrs.extend(stmt_attrs(stmt).iter().cloned());
            let stmt = match stmt {
                syn::Stmt::Local(local) if is_new_list(local) => Stmt::List(local.clone()),
                syn::Stmt::Local(local) => Stmt::Let {
                    local: local.clone(),
                    value: local.init.as_ref().map(|init| Value::of_stmt(&init.expr)),
                },
                syn::Stmt::Item(syn::Item::Use(item)) => Stmt::Use(item.clone()),
                syn::Stmt::Item(item) => Stmt::Item(item.clone()),
                syn::Stmt::Macro(mac) => Stmt::Macro(mac.clone()),
                syn::Stmt::Expr(expr, None) if i + 1 == count => {
                    body.tail = Some(Value::of_tail(expr));
                    continue;
                }
                syn::Stmt::Expr(expr, _) => Stmt::of_value(Value::of_stmt(expr)),
            };
            body.stmts.push(stmt);
        }
        body
    }

    /// Every call of the body, its loops' and its branches' included, in order.
    pub(crate) fn calls(&self) -> Vec<&Call> {
        let mut calls = Vec::new();
        self.visit(&mut |stmt| match stmt {
            Stmt::Let {
                value: Some(Value::Call(call)),
                ..
            }
            | Stmt::Expr(Value::Call(call))
            | Stmt::Push {
                value: Value::Call(call),
                ..
            } => calls.push(call),
            _ => {}
        });
        if let Some(Value::Call(call)) = &self.tail {
            calls.push(call);
        }
        calls
    }

    /// The names the body loops or branches on: every identifier in the expression a `for`
    /// goes over, in an `if`'s condition, and in a `match`'s scrutinee and guards. The
    /// pipeline's inputs among them are bound as values, known when the plan is built.
    pub(crate) fn plan_names(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        self.visit(&mut |stmt| names.extend(stmt.choice_names()));
        names
    }

    /// Calls `f` with every statement, then with the statements of its loops and branches.
    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Stmt)) {
        for stmt in &self.stmts {
            f(stmt);
            for inner in stmt.bodies() {
                inner.visit(f);
            }
        }
    }
}

impl Stmt {
    /// A statement whose value is `value`: a loop, a branch, a `push`, or an expression.
    fn of_value(value: Value) -> Self {
        match value {
            Value::Other(expr) => match control_flow(&expr).or_else(|| push(&expr)) {
                Some(stmt) => stmt,
                None => Stmt::Expr(Value::Other(expr)),
            },
            call => Stmt::Expr(call),
        }
    }

    /// The names a loop or a branch goes by: every identifier in the expression a `for` goes
    /// over, in an `if`'s conditions, and in a `match`'s scrutinee and guards. Empty for
    /// another statement.
    pub(crate) fn choice_names(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        match self {
            Stmt::For(f) => idents(&f.expr.expr, &mut names),
            Stmt::If(i) => {
                let mut branch = Some(i);
                while let Some(i) = branch {
                    idents(&i.expr.cond, &mut names);
                    branch = match &i.otherwise {
                        Some(Else::If(next)) => Some(next),
                        _ => None,
                    };
                }
            }
            Stmt::Match(m) => {
                idents(&m.expr.expr, &mut names);
                for arm in &m.arms {
                    if let syn::Pat::Guard(g) = &arm.arm.pat {
                        idents(&g.guard, &mut names);
                    }
                }
            }
            _ => {}
        }
        names
    }

    /// The bodies a loop or branch holds.
    pub(crate) fn bodies(&self) -> Vec<&Body> {
        match self {
            Stmt::For(f) => vec![&f.body],
            Stmt::If(i) => i.bodies(),
            Stmt::Match(m) => m.arms.iter().filter_map(|a| a.body.as_ref().ok()).collect(),
            _ => Vec::new(),
        }
    }
}

impl If {
    fn parse(expr: &syn::ExprIf) -> Self {
        let otherwise = expr.else_branch.as_ref().and_then(|(_, e)| match &**e {
            Expr::Block(b) => Some(Else::Block(Box::new(Body::parse_block(&b.block)))),
            Expr::If(i) => Some(Else::If(Box::new(If::parse(i)))),
            _ => None,
        });
        If {
            expr: expr.clone(),
            then: Body::parse_block(&expr.then_branch),
            otherwise,
        }
    }

    fn bodies(&self) -> Vec<&Body> {
        let mut bodies = vec![&self.then];
        match &self.otherwise {
            Some(Else::Block(b)) => bodies.push(b),
            Some(Else::If(i)) => bodies.extend(i.bodies()),
            None => {}
        }
        bodies
    }
}

/// A loop or a branch, parsed; `None` for any other expression.
fn control_flow(expr: &Expr) -> Option<Stmt> {
    let stmt = match expr {
        Expr::ForLoop(f) => Stmt::For(For {
            expr: f.clone(),
            body: Body::parse_block(&f.body),
        }),
        Expr::If(i) => Stmt::If(If::parse(i)),
        Expr::Match(m) => Stmt::Match(Match {
            expr: m.clone(),
            arms: m
                .arms
                .iter()
                .map(|arm| Arm {
                    arm: arm.clone(),
                    body: arm_body(&arm.body),
                })
                .collect(),
        }),
        Expr::Group(g) => return control_flow(&g.expr),
        _ => return None,
    };
    Some(stmt)
}

/// The outer attributes of a statement the body rebuilds: a `let`, or an expression.
fn stmt_attrs(stmt: &syn::Stmt) -> &[syn::Attribute] {
    match stmt {
        syn::Stmt::Local(local) => &local.attrs,
        syn::Stmt::Expr(expr, _) => match expr {
            Expr::Call(e) => &e.attrs,
            Expr::MethodCall(e) => &e.attrs,
            Expr::ForLoop(e) => &e.attrs,
            Expr::If(e) => &e.attrs,
            Expr::Match(e) => &e.attrs,
            Expr::Block(e) => &e.attrs,
            Expr::Assign(e) => &e.attrs,
            Expr::Path(e) => &e.attrs,
            Expr::Tuple(e) => &e.attrs,
            Expr::Macro(e) => &e.attrs,
            _ => &[],
        },
        syn::Stmt::Item(_) | syn::Stmt::Macro(_) => &[],
    }
}

/// An arm's body: a block, one call, or `()`.
fn arm_body(expr: &Expr) -> Result<Body, Box<Expr>> {
    match expr {
        Expr::Block(b) if b.label.is_none() => Ok(Body::parse_block(&b.block)),
        Expr::Call(call) => Ok(Body {
            stmts: vec![Stmt::Expr(Value::Call(Call::new(call)))],
            tail: None,
            attrs: call.attrs.clone(),
        }),
        Expr::Tuple(t) if t.elems.is_empty() => Ok(Body {
            stmts: Vec::new(),
            tail: None,
            attrs: t.attrs.clone(),
        }),
        Expr::Group(g) => arm_body(&g.expr),
        other => Err(Box::new(other.clone())),
    }
}

/// `list.push(value)` on a plain name, with one argument.
fn push(expr: &Expr) -> Option<Stmt> {
    let Expr::MethodCall(call) = expr else {
        return None;
    };
    let Expr::Path(receiver) = &*call.receiver else {
        return None;
    };
    let list = receiver.path.get_ident()?;
    if call.method != "push" || call.args.len() != 1 || call.turbofish.is_some() {
        return None;
    }
    Some(Stmt::Push {
        list: list.clone(),
        value: Value::of_stmt(&call.args[0]),
        call: call.clone(),
    })
}

/// Whether `local` makes an empty `Vec`: `Vec::new()` or `vec![]`.
fn is_new_list(local: &syn::Local) -> bool {
    let Some(init) = &local.init else {
        return false;
    };
    if init.diverge.is_some() {
        return false;
    }
    match &*init.expr {
        Expr::Call(call) if call.args.is_empty() => match &*call.func {
            Expr::Path(p) if p.qself.is_none() => {
                let segs: Vec<String> = p
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                segs.len() >= 2 && segs[segs.len() - 2] == "Vec" && segs[segs.len() - 1] == "new"
            }
            _ => false,
        },
        Expr::Macro(m) => m.mac.path.is_ident("vec") && m.mac.tokens.is_empty(),
        _ => false,
    }
}

/// Adds every single-identifier path in `expr` to `names`.
fn idents(expr: &Expr, names: &mut BTreeSet<String>) {
    struct Names<'a>(&'a mut BTreeSet<String>);
    impl<'ast> syn::visit::Visit<'ast> for Names<'_> {
        fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
            if let Some(ident) = p.path.get_ident() {
                self.0.insert(crate::ast::unraw(ident));
            }
        }
    }
    syn::visit::Visit::visit_expr(&mut Names(names), expr);
}

impl Value {
    /// The value of a statement: a call, even one in invisible delimiters from a macro.
    fn of_stmt(expr: &Expr) -> Self {
        match expr {
            Expr::Call(call) => Value::Call(Call::new(call)),
            Expr::Group(group) => Value::of_stmt(&group.expr),
            other => Value::Other(other.clone()),
        }
    }

    /// The value of the final expression.
    fn of_tail(expr: &Expr) -> Self {
        match expr {
            Expr::Call(call) => Value::Call(Call::new(call)),
            other => Value::Other(other.clone()),
        }
    }
}
