//! The content-addressable storage of a REAPI server: which blobs it lacks, sending blobs
//! (batched when small, by ByteStream when large) and fetching them with their digests
//! checked before anything lands in the local store.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt as _;

use super::Remote;
use super::client::{Fault, call, seconds, watched};
use super::progress::Progress;
use super::proto::bytestream::{ReadRequest, ReadResponse, WriteRequest};
use super::proto::re;
use super::wire::{check_digest, short};

/// What one ByteStream message carries.
const CHUNK: usize = 1024 * 1024;

/// A blob to send: its digest and where its bytes are.
pub(super) enum Blob {
    /// Bytes in memory (an encoded message).
    Bytes(re::Digest, Vec<u8>),
    /// A file of the local store.
    File(re::Digest, PathBuf),
}

impl Blob {
    pub(super) fn digest(&self) -> &re::Digest {
        match self {
            Blob::Bytes(d, _) | Blob::File(d, _) => d,
        }
    }
}

/// Why a fetch gave no blob.
#[derive(Debug)]
pub(super) enum FetchError {
    /// The server failed (the breaker is open now, or was).
    Fault(Fault),
    /// The server does not have the blob.
    Missing(String),
    /// The server sent bytes that do not match the digest.
    Damaged(String),
    /// Writing it locally failed.
    Local(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fault(fault) => fault.fmt(f),
            Self::Missing(why) | Self::Damaged(why) | Self::Local(why) => f.write_str(why),
        }
    }
}

impl Remote {
    /// The blobs among `digests` the server does not have: only those asked about, each
    /// once, whatever else its answer lists.
    pub(super) async fn find_missing(
        &self,
        digests: Vec<re::Digest>,
    ) -> Result<Vec<re::Digest>, Fault> {
        let mut missing = Vec::new();
        for chunk in digests.chunks(10_000) {
            let request = re::FindMissingBlobsRequest {
                instance_name: self.config.instance.clone(),
                blob_digests: chunk.to_vec(),
                digest_function: re::SHA256,
            };
            let answer = self
                .call(
                    self.config.timeout,
                    self.clients.find_missing_blobs(request),
                )
                .await?;
            let said = answer.map(|a| a.missing_blob_digests).unwrap_or_default();
            missing.extend(asked_only(chunk, said));
        }
        Ok(missing)
    }

    pub(super) async fn call<T>(
        &self,
        timeout: std::time::Duration,
        fut: impl std::future::Future<Output = tonic::Result<tonic::Response<T>>>,
    ) -> Result<Option<T>, Fault> {
        call(&self.breaker, &self.config.url, timeout, fut).await
    }

    /// Sends `blobs`: small ones in batches, large ones by ByteStream.
    pub(super) async fn send(&self, blobs: Vec<Blob>) -> Result<(), String> {
        let mut batch = Vec::new();
        let mut batch_size = 0u64;
        for blob in blobs {
            let size = blob.digest().size_bytes as u64;
            if size > self.batch_limit {
                self.write_stream(&blob).await?;
                continue;
            }
            if batch_size + size > self.batch_limit {
                self.send_batch(std::mem::take(&mut batch)).await?;
                batch_size = 0;
            }
            let data = match &blob {
                Blob::Bytes(_, b) => b.clone(),
                Blob::File(_, p) => {
                    std::fs::read(p).map_err(|e| format!("read {}: {e}", p.display()))?
                }
            };
            batch_size += size;
            batch.push(re::UpdateBlob {
                digest: Some(blob.digest().clone()),
                data,
            });
        }
        if !batch.is_empty() {
            self.send_batch(batch).await?;
        }
        Ok(())
    }

    async fn send_batch(&self, requests: Vec<re::UpdateBlob>) -> Result<(), String> {
        let request = re::BatchUpdateBlobsRequest {
            instance_name: self.config.instance.clone(),
            requests,
            digest_function: re::SHA256,
        };
        let answer = self
            .call(
                self.config.timeout,
                self.clients.batch_update_blobs(request),
            )
            .await
            .map_err(|f| f.to_string())?
            .unwrap_or_default();
        for r in answer.responses {
            if let Some(status) = r.status.filter(|s| s.code != 0) {
                let hash = r.digest.map(|d| d.hash).unwrap_or_default();
                return Err(format!(
                    "the server refused blob {}: code {}",
                    short(&hash),
                    status.code
                ));
            }
        }
        Ok(())
    }

    async fn write_stream(&self, blob: &Blob) -> Result<(), String> {
        let d = blob.digest().clone();
        let resource = format!(
            "{}uploads/{}/blobs/{}/{}",
            self.prefix(),
            uuid(),
            d.hash,
            d.size_bytes
        );
        let Blob::File(_, path) = blob else {
            return Err("a large blob held in memory".into());
        };
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| format!("read {}: {e}", path.display()))?;
        let total = d.size_bytes;
        // A blob of any size may take as long as it keeps moving: the call times out after
        // the call timeout without the server taking a chunk (or, after the last, answering).
        let progress = std::sync::Arc::new(Progress::new());
        let moved = std::sync::Arc::clone(&progress);
        let stream = async_stream(move |tx| async move {
            let mut offset = 0i64;
            loop {
                let mut buf = vec![0; CHUNK];
                let n = file.read(&mut buf).await.unwrap_or(0);
                buf.truncate(n);
                let last = n == 0 || offset + n as i64 >= total;
                let request = WriteRequest {
                    resource_name: if offset == 0 {
                        resource.clone()
                    } else {
                        String::new()
                    },
                    write_offset: offset,
                    finish_write: last,
                    data: buf,
                };
                offset += n as i64;
                if tx.send(request).await.is_err() || last {
                    break;
                }
            }
        });
        let stream = stream.inspect(move |_| moved.moved());
        let timeout = self.config.timeout;
        let why = format!(
            "took no part of blob {} for {}",
            short(&d.hash),
            seconds(timeout)
        );
        let write = self.clients.write(stream);
        watched(
            &self.breaker,
            &self.config.url,
            timeout,
            &progress,
            &why,
            write,
        )
        .await
        .map_err(|f| f.to_string())?;
        Ok(())
    }

    /// Fetches the blob `d` into the new file `dest`, checking its size and SHA-256 before it
    /// is renamed into place.
    pub(super) async fn fetch_to(
        &self,
        d: &re::Digest,
        dest: &Path,
        staging: &Path,
    ) -> Result<(), FetchError> {
        let size = check_digest(d, self.max_blob).map_err(FetchError::Damaged)?;
        let tmp = staging.join(format!(".part-{}", uuid()));
        let result = if size <= self.batch_limit {
            self.fetch_batch(d, &tmp).await
        } else {
            self.fetch_stream(d, size, &tmp).await
        };
        match result {
            Ok(()) => std::fs::rename(&tmp, dest)
                .map_err(|e| FetchError::Local(format!("{}: {e}", dest.display()))),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    async fn fetch_batch(&self, d: &re::Digest, dest: &Path) -> Result<(), FetchError> {
        let request = re::BatchReadBlobsRequest {
            instance_name: self.config.instance.clone(),
            digests: vec![d.clone()],
            digest_function: re::SHA256,
        };
        let answer = self
            .call(self.config.timeout, self.clients.batch_read_blobs(request))
            .await
            .map_err(FetchError::Fault)?
            .unwrap_or_default();
        let found = answer
            .responses
            .into_iter()
            .find(|r| r.digest.as_ref().is_some_and(|x| x.hash == d.hash));
        let Some(found) = found.filter(|r| r.status.as_ref().is_none_or(|s| s.code == 0)) else {
            return Err(FetchError::Missing(format!(
                "blob {} is not in the remote cache",
                short(&d.hash)
            )));
        };
        let mut hasher = Sha256::new();
        hasher.update(&found.data);
        verify(d, hasher, found.data.len() as u64)?;
        std::fs::write(dest, &found.data)
            .map_err(|e| FetchError::Local(format!("{}: {e}", dest.display())))
    }

    /// Fetches blob `d` by ByteStream into `dest`. A blob of any size may take as long as it
    /// keeps coming: the call times out after the call timeout without an answer, or without
    /// a chunk of the blob.
    async fn fetch_stream(&self, d: &re::Digest, size: u64, dest: &Path) -> Result<(), FetchError> {
        let request = ReadRequest {
            resource_name: format!("{}blobs/{}/{}", self.prefix(), d.hash, d.size_bytes),
            read_offset: 0,
            read_limit: 0,
        };
        let local = |e: std::io::Error| FetchError::Local(format!("{}: {e}", dest.display()));
        let mut file = std::fs::File::create(dest).map_err(local)?;
        let timeout = self.config.timeout;
        let Some(mut stream) = self
            .call(timeout, self.clients.read(request))
            .await
            .map_err(FetchError::Fault)?
        else {
            return Err(FetchError::Missing(format!(
                "blob {} is not in the remote cache",
                short(&d.hash)
            )));
        };
        let mut hasher = Sha256::new();
        let mut got = 0u64;
        loop {
            let message = match next_data(&mut stream, timeout).await {
                Ok(Some(message)) => message,
                Ok(None) => break,
                Err(Stalled) => {
                    let why = format!(
                        "sent no part of blob {} for {}",
                        short(&d.hash),
                        seconds(timeout)
                    );
                    self.breaker.trip(&self.config.url, &why);
                    return Err(FetchError::Fault(Fault::Down(why)));
                }
            };
            let message = message.map_err(|s| {
                let why = self.breaker.describe(&s);
                self.breaker.trip(&self.config.url, &why);
                FetchError::Fault(Fault::Down(why))
            })?;
            got += message.data.len() as u64;
            if got > size {
                return Err(FetchError::Damaged(format!(
                    "blob {} is longer than its digest says",
                    short(&d.hash)
                )));
            }
            hasher.update(&message.data);
            file.write_all(&message.data).map_err(local)?;
        }
        verify(d, hasher, got)
    }
}

/// Those of `asked` that the server `said` it lacks, in the order asked: a server cannot
/// make a result lack more outputs than it has.
pub(super) fn asked_only(asked: &[re::Digest], said: Vec<re::Digest>) -> Vec<re::Digest> {
    let said: std::collections::HashSet<re::Digest> = said.into_iter().collect();
    asked
        .iter()
        .filter(|d| said.contains(*d))
        .cloned()
        .collect()
}

/// A ByteStream read that sent no data for the time it was given.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Stalled;

/// The next message of `stream` that carries data, an error, or `None` at its end; `Stalled`
/// once `idle` passes without data. A message without data is no progress: a server that
/// trickles empty messages is given up like one that sends nothing.
pub(super) async fn next_data<S>(
    stream: &mut S,
    idle: std::time::Duration,
) -> Result<Option<Result<ReadResponse, tonic::Status>>, Stalled>
where
    S: futures_util::Stream<Item = Result<ReadResponse, tonic::Status>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + idle;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(message))) if message.data.is_empty() => {}
            Ok(next) => return Ok(next),
            Err(_) => return Err(Stalled),
        }
    }
}

fn verify(d: &re::Digest, hasher: Sha256, size: u64) -> Result<(), FetchError> {
    let hash: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if hash != d.hash || size != d.size_bytes as u64 {
        return Err(FetchError::Damaged(format!(
            "blob {} from the remote cache does not match its digest",
            short(&d.hash)
        )));
    }
    Ok(())
}

/// A fresh random-enough id for an upload's resource name and a temporary file.
fn uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let seed = format!(
        "{}-{}-{:?}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
    );
    let h = blake3::hash(seed.as_bytes()).to_hex();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A stream fed by `produce` through a small channel.
fn async_stream<T, F, Fut>(produce: F) -> impl futures_util::Stream<Item = T> + Send + 'static
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(produce(tx));
    tokio_stream_from(rx)
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
