//! Small readings of syn's syntax trees for the loader: what a `use` binds, the generic
//! parameters of an item, and tokens printed as people write them.

use proc_macro2::TokenStream;

/// Collects what a `use` tree binds, `(name, path)`, and its globs.
pub(crate) fn use_tree(
    prefix: &mut Vec<String>,
    tree: &syn::UseTree,
    binds: &mut Vec<(String, Vec<String>)>,
    globs: &mut Vec<Vec<String>>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_tree(prefix, &p.tree, binds, globs);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            if n.ident == "self" {
                if let Some(last) = prefix.last() {
                    binds.push((last.clone(), prefix.clone()));
                }
            } else {
                let mut path = prefix.clone();
                path.push(n.ident.to_string());
                binds.push((n.ident.to_string(), path));
            }
        }
        syn::UseTree::Rename(r) => {
            if r.rename == "_" {
                return;
            }
            let mut path = prefix.clone();
            if r.ident != "self" {
                path.push(r.ident.to_string());
            }
            binds.push((r.rename.to_string(), path));
        }
        syn::UseTree::Glob(_) => globs.push(prefix.clone()),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                use_tree(prefix, tree, binds, globs);
            }
        }
    }
}

/// Collects the names of every type and const parameter in an item, methods' included.
pub(crate) struct GenericNames(pub(crate) Vec<String>);

impl<'ast> syn::visit::Visit<'ast> for GenericNames {
    fn visit_type_param(&mut self, p: &'ast syn::TypeParam) {
        self.0.push(p.ident.to_string());
        syn::visit::visit_type_param(self, p);
    }

    fn visit_const_param(&mut self, p: &'ast syn::ConstParam) {
        self.0.push(p.ident.to_string());
        syn::visit::visit_const_param(self, p);
    }
}

/// Tokens as people write them: a space only between two words.
pub(crate) fn compact(tokens: &TokenStream) -> String {
    let text = tokens.to_string();
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
            if !(word(chars.get(i.wrapping_sub(1))) && word(chars.get(i + 1))) {
                continue;
            }
        }
        out.push(c);
    }
    out
}
