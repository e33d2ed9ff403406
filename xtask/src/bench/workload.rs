//! The 20-step CI-shaped graph of row 2, as data: the tanto pipeline `ci20` in
//! `e2e/src/bench.rs` spells out the same steps, and this module writes the two baselines
//! from it, `bench/ci20.Dockerfile` (BuildKit) and `bench/ci20.sh` (sequential `docker run`s).
//!
//! Each step runs one script in busybox with the source tree at `/src` (when it reads it) and
//! its upstream outputs as files `/in/0`, `/in/1`…; its output is the script's stdout. The
//! three implementations must end with the same `gate` output, which the row checks.

use std::collections::HashMap;

/// The image every step runs in.
pub(crate) const IMAGE: &str = "tanto-test/busybox:latest";

/// One step of the graph.
pub(crate) struct Step {
    /// Its role, and its stage and output file name in the baselines.
    pub(crate) name: &'static str,
    /// Whether it reads the source tree.
    pub(crate) src: bool,
    /// The steps whose outputs it reads, as `/in/0`, `/in/1`…
    pub(crate) after: &'static [&'static str],
    /// The shell script; no quotes, so it fits every baseline unescaped.
    pub(crate) script: &'static str,
}

const fn step(
    name: &'static str,
    src: bool,
    after: &'static [&'static str],
    script: &'static str,
) -> Step {
    Step {
        name,
        src,
        after,
        script,
    }
}

/// The steps in the order of the pipeline body.
pub(crate) const CI20: [Step; 20] = [
    step(
        "manifest",
        true,
        &[],
        "cat /src/Cargo.toml /src/Cargo.lock | md5sum",
    ),
    step("fmt", true, &[], "find /src -type f | sort | md5sum"),
    step(
        "lint",
        true,
        &[],
        "grep -r -c fn /src/crates | sort | md5sum",
    ),
    step(
        "audit",
        false,
        &["manifest"],
        "(cat /in/0; echo audit) | md5sum",
    ),
    step(
        "build",
        true,
        &["manifest"],
        "(cat /in/0; find /src/crates -type f | sort | xargs cat) | md5sum",
    ),
    step("unit", false, &["build"], "(cat /in/0; echo unit) | md5sum"),
    step(
        "integ",
        false,
        &["build"],
        "(cat /in/0; echo integ) | md5sum",
    ),
    step(
        "doctest",
        false,
        &["build"],
        "(cat /in/0; echo doctest) | md5sum",
    ),
    step(
        "smoke",
        false,
        &["build"],
        "(cat /in/0; echo smoke) | md5sum",
    ),
    step(
        "coverage",
        false,
        &["unit", "integ"],
        "(cat /in/0 /in/1; echo coverage) | md5sum",
    ),
    step(
        "package",
        false,
        &["build"],
        "(cat /in/0; echo package) | md5sum",
    ),
    step(
        "sbom",
        false,
        &["package"],
        "(cat /in/0; echo sbom) | md5sum",
    ),
    step("sign", false, &["sbom"], "(cat /in/0; echo sign) | md5sum"),
    step(
        "upload",
        false,
        &["sign"],
        "(cat /in/0; echo upload) | md5sum",
    ),
    step(
        "notify",
        false,
        &["upload"],
        "(cat /in/0; echo notify) | md5sum",
    ),
    step("docs", true, &["build"], "(cat /in/0 /src/docs/*) | md5sum"),
    step(
        "links",
        false,
        &["docs"],
        "(cat /in/0; echo links) | md5sum",
    ),
    step("license", true, &[], "grep -r -L SPDX /src/crates | wc -l"),
    step(
        "report",
        false,
        &["coverage", "doctest", "smoke"],
        "(cat /in/0 /in/1 /in/2; echo report) | md5sum",
    ),
    step(
        "gate",
        false,
        &["report", "notify", "lint"],
        "(cat /in/0 /in/1 /in/2; echo gate) | md5sum",
    ),
];

/// The step whose output is the pipeline's result.
pub(crate) const FINAL: &str = "gate";

/// The steps no other step reads: the BuildKit result stage collects them all, so BuildKit
/// builds every stage as tanto runs every step.
pub(crate) fn leaves() -> Vec<&'static str> {
    CI20.iter()
        .map(|s| s.name)
        .filter(|n| !CI20.iter().any(|s| s.after.contains(n)))
        .collect()
}

/// Each step's label in tanto's events: the generic step fn it calls, suffixed `-2`, `-3`…
/// by call order, as the pipeline builder names repeated calls.
pub(crate) fn labels() -> HashMap<String, &'static str> {
    let mut uses: HashMap<String, usize> = HashMap::new();
    let mut labels = HashMap::new();
    for s in &CI20 {
        let kind = match (s.src, s.after.len()) {
            (true, 0) => "src0".to_owned(),
            (true, _) => "src1".to_owned(),
            (false, n) => format!("val{n}"),
        };
        let n = uses.entry(kind.clone()).or_insert(0);
        *n += 1;
        let label = if *n == 1 { kind } else { format!("{kind}-{n}") };
        labels.insert(label, s.name);
    }
    labels
}

/// The longest path through the graph when each step takes `ms[name]`.
pub(crate) fn critical_path(ms: &HashMap<String, f64>) -> Result<f64, String> {
    let mut finish: HashMap<&str, f64> = HashMap::new();
    for s in &CI20 {
        let own = ms
            .get(s.name)
            .ok_or_else(|| format!("no time for step `{}`", s.name))?;
        let start = s
            .after
            .iter()
            .map(|d| finish.get(d).copied().unwrap_or(0.0))
            .fold(0.0, f64::max);
        finish.insert(s.name, start + own);
    }
    Ok(finish.values().copied().fold(0.0, f64::max))
}

/// The multi-stage Dockerfile: one stage per step, the build context bind-mounted at `/src`
/// and upstream outputs bind-mounted from their stages, like tanto's read-only mounts.
pub(crate) fn dockerfile() -> String {
    let mut out = String::from(
        "# Generated by `cargo xtask bench` from xtask/src/bench/workload.rs; do not edit.\n\
         # Row 2's 20-step graph as a BuildKit build; the context is the source tree:\n\
         #   DOCKER_BUILDKIT=1 docker build --pull=false -f bench/ci20.Dockerfile \\\n\
         #     --build-arg BUST=$RANDOM --target result -o type=local,dest=OUT SRC\n\
         # A new BUST makes every stage miss (a cold build) without pruning the daemon's cache.\n",
    );
    for s in &CI20 {
        out.push_str(&format!("\nFROM {IMAGE} AS {}\nARG BUST\nRUN", s.name));
        if s.src {
            out.push_str(" --mount=type=bind,target=/src");
        }
        for (i, dep) in s.after.iter().enumerate() {
            out.push_str(&format!(
                " \\\n    --mount=type=bind,from={dep},source=/out/r,target=/in/{i}"
            ));
        }
        out.push_str(&format!(
            " \\\n    [\"sh\", \"-c\", \"mkdir -p /out && ({}) > /out/r\"]\n",
            s.script
        ));
    }
    out.push_str("\nFROM scratch AS result\n");
    for leaf in leaves() {
        out.push_str(&format!("COPY --from={leaf} /out/r /{leaf}\n"));
    }
    out
}

/// The naive baseline: every step a `docker run --rm`, one after another, no caching.
pub(crate) fn shell_script() -> String {
    let mut out = String::from(
        "#!/bin/sh\n\
         # Generated by `cargo xtask bench` from xtask/src/bench/workload.rs; do not edit.\n\
         # Row 2's naive baseline: each step one `docker run --rm`, in order, nothing cached.\n\
         # usage: bench/ci20.sh SRC OUT   (writes OUT/STEP; prints `step NAME MS` on stderr)\n\
         set -eu\n\
         SRC=$(cd \"$1\" && pwd)\n\
         mkdir -p \"$2\"\n\
         OUT=$(cd \"$2\" && pwd)\n\
         now() { date +%s%3N; }\n\
         step() {\n\
         \x20 name=$1\n\
         \x20 shift\n\
         \x20 t0=$(now)\n\
         \x20 docker run --rm --network=none \"$@\" > \"$OUT/$name\"\n\
         \x20 echo \"step $name $(($(now) - t0))\" >&2\n\
         }\n\n",
    );
    for s in &CI20 {
        out.push_str(&format!("step {}", s.name));
        if s.src {
            out.push_str(" -v \"$SRC:/src:ro\"");
        }
        for (i, dep) in s.after.iter().enumerate() {
            out.push_str(&format!(" -v \"$OUT/{dep}:/in/{i}:ro\""));
        }
        out.push_str(&format!(" {IMAGE} sh -c '{}'\n", s.script));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_is_ordered_and_quote_free() {
        for (i, s) in CI20.iter().enumerate() {
            for dep in s.after {
                assert!(
                    CI20[..i].iter().any(|d| d.name == *dep),
                    "{} reads {dep} before it",
                    s.name
                );
            }
            assert!(!s.script.contains(['\'', '"', '\\']), "{}", s.name);
        }
        assert_eq!(labels().len(), 20);
        assert!(leaves().contains(&FINAL));
    }

    #[test]
    fn critical_path_follows_the_longest_chain() {
        let ms = CI20.iter().map(|s| (s.name.to_owned(), 1.0)).collect();
        assert_eq!(critical_path(&ms), Ok(8.0));
    }
}
