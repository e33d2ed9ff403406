//! Names that the `use` declarations inside an item bind: `use super::deep::*;` in a fn body,
//! a nested block or a macro argument. They resolve as a module's `use`s do, from the item's
//! module, and are seen in the whole item (which block holds one is not modelled: a name the
//! item uses outside that block takes the module's meaning too).

use std::collections::HashSet;

use super::{Found, Reach, Target, Walker};

/// Where a name is looked up: a module, and the items whose own `use` declarations (in a fn
/// body, a block, a macro argument) bind names there too — an item's own, and for a
/// `macro_rules!` body those of the items it is called in.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct Scope {
    pub(super) module: usize,
    locals: Vec<usize>,
}

impl Scope {
    /// The names of `module` alone, as its own `use`s see them.
    pub(super) fn module(module: usize) -> Self {
        Self {
            module,
            locals: Vec::new(),
        }
    }

    pub(super) fn with(&self, module: usize, local: usize) -> Self {
        let mut locals = self.locals.clone();
        if !locals.contains(&local) {
            locals.push(local);
            locals.sort_unstable();
        }
        Self { module, locals }
    }
}

impl Walker<'_> {
    /// What the `use`s of `scope`'s items bind `name` to.
    pub(super) fn local(
        &self,
        scope: &Scope,
        name: &str,
        reach: &mut Reach,
        depth: usize,
    ) -> Found {
        let mut found = Found::default();
        for &id in &scope.locals {
            let refs = self.refs(id);
            for (index, (bound, path)) in refs.uses.iter().enumerate() {
                // `use serde;` names the crate, not itself.
                if bound != name || !self.resolving_local.borrow_mut().insert((id, index, false)) {
                    continue;
                }
                let targets = self.resolve(scope, path, reach, depth + 1);
                self.resolving_local
                    .borrow_mut()
                    .remove(&(id, index, false));
                found.certain |= !targets.is_empty();
                found.targets.extend(targets);
            }
            for (index, glob) in refs.globs.iter().enumerate() {
                // A glob's own path never resolves through the glob itself.
                if !self.resolving_local.borrow_mut().insert((id, index, true)) {
                    continue;
                }
                let targets = self.resolve(scope, glob, reach, depth + 1);
                self.resolving_local.borrow_mut().remove(&(id, index, true));
                for target in targets {
                    match target {
                        Target::Module(g) => {
                            let inner = self.lookup_in(g, name, reach, depth, &mut HashSet::new());
                            found.certain |= inner.certain;
                            found.targets.extend(inner.targets);
                        }
                        // An enum's variants, or anything from another crate's module.
                        other => found.targets.push(other),
                    }
                }
            }
        }
        found
    }
}
