//! Folders held open by descriptor: listing them and reaching their entries by name
//! (`fstatat`, `openat`, `readlinkat`), instead of resolving a full path for every file.
//!
//! A warm hash of 100k files is mostly one stat per file; through the full path the kernel
//! looks up every component again (`link_path_walk`), which cost about a third of the walk's
//! CPU. The walk ([`crate::cache::walk`]) opens each folder once, lists it through the same
//! descriptor and reaches its files by the names the listing gave, NUL and all.

use std::ffi::{CStr, CString};
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

    /// The kind of entry the mode says.
    pub(crate) fn kind(&self) -> Kind {
        Kind::of_mode(self.mode)
    }

    /// What `st`, filled by a stat call, says.
    #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
    fn of(st: &libc::stat) -> Self {
        let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
        let stat = FileStat {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            size: st.st_size as u64,
            mtime_ns: ns(st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime_ns: ns(st.st_ctime as i64, st.st_ctime_nsec as i64),
        };
        Self {
            stat,
            mode: st.st_mode as u32,
            links: st.st_nlink as u64,
        }
    }
}

/// What a listed entry is, as far as a walk cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A folder.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A socket, FIFO or device.
    Special,
    /// The listing did not say; `fstatat` will.
    Unknown,
}

impl Kind {
    fn of_mode(mode: u32) -> Self {
        #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
        match mode & (libc::S_IFMT as u32) {
            m if m == libc::S_IFDIR as u32 => Kind::Dir,
            m if m == libc::S_IFREG as u32 => Kind::File,
            m if m == libc::S_IFLNK as u32 => Kind::Symlink,
            _ => Kind::Special,
        }
    }

    fn of_d_type(t: u8) -> Self {
        match t {
            libc::DT_DIR => Kind::Dir,
            libc::DT_REG => Kind::File,
            libc::DT_LNK => Kind::Symlink,
            libc::DT_UNKNOWN => Kind::Unknown,
            _ => Kind::Special,
        }
    }
}

/// One listed entry: its name's place in the listing's name buffer, and its kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Listed {
    start: u32,
    /// The name's length, without its NUL.
    len: u32,
    /// What the listing says the entry is.
    pub(crate) kind: Kind,
}

impl Listed {
    /// The entry's name, without its NUL.
    pub(crate) fn name<'a>(&self, names: &'a [u8]) -> &'a [u8] {
        let start = self.start as usize;
        &names[start..start + self.len as usize]
    }

    /// The entry's name as the `*at` calls take it.
    pub(crate) fn c_name<'a>(&self, names: &'a [u8]) -> &'a CStr {
        let start = self.start as usize;
        let end = start + self.len as usize + 1;
        // The listing stored the name with its NUL and without any other.
        CStr::from_bytes_with_nul(&names[start..end]).unwrap_or_default()
    }
}

/// A folder held open by its descriptor.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
}

// The calls below take a folder's descriptor and one name; std has no safe form of them.
#[allow(unsafe_code)]
impl Dir {
    /// Opens the folder at `path`.
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let path = CString::new(path.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: `path` is a NUL-terminated string.
        let fd = unsafe { libc::open(path.as_ptr(), flags) };
        Self::from_fd(fd)
    }

    /// Opens the folder at `rel`, a path below this one, refusing a symlink in its place.
    pub(crate) fn open_below(&self, rel: &[u8]) -> io::Result<Self> {
        let rel = CString::new(rel).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW;
        // SAFETY: `self.fd` is an open folder and `rel` a NUL-terminated string.
        let fd = unsafe { libc::openat(self.fd.as_raw_fd(), rel.as_ptr(), flags) };
        Self::from_fd(fd)
    }

    fn from_fd(fd: libc::c_int) -> io::Result<Self> {
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the call returned a new descriptor that nothing else owns.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Lists the folder into `names` (each name followed by its NUL) and `out`, both cleared
    /// first; `.` and `..` are left out.
    pub(crate) fn list(&self, names: &mut Vec<u8>, out: &mut Vec<Listed>) -> io::Result<()> {
        names.clear();
        out.clear();
        // `fdopendir` takes the descriptor it is given, so it gets a copy of ours.
        // SAFETY: `self.fd` is open; `F_DUPFD_CLOEXEC` returns a new descriptor or -1.
        let copy = unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if copy < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `copy` is a descriptor nothing else owns; on success the stream owns it.
        let stream = unsafe { libc::fdopendir(copy) };
        if stream.is_null() {
            let err = io::Error::last_os_error();
            // SAFETY: `fdopendir` failed, so `copy` is still ours to close.
            unsafe { libc::close(copy) };
            return Err(err);
        }
        // The copy shares its position with our descriptor, which an earlier listing left at
        // the end: every listing starts from the first entry.
        // SAFETY: `stream` is an open directory stream.
        unsafe { libc::rewinddir(stream) };
        let result = loop {
            // `readdir` tells its end from an error only by `errno`.
            clear_errno();
            // SAFETY: `stream` is an open directory stream used by this thread alone.
            let entry = unsafe { libc::readdir(stream) };
            if entry.is_null() {
                let err = io::Error::last_os_error();
                break if err.raw_os_error() == Some(0) {
                    Ok(())
                } else {
                    Err(err)
                };
            }
            // SAFETY: `readdir` returned an entry valid until the next call on `stream`,
            // whose name is NUL-terminated.
            let (name, d_type) = unsafe {
                let entry = &*entry;
                (CStr::from_ptr(entry.d_name.as_ptr()), entry.d_type)
            };
            let name = name.to_bytes_with_nul();
            if name == b".\0" || name == b"..\0" {
                continue;
            }
            let (Ok(start), Ok(len)) = (u32::try_from(names.len()), u32::try_from(name.len() - 1))
            else {
                break Err(io::Error::other("a folder listing larger than 4 GiB"));
            };
            names.extend_from_slice(name);
            out.push(Listed {
                start,
                len,
                kind: Kind::of_d_type(d_type),
            });
        };
        // SAFETY: `stream` is open and closed once, here; it closes `copy`.
        unsafe { libc::closedir(stream) };
        result
    }

    /// Stats the entry `name` of this folder, not following a symlink.
    pub(crate) fn stat(&self, name: &CStr) -> io::Result<EntryStat> {
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `self.fd` is an open folder, `name` a NUL-terminated string and `st` a
        // buffer of the size `fstatat` writes; it is read only when the call succeeds.
        let rc = unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                name.as_ptr(),
                st.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fstatat` succeeded, so it filled `st`.
        Ok(EntryStat::of(&unsafe { st.assume_init() }))
    }

    /// Opens the file `name` of this folder for reading as [`open_file`](Self::open_file)
    /// does, and stats what was opened: for a file that is to be read anyway, this saves
    /// looking its name up twice.
    pub(crate) fn open_and_stat(&self, name: &CStr) -> io::Result<(File, EntryStat)> {
        let file = self.open_file(name)?;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `file` is open and `st` a buffer of the size `fstat` writes; it is read
        // only when the call succeeds.
        if unsafe { libc::fstat(file.as_raw_fd(), st.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fstat` succeeded, so it filled `st`.
        Ok((file, EntryStat::of(&unsafe { st.assume_init() })))
    }

    /// Opens the file `name` of this folder for reading; a symlink put in its place since
    /// the listing is refused rather than followed, and a FIFO does not block.
    pub(crate) fn open_file(&self, name: &CStr) -> io::Result<File> {
        let flags =
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        // SAFETY: `self.fd` is an open folder and `name` a NUL-terminated string.
        let file = unsafe { libc::openat(self.fd.as_raw_fd(), name.as_ptr(), flags) };
        if file < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `openat` returned a new descriptor that nothing else owns.
        Ok(unsafe { File::from_raw_fd(file) })
    }

    /// The target of the symlink `name` of this folder.
    pub(crate) fn read_link(&self, name: &CStr) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; 256];
        loop {
            // SAFETY: `self.fd` is an open folder, `name` NUL-terminated, and `buf` holds
            // `buf.len()` writable bytes.
            let n = unsafe {
                libc::readlinkat(
                    self.fd.as_raw_fd(),
                    name.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
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
}

/// Sets the calling thread's `errno` to 0.
#[allow(unsafe_code)]
fn clear_errno() {
    // SAFETY: each returns the calling thread's own `errno`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    unsafe {
        *libc::__errno_location() = 0;
    }
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    unsafe {
        *libc::__error() = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_listed_and_reached_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        std::fs::create_dir(&a).unwrap();
        std::fs::write(a.join("f"), b"hello").unwrap();
        let long = "t".repeat(1000);
        std::os::unix::fs::symlink(&long, a.join("l")).unwrap();
        std::fs::create_dir(a.join("d")).unwrap();

        let root = Dir::open(tmp.path()).unwrap();
        let dir = root.open_below(b"a").unwrap();
        let (mut names, mut listed) = (Vec::new(), Vec::new());
        dir.list(&mut names, &mut listed).unwrap();
        let first = listed.len();
        dir.list(&mut names, &mut listed).unwrap();
        assert_eq!(
            listed.len(),
            first,
            "a second listing starts from the first entry"
        );
        let mut seen: Vec<_> = listed
            .iter()
            .map(|e| (e.name(&names).to_vec(), e.kind))
            .collect();
        seen.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            seen,
            [
                (b"d".to_vec(), Kind::Dir),
                (b"f".to_vec(), Kind::File),
                (b"l".to_vec(), Kind::Symlink)
            ]
        );
        let c = |s: &str| CString::new(s).unwrap();
        let f = dir.stat(&c("f")).unwrap();
        assert!(!f.is_exec());
        assert_eq!(f.kind(), Kind::File);
        let meta = std::fs::symlink_metadata(a.join("f")).unwrap();
        assert_eq!(f.stat, FileStat::of(&meta));
        assert_eq!(dir.read_link(&c("l")).unwrap(), long.as_bytes());
        assert_eq!(dir.stat(&c("l")).unwrap().kind(), Kind::Symlink);
        assert!(dir.open_file(&c("l")).is_err(), "a symlink is not followed");
        assert_eq!(
            std::io::read_to_string(dir.open_file(&c("f")).unwrap()).unwrap(),
            "hello"
        );
        std::os::unix::fs::symlink(&a, tmp.path().join("b")).unwrap();
        assert!(
            root.open_below(b"b").is_err(),
            "a symlinked folder is not entered"
        );
    }
}
