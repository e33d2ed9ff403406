//! The README's Rust blocks are pieces of files that compile: each block follows a
//! `<!-- mirrors PATH -->` line, and its text, split at `// …` elisions, appears in PATH in
//! order (each piece as consecutive lines, indentation aside). Editing the code without the
//! README, or the README without the code, fails here.

use std::path::Path;

/// A Rust block of the README: the file it mirrors, its first line number, its lines.
struct Block {
    mirrors: Option<String>,
    line: usize,
    lines: Vec<String>,
}

/// The Rust blocks of `readme`, each with the file its `<!-- mirrors PATH -->` line names.
fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut mirrors = None;
    let mut current: Option<Block> = None;
    for (i, line) in readme.lines().enumerate() {
        if let Some(block) = current.as_mut() {
            if line.trim_start().starts_with("```") {
                out.extend(current.take());
            } else {
                block.lines.push(line.to_owned());
            }
        } else if let Some(path) = line
            .strip_prefix("<!-- mirrors ")
            .and_then(|l| l.strip_suffix(" -->"))
        {
            mirrors = Some(path.to_owned());
        } else if line.starts_with("```rust") {
            current = Some(Block {
                mirrors: mirrors.take(),
                line: i + 1,
                lines: Vec::new(),
            });
        } else if !line.trim().is_empty() {
            // The comment names the block right below it, nothing further down.
            mirrors = None;
        }
    }
    out
}

/// The pieces of `lines` between `// …` elisions, without blank edges.
fn pieces(lines: &[String]) -> Vec<Vec<&str>> {
    lines
        .split(|l| l.trim_start().starts_with("// …"))
        .map(|piece| {
            let piece: Vec<&str> = piece.iter().map(String::as_str).collect();
            let start = piece.iter().position(|l| !l.trim().is_empty());
            let end = piece.iter().rposition(|l| !l.trim().is_empty());
            match (start, end) {
                (Some(s), Some(e)) => piece[s..=e].to_vec(),
                _ => Vec::new(),
            }
        })
        .filter(|piece| !piece.is_empty())
        .collect()
}

/// Where `piece` appears in `file` as consecutive lines at or after line `from`, each with
/// the same extra indentation; the line after it.
fn find(file: &[&str], piece: &[&str], from: usize) -> Option<usize> {
    (from..file.len()).find_map(|start| {
        let candidate = file.get(start..start + piece.len())?;
        let indent = candidate[0].len() - candidate[0].trim_start().len();
        let same = candidate.iter().zip(piece).all(|(have, want)| {
            if want.is_empty() {
                have.trim().is_empty()
            } else {
                have.get(indent..) == Some(*want) && have[..indent].trim().is_empty()
            }
        });
        same.then_some(start + piece.len())
    })
}

#[test]
fn every_rust_block_of_the_readme_mirrors_a_file_that_compiles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let blocks = blocks(&readme);
    assert!(
        blocks.len() >= 4,
        "the README's Rust blocks: {}",
        blocks.len()
    );
    for block in &blocks {
        let path = block.mirrors.as_deref().unwrap_or_else(|| {
            panic!(
                "README.md:{}: a Rust block needs a `<!-- mirrors PATH -->` line above it",
                block.line
            )
        });
        let text = std::fs::read_to_string(root.join(path))
            .unwrap_or_else(|e| panic!("README.md:{}: {path}: {e}", block.line));
        let file: Vec<&str> = text.lines().collect();
        let mut from = 0;
        for piece in pieces(&block.lines) {
            from = find(&file, &piece, from).unwrap_or_else(|| {
                panic!(
                    "README.md:{}: this is not in {path} (after line {from}) as it stands:\n{}",
                    block.line,
                    piece.join("\n")
                )
            });
        }
    }
}

#[test]
fn a_changed_line_or_a_missing_mirror_is_caught() {
    let file = ["fn main() {", "    let x = 1;", "    run(x);", "}"];
    let piece = |lines: &[&str]| lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
    let block = piece(&["let x = 1;", "run(x);"]);
    assert_eq!(find(&file, &pieces(&block)[0], 0), Some(3));
    let changed = piece(&["let x = 2;", "run(x);"]);
    assert_eq!(find(&file, &pieces(&changed)[0], 0), None);
    let elided = piece(&["fn main() {", "// … the body", "}"]);
    assert_eq!(pieces(&elided).len(), 2);
    let readme = "text\n\n<!-- mirrors a.rs -->\n```rust,ignore\nx\n```\n\nmore\n```rust\ny\n```\n";
    let found = blocks(readme);
    assert_eq!(found[0].mirrors.as_deref(), Some("a.rs"));
    assert_eq!(
        found[1].mirrors, None,
        "a comment names only the block below it"
    );
}
