//! The images a run's steps name: checked as references and resolved (pulled when missing)
//! before anything runs, since a bad or missing one is a configuration problem.

use crate::backend::{Backend, ImageId, ReferenceUse, check_reference};
use crate::error::{Error, Result};
use crate::graph::Plan;
use crate::report::say;
use crate::step::aliased;

/// The image of every step that names one, aliases applied, each once.
pub(super) fn plan_images(
    plan: &Plan,
    aliases: &[(String, String)],
) -> Result<Vec<String>, String> {
    let mut images: Vec<String> = Vec::new();
    for (_, info) in plan.steps() {
        let Some(declared) = info.settings.image else {
            continue;
        };
        let image = aliased(aliases, declared);
        if let Err(why) = check_reference(image, ReferenceUse::Run) {
            let from = if image == declared {
                String::new()
            } else {
                format!(" (the alias of `{declared}`)")
            };
            return Err(format!(
                "step `{}`: its image `{image}`{from} is not an image reference: {why}",
                info.name
            ));
        }
        images.push(image.to_owned());
    }
    images.sort_unstable();
    images.dedup();
    Ok(images)
}

/// Resolves `images`, pulling what is missing, before anything runs: a missing image is a
/// configuration problem, found before the first step starts. One that an alias stands in
/// for says which images of `aliases` it stands in for.
pub(super) async fn resolve_images(
    backend: &dyn Backend,
    images: Vec<String>,
    aliases: &[(String, String)],
) -> Result<Vec<(String, ImageId)>> {
    let mut ids = Vec::with_capacity(images.len());
    for image in images {
        let progress = |line: &str| say!("tanto: pulling {image}: {line}");
        let id = match backend.resolve_image(&image, &progress).await {
            Ok(id) => id,
            Err(Error::ImageUnavailable { image, mut cause }) => {
                let declared: Vec<String> = (aliases.iter())
                    .filter(|(from, to)| *to == image && *from != image)
                    .map(|(from, _)| format!("`{from}`"))
                    .collect();
                if !declared.is_empty() {
                    cause.push_str(&format!(
                        "; it is what `image_alias` runs for {}",
                        declared.join(" and ")
                    ));
                }
                return Err(Error::ImageUnavailable { image, cause });
            }
            Err(e) => return Err(e),
        };
        ids.push((image, id));
    }
    Ok(ids)
}
