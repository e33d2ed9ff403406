//! The step stays an ordinary async fn: it can be called (and unit tested) as itself.
use tanto::prelude::*;

/// Counts the lines of a file.
#[step]
pub async fn count_lines(_ctx: &Ctx, file: File, at_least: usize) -> Result<usize> {
    let lines = file.read_to_string()?.lines().count();
    Ok(lines.max(at_least))
}

#[allow(dead_code)]
async fn unit_test(ctx: &Ctx, file: File) -> Result<()> {
    let n: usize = count_lines(ctx, file, 1).await?;
    assert!(n >= 1);
    Ok(())
}

fn main() {}
