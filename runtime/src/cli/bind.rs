//! Binds a pipeline's parameters to command-line values: folders, files and serde values.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::graph::ParamInfo;

/// A parameter bound to what the command line gave.
#[derive(Debug, Clone)]
pub enum Binding {
    /// A host folder, canonicalized.
    Dir(PathBuf),
    /// A host file, canonicalized.
    File(PathBuf),
    /// A value in its JSON form.
    Value(serde_json::Value),
}

/// Binds each parameter to its raw command-line value, checking folders and files exist.
pub fn bind_inputs(raw: &[(ParamInfo, Option<OsString>)]) -> Result<Vec<Binding>> {
    raw.iter()
        .map(|(param, value)| bind_one(param, value.as_deref()))
        .collect()
}

fn bind_one(param: &ParamInfo, value: Option<&std::ffi::OsStr>) -> Result<Binding> {
    let flag = crate::cli::flag_name(param.name);
    if param.is_dir || param.is_file {
        let given = Path::new(value.unwrap_or_else(|| ".".as_ref()));
        let path = given.canonicalize().map_err(|e| {
            Error::Usage(format!("--{flag}: cannot open `{}`: {e}", given.display()))
        })?;
        if param.is_dir && !path.is_dir() {
            return Err(Error::Usage(format!(
                "--{flag}: `{}` is not a folder",
                given.display()
            )));
        }
        if param.is_file && !path.is_file() {
            return Err(Error::Usage(format!(
                "--{flag}: `{}` is not a file",
                given.display()
            )));
        }
        return Ok(if param.is_dir {
            Binding::Dir(path)
        } else {
            Binding::File(path)
        });
    }
    let Some(text) = value else {
        return Ok(Binding::Value(serde_json::Value::Null));
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
    Ok(Binding::Value(json))
}

impl Binding {
    /// The artifact of a value binding; folders and files are hashed by the run.
    pub fn value(&self) -> Option<Artifact> {
        match self {
            Binding::Value(v) => Some(Artifact::Value(v.clone())),
            _ => None,
        }
    }
}
