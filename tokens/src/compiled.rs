//! The variables and `cfg` keys a step's code reads that its build script cannot see: those
//! the crate's own build script sets (`cargo::rustc-env`, `cargo::rustc-cfg`) reach rustc only.
//! `tanto-build` marks their entries in a step's record as [`READ_WHEN_COMPILED`], and the
//! `#[step]` expansion reads them where rustc compiles the step (`option_env!`, `cfg!`), so
//! the key holds the values the step was compiled with.

/// The place the build script gives an entry whose value it could not see.
pub const READ_WHEN_COMPILED: &str = "read when compiled";

/// What an entry read when compiled stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compiled {
    /// A variable `env!` or `option_env!` reads.
    Env(String),
    /// A `cfg` key, set or not.
    Cfg(String),
}

/// The entries of `record` (a step's record, as `TANTO_CODE_<key>` holds it) read when
/// compiled, each with its label: `` env `GIT_HASH` ``, `` cfg `fast` ``. A name that is not
/// a plain identifier is left out (it stays keyed as the build script saw it).
///
/// ```
/// use tanto_tokens::compiled::{Compiled, read_when_compiled};
///
/// let record = "1;ab;`a`;;`a`|src/lib.rs:3|00;env `V`|read when compiled|11;env `W`||22";
/// assert_eq!(
///     read_when_compiled(record),
///     [("env `V`".to_owned(), Compiled::Env("V".into()))]
/// );
/// ```
pub fn read_when_compiled(record: &str) -> Vec<(String, Compiled)> {
    let mut found = Vec::new();
    for entry in record.split(';').skip(4) {
        let mut parts = entry.split('|');
        let (Some(label), Some(at)) = (parts.next(), parts.next()) else {
            continue;
        };
        if at != READ_WHEN_COMPILED {
            continue;
        }
        let named = |prefix: &str| {
            let name = label.strip_prefix(prefix)?.strip_suffix('`')?;
            let plain = name.chars().next().is_some_and(|c| !c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            plain.then(|| name.to_owned())
        };
        let what = match (named("env `"), named("cfg `")) {
            (Some(name), _) => Compiled::Env(name),
            (_, Some(key)) => Compiled::Cfg(key),
            _ => continue,
        };
        found.push((label.to_owned(), what));
    }
    found
}
