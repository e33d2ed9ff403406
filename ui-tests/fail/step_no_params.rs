use tanto::prelude::*;

#[step]
async fn hello() -> Result<()> {
    Ok(())
}

fn main() {}
