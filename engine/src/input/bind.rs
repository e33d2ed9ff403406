//! Binds a pipeline's parameters to what the command line gave: a host folder is
//! canonicalized, checked and hashed with its `DirSelect` here,
//! once, and every error names the flag.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::artifact::{Artifact, Dir, DirSelect, Secret};
use crate::cache::{Store, secret_key};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::graph::ParamInfo;

/// Binds each parameter to its raw command-line value: folders and files are hashed (on a
/// blocking thread, through the store's stat cache; a folder's trees are stored so a later
/// miss can name the paths that changed), values are parsed. Returns one artifact per
/// parameter, in order.
pub async fn bind(
    raw: Vec<(ParamInfo, Option<OsString>)>,
    store: Arc<Store>,
) -> Result<Vec<Artifact>> {
    tokio::task::spawn_blocking(move || {
        raw.iter()
            .map(|(param, value)| bind_one(param, value.as_deref(), &store))
            .collect()
    })
    .await
    .map_err(|e| Error::Other(format!("binding the pipeline's inputs panicked: {e}")))?
}

fn bind_one(param: &ParamInfo, value: Option<&OsStr>, store: &Store) -> Result<Artifact> {
    let flag = param.flag();
    let named = |e: Error| match e {
        Error::Usage(m) => Error::Usage(format!("--{flag}: {m}")),
        other => other,
    };
    if param.is_dir {
        let path = host_path(&flag, value, true)?;
        return host_dir(store, path, param.select)
            .map(Artifact::Dir)
            .map_err(named);
    }
    if param.is_file {
        if value.is_none() {
            return Err(Error::Usage(format!(
                "--{flag} is required: give the file bound to `{}`",
                param.name
            )));
        }
        let path = host_path(&flag, value, false)?;
        // The step can read the name (`File::name`, and the path's own), so it is keyed, as a
        // captured file's is; the folder it is in is the machine's, never keyed.
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        return store
            .hash_input_file(&path)
            .map(|file| Artifact::File(file.with_name(name.unwrap_or_default())))
            .map_err(named);
    }
    if param.is_secret() {
        let value = secret_value(&flag, value)?;
        let key = secret_key(store.root())?;
        let digest = Digest::keyed(&key, value.as_bytes());
        return Ok(Artifact::Secret(Secret::new(param.name, value, digest)));
    }
    let Some(text) = value else {
        return param.absent_value().map(Artifact::Value).ok_or_else(|| {
            Error::Usage(format!(
                "--{flag} is required: give the value of `{}` ({})",
                param.name, param.ty
            ))
        });
    };
    value_of(param, text).map(Artifact::Value)
}

/// The JSON form of the text flag `--flag` gave value input `param`: the text itself for a
/// string; items separated by commas (or a JSON array) for a `Vec`; otherwise the text as
/// JSON when it parses as JSON (numbers, booleans, objects), and a string when not, which is
/// what a unit enum variant deserializes from. The run binds inputs with it, and the plan
/// takes from it the values its body loops or branches on.
pub fn value_of(param: &ParamInfo, text: &OsStr) -> Result<serde_json::Value> {
    let flag = param.flag();
    let text = text
        .to_str()
        .ok_or_else(|| Error::Usage(format!("--{flag}: the value is not valid UTF-8")))?;
    let Some(item) = param.list_item() else {
        return Ok(scalar(param.ty, text));
    };
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        return serde_json::from_str(trimmed).map_err(|e| {
            Error::Usage(format!(
                "--{flag}: `{text}` is not a JSON array ({e}); give items separated by commas, like `a,b`"
            ))
        });
    }
    if trimmed.is_empty() {
        return Ok(serde_json::Value::Array(Vec::new()));
    }
    let items: Vec<&str> = trimmed.split(',').map(str::trim).collect();
    if let Some(n) = items.iter().position(|i| i.is_empty()) {
        return Err(Error::Usage(format!(
            "--{flag}: item {} of `{text}` is empty; leave out the extra comma, or give a JSON array such as `[\"a\", \"\"]` for an empty item",
            n + 1
        )));
    }
    Ok(serde_json::Value::Array(
        items.into_iter().map(|i| scalar(item, i)).collect(),
    ))
}

/// Whether a value of type `ty` (an item's, for a list) is given as JSON on the command line:
/// a struct, a tuple, an enum with data, a map. Text, numbers, `bool` and `char` are written as
/// they are, and so is a unit enum variant, by its name.
pub(crate) fn written_as_json(ty: &str) -> bool {
    let ty = ty.trim();
    let inner = ty
        .strip_prefix("Option<")
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(ty);
    let name = inner.rsplit("::").next().unwrap_or(inner).trim();
    !matches!(
        name,
        "String"
            | "PushTarget"
            | "PathBuf"
            | "bool"
            | "char"
            | "u8"
            | "u16"
            | "u32"
            | "u64"
            | "u128"
            | "usize"
            | "i8"
            | "i16"
            | "i32"
            | "i64"
            | "i128"
            | "isize"
            | "f32"
            | "f64"
    )
}

/// A value of type `ty` from `text`: a string as it is, anything else as JSON when it parses.
fn scalar(ty: &str, text: &str) -> serde_json::Value {
    let ty = ty.rsplit("::").next().unwrap_or(ty).trim();
    if matches!(
        ty,
        "String" | "PushTarget" | "PathBuf" | "Option<String>" | "Option<PushTarget>"
    ) {
        serde_json::Value::String(text.to_owned())
    } else {
        serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
    }
}

/// The value of a secret from the source that flag `--flag` names: `env:NAME`,
/// `file:PATH` or `cmd:COMMAND` (its standard output). One final newline is trimmed from a
/// file or a command's output. Errors name the flag and the source, never the value.
pub(crate) fn secret_value(flag: &str, value: Option<&OsStr>) -> Result<String> {
    let usage = |m: String| Error::Usage(format!("--{flag}: {m}"));
    let sources = "`env:NAME`, `file:PATH` or `cmd:COMMAND`";
    let Some(source) = value else {
        return Err(usage(format!("a secret is needed: give {sources}")));
    };
    let source = source
        .to_str()
        .ok_or_else(|| usage("the source is not valid UTF-8".into()))?;
    let trimmed = |mut text: String| {
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        text
    };
    let value = if let Some(name) = source.strip_prefix("env:") {
        if name.is_empty() {
            return Err(usage("`env:` names no variable: write `env:NAME`".into()));
        }
        std::env::var(name).map_err(|e| match e {
            std::env::VarError::NotPresent => usage(format!("the variable `{name}` is not set")),
            std::env::VarError::NotUnicode(_) => {
                usage(format!("the variable `{name}` is not valid UTF-8"))
            }
        })?
    } else if let Some(path) = source.strip_prefix("file:") {
        std::fs::read(path)
            .map_err(|e| usage(format!("cannot read `{path}`: {e}")))
            .and_then(|bytes| {
                String::from_utf8(bytes).map_err(|_| usage(format!("`{path}` is not valid UTF-8")))
            })
            .map(trimmed)?
    } else if let Some(command) = source.strip_prefix("cmd:") {
        // Its error output is not shown: a failing command may print what it was to give.
        let out = std::process::Command::new("sh")
            .args(["-c", command])
            .stderr(std::process::Stdio::null())
            .output()
            .map_err(|e| usage(format!("cannot run `{command}`: {e}")))?;
        if !out.status.success() {
            return Err(usage(format!(
                "`{command}` failed ({}); its output is not shown",
                out.status
            )));
        }
        String::from_utf8(out.stdout)
            .map(trimmed)
            .map_err(|_| usage(format!("`{command}` printed something that is not UTF-8")))?
    } else {
        // A value on the command line is in `ps` and in the shell's history.
        return Err(usage(format!(
            "a secret comes from {sources}, never from the command line itself"
        )));
    };
    if value.is_empty() {
        return Err(usage(format!("`{source}` gave an empty secret")));
    }
    Ok(value)
}

/// The host folder at the canonical path `path` as a `Dir` input: hashed with `select`
/// through `store` (blocking), its trees stored.
pub fn host_dir(store: &Store, path: PathBuf, select: DirSelect) -> Result<Dir> {
    let hashed = store.hash_input_dir(&path, &select)?;
    Ok(Dir::host(path, hashed.digest, select))
}

/// The canonical path of the folder (or file) that flag `--flag` names, `.` when absent.
fn host_path(flag: &str, value: Option<&OsStr>, folder: bool) -> Result<PathBuf> {
    let given = Path::new(value.unwrap_or_else(|| ".".as_ref()));
    let path = given
        .canonicalize()
        .map_err(|e| Error::Usage(format!("--{flag}: cannot open `{}`: {e}", given.display())))?;
    let (ok, kind) = if folder {
        (path.is_dir(), "folder")
    } else {
        (path.is_file(), "file")
    };
    if ok {
        Ok(path)
    } else {
        Err(Error::Usage(format!(
            "--{flag}: `{}` is not a {kind}",
            given.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::artifact::DirSelect;

    fn param(ty: &'static str) -> ParamInfo {
        ParamInfo {
            name: "features",
            ty,
            is_dir: false,
            is_file: false,
            select: DirSelect::DEFAULT,
        }
    }

    fn value(ty: &'static str, text: &str) -> Result<serde_json::Value> {
        value_of(&param(ty), OsStr::new(text))
    }

    #[test]
    fn a_list_takes_items_by_commas_or_a_json_array() {
        assert_eq!(
            value("Vec<String>", "a, b,c").unwrap(),
            json!(["a", "b", "c"])
        );
        assert_eq!(value("Vec<String>", "1.80").unwrap(), json!(["1.80"]));
        assert_eq!(value("Vec<String>", "").unwrap(), json!([]));
        assert_eq!(value("Vec<u32>", "1,2").unwrap(), json!([1, 2]));
        assert_eq!(
            value("std::vec::Vec<String>", r#"["a,b", "c"]"#).unwrap(),
            json!(["a,b", "c"])
        );
        let err = value("Vec<String>", "[a").unwrap_err().to_string();
        assert!(
            err.starts_with("--features: `[a` is not a JSON array"),
            "{err}"
        );
        assert_eq!(
            value("Vec<String>", "a,,b").unwrap_err().to_string(),
            "--features: item 2 of `a,,b` is empty; leave out the extra comma, or give a JSON array such as `[\"a\", \"\"]` for an empty item"
        );
        assert!(value("Vec<String>", ",").is_err());
        assert_eq!(
            value("Vec<String>", r#"["", "b"]"#).unwrap(),
            json!(["", "b"])
        );
    }

    #[test]
    fn scalars_are_strings_or_json() {
        assert_eq!(value("String", "1.80").unwrap(), json!("1.80"));
        assert_eq!(value("bool", "true").unwrap(), json!(true));
        assert_eq!(value("Profile", "Release").unwrap(), json!("Release"));
        assert_eq!(value("Option<String>", "2").unwrap(), json!("2"));
        assert_eq!(
            value("Limits", r#"{"cpus": 2}"#).unwrap(),
            json!({"cpus": 2})
        );
        assert!(super::written_as_json("Limits") && super::written_as_json("Option<(u8, u8)>"));
        assert!(
            !super::written_as_json("Option<u32>") && !super::written_as_json("std::path::PathBuf")
        );
    }

    #[test]
    fn params_know_their_shape_on_the_command_line() {
        assert!(param("bool").is_switch() && !param("Option<bool>").is_switch());
        assert_eq!(param("Vec<String>").list_item(), Some("String"));
        assert_eq!(param("std::vec::Vec<u8>").list_item(), Some("u8"));
        assert_eq!(param("String").list_item(), None);
        assert_eq!(param("bool").absent_value(), Some(json!(false)));
        assert_eq!(
            param("Option<u8>").absent_value(),
            Some(serde_json::Value::Null)
        );
        assert_eq!(param("Vec<String>").absent_value(), None);
        assert!(!param("tanto::Secret").is_value());
    }
}
