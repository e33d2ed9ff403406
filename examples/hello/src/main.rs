//! The smallest real tanto pipeline: four steps in a diamond over a source folder, each in a
//! busybox container.
//!
//! ```text
//! cargo run -p hello -- ci --src some/folder
//! ```

use std::process::ExitCode;

use tanto::prelude::*;

/// Lists the files of `src`, one relative path per line, sorted.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn list_files(ctx: &Ctx, src: Dir) -> Result<File> {
    let c = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .with_workdir("/src");
    c.sh("find . -type f | sort > /tmp/files.txt").await?;
    c.file("/tmp/files.txt").await
}

/// Counts the lines of every listed file.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn count_lines(ctx: &Ctx, src: Dir, files: File) -> Result<u64> {
    let out = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .with_file("/files.txt", &files)
        .with_workdir("/src")
        .sh("tr '\\n' '\\0' < /files.txt | xargs -0 -r cat | wc -l")
        .await?;
    // A `wc -l` that printed no number fails the step with the parse error, through `?`.
    Ok(out.stdout.trim().parse()?)
}

/// Computes the SHA-256 of every listed file.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn checksum(ctx: &Ctx, src: Dir, files: File) -> Result<File> {
    let c = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .with_file("/files.txt", &files)
        .with_workdir("/src");
    c.sh("tr '\\n' '\\0' < /files.txt | xargs -0 -r sha256sum > /tmp/sums.txt")
        .await?;
    c.file("/tmp/sums.txt").await
}

/// Joins the listing, the line count and the checksums into a report folder.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn report(ctx: &Ctx, files: File, lines: u64, sums: File) -> Result<Dir> {
    let c = ctx
        .container()
        .with_file("/in/files.txt", &files)
        .with_file("/in/sums.txt", &sums);
    c.sh(&format!(
        "mkdir -p /out && cp /in/files.txt /in/sums.txt /out/ && \
         printf 'files: %s\\nlines: {lines}\\n' \"$(wc -l < /in/files.txt)\" > /out/summary.txt"
    ))
    .await?;
    c.dir("/out").await
}

/// Lists, measures and checksums a folder, then writes a report.
///
/// Four steps in a diamond: `list_files` feeds `count_lines` and `checksum`, which run in
/// parallel, and `report` joins all three.
#[pipeline]
pub fn ci(src: Dir) -> Dir {
    let files = list_files(src);
    let lines = count_lines(src, files);
    let sums = checksum(src, files);
    report(files, lines, sums)
}

fn main() -> ExitCode {
    tanto::cli().pipeline(ci).run()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step is an ordinary async fn: called directly, with a standalone context, it runs in
    /// a real container.
    #[tokio::test]
    async fn list_files_lists_a_folder_called_directly() -> Result<()> {
        let folder = tempfile::tempdir()?;
        std::fs::create_dir(folder.path().join("src"))?;
        std::fs::write(folder.path().join("src/lib.rs"), "pub fn f() {}\n")?;
        std::fs::write(folder.path().join("README"), "hello\n")?;
        std::fs::write(folder.path().join(".gitignore"), "*.log\n")?;
        std::fs::write(folder.path().join("debug.log"), "ignored\n")?;

        let ctx = Ctx::standalone::<list_files>().await?; // Docker at DOCKER_HOST; a temporary store
        let src = ctx.host_dir(folder.path())?; // bound like `--src`, .gitignore honoured
        let files = list_files(&ctx, src).await?;
        ctx.close().await?;
        assert_eq!(
            files.read_to_string()?,
            "./.gitignore\n./README\n./src/lib.rs\n"
        );
        Ok(())
    }
}
