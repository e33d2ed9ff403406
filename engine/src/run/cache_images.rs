//! The daemon's side of `cache prune` and `cache stats`: removing the images no cached result
//! names, and counting the ones the results made, which the daemon holds and the store does
//! not.

use std::fmt;
use std::sync::Arc;

use crate::backend::{Backend, Connect, Reclaimed};
use crate::cache::StoreImages;
use crate::error::{Error, Result};
use crate::report::human_bytes;
use crate::report::{plural, shown};

/// What a prune did with the images no kept result names.
#[derive(Debug, Default)]
pub(crate) struct ImageReclaim {
    /// How many it removed.
    removed: u64,
    /// Their sizes as the daemon gave them.
    bytes: u64,
    /// How many the daemon no longer had.
    gone: u64,
    /// Those left because they have a tag: the image, then its tags.
    tagged: Vec<(String, Vec<String>)>,
    /// Those left because a container or another image uses them: the image, the daemon's
    /// words.
    in_use: Vec<(String, String)>,
    /// Why none could be removed: the daemon could not be reached, say.
    failed: Option<String>,
    /// How many images were to be removed.
    asked: u64,
}

impl ImageReclaim {
    /// Removes `ids` from the daemon `connect` reaches (none, when it is `None`), and returns
    /// what it did with the ids the store may forget: removed, gone, or tagged (a tagged image
    /// is its tagger's now). An image a container uses is kept in mind for the next prune.
    pub(crate) fn run(connect: Option<Connect>, ids: &[String]) -> (Self, Vec<String>) {
        let mut report = Self {
            asked: ids.len() as u64,
            ..Self::default()
        };
        let mut done = Vec::new();
        let outcome = block_on(async {
            let backend = connect_now(connect).await?;
            for id in ids {
                match backend.reclaim_image(id).await? {
                    Reclaimed::Removed { size } => {
                        report.removed += 1;
                        report.bytes += size;
                        done.push(id.clone());
                    }
                    Reclaimed::Gone => {
                        report.gone += 1;
                        done.push(id.clone());
                    }
                    Reclaimed::Tagged(tags) => {
                        report.tagged.push((id.clone(), tags));
                        done.push(id.clone());
                    }
                    Reclaimed::InUse(why) => report.in_use.push((id.clone(), why)),
                }
            }
            Ok(())
        });
        if let Err(e) = outcome {
            report.failed = Some(e.to_string());
        }
        (report, done)
    }
}

impl fmt::Display for ImageReclaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.asked == 0 {
            return Ok(());
        }
        let left = self.asked - self.removed - self.gone - self.tagged.len() as u64;
        if self.removed > 0 || self.failed.is_none() {
            writeln!(
                f,
                "removed {} from the Docker daemon ({} as `docker images` sizes them; the \
                 layers they share with other images stay)",
                plural(count(self.removed), "image"),
                human_bytes(self.bytes)
            )?;
        }
        if self.gone > 0 {
            writeln!(
                f,
                "{} no cached result names had already left the daemon",
                plural(count(self.gone), "image")
            )?;
        }
        for (id, tags) in &self.tagged {
            writeln!(
                f,
                "left image {id}: it is tagged {}, so it is yours now (`docker rmi {}` removes \
                 it)",
                shown(&tags.join(", ")),
                // Untagging one of several tags leaves the image: each must go.
                shown(&tags.join(" "))
            )?;
        }
        for (id, why) in &self.in_use {
            writeln!(
                f,
                "left image {id}: {}; the next prune tries again",
                shown(why)
            )?;
        }
        if let Some(why) = &self.failed {
            let waiting = left - self.in_use.len() as u64;
            writeln!(
                f,
                "{} no cached result names {} not removed from the daemon ({}); the next \
                 prune removes {}",
                plural(count(waiting), "image"),
                one_or_many(waiting, "was", "were"),
                shown(why),
                one_or_many(waiting, "it", "them")
            )?;
        }
        Ok(())
    }
}

/// The `images` lines of `cache stats`: the images the store's results made that the daemon
/// has, and those waiting for a prune, each with their sizes. A daemon that cannot be reached
/// is said, never an error.
pub(crate) fn images_stats(connect: Option<Connect>, images: &StoreImages) -> String {
    if images.outputs.is_empty() && images.to_reclaim.is_empty() {
        return "images          0\n".to_owned();
    }
    let counted = block_on(async {
        let backend = connect_now(connect).await?;
        let mut sizes = Vec::new();
        for ids in [&images.outputs, &images.to_reclaim] {
            let (mut count, mut bytes) = (0_u64, 0_u64);
            for id in ids {
                if let Some(size) = backend.image_size(id).await? {
                    count += 1;
                    bytes += size;
                }
            }
            sizes.push((count, bytes));
        }
        Ok(sizes)
    });
    match counted.as_deref() {
        Ok([(count, bytes), (waiting, waiting_bytes)]) => {
            let mut out = format!(
                "images          {count} in the Docker daemon, {} (as `docker images` sizes them, \
                 not in the size above)\n",
                human_bytes(*bytes)
            );
            if *waiting > 0 {
                out += &format!(
                    "unused images   {waiting}, {}: no cached result names them; `cache prune` \
                     removes them\n",
                    human_bytes(*waiting_bytes)
                );
            }
            out
        }
        Ok(_) => String::new(),
        Err(e) => format!(
            "images          {} made by cached results; not counted in the daemon ({})\n",
            images.outputs.len(),
            shown(&e.to_string())
        ),
    }
}

/// Connects to the daemon with `connect`.
async fn connect_now(connect: Option<Connect>) -> Result<Arc<dyn Backend>> {
    let connect = connect.ok_or_else(|| {
        Error::Usage("this program has no pipeline, so it knows no container engine to ask".into())
    })?;
    connect().await
}

/// Runs `future` to its end on a runtime of its own: the cache commands are not async.
fn block_on<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the async runtime", e))?;
    runtime.block_on(future)
}

/// `one` for one, `many` for the rest: `was` or `were`.
fn one_or_many<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// `n` as a count for [`plural`].
fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::ImageReclaim;

    #[test]
    fn an_image_left_for_its_tags_is_removed_by_naming_every_tag() {
        let report = ImageReclaim {
            asked: 1,
            tagged: vec![("sha256:c783".into(), vec!["app:v2".into(), "app:v3".into()])],
            ..ImageReclaim::default()
        };
        assert!(
            report.to_string().contains(
                "left image sha256:c783: it is tagged app:v2, app:v3, so it is yours now \
                 (`docker rmi app:v2 app:v3` removes it)"
            ),
            "{report}"
        );
    }
}
