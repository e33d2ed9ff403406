//! Reusable steps for container images: [`publish`] pushes an [`Image`] to a registry.
//!
//! ```no_run
//! use tanto::prelude::*;
//! use image_steps::publish;
//!
//! #[step(image = "tanto-test/busybox:latest")]
//! async fn package(ctx: &Ctx) -> Result<Image> {
//!     ctx.container().with_cmd(["sh"]).snapshot().await
//! }
//!
//! /// Builds the image and pushes it as `--reference HOST:PORT/NAME:TAG` (checked before
//! /// anything runs); prints the manifest digest.
//! #[pipeline]
//! fn ship(reference: PushTarget, password: Secret) -> String {
//!     let image = package();
//!     publish(image, reference, "ci", password)
//! }
//! ```

use tanto::prelude::*;

/// Pushes `image` to its registry as `reference` (`host:port/name:tag`), logged in as
/// `username` with `password`, and returns the manifest digest (`sha256:…`) the registry
/// stored, so `docker pull host:port/name@DIGEST` gets exactly this image.
///
/// A side effect, so never cached. The password goes to the daemon in the push's auth header
/// only; a registry that is down or refuses the credentials fails the step with a message
/// naming the registry and the cause, and never the password.
#[step(side_effect)]
pub async fn publish(
    ctx: &Ctx,
    image: Image,
    reference: PushTarget,
    username: String,
    password: Secret,
) -> Result<String> {
    ctx.push_image(&image, &reference, &username, &password)
        .await
}
