//! Parses a pipeline body into its statements and final expression, each kept as written:
//! `valid::body` says which are allowed, and the expansion rewrites the step calls.

use syn::{Block, Expr, ExprCall, Path};

/// A pipeline body, statement by statement.
pub(crate) struct Body {
    pub(crate) stmts: Vec<Stmt>,
    /// The final expression, without a semicolon: the pipeline's output.
    pub(crate) tail: Option<Value>,
}

/// One statement of the body.
pub(crate) enum Stmt {
    /// `let pat = value;`, also without a value or with an `else`; `value` is `None` without
    /// one.
    Let {
        local: syn::Local,
        value: Option<Value>,
    },
    /// `value;`
    Expr(Value),
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
    /// Takes `block` apart into statements and its final expression.
    pub(crate) fn parse(block: &Block) -> Self {
        let mut body = Body {
            stmts: Vec::new(),
            tail: None,
        };
        let count = block.stmts.len();
        for (i, stmt) in block.stmts.iter().enumerate() {
            let stmt = match stmt {
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
                syn::Stmt::Expr(expr, _) => Stmt::Expr(Value::of_stmt(expr)),
            };
            body.stmts.push(stmt);
        }
        body
    }
}

impl Body {
    /// Every call of the body, in order.
    pub(crate) fn calls(&self) -> impl Iterator<Item = &Call> {
        let stmts = self.stmts.iter().filter_map(|stmt| match stmt {
            Stmt::Let { value, .. } => value.as_ref(),
            Stmt::Expr(value) => Some(value),
            Stmt::Use(_) | Stmt::Item(_) | Stmt::Macro(_) => None,
        });
        stmts.chain(&self.tail).filter_map(|value| match value {
            Value::Call(call) => Some(call),
            Value::Other(_) => None,
        })
    }
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
