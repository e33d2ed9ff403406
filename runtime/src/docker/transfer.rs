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
/// whose SHA-256 the daemon takes as the id), and no tag. The tarball comes from the shared
/// cache, so it is read as the daemon reads it: every entry, by its path without `.` parts
/// (a second `./manifest.json` would win), and the manifests' keys as Go's JSON matches them,
/// whatever their case: only the keys `docker save` writes are accepted, so none can name a
/// tag in another spelling.
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
    let mut manifests = 0;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("cannot be read: {e}")))?;
        let raw = entry.path_bytes().into_owned();
        let parts: Vec<&[u8]> = raw
            .split(|&b| b == b'/')
            .filter(|p| !p.is_empty() && *p != b".")
            .collect();
        if parts.contains(&&b".."[..]) {
            return Err(bad("holds a path with `..`".into()));
        }
        let read = |entry: &mut tar::Entry<'_, _>| -> Result<serde_json::Value> {
            serde_json::from_reader(std::io::Read::take(entry, 1 << 20))
                .map_err(|e| bad(format!("has an unreadable manifest: {e}")))
        };
        match parts.as_slice() {
            [b"repositories"] => return Err(bad("names repositories".into())),
            [b"index.json"] => check_index(&read(&mut entry)?).map_err(bad)?,
            [b"manifest.json"] => {
                manifests += 1;
                if manifests > 1 {
                    return Err(bad("holds more than one manifest.json".into()));
                }
                check_manifest(&read(&mut entry)?, hex).map_err(bad)?;
            }
            _ => {}
        }
    }
    if manifests == 0 {
        return Err(bad("has no manifest.json".into()));
    }
    Ok(())
}

/// The keys of an image in `manifest.json` that `docker save` writes.
const MANIFEST_KEYS: [&str; 4] = ["Config", "RepoTags", "Layers", "LayerSources"];

/// Why `manifest` (of a tarball) is not one image, `hex`, without a tag, if it is not.
fn check_manifest(manifest: &serde_json::Value, hex: &str) -> std::result::Result<(), String> {
    let images = manifest.as_array().map(Vec::as_slice).unwrap_or_default();
    let [image] = images else {
        return Err(format!("holds {} images, not one", images.len()));
    };
    let image = image
        .as_object()
        .ok_or("has a manifest that is not an object")?;
    if let Some(key) = image.keys().find(|k| !MANIFEST_KEYS.contains(&k.as_str())) {
        return Err(format!("has a manifest with the key {key:?}"));
    }
    if image
        .get("RepoTags")
        .is_some_and(|t| !t.is_null() && t.as_array().is_none_or(|t| !t.is_empty()))
    {
        return Err("names a tag".into());
    }
    let config = image.get("Config").and_then(|c| c.as_str()).unwrap_or("");
    if config != format!("{hex}.json") && config != format!("blobs/sha256/{hex}") {
        return Err(format!("holds another image ({config:?})"));
    }
    Ok(())
}

/// Why the OCI `index.json` of a tarball could name an image, if it could: its manifests'
/// annotations are how the daemon names what it loads, so only the keys that name nothing
/// are accepted.
fn check_index(index: &serde_json::Value) -> std::result::Result<(), String> {
    const TOP: [&str; 3] = ["schemaVersion", "mediaType", "manifests"];
    const DESCRIPTOR: [&str; 4] = ["mediaType", "digest", "size", "platform"];
    let top = index
        .as_object()
        .ok_or("has an index.json that is not an object")?;
    let descriptors = top.get("manifests").and_then(|m| m.as_array());
    let keys = top.keys().filter(|k| !TOP.contains(&k.as_str()));
    let inner = descriptors
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_object())
        .flat_map(|d| d.keys().filter(|k| !DESCRIPTOR.contains(&k.as_str())));
    match keys.chain(inner).next() {
        Some(key) => Err(format!("has an index.json with the key {key:?}")),
        None => Ok(()),
    }
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
            // Written as given (`./`, `..`), as a hostile tarball may hold them.
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, body.as_bytes()).unwrap();
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

    #[test]
    fn a_tag_in_another_spelling_or_a_second_manifest_is_refused() {
        let hex = "a".repeat(64);
        let id = format!("sha256:{hex}");
        let ok = format!(r#"[{{"Config":"{hex}.json","RepoTags":null,"Layers":[]}}]"#);
        let tagged = format!(r#"[{{"Config":"{hex}.json","RepoTags":["rust:1.95"]}}]"#);
        // Go's JSON matches keys whatever their case (and `ſ` as `s`).
        let cased =
            format!(r#"[{{"Config":"{hex}.json","RepoTags":null,"repoTags":["rust:1.95"]}}]"#);
        let folded = format!(r#"[{{"Config":"{hex}.json","RepoTagſ":["rust:1.95"]}}]"#);
        let named = r#"{"schemaVersion":2,"manifests":[{"mediaType":"m","digest":"d","size":1,"annotations":{"io.containerd.image.name":"rust:1.95"}}]}"#;
        let plain = r#"{"schemaVersion":2,"mediaType":"m","manifests":[{"mediaType":"m","digest":"d","size":1}]}"#;
        for (files, why) in [
            (
                vec![
                    ("manifest.json", ok.as_str()),
                    ("./manifest.json", tagged.as_str()),
                ],
                "more than one manifest.json",
            ),
            (
                vec![
                    ("manifest.json", ok.as_str()),
                    ("x/../manifest.json", tagged.as_str()),
                ],
                "`..`",
            ),
            (
                vec![("manifest.json", cased.as_str())],
                "the key \"repoTags\"",
            ),
            (
                vec![("manifest.json", folded.as_str())],
                "the key \"RepoTagſ\"",
            ),
            (
                vec![("index.json", named), ("manifest.json", ok.as_str())],
                "the key \"annotations\"",
            ),
        ] {
            let err = check(tarball(&files).path(), &id).unwrap_err().to_string();
            assert!(err.contains(why), "{files:?}: {err}");
        }
        let with_index = tarball(&[("index.json", plain), ("manifest.json", &ok)]);
        assert!(check(with_index.path(), &id).is_ok());
    }
}
