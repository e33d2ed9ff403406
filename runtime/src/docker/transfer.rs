//! Moving an image between daemons as a `docker save` tarball that names no tag: what the
//! shared cache sends and loads. A tarball from elsewhere is hostile: it must hold the one
//! image asked for and name no tag (it could otherwise take over a name the machine trusts),
//! or nothing is loaded.

use std::path::Path;

use bollard::query_parameters::ImportImageOptionsBuilder;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::docker::DockerBackend;
use crate::docker::request::{docker_error, server_message};
use crate::engine::backend::{ImageBackend, ImageContent};
use tanto_engine::{Error, Result};

/// Writes `docker save` of image `id` into the file `dest`, as the daemon makes it: saved by
/// id, it names no tag.
pub(super) async fn export(backend: &DockerBackend, id: &str, dest: &Path) -> Result<()> {
    let io = |what: &str, e| Error::io(format!("{what} {}", dest.display()), e);
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(|e| io("create", e))?;
    let mut stream = backend.docker.export_image(id);
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| docker_error(&backend.endpoint, &format!("save image {id}"), &e))?;
        file.write_all(&chunk).await.map_err(|e| io("write", e))?;
    }
    file.flush().await.map_err(|e| io("write", e))
}

/// Loads the tarball `path` after checking it holds image `id` alone and names no tag, and
/// returns the content the daemon reads back.
pub(super) async fn load(backend: &DockerBackend, path: &Path, id: &str) -> Result<ImageContent> {
    let (owned, wanted) = (path.to_owned(), id.to_owned());
    tokio::task::spawn_blocking(move || check(&owned, &wanted))
        .await
        .map_err(|e| Error::Other(format!("reading an image tarball panicked: {e}")))??;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    let chunks = futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0; 1 << 20];
        let n = file.read(&mut buf).await?;
        buf.truncate(n);
        Ok::<_, std::io::Error>((n > 0).then(|| (bytes::Bytes::from(buf), file)))
    });
    let options = ImportImageOptionsBuilder::default().quiet(true).build();
    let mut answers = backend
        .docker
        .import_image(options, bollard::body_try_stream(chunks), None);
    while let Some(answer) = answers.next().await {
        answer.map_err(|e| match e {
            bollard::errors::Error::DockerStreamError { .. } => Error::Docker(format!(
                "the daemon at {} refused the image {id}: {}",
                backend.endpoint,
                server_message(&e)
            )),
            _ => docker_error(&backend.endpoint, &format!("load image {id}"), &e),
        })?;
    }
    backend.image_content(id).await?.ok_or_else(|| {
        Error::Docker(format!(
            "the tarball of image {id} loaded, and the daemon at {} does not have that image",
            backend.endpoint
        ))
    })
}

/// Checks that the tarball at `path` names exactly one image, `id` (by its configuration,
/// whose SHA-256 the daemon takes as the id), and no tag.
fn check(path: &Path, id: &str) -> Result<()> {
    let bad = |why: String| Error::Docker(format!("a tarball of image {id} that {why}"));
    let hex = id
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| bad("is not named by a sha256 id".into()))?;
    let file =
        std::fs::File::open(path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("cannot be read: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("cannot be read: {e}")))?;
        let name = entry.path_bytes().into_owned();
        if name == b"repositories" {
            return Err(bad("names repositories".into()));
        }
        if name != b"manifest.json" {
            continue;
        }
        let manifest: serde_json::Value =
            serde_json::from_reader(std::io::Read::take(&mut entry, 1 << 20))
                .map_err(|e| bad(format!("has an unreadable manifest: {e}")))?;
        let images = manifest.as_array().map(Vec::as_slice).unwrap_or_default();
        let [image] = images else {
            return Err(bad(format!("holds {} images, not one", images.len())));
        };
        let tags = image.get("RepoTags").and_then(|t| t.as_array());
        if tags.is_some_and(|t| !t.is_empty()) {
            return Err(bad("names a tag".into()));
        }
        let config = image.get("Config").and_then(|c| c.as_str()).unwrap_or("");
        let named = config == format!("{hex}.json") || config == format!("blobs/sha256/{hex}");
        if !named {
            return Err(bad(format!("holds another image ({config:?})")));
        }
        return Ok(());
    }
    Err(bad("has no manifest.json".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(files: &[(&str, &str)]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut b = tar::Builder::new(file.reopen().unwrap());
        for (name, body) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, body.as_bytes()).unwrap();
        }
        b.finish().unwrap();
        file
    }

    #[test]
    fn only_the_one_image_asked_for_without_a_tag_passes() {
        let hex = "a".repeat(64);
        let id = format!("sha256:{hex}");
        let ok = format!(r#"[{{"Config":"{hex}.json","RepoTags":null,"Layers":[]}}]"#);
        assert!(check(tarball(&[("manifest.json", &ok)]).path(), &id).is_ok());
        let tagged = format!(r#"[{{"Config":"{hex}.json","RepoTags":["busybox:latest"]}}]"#);
        let other = format!(r#"[{{"Config":"{}.json"}}]"#, "b".repeat(64));
        let two = format!(r#"[{{"Config":"{hex}.json"}},{{"Config":"{hex}.json"}}]"#);
        for (manifest, why) in [
            (tagged.as_str(), "names a tag"),
            (other.as_str(), "another image"),
            (two.as_str(), "2 images"),
        ] {
            let err = check(tarball(&[("manifest.json", manifest)]).path(), &id)
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{err}");
        }
        let legacy = tarball(&[("repositories", "{}"), ("manifest.json", &ok)]);
        assert!(check(legacy.path(), &id).is_err());
        assert!(check(tarball(&[]).path(), &id).is_err());
    }
}
