//! What a run shows at its end: the pipeline's outputs, copied to `--out` or printed, and
//! `--plan`'s verdicts (also what `--require-cache` says when a step would run).
//!
//! Standard output carries what a command produces (outputs, the plan, JSON events); everything
//! for people (progress, the summary, warnings, errors) goes to standard error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::artifact::{Artifact, File, is_plain_name};
use crate::backend::Backend;
use crate::cache::{blocking, copy_file, copy_tree_until, room_for_file, write_file};
use crate::error::{Error, Result};
use crate::graph::Plan;
use crate::report::say;
use crate::report::{Redactor, columns, padded, plural, print, shown};
use crate::run::options::{EXIT_OK, EXIT_USAGE};
use crate::run::plan::Explained;
use crate::run::summary::RunSummary;

/// Each final output of `plan` with its name: the label of the node that made it as it is
/// shown (a control character as its escape), a `/` of a nested pipeline as `-`, with `-N`
/// after it when that node made several (`build-2` for the second part of a tuple).
fn named_outputs(plan: &Plan, summary: &RunSummary) -> Option<Vec<(String, Artifact)>> {
    let artifacts = summary.final_outputs(plan)?;
    let names = plan.outputs.iter().map(|(node, part)| {
        let label = &plan.nodes[node.index()].label;
        let parts = plan.outputs.iter().filter(|(n, _)| n == node).count();
        let label = shown(label).replace('/', "-");
        if parts > 1 {
            format!("{label}-{}", part + 1)
        } else {
            label
        }
    });
    Some(names.zip(artifacts).collect())
}

/// Prints each final output: a value in full, shown and redacted with `redactor` as every line
/// tanto prints is (a value that only reads like a secret is kept as it is, not shown as it
/// is), a folder or file by its digest (its files are in the store, read-only; `--out DIR`
/// copies them somewhere to use).
pub(super) fn print_outputs(plan: &Plan, summary: &RunSummary, redactor: &Redactor) {
    let Some(outputs) = named_outputs(plan, summary) else {
        return;
    };
    let (mut stored, mut images) = (false, false);
    for (name, artifact) in outputs {
        let name = shown(&name);
        match artifact {
            Artifact::Dir(d) => {
                stored = true;
                print(&format!("output {name}: dir {}\n", d.digest().short()));
            }
            Artifact::File(f) => {
                stored = true;
                print(&format!("output {name}: file {}\n", f.digest().short()));
            }
            Artifact::Value(v) if v.is_null() => {}
            Artifact::Value(v) => {
                let value = shown(&redactor.redact(&v.to_string()));
                print(&format!("output {name}: {value}\n"));
            }
            Artifact::Secret(_) => print(&format!("output {name}: a secret, never shown\n")),
            // The daemon's id first: what `docker run` takes.
            Artifact::Image(i) => {
                images = true;
                print(&format!(
                    "output {name}: image {} (content {})\n",
                    i.id(),
                    i.digest().short()
                ));
            }
        }
    }
    match (stored, images) {
        (false, false) => {}
        (true, false) => say!("tanto: `--out DIR` writes the folders and files above to DIR"),
        (false, true) => {
            say!("tanto: `--out DIR` writes each image above to DIR as a tarball for `docker load`")
        }
        (true, true) => say!(
            "tanto: `--out DIR` writes the folders and files above to DIR, and each image as a \
             tarball for `docker load`"
        ),
    }
}

/// Checks, before anything runs, that `--out` names a folder that is there and writable or
/// can be made: one that cannot (a file in its path, a read-only place) is a usage error now
/// rather than a failure after the run, when a release pipeline may have pushed already. The
/// file and folders made to find out are removed again at once.
pub(super) fn check_out_dir(out: &Path) -> Result<()> {
    if out.is_dir() {
        return tempfile::Builder::new()
            .prefix(".tanto-check-")
            .tempfile_in(out)
            .map(drop)
            .map_err(|e| {
                // The kind alone: the error names the random file tried.
                Error::Usage(format!(
                    "--out: cannot write in the folder `{}`: {}; name a writable one",
                    out.display(),
                    std::io::Error::from(e.kind())
                ))
            });
    }
    if out.exists() {
        return Err(Error::Usage(format!(
            "--out: `{}` is a file; name a folder (it is created when missing)",
            out.display()
        )));
    }
    let missing: Vec<&Path> = out.ancestors().take_while(|a| !a.exists()).collect();
    let made = std::fs::create_dir_all(out);
    for folder in missing {
        let _ = std::fs::remove_dir(folder);
    }
    made.map_err(|e| {
        Error::Usage(format!(
            "--out: cannot create the folder `{}`: {e}; name one that can be made",
            out.display()
        ))
    })
}

/// Copies the pipeline's final outputs into `out`: folders merged in, files by the name they
/// were captured by, values as `NAME.json` after the step that made them, images as
/// `NAME.tar`, which `docker load` names after NAME as a repository name may hold it
/// ([`image_tag`]). Returns how many outputs were written.
///
/// Nothing outside `out` is created or written, whatever the outputs or an earlier export
/// hold: a link is copied as a link and never written through, and a file or link an earlier
/// export left under a name is replaced; a folder or file with content in the way of the
/// other kind is an error, never removed (see [`copy_tree`](crate::cache::copy_tree)).
///
/// Ctrl-C (`interrupted`) stops it with [`Error::Cancelled`], between two files or part way
/// through a large one: each file under `out` is then as it was or whole, as after any
/// failure (written beside and renamed into place).
pub(super) async fn export_outputs(
    plan: &Plan,
    summary: &RunSummary,
    out: &Path,
    backend: &dyn Backend,
    interrupted: &CancellationToken,
) -> Result<usize> {
    let outputs = named_outputs(plan, summary)
        .ok_or_else(|| Error::Other("the pipeline produced no outputs to export".into()))?;
    if outputs.is_empty() {
        return Ok(0);
    }
    if outputs.len() > 1 {
        clashes(&outputs)?;
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(format!("create {}", out.display()), e))?;
    for (name, artifact) in &outputs {
        if interrupted.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let stopped = interrupted.clone();
        let stop = move || stopped.is_cancelled();
        let out = out.to_owned();
        match artifact {
            Artifact::Dir(d) => {
                let from = d.path().to_owned();
                blocking(move || copy_tree_until(&from, &out, &stop)).await?;
            }
            Artifact::File(f) => {
                let (from, to) = (f.path().to_owned(), out.join(file_name(f, name)));
                blocking(move || copy_file(&from, &to, &stop)).await?;
            }
            Artifact::Value(v) => {
                write_file(&out.join(format!("{name}.json")), v.to_string().as_bytes())?
            }
            Artifact::Secret(_) => {
                return Err(Error::Usage(format!(
                    "output `{name}` is a secret, and secrets are never written"
                )));
            }
            Artifact::Image(i) => {
                // A `docker save` tarball with the name as its tag, so `docker load` names it.
                let tag = image_tag(name);
                let dest = out.join(format!("{name}.tar"));
                room_for_file(&dest)?;
                // Dropped on Ctrl-C, the save removes what it wrote beside `dest`.
                tokio::select! {
                    saved = backend.save_image(i.id(), &tag, &dest) => saved?,
                    () = interrupted.cancelled() => return Err(Error::Cancelled),
                }
            }
        }
    }
    Ok(outputs.len())
}

/// Checks, before anything is written, that no two outputs write the same path under `--out`
/// (two folders may share a folder, nothing else): the later would silently replace what the
/// earlier wrote.
fn clashes(outputs: &[(String, Artifact)]) -> Result<()> {
    let mut written: HashMap<PathBuf, (&str, bool)> = HashMap::new();
    for (name, artifact) in outputs {
        let mut paths = Vec::new();
        match artifact {
            Artifact::Dir(d) => tree_paths(d.path(), Path::new(""), &mut paths)?,
            Artifact::File(f) => paths.push((PathBuf::from(file_name(f, name)), false)),
            Artifact::Value(_) => paths.push((PathBuf::from(format!("{name}.json")), false)),
            Artifact::Image(_) => paths.push((PathBuf::from(format!("{name}.tar")), false)),
            Artifact::Secret(_) => {}
        }
        for (path, is_dir) in paths {
            match written.get(&path) {
                Some(&(_, true)) if is_dir => {}
                Some(&(other, _)) => {
                    return Err(Error::Usage(format!(
                        "outputs `{other}` and `{name}` both write `{}`, and one would replace the other; nothing was written: export them to separate folders, or rename one",
                        path.display()
                    )));
                }
                None => {
                    written.insert(path, (name, is_dir));
                }
            }
        }
    }
    Ok(())
}

/// Every path under `root` (relative, after `rel`), and whether it is a real folder; links
/// are not followed.
fn tree_paths(root: &Path, rel: &Path, out: &mut Vec<(PathBuf, bool)>) -> Result<()> {
    let dir = root.join(rel);
    let entries =
        std::fs::read_dir(&dir).map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
        let path = rel.join(entry.file_name());
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            tree_paths(root, &path, out)?;
        }
        out.push((path, is_dir));
    }
    Ok(())
}

/// The name a file output is exported as: the name it was captured by, else its own file
/// name (a host file's), else the output's name; only ever one plain file name.
/// The tag an image output's tarball carries: its output's name as an OCI repository name
/// may hold it, `:latest`. Letters are lowercased, and any run of characters but `a`–`z` and
/// `0`–`9` between two of those becomes the one `.` or `_` it is, or else `-`: a step fn may be
/// named `Package` (with `non_snake_case` allowed) or `paquet_été`, and `docker load` refuses
/// a tarball whose tag is no reference, such as `paquet_été:latest`.
fn image_tag(name: &str) -> String {
    const MAX: usize = 128;
    let mut repo = String::new();
    let mut gap: Option<char> = None;
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            let sep = gap.take().filter(|_| !repo.is_empty());
            if repo.len() + usize::from(sep.is_some()) >= MAX {
                break;
            }
            repo.extend(sep);
            repo.push(c);
        } else {
            gap = Some(match (gap, c) {
                (None, '.' | '_') => c,
                _ => '-',
            });
        }
    }
    if repo.is_empty() {
        repo.push_str("output");
    }
    format!("{repo}:latest")
}

fn file_name(file: &File, output: &str) -> String {
    let own = file
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    file.name()
        .map(str::to_owned)
        .or(own)
        .filter(|n| is_plain_name(n))
        .unwrap_or_else(|| output.to_owned())
}

/// The plan's lines: each step's verdict and its reason (or, for a hit, the record it found),
/// with its key part by part under it when `--plan STEP` named it, then each note on what code
/// keys cover, once, with the steps it is about.
fn plan_lines(explained: &[&Explained]) -> String {
    let labels: Vec<String> = explained.iter().map(|e| shown(&e.label)).collect();
    let width = labels.iter().map(|l| columns(l)).max().unwrap_or(4);
    let mut text = String::new();
    let mut notes: Vec<(&str, Vec<&str>)> = Vec::new();
    for (e, label) in explained.iter().zip(&labels) {
        let verdict = match (e.cached, e.may) {
            (true, _) => "cached",
            (false, true) => "maybe",
            (false, false) => "run",
        };
        let said = match (&e.reason, &e.hit) {
            (Some(reason), _) => Some(shown(reason)),
            (None, Some(hit)) => Some(format!(
                "hit record {}{}, made {} (the step ran {:.1} s)",
                hit.record,
                if hit.remote {
                    " on the shared cache"
                } else {
                    ""
                },
                hit.made,
                hit.ran.as_secs_f64()
            )),
            (None, None) => None,
        };
        match said {
            Some(said) => {
                text.push_str(&format!("{verdict:<7} {}  {said}\n", padded(label, width)))
            }
            None => text.push_str(&format!("{verdict:<7} {label}\n")),
        }
        for line in &e.detail {
            text.push_str(&format!("{:8}{}\n", "", shown(line)));
        }
        if let Some(note) = &e.note {
            match notes.iter_mut().find(|(n, _)| n == note) {
                Some((_, steps)) => steps.push(label),
                None => notes.push((note, vec![label])),
            }
        }
    }
    for (note, steps) in notes {
        let steps: Vec<String> = steps.iter().map(|s| format!("`{s}`")).collect();
        text.push_str(&format!("note on {}: {}\n", steps.join(", "), shown(note)));
    }
    text
}

/// Prints `--plan`'s verdict for each step (only those named after `--plan`, when some are),
/// then how many would run.
pub(super) fn print_plan(explained: &[Explained], only: &[String]) -> u8 {
    let shown: Vec<&Explained> = explained
        .iter()
        .filter(|e| only.is_empty() || only.contains(&e.label))
        .collect();
    let mut text = plan_lines(&shown);
    // The count is the whole pipeline's, whatever was shown.
    let shown_here = match shown.len() {
        n if only.is_empty() || n == explained.len() => String::new(),
        n => format!(" ({n} shown)"),
    };
    text.push_str(&format!(
        "\n{}{shown_here}\n",
        counted(explained, &explained.iter().collect::<Vec<_>>())
    ));
    print(&text);
    EXIT_OK
}

/// How many of `explained`'s steps `those` would run for sure, and how many more may.
fn counted(explained: &[Explained], those: &[&Explained]) -> String {
    let runs = those.iter().filter(|e| !e.cached && !e.may).count();
    let may = those.iter().filter(|e| !e.cached && e.may).count();
    let more = match may {
        0 => String::new(),
        n => format!(", and {n} more may, if what they take from those changes"),
    };
    format!(
        "{runs} of {} would run{more}",
        plural(explained.len(), "step")
    )
}

/// `--require-cache`: `None` when every step is cached (side effects and what follows them
/// aside); otherwise prints, on standard error, why each other step would run, and returns
/// the exit code.
pub(super) fn require_cache(explained: &[Explained]) -> Option<u8> {
    let missing: Vec<&Explained> = explained
        .iter()
        .filter(|e| !e.cached && !e.after_side_effect)
        .collect();
    if missing.is_empty() {
        return None;
    }
    say!(
        "error: --require-cache: {}:\n{}",
        counted(explained, &missing),
        plan_lines(&missing).trim_end_matches('\n')
    );
    Some(EXIT_USAGE)
}

/// `--plan --progress json`: the plan as one JSON object on standard output, for tools:
/// `{"pipeline":"ci","steps":[{"step":"fmt","cached":false,"may_run":false,"reason":"…","hit":null,"note":null}],"would_run":1,"may_run":0}`
/// (`may_run`: the step runs only if what steps that will run make for it changes),
/// where a hit is `{"record":"3f2a9c1b0d4e","made":"2026-11-30 13:45:02 UTC","ran_ms":1400,
/// "remote":false}` (`remote`: the shared cache holds it, the local store does not)
/// and a note says what the step's code key covers when it is not exactly what the step uses.
pub(super) fn print_plan_json(plan: &Plan, explained: &[Explained]) -> u8 {
    let steps: Vec<serde_json::Value> = explained
        .iter()
        .map(|e| {
            let hit = e.hit.as_ref().map(|h| {
                serde_json::json!({
                    "record": h.record,
                    "made": h.made,
                    "ran_ms": h.ran.as_millis(),
                    "remote": h.remote,
                })
            });
            serde_json::json!({
                "step": e.label,
                "cached": e.cached,
                "may_run": e.may,
                "reason": e.reason,
                "hit": hit,
                "note": e.note,
            })
        })
        .collect();
    let count = |may| {
        explained
            .iter()
            .filter(|e| !e.cached && e.may == may)
            .count()
    };
    let json = serde_json::json!({
        "pipeline": plan.pipeline.name,
        "steps": steps,
        "would_run": count(false),
        "may_run": count(true),
    });
    print(&format!("{json}\n"));
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explained(label: &str, cached: bool) -> Explained {
        Explained {
            label: label.to_owned(),
            cached,
            may: false,
            reason: (!cached).then(|| format!("upstream `{label}` will run")),
            hit: None,
            note: Some("the crate's code key".to_owned()),
            after_side_effect: false,
            detail: Vec::new(),
        }
    }

    #[test]
    fn an_image_outputs_tag_is_a_reference_docker_load_takes() {
        for (name, tag) in [
            ("package", "package:latest"),
            ("outer-package-2", "outer-package-2:latest"),
            ("my_image.v2", "my_image.v2:latest"),
            ("Package", "package:latest"),
            ("paquet_été", "paquet-t:latest"),
            ("a__b..c", "a-b-c:latest"),
            ("[\\u{a}]", "u-a:latest"),
            ("∕", "output:latest"),
        ] {
            assert_eq!(image_tag(name), tag, "{name}");
            let used = crate::backend::ReferenceUse::Push;
            assert_eq!(crate::backend::check_reference(tag, used), Ok(()), "{tag}");
        }
        let long = image_tag(&"x".repeat(300));
        assert_eq!(long, format!("{}:latest", "x".repeat(128)));
        // Cut where a separator would come last: the name still ends in a letter.
        let cut = image_tag(&format!("{}[y]", "x".repeat(127)));
        assert_eq!(cut, format!("{}:latest", "x".repeat(127)));
    }

    #[test]
    fn the_plan_shows_labels_never_obeys_them_and_lines_up_as_printed() {
        let steps = [
            explained("pair[a\n::error::x,\u{1b}[31m1]", false),
            explained("fmt", false),
        ];
        let text = plan_lines(&steps.iter().collect::<Vec<_>>());
        assert_eq!(
            text,
            "run     pair[a\\u{a}::error::x,1]  upstream `pair[a\\u{a}::error::x,1]` will run\n\
             run     fmt                       upstream `fmt` will run\n\
             note on `pair[a\\u{a}::error::x,1]`, `fmt`: the crate's code key\n"
        );
    }
}
