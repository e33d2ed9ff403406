//! Pipelines for folder inputs and outputs: what a step sees of a folder, an early-cutoff
//! chain, a folder or file kept as an output, and a failed step to open a shell into.

use tanto::prelude::*;

/// The sorted names of the files in `src`, without their content.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn names(ctx: &Ctx, src: Dir) -> Result<String> {
    let out = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .with_workdir("/src")
        .sh("find . -type f | sort")
        .await?;
    Ok(out.stdout)
}

/// Upper-cases its input.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn shout(ctx: &Ctx, text: String) -> Result<String> {
    let out = ctx
        .container()
        .with_new_file("/in.txt", text)
        .sh("tr a-z A-Z < /in.txt")
        .await?;
    Ok(out.stdout)
}

/// Prints the content of every file under `src` that has any.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn contents(ctx: &Ctx, src: Dir) -> Result<String> {
    let out = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .with_workdir("/src")
        .sh("find . -type f ! -empty | sort | xargs -r cat")
        .await?;
    Ok(out.stdout)
}

/// Reads the files of `src` that count: its sources and manifests, never `src/fixtures`.
#[pipeline]
pub fn selected(
    #[dir(include = ["src/**", "Cargo.*"], exclude = "src/fixtures/**")] src: Dir,
) -> String {
    contents(src)
}

/// A selection with a glob that does not parse.
#[pipeline]
pub fn bad_glob(#[dir(include = "src/[")] src: Dir) -> String {
    contents(src)
}

/// `names` feeds `shout`: editing a file's content re-runs `names`, whose output is the same,
/// so `shout` stays cached.
#[pipeline]
pub fn cutoff(src: Dir) -> String {
    let listed = names(src);
    shout(listed)
}

/// `names` alone: a second pipeline sharing `cutoff`'s first step.
#[pipeline]
pub fn names_only(src: Dir) -> String {
    names(src)
}

/// Counts the files of `src`, slowly, so a test can edit `src` meanwhile.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn slow_count(ctx: &Ctx, src: Dir) -> Result<String> {
    let out = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .sh("sleep 2; find /src -type f | wc -l")
        .await?;
    Ok(out.stdout)
}

/// One slow step over `src`.
#[pipeline]
pub fn slow(src: Dir) -> String {
    slow_count(src)
}

/// Copies `src` into a folder of its own and returns it.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn pack(ctx: &Ctx, src: Dir) -> Result<Dir> {
    let c = ctx.container().with_mounted_dir("/src", &src);
    c.sh("mkdir -p /out && cp -R /src/. /out/").await?;
    c.dir("/out").await
}

/// One step whose output is a folder, held in the store as blobs and trees.
#[pipeline]
pub fn packed(src: Dir) -> Dir {
    pack(src)
}

/// Looks at `src`, then fails.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn probe(ctx: &Ctx, src: Dir) -> Result<()> {
    let c = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .with_workdir("/src")
        .with_env("PROBE", "on");
    c.sh("echo probing > /tmp/probe.log; exit 3").await?;
    Ok(())
}

/// A step that fails with a folder mounted: what `-i` opens a shell into.
#[pipeline]
pub fn probe_fail(src: Dir) {
    probe(src);
}

/// Lists what `pack` made, beside the file `saved` made and one of its own bytes, with a
/// secret in its env.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn look(ctx: &Ctx, made: Dir, note: File, token: Secret) -> Result<String> {
    let c = ctx
        .container()
        .with_mounted_dir("/in", &made)
        .with_file("/note.txt", &note)
        .with_new_file("/own.txt", "own\n")
        .with_secret_env("TOKEN", &token)
        .with_workdir("/in")
        .with_env("LOOKING", "yes");
    Ok(c.sh("ls").await?.stdout)
}

/// `pack` and `saved` feed `look`: a step whose inputs, a folder and a file, come from other
/// steps, through the cache; `shell look` needs neither `--note` nor `--token`.
#[pipeline]
pub fn unpacked(src: Dir, note: String, token: Secret) -> String {
    let made = pack(src);
    let note = saved(note);
    look(made, note, token)
}

/// How `src` reaches the container: the number of mounts at or under `/src` (0: uploaded),
/// then every entry's name, then the content of the files that have any.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn shown(ctx: &Ctx, src: Dir) -> Result<String> {
    let out = ctx
        .container()
        .with_mounted_dir("/src", &src)
        .with_workdir("/src")
        .sh(r#"echo "mounts $(awk '$5 == "/src" || index($5, "/src/") == 1' /proc/self/mountinfo | wc -l)"
               find . -mindepth 1 | sort
               find . -type f ! -empty | sort | xargs -r cat"#)
        .await?;
    Ok(out.stdout)
}

/// Shows what a step sees of `src`, all but `secret/` and what `.gitignore` leaves out.
#[pipeline]
pub fn view(#[dir(exclude = "secret/**")] src: Dir) -> String {
    shown(src)
}

/// Writes `text` into a file in a container and keeps it: an output stored as a blob.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn saved(ctx: &Ctx, text: String) -> Result<File> {
    let c = ctx.container().with_new_file("/in.txt", text);
    c.sh("tr a-z A-Z < /in.txt > /out.txt").await?;
    c.file("/out.txt").await
}

/// One step whose output is a file in the store.
#[pipeline]
pub fn stored(text: String) -> File {
    saved(text)
}

/// The name `notes` has on the host, as the step's code sees it, and what it holds.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn file_name(_ctx: &Ctx, notes: File) -> Result<String> {
    let text = String::from_utf8_lossy(&notes.read()?).into_owned();
    Ok(format!("{} {text}", notes.name().unwrap_or("(none)")))
}

/// One step that reads a file's host name.
#[pipeline]
pub fn named_file(notes: File) -> String {
    file_name(notes)
}
