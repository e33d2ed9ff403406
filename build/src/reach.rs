//! What a step reaches: its fn, then every item its tokens name, followed transitively within
//! the crate, with the dependencies, `cfg` keys, variables and files they use.
//!
//! Where a name cannot be resolved the walk takes something coarser and sound, and says so:
//! a name a macro call in the module may define pulls in those calls, and one a glob of another
//! crate may bring that crate; a path into content the sources do not show keys the step by
//! every file of the crate; a path whose first segment is neither this crate's nor a
//! dependency's keys it by every dependency when the manifest renames one; a file path that is
//! not a literal makes the step uncacheable.
//!
//! A single name that resolves to nothing is dropped: the tokens cannot tell a local variable,
//! a field or a parameter from an item, and every scope that can bind an item is modelled — a
//! module's items, `use`s and globs, the items and `use`s inside the item itself (`local`) —
//! so a name none of them binds is no item of the crate.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::rc::Rc;

use crate::load::{Crate, Kind, Name};
use crate::scan::{self, Refs};

mod local;

use local::Scope;

/// Crates whose code never enters a key: the toolchain's, and tanto's own (its behaviour is
/// versioned by the runtime's cache format).
const IGNORED: &[&str] = &[
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
    "tanto",
    "tanto_engine",
    "tanto_macros",
    "tanto_build",
];

/// Names of the standard prelude and primitive types: never an item of the crate unless it
/// defines one (which is looked up first).
const PRELUDE: &[&str] = &[
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "String",
    "Vec",
    "Box",
    "ToString",
    "ToOwned",
    "Default",
    "Iterator",
    "IntoIterator",
    "From",
    "Into",
    "TryFrom",
    "TryInto",
    "Clone",
    "Copy",
    "Send",
    "Sync",
    "Sized",
    "Unpin",
    "Drop",
    "Fn",
    "FnMut",
    "FnOnce",
    "AsRef",
    "AsMut",
    "PartialEq",
    "Eq",
    "PartialOrd",
    "Ord",
    "Extend",
    "FromIterator",
    "DoubleEndedIterator",
    "ExactSizeIterator",
    "Debug",
    "Hash",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "f32",
    "f64",
    "bool",
    "char",
    "str",
    "Self",
];

/// Everything one step (or the whole crate) reaches.
#[derive(Default)]
pub(crate) struct Reach {
    pub(crate) items: BTreeSet<usize>,
    /// Dependencies by the name the code uses.
    pub(crate) crates: BTreeSet<String>,
    pub(crate) all_deps: bool,
    /// Every file of the crate, because some content is not visible to the analysis.
    pub(crate) crate_files: bool,
    pub(crate) uncacheable: Option<String>,
    pub(crate) cfgs: BTreeSet<String>,
    pub(crate) envs: BTreeSet<String>,
    pub(crate) files: BTreeSet<PathBuf>,
    /// Which fallbacks were taken, in words, for `--plan`.
    pub(crate) notes: BTreeSet<String>,
}

enum Target {
    Item(usize),
    Module(usize),
    Extern(String),
    /// Resolved, to nothing that is keyed: the toolchain's or tanto's own crates.
    Ignored,
}

/// Resolves and walks one crate's items.
pub(crate) struct Walker<'a> {
    krate: &'a Crate,
    /// The crate names of the package's dependencies (and of its own library, for a binary).
    deps: &'a HashSet<String>,
    /// Whether the manifest renames a dependency (`package = ".."`), so that a crate may go by
    /// a name that is not its own.
    renames: bool,
    refs: RefCell<HashMap<usize, Rc<Refs>>>,
    /// The glob imports being resolved, by module and index.
    resolving: RefCell<HashSet<(usize, usize)>>,
    /// The `use` declarations of items being resolved: by item, index, and whether a glob.
    resolving_local: RefCell<HashSet<(usize, usize, bool)>>,
}

impl<'a> Walker<'a> {
    pub(crate) fn new(krate: &'a Crate, deps: &'a HashSet<String>, renames: bool) -> Self {
        Self {
            krate,
            deps,
            renames,
            refs: RefCell::new(HashMap::new()),
            resolving: RefCell::new(HashSet::new()),
            resolving_local: RefCell::new(HashSet::new()),
        }
    }

    fn refs(&self, id: usize) -> Rc<Refs> {
        let item = &self.krate.items[id];
        let mut cache = self.refs.borrow_mut();
        Rc::clone(
            cache
                .entry(id)
                .or_insert_with(|| Rc::new(scan::refs(&item.tokens, &item.file))),
        )
    }

    /// What `starts` reach.
    pub(crate) fn reach(&self, starts: impl IntoIterator<Item = usize>) -> Reach {
        let mut reach = Reach::default();
        let mut seen: HashSet<(usize, Scope)> = HashSet::new();
        let mut work: Vec<(usize, Scope)> = Vec::new();
        for id in starts {
            self.visit(id, &mut work);
        }
        while let Some((id, scope)) = work.pop() {
            if !seen.insert((id, scope.clone())) {
                continue;
            }
            reach.items.insert(id);
            let item = &self.krate.items[id];
            let refs = self.refs(id);
            reach.cfgs.extend(refs.cfgs.iter().cloned());
            reach.envs.extend(refs.envs.iter().cloned());
            for include in &refs.includes {
                match include {
                    Some(path) => {
                        reach.files.insert(path.clone());
                    }
                    None => {
                        reach.uncacheable.get_or_insert_with(|| {
                            format!(
                                "`{}` ({}) reads a file whose path is not a literal",
                                item.label, item.at
                            )
                        });
                    }
                }
            }
            self.module_cfgs(item.module, &mut reach);
            let mut found = Vec::new();
            for path in &refs.paths {
                if path
                    .first()
                    .is_some_and(|first| item.generics.contains(first))
                {
                    continue;
                }
                found.extend(self.resolve(&scope, path, &mut reach, 0));
            }
            for mac in &refs.macros {
                let name = mac.last().cloned().unwrap_or_default();
                let local = self
                    .krate
                    .macros
                    .get(&name)
                    .filter(|_| mac.len() == 1 || mac[0] == "crate");
                match local {
                    // Names in a macro's body resolve where it is called, and where it is defined.
                    Some(ids) => {
                        for &m in ids {
                            self.expand(m, &scope, &mut work);
                        }
                    }
                    None => {
                        let targets = self.resolve(&scope, mac, &mut reach, 0);
                        // A `macro_rules!` made reachable by path (`pub(crate) use wrap;` in
                        // module `tricky`, called as `tricky::wrap!`): the path names no item,
                        // so the crate's macros of that name are followed.
                        if targets.iter().all(|t| matches!(t, Target::Module(_))) {
                            for &m in self.krate.macros.get(&name).into_iter().flatten() {
                                self.expand(m, &scope, &mut work);
                            }
                        }
                        found.extend(targets);
                    }
                }
            }
            for method in &refs.methods {
                for &t in self
                    .krate
                    .traits_by_method
                    .get(method)
                    .into_iter()
                    .flatten()
                {
                    found.push(Target::Item(t));
                }
            }
            for target in found {
                match target {
                    Target::Item(t) => self.visit(t, &mut work),
                    Target::Module(_) | Target::Ignored => {}
                    Target::Extern(name) => {
                        reach.crates.insert(name);
                    }
                }
            }
        }
        reach
    }

    fn visit(&self, id: usize, work: &mut Vec<(usize, Scope)>) {
        let item = &self.krate.items[id];
        work.push((id, Scope::module(item.module).with(item.module, id)));
        if matches!(item.kind, Kind::Type | Kind::Trait) {
            let ident = item.label.rsplit("::").next().unwrap_or_default();
            for &i in self.krate.impls_by_name.get(ident).into_iter().flatten() {
                let module = self.krate.items[i].module;
                work.push((i, Scope::module(module).with(module, i)));
            }
        }
    }

    /// `macro_rules!` `m`, called in `scope`: names in its body resolve there (with the `use`s
    /// of the items it is called in), and where it is defined.
    fn expand(&self, m: usize, scope: &Scope, work: &mut Vec<(usize, Scope)>) {
        work.push((m, scope.with(scope.module, m)));
        let module = self.krate.items[m].module;
        work.push((m, Scope::module(module).with(module, m)));
    }

    /// The `cfg` keys on `module` and the modules around it.
    fn module_cfgs(&self, module: usize, reach: &mut Reach) {
        let mut at = Some(module);
        while let Some(m) = at {
            let attrs = &self.krate.modules[m].attrs;
            if !attrs.is_empty() {
                let refs = scan::refs(attrs, &PathBuf::new());
                reach.cfgs.extend(refs.cfgs);
            }
            at = self.krate.modules[m].parent;
        }
    }

    fn ancestor(&self, mut module: usize, levels: usize) -> usize {
        for _ in 0..levels {
            module = self.krate.modules[module].parent.unwrap_or(0);
        }
        module
    }

    /// What `path`, written in `scope`, may stand for.
    fn resolve(
        &self,
        scope: &Scope,
        path: &[String],
        reach: &mut Reach,
        depth: usize,
    ) -> Vec<Target> {
        if path.is_empty() || depth > 16 {
            return Vec::new();
        }
        let first = path[0].as_str();
        let module = scope.module;
        let (mut targets, rest) = match first {
            "::" => {
                return path
                    .get(1)
                    .and_then(|c| self.external(c))
                    .into_iter()
                    .collect();
            }
            "crate" => (vec![Target::Module(0)], 1),
            "self" => (vec![Target::Module(module)], 1),
            "super" => {
                let levels = path.iter().take_while(|s| *s == "super").count();
                // A `mod` inside a fn body makes `super` one level shallower than it looks.
                let near = self.ancestor(module, levels - 1);
                let far = self.ancestor(module, levels);
                (vec![Target::Module(far), Target::Module(near)], levels)
            }
            _ => {
                let found = self.lookup(scope, first, reach, depth);
                // Perhaps a dependency under another name: the manifest renames one.
                if !found.certain && path.len() > 1 && self.renames {
                    reach.all_deps = true;
                    reach.notes.insert(format!(
                        "every dependency, since `{}` is not resolved and the manifest renames a dependency",
                        path.join("::")
                    ));
                }
                if found.targets.is_empty() {
                    return Vec::new();
                }
                (found.targets, 1)
            }
        };
        for seg in &path[rest..] {
            let mut next = Vec::new();
            for target in targets {
                match target {
                    Target::Module(m) => next.extend(
                        self.lookup_in(m, seg, reach, depth, &mut HashSet::new())
                            .targets,
                    ),
                    done => next.push(done),
                }
            }
            targets = next;
        }
        targets
    }

    #[allow(clippy::unnecessary_wraps)] // `Option` so a caller can `extend` with it
    fn external(&self, name: &str) -> Option<Target> {
        Some(if IGNORED.contains(&name) {
            Target::Ignored
        } else {
            Target::Extern(name.to_owned())
        })
    }

    /// A name as the first segment of a path in `scope`: what the `use`s of its items bind, and
    /// its module's items, imports and globs (both: a `use` in one block of a fn does not hide
    /// the module's name elsewhere in it), then the extern crates and the prelude.
    fn lookup(&self, scope: &Scope, name: &str, reach: &mut Reach, depth: usize) -> Found {
        let mut found = self.local(scope, name, reach, depth);
        let module = self.lookup_in(scope.module, name, reach, depth, &mut HashSet::new());
        found.certain |= module.certain;
        found.targets.extend(module.targets);
        if !found.certain {
            if IGNORED.contains(&name) {
                found.targets.push(Target::Ignored);
                found.certain = true;
            } else if self.deps.contains(name) {
                found.targets.push(Target::Extern(name.to_owned()));
                found.certain = true;
            }
        }
        found
    }

    /// `name` among `module`'s items, imports and glob imports: certain when one of them
    /// defines it; otherwise what may define it (a glob of another crate's module or of an
    /// enum, a macro call in the module).
    fn lookup_in(
        &self,
        module: usize,
        name: &str,
        reach: &mut Reach,
        depth: usize,
        visited: &mut HashSet<usize>,
    ) -> Found {
        let mut found = Found::default();
        let Some(m) = self.krate.modules.get(module) else {
            return found;
        };
        if !visited.insert(module) {
            return found;
        }
        for bound in m.names.get(name).into_iter().flatten() {
            match bound {
                Name::Item(id) => found.targets.push(Target::Item(*id)),
                Name::Module(id) => found.targets.push(Target::Module(*id)),
                Name::Extern(c) => found.targets.extend(self.external(c)),
                Name::Use(path) => found.targets.extend(self.resolve(
                    &Scope::module(module),
                    path,
                    reach,
                    depth + 1,
                )),
            }
        }
        if !found.targets.is_empty() {
            found.certain = true;
            return found;
        }
        for (index, glob) in m.globs.iter().enumerate() {
            // A glob's own path never resolves through the glob itself (which would recurse).
            if !self.resolving.borrow_mut().insert((module, index)) {
                continue;
            }
            let targets = self.resolve(&Scope::module(module), glob, reach, depth + 1);
            self.resolving.borrow_mut().remove(&(module, index));
            for target in targets {
                match target {
                    Target::Module(g) => {
                        let inner = self.lookup_in(g, name, reach, depth, visited);
                        found.certain |= inner.certain;
                        found.targets.extend(inner.targets);
                    }
                    // An enum's variants, or anything from another crate's module.
                    other => found.targets.push(other),
                }
            }
        }
        if found.certain || PRELUDE.contains(&name) {
            found.certain = true;
            return found;
        }
        for &id in &m.opaque {
            reach.notes.insert(format!(
                "`{}` ({}), a macro call that may define a name it uses",
                self.krate.items[id].label, self.krate.items[id].at
            ));
            found.targets.push(Target::Item(id));
        }
        if let Some(unknown) = &m.unknown {
            if unknown.in_crate_files {
                reach.crate_files = true;
                reach
                    .notes
                    .insert(format!("every file of the crate, since {}", unknown.reason));
            } else {
                reach
                    .uncacheable
                    .get_or_insert_with(|| unknown.reason.clone());
            }
        }
        found
    }
}

/// What a name may stand for.
#[derive(Default)]
pub(crate) struct Found {
    targets: Vec<Target>,
    /// Whether the crate, the prelude or a dependency of that name defines it, rather than
    /// perhaps a glob of another crate or a macro call.
    certain: bool,
}
