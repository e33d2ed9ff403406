//! The scheduler tests' shared set-up: steps for a fake runner, which never calls their fns.
#![allow(dead_code, unreachable_pub)]

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tanto::__internal::Artifact;
use tanto::__internal::graph::{CodeInfo, StepInfo, StepSettings};
use tanto::Ctx;

/// A step fn the fake runner never calls: it fails if it ever is.
pub fn never_called(_: &Ctx, _: Vec<Artifact>) -> BoxFuture<'_, tanto::Result<Vec<Artifact>>> {
    async {
        Err(tanto::Error::Other(
            "the fake runner never calls step fns".into(),
        ))
    }
    .boxed()
}

/// A step named `name` with no parameters, whose output is of type `output`.
pub const fn info(name: &'static str, output: &'static str) -> StepInfo {
    StepInfo {
        name,
        path: name,
        doc: "",
        tokens: "",
        code: CodeInfo::NONE,
        params: &[],
        output,
        settings: StepSettings::DEFAULT,
    }
}
