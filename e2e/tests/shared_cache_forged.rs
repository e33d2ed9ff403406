//! A record another machine wrote is hostile, against a real BuildGrid: what a key holds only
//! to explain a miss (the values it shows, code items' places, upstream labels) is left out of
//! its digest, so a server can change it without changing the key. A remote hit keeps this
//! machine's own key for that, and the next miss tells the truth.

mod support;

use support::buildgrid::BuildGrid;
use support::remote_cache::{ok, run, sources};
use support::{of_kind, started_reason};

#[test]
fn a_remote_hit_explains_the_next_miss_by_this_machines_key() {
    let server = BuildGrid::start("");
    let url = server.url();
    let store_a = tempfile::tempdir().expect("a temporary folder");
    let src = sources();
    ok(&run(
        store_a.path(),
        &url,
        &["shared", "--pause", "0", "--remote-upload"],
        src.path(),
    ));
    // `bundle`'s result now says `pause` was 7 (a result with a folder is in no index).
    assert_eq!(server.forge_records(r#""value":"0""#, r#""value":"7""#), 1);

    let store_b = tempfile::tempdir().expect("a temporary folder");
    let (hits, _) = ok(&run(
        store_b.path(),
        &url,
        &["shared", "--pause", "0"],
        src.path(),
    ));
    assert!(of_kind(&hits, "step_started").is_empty(), "{hits:?}");
    assert_eq!(of_kind(&hits, "step_cached").len(), 3, "{hits:?}");

    let (missed, _) = ok(&run(
        store_b.path(),
        &url,
        &["shared", "--pause", "1"],
        src.path(),
    ));
    assert_eq!(
        started_reason(&missed, "bundle"),
        "input `pause` changed from 0 to 1",
        "{missed:?}"
    );
}
