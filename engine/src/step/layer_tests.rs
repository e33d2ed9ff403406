use super::*;

/// A tar archive as `copies_tar` writes them: GNU headers, with the times of the host.
fn archive(add: impl FnOnce(&mut tar::Builder<Vec<u8>>) -> io::Result<()>) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    add(&mut b).unwrap();
    b.into_inner().unwrap()
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Regular {
        0o644
    } else {
        0o755
    });
    h.set_mtime(1_700_000_000);
    h
}

/// `tar` pinned, with no limit that matters.
fn pinned(tar: &[u8], targets: &[&str]) -> Vec<u8> {
    let targets: Vec<String> = targets.iter().map(|t| (*t).to_owned()).collect();
    match pin_times(tar, &targets, Counted::new(Vec::new(), u64::MAX)) {
        Ok(counted) => counted.out,
        Err(e) => panic!("pinning failed: {}", e.error),
    }
}

/// Each entry of `tar`: its whole path, its link target, its time and its contents.
fn read(tar: &[u8]) -> Vec<(String, Option<String>, u64, String)> {
    let mut archive = tar::Archive::new(tar);
    (archive.entries().unwrap())
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            let link = (e.link_name().unwrap()).map(|l| l.display().to_string());
            let mtime = e.header().mtime().unwrap();
            let mut data = String::new();
            e.read_to_string(&mut data).unwrap();
            let path = path.trim_end_matches('/').to_owned();
            (path, link, mtime, data)
        })
        .collect()
}

#[test]
fn every_entry_and_each_folder_above_gets_the_fixed_time() {
    let tar = archive(|b| {
        b.append_data(
            &mut header(tar::EntryType::Regular, 2),
            "srv/app/msg",
            &b"hi"[..],
        )
    });
    let seen = read(&pinned(&tar, &["/srv/app/msg"]));
    let names: Vec<&str> = seen.iter().map(|(p, ..)| p.as_str()).collect();
    assert_eq!(names, ["srv", "srv/app", "srv/app/msg"]);
    assert!(
        seen.iter().all(|(_, _, t, _)| *t == LAYER_MTIME),
        "{seen:?}"
    );
    assert_eq!(seen[2].3, "hi");
}

#[test]
fn long_names_and_link_targets_are_kept_whole() {
    let long_file = format!("srv/{}", "L".repeat(150));
    let long_dir = format!("srv/{}", "d".repeat(100));
    let long_target = format!("/{}", "t".repeat(200));
    let tar = archive(|b| {
        b.append_data(
            &mut header(tar::EntryType::Directory, 0),
            "srv",
            io::empty(),
        )?;
        b.append_data(
            &mut header(tar::EntryType::Regular, 5),
            &long_file,
            &b"long\n"[..],
        )?;
        b.append_data(
            &mut header(tar::EntryType::Directory, 0),
            &long_dir,
            io::empty(),
        )?;
        let f = format!("{long_dir}/f");
        b.append_data(&mut header(tar::EntryType::Regular, 2), &f, &b"f\n"[..])?;
        let mut h = header(tar::EntryType::Symlink, 0);
        b.append_link(&mut h, "srv/longlink", &long_target)?;
        let mut h = header(tar::EntryType::Symlink, 0);
        h.set_link_name_literal(b"/")?;
        b.append_data(&mut h, "srv/root", io::empty())
    });
    let seen = read(&pinned(&tar, &["/srv"]));
    let entries: Vec<(&str, Option<&str>, &str)> = (seen.iter())
        .map(|(p, l, _, d)| (p.as_str(), l.as_deref(), d.as_str()))
        .collect();
    let f = format!("{long_dir}/f");
    assert_eq!(
        entries,
        [
            ("srv", None, ""),
            (long_file.as_str(), None, "long\n"),
            (long_dir.as_str(), None, ""),
            (f.as_str(), None, "f\n"),
            ("srv/longlink", Some(long_target.as_str()), ""),
            ("srv/root", Some("/"), ""),
        ]
    );
    assert!(
        seen.iter().all(|(_, _, t, _)| *t == LAYER_MTIME),
        "{seen:?}"
    );
}

#[test]
fn a_layer_is_spooled_with_its_size_and_diff_id_and_stops_at_the_limit() {
    let data = vec![7u8; 64 * 1024];
    let tar = archive(|b| {
        let mut h = header(tar::EntryType::Regular, data.len() as u64);
        b.append_data(&mut h, "srv/big", &data[..])
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.tar");
    let targets = ["/srv/big".to_owned()];

    let (size, diff_id) = spool(&tar[..], &targets, &path, u64::MAX).unwrap();
    let written = fs::read(&path).unwrap();
    assert_eq!(size, written.len() as u64);
    let hex: String = Sha256::digest(&written)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(diff_id, format!("sha256:{hex}"));
    assert_eq!(written, pinned(&tar, &["/srv/big"]));

    let refused = spool(&tar[..], &targets, &path, 32 * 1024);
    assert!(matches!(refused, Err(Spool::TooLarge)), "{refused:?}");
    assert!(fs::metadata(&path).unwrap().len() <= 32 * 1024);
}
