//! Keeps each step's full log on disk, so a failure can point at it.

use std::collections::HashMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::report::{Event, Stamped, View};
use crate::shown::kept;

/// The most characters of a label a log file's name keeps.
const NAME_MAX: usize = 64;

/// Writes every step's log lines to its own file under a folder: [`LogFiles::path_for`].
pub struct LogFiles {
    dir: PathBuf,
    open: HashMap<Arc<str>, BufWriter<fs::File>>,
}

impl LogFiles {
    /// Log files under `dir`, created on the first line.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            open: HashMap::new(),
        }
    }

    /// The log file of step `label` under `dir`: one file per label, so no two steps of a run
    /// share one and the `full log:` path a failure names is its own.
    ///
    /// A label of lowercase ASCII letters, digits, `-` and `_` names its file as it is,
    /// `build.log`. Any other is made such a name (each other character an `_`, cut at 64) and
    /// given the first 8 hex digits of the BLAKE3 hash of the whole label after a `.`, which
    /// no name of the first kind holds: `echo_item[q b]` is `echo_item_q_b_.5ae8e6dc.log`,
    /// apart from `echo_item[q_b]`'s, and a name differs from another's in more than its case,
    /// for folders that ignore case.
    pub fn path_for(dir: &Path, label: &str) -> PathBuf {
        let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if !label.is_empty() && label.len() <= NAME_MAX && label.chars().all(plain) {
            return dir.join(format!("{label}.log"));
        }
        let name: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(NAME_MAX)
            .collect();
        let hash = blake3::hash(label.as_bytes()).to_hex();
        dir.join(format!("{name}.{}.log", &hash[..8]))
    }

    fn writer(&mut self, step: &Arc<str>) -> Option<&mut BufWriter<fs::File>> {
        if !self.open.contains_key(&**step) {
            fs::create_dir_all(&self.dir).ok()?;
            let file = fs::File::create(Self::path_for(&self.dir, step)).ok()?;
            self.open.insert(Arc::clone(step), BufWriter::new(file));
        }
        self.open.get_mut(&**step)
    }
}

impl View for LogFiles {
    fn event(&mut self, stamped: &Stamped) {
        match &stamped.event {
            Event::StepLog { step, line, .. } => {
                if let Some(w) = self.writer(step) {
                    let _ = writeln!(w, "{}", kept(line));
                }
            }
            Event::StepNote { step, message } => {
                if let Some(w) = self.writer(step) {
                    let _ = writeln!(w, "tanto: {}", kept(message));
                }
            }
            Event::StepFailed { step, error, .. } => {
                if let Some(w) = self.writer(step) {
                    let kept: Vec<_> = error.lines().map(kept).collect();
                    let _ = writeln!(w, "error: {}", kept.join("\n"));
                    let _ = w.flush();
                }
            }
            Event::StepFinished { step, .. } => {
                if let Some(mut w) = self.open.remove(step) {
                    let _ = w.flush();
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self) {
        for w in self.open.values_mut() {
            let _ = w.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Stream;

    fn name(label: &str) -> String {
        let path = LogFiles::path_for(Path::new("/logs"), label);
        assert_eq!(path.parent(), Some(Path::new("/logs")), "{label}");
        path.file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{label}: {path:?}"))
    }

    #[test]
    fn a_plain_label_names_its_file_as_it_is() {
        assert_eq!(name("build"), "build.log");
        assert_eq!(name("test-x_1"), "test-x_1.log");
    }

    #[test]
    fn labels_that_sanitize_alike_get_files_of_their_own() {
        let long = |end: char| format!("matrix[{}{end}]", "a".repeat(200));
        let labels = [
            "echo_item[q b]".to_owned(),
            "echo_item[q,b]".to_owned(),
            "echo_item[q_b]".to_owned(),
            "echo_item_q_b_".to_owned(),
            "x[é]".to_owned(),
            "x[è]".to_owned(),
            "x[日本]".to_owned(),
            "Build".to_owned(),
            "build".to_owned(),
            "check[1.80]/fmt".to_owned(),
            "check_1_80__fmt".to_owned(),
            long('1'),
            long('2'),
        ];
        let names: Vec<String> = labels.iter().map(|l| name(l)).collect();
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(a.to_lowercase(), b.to_lowercase(), "{names:#?}");
            }
        }
        // Stable, readable, bounded.
        assert_eq!(name("echo_item[q b]"), names[0]);
        assert_eq!(
            names[0], "echo_item_q_b_.5ae8e6dc.log",
            "the example of the docs"
        );
        assert_eq!(names[3], "echo_item_q_b_.log");
        assert!(names[4].starts_with("x___."), "{}", names[4]);
        assert!(names[11].len() <= NAME_MAX + ".12345678.log".len());
    }

    #[test]
    fn each_step_writes_its_own_file() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut logs = LogFiles::new(dir.path());
        let labels = ["echo_item[q b]", "echo_item[q,b]", "echo_item[q_b]"];
        for label in labels {
            let step: Arc<str> = Arc::from(label);
            for event in [
                Event::StepLog {
                    step: Arc::clone(&step),
                    stream: Stream::Stdout,
                    line: format!("item of {label}"),
                },
                Event::StepFinished {
                    step,
                    duration_ms: 1,
                },
            ] {
                logs.event(&Stamped { ts_us: 0, event });
            }
        }
        logs.finish();
        for label in labels {
            let text = fs::read_to_string(LogFiles::path_for(dir.path(), label))
                .expect("the step's log file");
            assert_eq!(text, format!("item of {label}\n"));
        }
        let files = fs::read_dir(dir.path()).expect("the folder").count();
        assert_eq!(files, labels.len());
    }
}
