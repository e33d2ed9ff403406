//! Steps are named by path from other modules, and `use` brings them in, like any item.
use tanto::__internal::graph::Plan;
use tanto::prelude::*;

mod rust {
    pub mod steps {
        use tanto::prelude::*;

        #[step(image = "rust:1.95-slim")]
        pub async fn clippy(_ctx: &Ctx, src: Dir) -> Result<()> {
            let _ = src;
            Ok(())
        }

        #[step(image = "rust:1.95-slim")]
        pub(crate) async fn doc(_ctx: &Ctx, src: Dir) -> Result<Dir> {
            Ok(src)
        }
    }
}

#[pipeline]
fn ci(src: Dir) -> Dir {
    use rust::steps::doc;
    rust::steps::clippy(src);
    doc(src)
}

fn main() {
    let plan = Plan::of::<ci>();
    let paths: Vec<&str> = plan.steps().map(|(_, s)| s.path).collect();
    assert_eq!(
        paths,
        [
            concat!(module_path!(), "::rust::steps::clippy"),
            concat!(module_path!(), "::rust::steps::doc"),
        ]
    );
}
