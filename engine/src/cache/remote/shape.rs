//! Whether a remote record's outputs fit the step they are for: as many as the step returns,
//! each of the kind its type makes it, and a value of a plain type of that JSON type. A
//! server that answers with another shape would break the step's consumers for good.

use crate::cache::key::ArtifactKind;
use crate::cache::store::OutputRecord;

/// Whether `outputs` fit a step whose output type, as written, is `output`
/// ([`StepInfo::output`](crate::graph::StepInfo)); why not when they do not.
pub(super) fn fits(output: &str, outputs: &[OutputRecord]) -> Result<(), String> {
    let types = output_types(output);
    if types.len() != outputs.len() {
        return Err(format!(
            "it has {} outputs where the step returns {} (`{output}`)",
            outputs.len(),
            types.len()
        ));
    }
    for (i, (ty, record)) in types.iter().zip(outputs).enumerate() {
        let (kind, json) = expected(ty);
        if record.kind != kind {
            return Err(format!(
                "output {i} is a {} where the step returns a {} (`{ty}`)",
                kind_name(record.kind),
                kind_name(kind)
            ));
        }
        if let (Some(check), Some(value)) = (json, &record.value)
            && !check(value)
        {
            return Err(format!("output {i}'s value {value} is not a `{ty}`"));
        }
    }
    Ok(())
}

fn kind_name(kind: ArtifactKind) -> &'static str {
    match kind {
        ArtifactKind::Value => "value",
        ArtifactKind::Secret => "secret",
        ArtifactKind::Image => "image",
        ArtifactKind::Dir => "dir",
        ArtifactKind::File => "file",
    }
}

/// The types of a step's outputs, one per artifact: none for `()`, each element of a tuple.
fn output_types(output: &str) -> Vec<String> {
    let text: String = output.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) else {
        return vec![text];
    };
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(inner[start..i].to_owned());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(inner[start..].to_owned());
    parts.retain(|p| !p.is_empty());
    parts
}

type JsonCheck = fn(&serde_json::Value) -> bool;

/// The kind of artifact a type is, by its last path segment like the step macro's, and for a
/// plain value type the JSON type its value has.
fn expected(ty: &str) -> (ArtifactKind, Option<JsonCheck>) {
    let last = ty.rsplit("::").next().unwrap_or(ty);
    match last {
        "Dir" => (ArtifactKind::Dir, None),
        "File" => (ArtifactKind::File, None),
        "Secret" => (ArtifactKind::Secret, None),
        "Image" => (ArtifactKind::Image, None),
        "String" | "&str" | "&'staticstr" => (ArtifactKind::Value, Some(|v| v.is_string())),
        "bool" => (ArtifactKind::Value, Some(|v| v.is_boolean())),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            (ArtifactKind::Value, Some(|v| v.is_i64() || v.is_u64()))
        }
        "f32" | "f64" => (ArtifactKind::Value, Some(|v| v.is_number())),
        _ => (ArtifactKind::Value, None),
    }
}

#[cfg(test)]
mod tests {
    use super::fits;
    use crate::artifact::Artifact;
    use crate::cache::key::KeyRecord;
    use crate::cache::store::ActionResult;

    fn outputs(values: &[serde_json::Value]) -> Vec<crate::cache::store::OutputRecord> {
        let artifacts: Vec<Artifact> = values.iter().cloned().map(Artifact::Value).collect();
        let key = KeyRecord::new("ci::step", "code");
        ActionResult::new(key, &artifacts, std::time::Duration::ZERO).outputs
    }

    #[test]
    fn outputs_that_do_not_fit_the_step_are_refused() {
        let one = outputs(&[serde_json::json!("pwned")]);
        assert!(fits("String", &one).is_ok());
        assert!(fits("Vec < String >", &one).is_ok());
        // Too few, too many.
        assert!(fits("(Dir, File)", &[]).unwrap_err().contains("0 outputs"));
        assert!(fits("()", &one).is_err());
        assert!(fits("()", &[]).is_ok());
        // A value where a file or folder is returned.
        let why = fits("tanto::File", &one).unwrap_err();
        assert_eq!(
            why,
            "output 0 is a value where the step returns a file (`tanto::File`)"
        );
        assert!(fits("(Dir,)", &one).is_err());
        // A value of another JSON type.
        let number = outputs(&[serde_json::json!(42)]);
        assert_eq!(
            fits("String", &number).unwrap_err(),
            "output 0's value 42 is not a `String`"
        );
        assert!(fits("u32", &number).is_ok());
        let two = outputs(&[serde_json::json!("a"), serde_json::json!(true)]);
        assert!(fits("(String, bool)", &two).is_ok());
        assert!(fits("(String, u8)", &two).is_err());
    }
}
