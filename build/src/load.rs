//! Reads one crate's sources into modules and items: from its root file, following `mod`
//! declarations (with `#[path]`) and item-level `include!` of a file that exists.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream};
use quote::ToTokens as _;

use crate::scan;
use crate::syntax::{GenericNames, compact, use_tree};
use crate::tokens::lookup_key;

/// A crate as its sources declare it.
#[derive(Default)]
pub(crate) struct Crate {
    pub(crate) modules: Vec<Module>,
    pub(crate) items: Vec<Item>,
    /// Every file read, for `cargo::rerun-if-changed`.
    pub(crate) files: Vec<PathBuf>,
    /// Every `macro_rules!` by name: textual scope is not modelled, so a call may mean any.
    pub(crate) macros: HashMap<String, Vec<usize>>,
    /// Traits by the names of their methods, for method calls.
    pub(crate) traits_by_method: HashMap<String, Vec<usize>>,
    /// Impl blocks by every name in their self type and trait.
    pub(crate) impls_by_name: HashMap<String, Vec<usize>>,
}

/// One module: what its names bind, and what it cannot tell.
pub(crate) struct Module {
    /// Its path from the crate root, `[]` for the root.
    pub(crate) path: Vec<String>,
    pub(crate) parent: Option<usize>,
    pub(crate) names: HashMap<String, Vec<Name>>,
    /// The paths of its glob imports, `use a::b::*`.
    pub(crate) globs: Vec<Vec<String>>,
    /// Item-level macro calls: they may define any name.
    pub(crate) opaque: Vec<usize>,
    /// Why some of its content is unknown, if it is.
    pub(crate) unknown: Option<Unknown>,
    /// Its declaration's attributes and its inner attributes: their `cfg`s gate its items.
    pub(crate) attrs: TokenStream,
}

/// Content the analysis cannot see.
#[derive(Clone)]
pub(crate) struct Unknown {
    pub(crate) reason: String,
    /// Whether the crate's own files hold it (then hashing them all covers it).
    pub(crate) in_crate_files: bool,
}

/// What a name in a module stands for.
#[derive(Clone)]
pub(crate) enum Name {
    Item(usize),
    Module(usize),
    /// A `use`: the path it imports, resolved from the module that holds it.
    Use(Vec<String>),
    /// An `extern crate`.
    Extern(String),
}

/// One item and its tokens.
pub(crate) struct Item {
    /// How `--plan` names it: its path from the crate root, or `impl Trait for Type`.
    pub(crate) label: String,
    pub(crate) kind: Kind,
    pub(crate) module: usize,
    /// `src/lib.rs:27`, relative to the package.
    pub(crate) at: String,
    /// The file it is in, for `include_str!` paths.
    pub(crate) file: PathBuf,
    pub(crate) tokens: TokenStream,
    /// Its generic parameters: a path that starts with one is not an item.
    pub(crate) generics: Vec<String>,
    /// For a `#[step]` fn: the key its expansion looks its record up by.
    pub(crate) step_key: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Fn,
    Value,
    Type,
    Trait,
    Impl,
    MacroRules,
    Opaque,
}

/// Loads the crate whose root file is `root`; paths are shown relative to `package`.
pub(crate) fn load(root: &Path, package: &Path) -> Crate {
    let mut loader = Loader {
        package,
        krate: Crate::default(),
    };
    loader.krate.modules.push(Module::new(Vec::new(), None));
    let dir = root.parent().unwrap_or(package).to_path_buf();
    loader.file(0, root, &dir);
    loader.krate
}

impl Module {
    fn new(path: Vec<String>, parent: Option<usize>) -> Self {
        Self {
            path,
            parent,
            names: HashMap::new(),
            globs: Vec::new(),
            opaque: Vec::new(),
            unknown: None,
            attrs: TokenStream::new(),
        }
    }
}

struct Loader<'a> {
    package: &'a Path,
    krate: Crate,
}

/// Where a module's child modules are: the folder, and whether `#[path]` can be followed there
/// (not inside an inline module, where its rules depend on more than this folder).
#[derive(Clone)]
struct Place {
    dir: PathBuf,
    inline: bool,
}

impl Loader<'_> {
    fn unknown(&mut self, module: usize, reason: String, in_crate_files: bool) {
        let m = &mut self.krate.modules[module];
        if m.unknown.is_none() {
            m.unknown = Some(Unknown {
                reason,
                in_crate_files,
            });
        }
    }

    /// Reads `file` into `module`, whose children are under `dir`.
    fn file(&mut self, module: usize, file: &Path, dir: &Path) {
        self.krate.files.push(file.to_path_buf());
        let parsed = std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|text| syn::parse_file(&text).map_err(|e| e.to_string()));
        match parsed {
            Ok(parsed) => {
                for attr in &parsed.attrs {
                    attr.to_tokens(&mut self.krate.modules[module].attrs);
                }
                let place = Place {
                    dir: dir.to_path_buf(),
                    inline: false,
                };
                for item in parsed.items {
                    self.item(module, file, &place, item);
                }
            }
            Err(e) => {
                let shown = self.shown(file);
                self.unknown(module, format!("`{shown}` cannot be read: {e}"), true);
            }
        }
    }

    fn shown(&self, file: &Path) -> String {
        file.strip_prefix(self.package)
            .unwrap_or(file)
            .display()
            .to_string()
    }

    fn label(&self, module: usize, ident: &str) -> String {
        let mut path = self.krate.modules[module].path.clone();
        path.push(ident.to_owned());
        path.join("::")
    }

    fn push(&mut self, file: &Path, span: Span, mut item: Item) -> usize {
        item.at = format!("{}:{}", self.shown(file), span.start().line);
        let id = self.krate.items.len();
        self.krate.items.push(item);
        id
    }

    fn bind(&mut self, module: usize, name: String, to: Name) {
        let names = &mut self.krate.modules[module].names;
        names.entry(name).or_default().push(to);
    }

    // Long, but flat: one arm per kind of item.
    fn item(&mut self, module: usize, file: &Path, place: &Place, item: syn::Item) {
        let tokens = item.to_token_stream();
        let generics = {
            let mut names = GenericNames(Vec::new());
            syn::visit::Visit::visit_item(&mut names, &item);
            names.0
        };
        let new = |label: String, kind: Kind| Item {
            label,
            kind,
            module,
            at: String::new(),
            file: file.to_path_buf(),
            tokens: tokens.clone(),
            generics: generics.clone(),
            step_key: None,
        };
        let (ident, kind, span) = match &item {
            syn::Item::Fn(f) => {
                let mut unit = new(self.label(module, &f.sig.ident.to_string()), Kind::Fn);
                if f.attrs
                    .iter()
                    .any(|a| a.path().segments.last().is_some_and(|s| s.ident == "step"))
                {
                    let mut key = f.sig.to_token_stream();
                    f.block.to_tokens(&mut key);
                    unit.step_key = Some(lookup_key(key));
                }
                let id = self.push(file, f.sig.ident.span(), unit);
                self.bind(module, f.sig.ident.to_string(), Name::Item(id));
                return;
            }
            syn::Item::Const(c) => (&c.ident, Kind::Value, c.ident.span()),
            syn::Item::Static(s) => (&s.ident, Kind::Value, s.ident.span()),
            syn::Item::Struct(s) => (&s.ident, Kind::Type, s.ident.span()),
            syn::Item::Enum(e) => (&e.ident, Kind::Type, e.ident.span()),
            syn::Item::Union(u) => (&u.ident, Kind::Type, u.ident.span()),
            syn::Item::Type(t) => (&t.ident, Kind::Type, t.ident.span()),
            syn::Item::TraitAlias(t) => (&t.ident, Kind::Trait, t.ident.span()),
            syn::Item::Trait(t) => {
                let unit = new(self.label(module, &t.ident.to_string()), Kind::Trait);
                let id = self.push(file, t.ident.span(), unit);
                self.bind(module, t.ident.to_string(), Name::Item(id));
                for inner in &t.items {
                    if let syn::TraitItem::Fn(f) = inner {
                        let by = &mut self.krate.traits_by_method;
                        by.entry(f.sig.ident.to_string()).or_default().push(id);
                    }
                }
                return;
            }
            syn::Item::Impl(i) => {
                let self_ty = i.self_ty.to_token_stream();
                let label = match &i.trait_ {
                    Some((path, _)) => {
                        format!(
                            "impl {} for {}",
                            compact(&path.to_token_stream()),
                            compact(&self_ty)
                        )
                    }
                    None => format!("impl {}", compact(&self_ty)),
                };
                let unit = new(label, Kind::Impl);
                let id = self.push(file, i.impl_token.span, unit);
                let mut names = scan::idents(&self_ty);
                if let Some((path, _)) = &i.trait_ {
                    names.extend(path.segments.last().map(|s| s.ident.to_string()));
                }
                for name in names {
                    self.krate.impls_by_name.entry(name).or_default().push(id);
                }
                return;
            }
            syn::Item::Macro(m) => {
                self.macro_item(module, file, place, m, tokens.clone());
                return;
            }
            syn::Item::Mod(m) => {
                self.module(module, file, place, m);
                return;
            }
            syn::Item::Use(u) => {
                let mut prefix = Vec::new();
                if u.leading_colon.is_some() {
                    prefix.push("::".to_owned());
                }
                let mut binds = Vec::new();
                let globs = &mut self.krate.modules[module].globs;
                use_tree(&mut prefix, &u.tree, &mut binds, globs);
                for (name, path) in binds {
                    self.bind(module, name, Name::Use(path));
                }
                return;
            }
            syn::Item::ExternCrate(e) => {
                let name = e.rename.as_ref().map_or(&e.ident, |(_, r)| r).to_string();
                let to = if e.ident == "self" {
                    Name::Module(0)
                } else {
                    Name::Extern(e.ident.to_string())
                };
                self.bind(module, name, to);
                return;
            }
            syn::Item::ForeignMod(f) => {
                let unit = new(self.label(module, "extern block"), Kind::Value);
                let id = self.push(file, f.abi.extern_token.span, unit);
                for inner in &f.items {
                    let ident = match inner {
                        syn::ForeignItem::Fn(f) => &f.sig.ident,
                        syn::ForeignItem::Static(s) => &s.ident,
                        syn::ForeignItem::Type(t) => &t.ident,
                        _ => continue,
                    };
                    self.bind(module, ident.to_string(), Name::Item(id));
                }
                return;
            }
            _ => {
                self.opaque(module, file, "an item syn does not know".to_owned(), tokens);
                return;
            }
        };
        let unit = new(self.label(module, &ident.to_string()), kind);
        let id = self.push(file, span, unit);
        self.bind(module, ident.to_string(), Name::Item(id));
    }

    fn opaque(&mut self, module: usize, file: &Path, label: String, tokens: TokenStream) {
        let span = tokens
            .clone()
            .into_iter()
            .next()
            .map_or_else(Span::call_site, |t| t.span());
        let unit = Item {
            label: self.label(module, &label),
            kind: Kind::Opaque,
            module,
            at: String::new(),
            file: file.to_path_buf(),
            tokens,
            generics: Vec::new(),
            step_key: None,
        };
        let id = self.push(file, span, unit);
        self.krate.modules[module].opaque.push(id);
    }

    fn macro_item(
        &mut self,
        module: usize,
        file: &Path,
        place: &Place,
        m: &syn::ItemMacro,
        tokens: TokenStream,
    ) {
        let path = &m.mac.path;
        let last = path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if let (true, Some(ident)) = (path.is_ident("macro_rules"), &m.ident) {
            let unit = Item {
                label: format!("{ident}!"),
                kind: Kind::MacroRules,
                module,
                at: String::new(),
                file: file.to_path_buf(),
                tokens,
                generics: Vec::new(),
                step_key: None,
            };
            let id = self.push(file, ident.span(), unit);
            self.krate
                .macros
                .entry(ident.to_string())
                .or_default()
                .push(id);
            return;
        }
        if last == "include" {
            // Items of another file, often generated into OUT_DIR before this runs.
            match scan::include_path(&m.mac.tokens, file) {
                Some(included) if included.is_file() => {
                    self.krate.files.push(included.clone());
                    let text = std::fs::read_to_string(&included).unwrap_or_default();
                    if let Ok(parsed) = syn::parse_file(&text) {
                        for item in parsed.items {
                            self.item(module, &included, place, item);
                        }
                        return;
                    }
                }
                _ => {}
            }
            let shown = self.shown(file);
            let reason = format!("an `include!` in `{shown}` names a file that cannot be read");
            self.unknown(module, reason, false);
            return;
        }
        self.opaque(module, file, format!("{last}!(..)"), tokens);
    }

    fn module(&mut self, parent: usize, file: &Path, place: &Place, m: &syn::ItemMod) {
        let mut path = self.krate.modules[parent].path.clone();
        path.push(m.ident.to_string());
        let id = self.krate.modules.len();
        self.krate.modules.push(Module::new(path, Some(parent)));
        self.bind(parent, m.ident.to_string(), Name::Module(id));
        for attr in &m.attrs {
            attr.to_tokens(&mut self.krate.modules[id].attrs);
        }
        let name = m.ident.to_string();
        let path_attr = m.attrs.iter().find_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        });
        let cfg_path = m.attrs.iter().any(|a| {
            a.path().is_ident("cfg_attr")
                && scan::idents(&a.to_token_stream())
                    .iter()
                    .any(|i| i == "path")
        });
        if let Some((_, items)) = &m.content {
            let inner = Place {
                dir: place.dir.join(&name),
                inline: true,
            };
            for item in items.clone() {
                self.item(id, file, &inner, item);
            }
            return;
        }
        if cfg_path || (path_attr.is_some() && place.inline) {
            let reason = format!(
                "module `{}` takes its file from a `#[path]` tanto-build does not follow",
                self.label(parent, &name)
            );
            self.unknown(id, reason, true);
            return;
        }
        if let Some(p) = path_attr {
            let target = file.parent().unwrap_or(self.package).join(p);
            let dir = target.parent().unwrap_or(self.package).to_path_buf();
            self.file(id, &target, &dir);
            return;
        }
        let flat = place.dir.join(format!("{name}.rs"));
        let nested = place.dir.join(&name).join("mod.rs");
        if flat.is_file() {
            self.file(id, &flat, &place.dir.join(&name));
        } else if nested.is_file() {
            self.file(id, &nested, &place.dir.join(&name));
        } else {
            let reason = format!("module `{}` has no file", self.label(parent, &name));
            self.unknown(id, reason, true);
        }
    }
}
