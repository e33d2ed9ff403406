//! The shared cache when tanto is built without its `remote-cache` feature: the settings are
//! read as usual, and asking for a server is a usage error that names the feature.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;

#[path = "config.rs"]
mod config;

pub use config::{RemoteConfig, RemoteFound, RemoteStats, StepLogs};

use crate::artifact::Artifact;
use crate::cache::store::{ActionResult, Store};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::report::say;

/// A REAPI v2 server used as a shared cache: never made in a build without the feature.
#[derive(Debug)]
pub struct Remote {
    never: Infallible,
}

impl Remote {
    /// Asked for by a flag, the usage error that says how to build tanto with the shared
    /// cache; asked for by the environment alone (a CI's variables for every job, some of
    /// them built without it), one warning line that says the same, and no server.
    pub async fn connect(config: RemoteConfig) -> Result<Option<Self>> {
        let how = "enable it with `features = [\"remote-cache\"]` on the `tanto` dependency in its Cargo.toml";
        if config.by_flag {
            return Err(Error::Usage(format!(
                "--remote-cache (or TANTO_REMOTE_CACHE) `{}`: this program was built without \
                 tanto's shared cache; {how}",
                config.url
            )));
        }
        say!(
            "warning: TANTO_REMOTE_CACHE is set, but this program was built without tanto's shared cache, so this run uses the local store only; {how}"
        );
        Ok(None)
    }

    /// Never called: there is no server.
    pub fn url(&self) -> &str {
        match self.never {}
    }

    /// Never called: there is no server.
    pub fn uploads(&self) -> bool {
        match self.never {}
    }

    /// Never called: there is no server.
    pub fn stats(&self) -> RemoteStats {
        match self.never {}
    }

    /// Never called: there is no server.
    pub fn forget_hit(&self, _: &Digest) {
        match self.never {}
    }

    /// Never called: there is no server.
    pub async fn lookup(&self, _: &Digest, _: &str, _: &str) -> RemoteFound {
        match self.never {}
    }

    /// Never called: there is no server.
    pub async fn fetch(&self, _: &Store, _: &Artifact) -> Result<()> {
        match self.never {}
    }

    /// Never called: there is no server.
    pub async fn fetch_image(
        &self,
        _: &Store,
        _: &Digest,
    ) -> Result<Option<(tempfile::TempDir, PathBuf, String)>> {
        match self.never {}
    }

    /// Never called: there is no server.
    pub async fn write_index(&self, _: bool) {
        match self.never {}
    }

    /// Never called: there is no server.
    pub async fn lacks(&self, _: &Digest) -> bool {
        match self.never {}
    }

    /// Never called: there is no server.
    pub async fn upload(
        &self,
        _: &Store,
        _: &Digest,
        _: &ActionResult,
        _: Option<StepLogs>,
        _: &HashMap<Digest, PathBuf>,
    ) {
        match self.never {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn asking_for_a_server_is_a_usage_error_that_names_the_feature() {
        let url = "grpc://localhost:1";
        let mut config = RemoteConfig::from_env(Some(url.into()), false)
            .unwrap()
            .unwrap();
        assert!(config.by_flag);
        let err = Remote::connect(config.clone()).await.unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err:?}");
        let err = err.to_string();
        assert!(
            err.contains(url) && err.contains("\"remote-cache\""),
            "{err}"
        );
        // From the environment alone: a warning, and the local store.
        config.by_flag = false;
        assert!(Remote::connect(config).await.unwrap().is_none());
    }
}
