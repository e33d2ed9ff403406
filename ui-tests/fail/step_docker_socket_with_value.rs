use tanto::prelude::*;

#[step(docker_socket = true)]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
