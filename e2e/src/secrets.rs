//! Pipelines for secrets: a step that shows its secret every way it can, one that fails with
//! it in a command's arguments, and one keyed by the secret's name only.

use tanto::prelude::*;

/// Shows `token` every way a careless step might: whole, in two halves with a pause between,
/// base64-encoded alone and after a user name (as a Basic auth header holds it), each byte
/// URL-escaped in lower case, split by a colour code, across the cut of a line past 64 KiB
/// (as it is, and with a colour code after each of its characters) and read back from its
/// file; then returns what it printed.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn leaky(ctx: &Ctx, token: Secret) -> Result<String> {
    let c = ctx
        .container()
        .with_secret_env("TOKEN", &token)
        .with_secret_file("/run/secrets/token", &token);
    let out = c
        .sh(r#"echo "whole: $TOKEN"
printf 'halves: %s' "$(printf %s "$TOKEN" | cut -c1-6)"; sleep 1; printf %s "$TOKEN" | cut -c7-
echo "base64: $(printf %s "$TOKEN" | base64)"
echo "basic: $(printf 'u:%s' "$TOKEN" | base64)"
echo "escaped: $(printf %s "$TOKEN" | od -An -tx1 | tr -d ' \n' | sed 's/../%&/g')"
{ head -c 65530 /dev/zero | tr '\0' x; echo "$TOKEN"; } >&2
E=$(printf '\033')
printf 'coloured: %s\033[0m%s\n' "$(printf %s "$TOKEN" | cut -c1-6)" "$(printf %s "$TOKEN" | cut -c7-)"
{ head -c 65530 /dev/zero | tr '\0' y; printf %s "$TOKEN" | sed "s/./&$E[1;31m/g"; echo; } >&2
echo "file: $(cat /run/secrets/token) $(stat -c %a /run/secrets/token)"
sleep 2"#)
        .await?;
    Ok(out.stdout)
}

/// Puts what the step printed, secret and all, in a failing command's arguments.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn leaky_fail(ctx: &Ctx, token: Secret) -> Result<()> {
    let c = ctx.container().with_secret_env("TOKEN", &token);
    let printed = c.sh("printf %s \"$TOKEN\"").await?.stdout;
    c.exec(["sh", "-c", "echo \"no luck with $0\" >&2; exit 4", &printed])
        .await?;
    Ok(())
}

/// Logs in with `token` and does something whose result does not depend on which token.
#[step(
    image = "tanto-test/busybox:latest",
    network = false,
    secret_in_key = false
)]
pub async fn with_any_token(ctx: &Ctx, token: Secret) -> Result<String> {
    let c = ctx.container().with_secret_env("TOKEN", &token);
    let out = c.sh("test -n \"$TOKEN\" && echo logged in").await?;
    Ok(out.stdout)
}

/// A step keyed by its secret's name only.
#[pipeline]
pub fn secret_by_name(token: Secret) -> String {
    with_any_token(token)
}

/// A step that shows its secret every way it can, and returns it.
#[pipeline]
pub fn secretive(token: Secret) -> String {
    leaky(token)
}

/// A step that fails with its secret in a command's arguments.
#[pipeline]
pub fn secretive_fail(token: Secret) {
    leaky_fail(token);
}

/// Returns `engine=postgres`, knowing no secret: a value that may read like one.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn db_name(ctx: &Ctx) -> Result<String> {
    let out = ctx.container().sh("echo postgres").await?;
    Ok(format!("engine={}", out.stdout.trim()))
}

/// The number of bytes of `name` as its container sees it.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn name_length(ctx: &Ctx, name: String) -> Result<String> {
    let out = ctx
        .container()
        .exec(["sh", "-c", "printf %s \"$0\" | wc -c", &name])
        .await?;
    Ok(out.stdout.trim().to_owned())
}

/// Puts `token` in a file: what a step downstream reads from it is a secret's value.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn token_file(ctx: &Ctx, token: Secret) -> Result<File> {
    let c = ctx.container().with_secret_env("TOKEN", &token);
    c.sh("printf 'engine=%s' \"$TOKEN\" > /token.txt").await?;
    c.file("/token.txt").await
}

/// Returns what `file` holds, knowing no secret itself.
#[step(image = "tanto-test/busybox:latest", network = false)]
pub async fn file_text(ctx: &Ctx, file: File) -> Result<String> {
    let out = ctx
        .container()
        .with_file("/in.txt", &file)
        .exec(["cat", "/in.txt"])
        .await?;
    Ok(out.stdout)
}

/// A value that reads like the secret from a step that cannot know it, its length downstream,
/// and the secret itself from a step downstream of one that had it.
#[pipeline]
pub fn lookalike(token: Secret) -> (String, String, String) {
    let name = db_name();
    let length = name_length(name);
    let file = token_file(token);
    let leaked = file_text(file);
    (name, length, leaked)
}
