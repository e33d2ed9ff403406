use tanto::prelude::*;

struct Steps;

impl Steps {
    #[step]
    async fn build(&self, ctx: &Ctx, src: Dir) -> Result<Dir> {
        let _ = ctx;
        Ok(src)
    }
}

fn main() {
    let _ = Steps;
}
