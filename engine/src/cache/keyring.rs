//! The store's secret key: 32 random bytes made once per store (mode 0600), with which a step's
//! key hashes its secrets, so the store holds nothing that a guess could be checked against.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use crate::error::{Error, Result};

/// The file of the key, in the store's root.
const FILE: &str = "secret.key";

/// The secret key of the store at `root`, made (from `/dev/urandom`) on first use. Two runs
/// that make it at once agree: the first rename wins and the other reads it.
pub fn secret_key(root: &Path) -> Result<[u8; 32]> {
    let path = root.join(FILE);
    match read(&path) {
        Ok(key) => return Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::io(
                format!("read the store's secret key {}", path.display()),
                e,
            ));
        }
    }
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| Error::io("read /dev/urandom for the store's secret key", e))?;
    let temp = root.join(format!("{FILE}.{}", std::process::id()));
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut f| f.write_all(&key).and_then(|()| f.sync_all()));
    let made = made.and_then(|()| {
        // Never replace a key another run made meanwhile: its keys are already recorded.
        std::fs::hard_link(&temp, &path).or_else(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(e),
        })
    });
    let _ = std::fs::remove_file(&temp);
    made.map_err(|e| {
        Error::io(
            format!("write the store's secret key {}", path.display()),
            e,
        )
    })?;
    read(&path).map_err(|e| Error::io(format!("read the store's secret key {}", path.display()), e))
}

fn read(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    if file.metadata()?.permissions().mode() & 0o077 != 0 {
        return Err(std::io::Error::other(
            "it is readable by others; make it mode 0600 (chmod 600) or remove it",
        ));
    }
    let mut key = [0u8; 32];
    file.read_exact(&mut key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_private_and_kept() {
        let root = tempfile::tempdir().unwrap();
        let first = secret_key(root.path()).unwrap();
        assert_eq!(secret_key(root.path()).unwrap(), first);
        let mode = std::fs::metadata(root.path().join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            secret_key(other.path()).unwrap(),
            first,
            "each store has its own"
        );
    }
}
