//! A real REAPI v2 server for the shared-cache tests: BuildGrid from PyPI, in a virtualenv
//! this harness creates when it is missing (`cargo xtask test` creates it first), serving
//! CAS, ByteStream, ActionCache and Capabilities on 127.0.0.1 with its storage in a
//! temporary folder. Stopped, and its folder removed, when dropped.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use super::servers::{Server, free_port};

/// The BuildGrid release the tests run (xtask/src/servers.rs installs the same).
pub const VERSION: &str = "0.4.4";

/// Where the virtualenv lives: `TANTO_TEST_BUILDGRID_VENV`, or the user's cache folder.
pub fn venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("TANTO_TEST_BUILDGRID_VENV") {
        return dir.into();
    }
    let home = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME");
    home.join("tanto-test").join(format!("buildgrid-{VERSION}"))
}

/// The virtualenv's python, after creating the virtualenv and installing BuildGrid into it
/// when missing: into a fresh folder renamed into place, so a half-made one is never used.
pub fn python() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _one = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    let venv = venv();
    let python = venv.join("bin").join("python");
    if python.exists() {
        return python;
    }
    let parent = venv.parent().expect("the venv's parent");
    std::fs::create_dir_all(parent).expect("the venv's parent folder");
    let staging = parent.join(format!(".buildgrid-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let run = |cmd: &mut Command| {
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        assert!(
            out.status.success(),
            "{cmd:?} failed (install python3-venv, and reach PyPI): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    eprintln!(
        "installing BuildGrid {VERSION} from PyPI into {}",
        venv.display()
    );
    run(Command::new("python3").args(["-m", "venv"]).arg(&staging));
    run(Command::new(staging.join("bin").join("python"))
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .arg(format!("buildgrid=={VERSION}")));
    // Only the interpreter is called by path (`python -c`), and it finds its venv from its
    // own location, so the folder can be renamed.
    if std::fs::rename(&staging, &venv).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    python
}

/// A BuildGrid server on a free port of 127.0.0.1.
pub struct BuildGrid {
    server: Server,
    secured: bool,
}

impl BuildGrid {
    /// Starts a server with an empty CAS and action cache; `instance` is its instance name.
    pub fn start(instance: &str) -> Self {
        Self::start_with(instance, false)
    }

    /// A server that speaks TLS only, with a certificate of a test authority ([`Self::ca`]),
    /// and accepts only calls that bear a JWT signed with its secret ([`Self::token`]).
    pub fn start_secured(instance: &str) -> Self {
        Self::start_with(instance, true)
    }

    fn start_with(instance: &str, secured: bool) -> Self {
        let python = python();
        let dir = tempfile::tempdir().expect("BuildGrid's folder");
        let port = free_port();
        let cas = dir.path().join("cas");
        std::fs::create_dir(&cas).expect("BuildGrid's CAS folder");
        let channel = if secured {
            make_certificates(dir.path());
            std::fs::write(
                dir.path().join("jwt.secret"),
                "a-test-secret-of-32-bytes-or-so!",
            )
            .expect("write the JWT secret");
            format!(
                "    insecure-mode: false\n    credentials:\n      tls-server-key: {d}/server.key\n      \
                 tls-server-cert: {d}/server.pem\nauthorization:\n  method: jwt\n  secret: {d}/jwt.secret\n  \
                 algorithm: hs256\n",
                d = dir.path().display()
            )
        } else {
            "    insecure-mode: true\n".to_owned()
        };
        let config = dir.path().join("buildgrid.yml");
        std::fs::write(
            &config,
            format!(
                "server:\n  - !channel\n    address: \"127.0.0.1:{port}\"\n{channel}\
                 storages:\n  - !disk-storage &cas\n    path: {cas}\n\
                 caches:\n  - !lru-action-cache &ac\n    storage: *cas\n    max-cached-refs: 100000\n    \
                 allow-updates: true\n    cache-failed-actions: false\n\
                 instances:\n  - name: \"{instance}\"\n    services:\n      - !action-cache\n        cache: *ac\n      \
                 - !cas\n        storage: *cas\n      - !bytestream\n        storage: *cas\n",
                cas = cas.display()
            ),
        )
        .expect("write BuildGrid's configuration");
        let mut cmd = Command::new(python);
        cmd.args([
            "-c",
            "import sys; from buildgrid.server.app import cli; sys.argv[0] = 'bgd'; sys.exit(cli())",
            "server",
            "start",
        ])
        .arg(&config)
        .current_dir(dir.path());
        Self {
            server: Server::start(cmd, port, Some(dir)),
            secured,
        }
    }

    /// `grpc://127.0.0.1:PORT`, or `grpcs://` for a secured server.
    pub fn url(&self) -> String {
        let scheme = if self.secured { "grpcs" } else { "grpc" };
        format!("{scheme}://127.0.0.1:{}", self.server.port)
    }

    /// The PEM file of the authority that signed a secured server's certificate.
    pub fn ca(&self) -> PathBuf {
        self.server
            .dir()
            .expect("BuildGrid's folder")
            .join("ca.pem")
    }

    /// A JWT the secured server accepts for an hour, made with PyJWT from its virtualenv.
    pub fn token(&self) -> String {
        let secret = self
            .server
            .dir()
            .expect("BuildGrid's folder")
            .join("jwt.secret");
        let out = Command::new(python())
            .args([
                "-c",
                "import sys, time, jwt; \
                 print(jwt.encode({'exp': int(time.time()) + 3600, 'sub': 'tanto-test'}, \
                 open(sys.argv[1]).read(), algorithm='HS256'))",
            ])
            .arg(secret)
            .output()
            .expect("run PyJWT");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The server's log.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// Where its disk storage keeps blobs: `objects/ab/cdef…` by SHA-256.
    fn objects(&self) -> PathBuf {
        let dir = self.server.dir().expect("BuildGrid's folder");
        dir.join("cas").join("cas").join("objects")
    }

    /// How many blobs its CAS holds (action results included): what was written to it.
    pub fn blob_count(&self) -> usize {
        walkdir(&self.objects())
    }

    /// Removes the largest blob from its CAS, as an eviction would.
    pub fn remove_largest_blob(&self) {
        let (_, path) = self.largest_blob();
        std::fs::remove_file(path).expect("remove the blob");
    }

    fn largest_blob(&self) -> (u64, PathBuf) {
        let mut largest: Option<(u64, PathBuf)> = None;
        for prefix in std::fs::read_dir(self.objects())
            .expect("BuildGrid's objects")
            .flatten()
        {
            for blob in std::fs::read_dir(prefix.path())
                .expect("a prefix folder")
                .flatten()
            {
                let size = blob.metadata().expect("a blob's size").len();
                if largest.as_ref().is_none_or(|(s, _)| size > *s) {
                    largest = Some((size, blob.path()));
                }
            }
        }
        largest.expect("a blob in BuildGrid")
    }

    /// Flips a byte in the middle of the largest blob, keeping its size; returns its hash.
    pub fn damage_largest_blob(&self) -> String {
        let (_, path) = self.largest_blob();
        let mut bytes = std::fs::read(&path).expect("read the blob");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, bytes).expect("write the blob");
        let name = |p: Option<&std::path::Path>| {
            p.and_then(std::path::Path::file_name)
                .expect("a blob's name")
                .to_string_lossy()
                .into_owned()
        };
        format!("{}{}", name(path.parent()), name(Some(&path)))
    }

    /// The stdout and stderr of every tanto result in the action cache, read as a client
    /// would: each tanto `Action` in the CAS is asked for with `GetActionResult`, and its
    /// `stdout_digest` and `stderr_digest` blobs with `BatchReadBlobs` (by BuildGrid's own
    /// client protos, from its virtualenv), or none for a result shared without a log. Only for
    /// a server that is not secured.
    pub fn logs(&self) -> Vec<Option<(String, String)>> {
        serde_json::from_str(&self.script(READ_LOGS, &[])).expect("the logs as JSON")
    }

    /// Runs the python `script` after [`PRELUDE`], with the objects folder, the server's
    /// address and `args` as its arguments, and returns what it printed.
    fn script(&self, script: &str, args: &[&std::ffi::OsStr]) -> String {
        let out = Command::new(python())
            .args(["-c", &format!("{PRELUDE}{script}")])
            .arg(self.objects())
            .arg(format!("127.0.0.1:{}", self.server.port))
            .args(args)
            .output()
            .expect("run BuildGrid's python");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Serves the `docker save` tarball `tarball` as the image output of the one tanto
    /// result that has one (a hostile server): the blob goes into its CAS and the result is
    /// updated to name it.
    pub fn swap_image_output(&self, tarball: &std::path::Path) {
        self.script(SWAP_IMAGE, &[tarball.as_os_str()]);
    }

    /// Rewrites `from` as `to` in the tanto record of every step result the server keeps,
    /// and in those of the pipeline's index (a hostile server, or another machine's lie):
    /// returns how many records it changed.
    pub fn forge_records(&self, from: &str, to: &str) -> usize {
        let changed = self.script(FORGE, &[from.as_ref(), to.as_ref()]);
        changed.trim().parse().expect("a count")
    }

    /// Whether any blob the server keeps contains `needle`.
    pub fn holds(&self, needle: &[u8]) -> bool {
        let mut pending = vec![self.objects()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir)
                .expect("BuildGrid's objects")
                .flatten()
            {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if std::fs::read(&path)
                    .expect("read a blob")
                    .windows(needle.len())
                    .any(|w| w == needle)
                {
                    return true;
                }
            }
        }
        false
    }

    /// Stops the server now (a server that goes away mid-run).
    pub fn stop(self) {
        drop(self);
    }
}

fn walkdir(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => walkdir(&e.path()),
                Ok(_) => 1,
                Err(_) => 0,
            })
            .sum()
    })
}

/// A test authority (`ca.pem`) and a certificate it signed for 127.0.0.1 (`server.pem`,
/// `server.key`), made with `openssl`.
fn make_certificates(dir: &std::path::Path) {
    super::host::require("openssl", "openssl");
    let script = "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
                  -subj /CN=tanto-test-ca && \
                  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
                  -subj /CN=localhost && \
                  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n' > ext.cnf && \
                  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                  -out server.pem -days 2 -extfile ext.cnf";
    let out = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Python that walks the CAS for tanto's actions (`tanto_actions()`: action digest and
/// result), with BuildGrid's own client protos; argv: objects folder, server address.
const PRELUDE: &str = r#"
import hashlib, json, os, sys, grpc
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as rg
objects, target = sys.argv[1], sys.argv[2]
channel = grpc.insecure_channel(target)
ac, cas = rg.ActionCacheStub(channel), rg.ContentAddressableStorageStub(channel)
def read(digest):
    got = cas.BatchReadBlobs(re.BatchReadBlobsRequest(digests=[digest])).responses[0]
    assert got.status.code == 0, got.status
    return got.data
def is_tanto(action, what):
    path = os.path.join(objects, action.command_digest.hash[:2], action.command_digest.hash[2:])
    if not os.path.isfile(path):
        return False
    command = re.Command()
    command.ParseFromString(open(path, 'rb').read())
    return list(command.arguments[:2]) == ['tanto', what]
def tanto_actions(what='step-key'):
    for prefix in sorted(os.listdir(objects)):
        for rest in sorted(os.listdir(os.path.join(objects, prefix))):
            data = open(os.path.join(objects, prefix, rest), 'rb').read()
            action = re.Action()
            try:
                action.ParseFromString(data)
                if not (action.HasField('command_digest') and is_tanto(action, what)):
                    continue
            except Exception:
                continue
            digest = re.Digest(hash=prefix + rest, size_bytes=len(data))
            yield digest, ac.GetActionResult(re.GetActionResultRequest(action_digest=digest))
# Length-delimited protobuf fields by hand, for an entry of the pipeline's index: its key
# (field 1) and its result (field 2).
def varint(b, i):
    n = shift = 0
    while True:
        c = b[i]; i += 1; n |= (c & 0x7f) << shift; shift += 7
        if c < 0x80:
            return n, i
def field(number, payload):
    n, out = len(payload), bytearray([number << 3 | 2])
    while n >= 0x80:
        out.append(n & 0x7f | 0x80); n >>= 7
    return bytes(out + bytes([n])) + payload
def entry_fields(b):
    i, found = 0, {}
    while i < len(b):
        key, i = varint(b, i); n, i = varint(b, i); found[key >> 3] = b[i:i + n]; i += n
    return found
# Applies `change` (true when it changed the result) to every tanto result in the action
# cache and in the pipeline's index, and saves what changed: (results, index entries).
def rewrite(change):
    results = entries = 0
    for digest, result in list(tanto_actions()):
        if change(result):
            ac.UpdateActionResult(re.UpdateActionResultRequest(action_digest=digest, action_result=result))
            results += 1
    for digest, index in list(tanto_actions('run-index')):
        for entry in index.execution_metadata.auxiliary_metadata:
            parts = entry_fields(entry.value)
            result = re.ActionResult.FromString(parts[2])
            if change(result):
                entry.value = field(1, parts[1]) + field(2, result.SerializeToString())
                entries += 1
        ac.UpdateActionResult(re.UpdateActionResultRequest(action_digest=digest, action_result=index))
    return results, entries
"#;

/// Prints, as JSON pairs, the stdout and stderr of each tanto result.
const READ_LOGS: &str = r#"
found = []
for _, result in tanto_actions():
    if not result.HasField('stdout_digest'):
        assert not result.HasField('stderr_digest'), result
        found.append(None)
        continue
    assert result.HasField('stderr_digest'), result
    found.append((read(result.stdout_digest).decode(), read(result.stderr_digest).decode()))
print(json.dumps(found))
"#;

/// Puts the tarball argv[3] into the CAS and points the one image output of the tanto
/// results at it, both in the action cache and in the pipeline's index (whose entries are
/// tanto's own message: the action's digest, field 1, and its result, field 2).
const SWAP_IMAGE: &str = r#"
data = open(sys.argv[3], 'rb').read()
sha = hashlib.sha256(data).hexdigest()
os.makedirs(os.path.join(objects, sha[:2]), exist_ok=True)
open(os.path.join(objects, sha[:2], sha[2:]), 'wb').write(data)
def swap(result):
    record = json.loads(result.execution_metadata.auxiliary_metadata[0].value)
    swapped = 0
    for f in result.output_files:
        if record['outputs'][int(f.path.split('/')[1])].get('image_id'):
            f.digest.hash, f.digest.size_bytes = sha, len(data)
            swapped += 1
    return swapped
counts = rewrite(swap)
assert counts == (1, 1), counts
"#;

/// Replaces argv[3] with argv[4] in each tanto record's JSON, in the step results and in the
/// index's entries; prints how many it changed.
const FORGE: &str = r#"
source, forged = sys.argv[3].encode(), sys.argv[4].encode()
def forge(result):
    record = result.execution_metadata.auxiliary_metadata[0]
    if source not in record.value:
        return 0
    record.value = record.value.replace(source, forged)
    return 1
print(sum(rewrite(forge)))
"#;
