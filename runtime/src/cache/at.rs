//! Files reached through their open folder: `fstatat`, `openat` and `readlinkat` on one
//! component, instead of resolving a full path for every file the walk sees.
//!
//! A warm hash of 100k files is mostly one stat per file; through the full path the kernel
//! looks up every component again (`link_path_walk`), which cost about a third of the walk's
//! CPU. Each walker thread keeps its current folder open ([`Folder`]) and reaches its files
//! by name; the walker hands a thread a folder's files one after the other, so the folder is
//! opened about once per thread.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use crate::cache::statcache::FileStat;

/// What `fstatat` says about one entry, without following a symlink.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryStat {
    /// The stat data the stat cache compares.
    pub(crate) stat: FileStat,
    /// The file type and permission bits.
    pub(crate) mode: u32,
    /// How many names the file has.
    pub(crate) links: u64,
}

impl EntryStat {
    /// Whether any executable bit is set.
    pub(crate) fn is_exec(&self) -> bool {
        self.mode & 0o111 != 0
    }
}

/// One open folder, by the path it was opened at.
#[derive(Debug)]
struct Open {
    path: Vec<u8>,
    fd: OwnedFd,
}

/// The folder a walker thread is in, kept open while its entries come by.
#[derive(Debug, Default)]
pub(crate) struct Folder {
    open: Option<Open>,
}

// The calls below take a folder's descriptor and one name; std has no safe form of them.
#[allow(unsafe_code)]
impl Folder {
    /// Stats the entry at `path` (a folder's path joined with one name) by its name.
    pub(crate) fn stat(&mut self, path: &Path) -> io::Result<EntryStat> {
        let (fd, name) = self.enter(path)?;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `fd` is an open folder, `name` a NUL-terminated string and `st` a buffer
        // of the size `fstatat` writes; it is read only when the call succeeds.
        let rc = unsafe {
            libc::fstatat(
                fd,
                name.as_ptr(),
                st.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fstatat` succeeded, so it filled `st`.
        let st = unsafe { st.assume_init() };
        let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
        #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
        let stat = FileStat {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            size: st.st_size as u64,
            mtime_ns: ns(st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime_ns: ns(st.st_ctime as i64, st.st_ctime_nsec as i64),
        };
        #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
        let mode = st.st_mode as u32;
        #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
        let links = st.st_nlink as u64;
        Ok(EntryStat { stat, mode, links })
    }

    /// Opens the file at `path` for reading by its name; a symlink put in its place since
    /// the walk listed it is refused rather than followed, and a FIFO does not block.
    pub(crate) fn open(&mut self, path: &Path) -> io::Result<File> {
        let (fd, name) = self.enter(path)?;
        let flags =
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        // SAFETY: `fd` is an open folder and `name` a NUL-terminated string.
        let file = unsafe { libc::openat(fd, name.as_ptr(), flags) };
        if file < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `openat` returned a new descriptor that nothing else owns.
        Ok(unsafe { File::from_raw_fd(file) })
    }

    /// The target of the symlink at `path`, read by its name.
    pub(crate) fn read_link(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        let (fd, name) = self.enter(path)?;
        let mut buf = vec![0u8; 256];
        loop {
            // SAFETY: `fd` is an open folder, `name` NUL-terminated, and `buf` holds
            // `buf.len()` writable bytes.
            let n =
                unsafe { libc::readlinkat(fd, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n) = usize::try_from(n) else {
                return Err(io::Error::last_os_error());
            };
            // A target that fills the buffer may have been cut: try again with more room.
            if n < buf.len() {
                buf.truncate(n);
                return Ok(buf);
            }
            buf.resize(buf.len() * 4, 0);
        }
    }

    /// The open folder holding `path` (opened if it is not the current one) and its name.
    fn enter(&mut self, path: &Path) -> io::Result<(libc::c_int, CString)> {
        let bytes = path.as_os_str().as_bytes();
        let cut = bytes
            .iter()
            .rposition(|&b| b == b'/')
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a joined path"))?;
        let (parent, name) = (&bytes[..cut.max(1)], &bytes[cut + 1..]);
        let name =
            CString::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if self.open.as_ref().is_none_or(|o| o.path != parent) {
            self.open = None;
            self.open = Some(Open {
                fd: open_folder(OsStr::from_bytes(parent))?,
                path: parent.to_vec(),
            });
        }
        let fd = self.open.as_ref().map_or(-1, |o| o.fd.as_raw_fd());
        Ok((fd, name))
    }
}

#[allow(unsafe_code)]
fn open_folder(path: &OsStr) -> io::Result<OwnedFd> {
    let path = CString::new(path.as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // Linux can open a folder only to reach into it, which needs no read permission.
    #[cfg(target_os = "linux")]
    let access = libc::O_PATH;
    #[cfg(not(target_os = "linux"))]
    let access = libc::O_RDONLY;
    let flags = access | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: `path` is a NUL-terminated string.
    let fd = unsafe { libc::open(path.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `open` returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_reached_by_name_in_their_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        std::fs::create_dir(&a).unwrap();
        std::fs::write(a.join("f"), b"hello").unwrap();
        let long = "t".repeat(1000);
        std::os::unix::fs::symlink(&long, a.join("l")).unwrap();
        std::fs::write(tmp.path().join("g"), b"x").unwrap();

        let mut folder = Folder::default();
        let f = folder.stat(&a.join("f")).unwrap();
        assert!(!f.is_exec());
        assert_eq!(f.stat.size, 5);
        let meta = std::fs::symlink_metadata(a.join("f")).unwrap();
        assert_eq!(f.stat, FileStat::of(&meta));
        assert_eq!(folder.read_link(&a.join("l")).unwrap(), long.as_bytes());
        assert_eq!(folder.stat(&a.join("l")).unwrap().stat.size, 1000);
        assert!(
            folder.open(&a.join("l")).is_err(),
            "a symlink is not followed"
        );
        assert_eq!(folder.stat(&tmp.path().join("g")).unwrap().stat.size, 1);
        assert_eq!(
            std::io::read_to_string(folder.open(&a.join("f")).unwrap()).unwrap(),
            "hello"
        );
    }
}
