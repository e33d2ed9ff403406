use super::*;
use futures_util::StreamExt;

async fn collect(stream: TarStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stream = stream;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

#[tokio::test]
async fn copies_round_trip_with_modes_links_and_owner() {
    let src = tempfile::tempdir().unwrap();
    fs::create_dir(src.path().join("sub")).unwrap();
    fs::write(src.path().join("sub/run.sh"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(
        src.path().join("sub/run.sh"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("sub/run.sh", src.path().join("link")).unwrap();
    std::os::unix::fs::symlink("/", src.path().join("root")).unwrap();

    let entries = vec![
        CopyEntry {
            target: "/work/src".into(),
            source: CopySource::Tree {
                root: src.path().to_path_buf(),
                skip: Vec::new(),
            },
        },
        CopyEntry {
            target: "/etc/greeting".into(),
            source: CopySource::Bytes(Arc::from(&b"hi"[..])),
        },
    ];
    let bytes = collect(copies_tar(entries, (1000, 1000))).await;

    let mut archive = tar::Archive::new(&bytes[..]);
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        assert_eq!(h.uid().unwrap(), 1000);
        if entry.path().unwrap().ends_with("root") {
            assert_eq!(entry.link_name_bytes().unwrap().as_ref(), b"/");
        }
        seen.push((
            entry.path().unwrap().display().to_string(),
            h.mode().unwrap() & 0o777,
            h.entry_type().is_symlink(),
        ));
    }
    assert!(seen.contains(&("work/src/sub/run.sh".into(), 0o755, false)));
    assert!(seen.contains(&("work/src/link".into(), 0o777, true)));
    assert!(seen.contains(&("work/src/root".into(), 0o777, true)));
    assert!(seen.contains(&("etc/greeting".into(), 0o644, false)));
}

#[tokio::test]
async fn a_folder_is_copied_without_what_it_skips() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join(".gitignore"), "target/\n*.env\n").unwrap();
    fs::create_dir_all(src.path().join("target/debug")).unwrap();
    fs::write(src.path().join("target/debug/app"), "binary").unwrap();
    fs::create_dir(src.path().join("src")).unwrap();
    fs::write(src.path().join("src/lib.rs"), "").unwrap();
    fs::write(src.path().join("src/secret.env"), "TOKEN=1").unwrap();
    let entries = vec![CopyEntry {
        target: "/src".into(),
        source: CopySource::Tree {
            root: src.path().to_path_buf(),
            skip: vec!["target".into(), "src/secret.env".into()],
        },
    }];
    let bytes = collect(copies_tar(entries, (0, 0))).await;
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut seen: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    seen.sort();
    assert_eq!(seen, ["src", "src/.gitignore", "src/src", "src/src/lib.rs"]);
}

/// An archive of `out/` holding `entries` (path, kind, size, link target).
fn archive(entries: &[(&str, tar::EntryType, u64, Option<&str>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header(tar::EntryType::Directory, 0o755, 0, (0, 0));
    b.append_data(&mut h, "out", io::empty()).unwrap();
    for &(path, kind, size, target) in entries {
        let mut h = header(kind, 0o644, size, (0, 0));
        match target {
            Some(target) => b.append_link(&mut h, path, target).unwrap(),
            None => b
                .append_data(&mut h, path, io::repeat(b'x').take(size))
                .unwrap(),
        }
    }
    b.into_inner().unwrap()
}

#[test]
fn hard_links_count_as_full_copies_against_the_limit() {
    use tar::EntryType::{Link, Regular};
    let tar = archive(&[
        ("out/a", Regular, 1000, None),
        ("out/b", Link, 0, Some("out/a")),
        ("out/c", Link, 0, Some("out/a")),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let stopped = unpack_single(&tar[..], &tmp.path().join("x"), 2500);
    assert!(matches!(stopped, Err(Unpack::TooLarge)), "{stopped:?}");
    let top = unpack_single(&tar[..], &tmp.path().join("y"), 3000).unwrap();
    assert_eq!(fs::read_dir(top).unwrap().count(), 3);
}

#[test]
fn entries_that_would_land_outside_are_skipped() {
    use tar::EntryType::{Regular, Symlink};
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    // A link out, then a file written through it.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header(tar::EntryType::Directory, 0o755, 0, (0, 0));
    b.append_data(&mut h, "out", io::empty()).unwrap();
    let mut h = header(Symlink, 0o777, 0, (0, 0));
    b.append_link(&mut h, "out/esc", &outside).unwrap();
    let mut h = header(Regular, 0o644, 2, (0, 0));
    h.set_path("out/esc/pwned").unwrap();
    h.set_cksum();
    b.append(&h, &b"hi"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let result = unpack_single(&tar[..], &tmp.path().join("dest"), 1 << 20);
    assert!(!outside.join("pwned").exists(), "{result:?}");
}

#[test]
fn a_folder_entry_never_changes_a_folder_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::set_permissions(&outside, fs::Permissions::from_mode(0o700)).unwrap();
    // The archive of `/` names its entries from the root: a folder entry by an absolute
    // path (written into the header by hand, as `tar` refuses to build one).
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header(tar::EntryType::Directory, 0o755, 0, (0, 0));
    let name = format!("{}/", outside.display());
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_cksum();
    b.append(&h, io::empty()).unwrap();
    // A link out, then a folder entry of the same name.
    let mut h = header(tar::EntryType::Symlink, 0o777, 0, (0, 0));
    b.append_link(&mut h, "esc", &outside).unwrap();
    let mut h = header(tar::EntryType::Directory, 0o755, 0, (0, 0));
    b.append_data(&mut h, "esc", io::empty()).unwrap();
    let tar = b.into_inner().unwrap();
    let _ = unpack_single(&tar[..], &tmp.path().join("dest"), 1 << 20);
    let mode = fs::metadata(&outside).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "a folder outside the destination was changed");
}

#[test]
fn fifos_and_devices_are_skipped_not_made_empty_files() {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header(tar::EntryType::Directory, 0o755, 0, (0, 0));
    b.append_data(&mut h, "out", io::empty()).unwrap();
    for (name, kind) in [
        ("out/fifo", tar::EntryType::Fifo),
        ("out/null", tar::EntryType::Char),
        ("out/sda", tar::EntryType::Block),
    ] {
        let mut h = header(kind, 0o644, 0, (0, 0));
        b.append_data(&mut h, name, io::empty()).unwrap();
    }
    let mut h = header(tar::EntryType::Regular, 0o644, 2, (0, 0));
    b.append_data(&mut h, "out/kept", &b"hi"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let top = unpack_single(&tar[..], &tmp.path().join("dest"), 1 << 20).unwrap();
    let names: Vec<String> = fs::read_dir(top)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["kept"]);
}

#[test]
fn unpack_returns_the_single_top_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let tar_path = tmp.path().join("a.tar");
    let mut b = tar::Builder::new(fs::File::create(&tar_path).unwrap());
    let mut h = header(tar::EntryType::Directory, 0o755, 0, (0, 0));
    b.append_data(&mut h, "out", io::empty()).unwrap();
    let mut h = header(tar::EntryType::Regular, 0o755, 2, (0, 0));
    b.append_data(&mut h, "out/x", &b"hi"[..]).unwrap();
    b.finish().unwrap();
    drop(b);
    let file = fs::File::open(&tar_path).unwrap();
    let top = unpack_single(file, &tmp.path().join("dest"), 1 << 20).unwrap();
    assert_eq!(top, tmp.path().join("dest/out"));
    let mode = fs::metadata(top.join("x")).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111);
}

#[test]
fn an_entry_that_cannot_be_written_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    // A file, then an entry under it as if it were a folder: the second cannot be written.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header(tar::EntryType::Regular, 0o644, 2, (0, 0));
    b.append_data(&mut h, "top", &b"hi"[..]).unwrap();
    let mut h = header(tar::EntryType::Regular, 0o644, 2, (0, 0));
    b.append_data(&mut h, "top/under", &b"hi"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let dest = tmp.path().join("dest");
    let Err(Unpack::Failed(e)) = unpack_single(&tar[..], &dest, 1 << 20) else {
        panic!("unpacked");
    };
    assert_eq!(
        e.relocated(&dest, "/work").to_string(),
        "unpack an archive from the container: failed to unpack `/work/top/under`: Not a directory (os error 20)"
    );
}
