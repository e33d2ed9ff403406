//! Binds a pipeline's parameters to what the command line gave: a host folder is
//! canonicalized, checked and hashed with its `DirSelect` here,
//! once, and every error names the flag.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::artifact::{Artifact, Dir, DirSelect};
use crate::cache::Store;
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
        let path = host_path(&flag, value, false)?;
        return store
            .hash_input_file(&path)
            .map(Artifact::File)
            .map_err(named);
    }
    let Some(text) = value else {
        return Ok(Artifact::Value(serde_json::Value::Null));
    };
    let text = text
        .to_str()
        .ok_or_else(|| Error::Usage(format!("--{flag}: the value is not valid UTF-8")))?;
    let ty = param.ty.rsplit("::").next().unwrap_or(param.ty).trim();
    let json = if matches!(ty, "String" | "PathBuf" | "Option<String>") {
        serde_json::Value::String(text.to_owned())
    } else {
        // Other values are JSON when they parse as JSON (numbers, booleans, objects), and a
        // string otherwise, which is what a unit enum variant deserializes from.
        serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
    };
    Ok(Artifact::Value(json))
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
