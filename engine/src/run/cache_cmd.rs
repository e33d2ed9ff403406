//! `BIN cache stats|verify|prune`: inspect, check and prune the store, and the images its
//! results made, which the daemon holds (`cache_images.rs`).

use super::cache_images::{ImageReclaim, images_stats};
use crate::backend::Connect;
use crate::cache::{PruneOptions, Store};
use crate::report::print;
use crate::report::{say, shown_lines};
use crate::run::engine::init_logging;
use crate::run::options::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

/// `BIN cache stats|verify|prune`; `connect` reaches the daemon that holds the images the
/// cached results made.
pub fn cache_command(m: &clap::ArgMatches, connect: Option<Connect>) -> u8 {
    if let Err(e) = init_logging() {
        say!("error: {}", shown_lines(&e.to_string()));
        return EXIT_USAGE;
    }
    // Looking must not make a store: a missing one is an empty one (one that cannot be looked
    // at is an error).
    match Store::default_root() {
        Ok(root) if matches!(root.try_exists(), Err(_) | Ok(true)) => {}
        Ok(root) => {
            print(&format!(
                "the cache at {} is empty: nothing has run with it yet\n",
                root.display()
            ));
            return EXIT_OK;
        }
        Err(e) => {
            say!("error: {}", shown_lines(&e.to_string()));
            return EXIT_USAGE;
        }
    }
    // `verify` and `prune` change the store under its lock: a store this user cannot write
    // is a configuration error, not a damaged one. `stats` only reads.
    let changes = matches!(m.subcommand_name(), Some("verify" | "prune"));
    let store = match Store::open_default().and_then(|s| match changes {
        true => s.usable().map(|()| s),
        false => Ok(s),
    }) {
        Ok(s) => s,
        Err(e) => {
            say!("error: {}", shown_lines(&e.to_string()));
            return EXIT_USAGE;
        }
    };
    let result = match m.subcommand() {
        Some(("stats", _)) => store.stats().and_then(|s| {
            let images = store.images()?;
            print(&format!("{s}{}", images_stats(connect, &images)));
            Ok(())
        }),
        Some(("verify", _)) => match store.verify() {
            Ok(report) if report.is_clean() => {
                print(&format!(
                    "the cache is sound: {} cached results, {} records of last runs, {} blobs, {} trees, {} checkouts checked\n",
                    report.records,
                    report.step_records,
                    report.blobs,
                    report.trees,
                    report.checkouts
                ));
                Ok(())
            }
            Ok(report) => {
                for problem in &report.problems {
                    print(&format!("removed: {problem}\n"));
                }
                print(
                    "the damaged entries above were removed; the steps they served will run again\n",
                );
                // The store is sound again, but a script that checks it learns it was not.
                return EXIT_FAILED;
            }
            Err(e) => Err(e),
        },
        Some(("prune", p)) => {
            let max_bytes = p.get_one::<u64>("max-size").copied();
            let max_age = p.get_one::<std::time::Duration>("max-age").copied();
            if max_bytes.is_none() && max_age.is_none() {
                say!("error: say what to prune with --max-size SIZE and/or --max-age AGE");
                return EXIT_USAGE;
            }
            let options = PruneOptions {
                max_bytes,
                max_age,
                grace: p
                    .get_one::<std::time::Duration>("grace")
                    .copied()
                    .unwrap_or_default(),
                ..PruneOptions::default()
            };
            let mut images = ImageReclaim::default();
            store
                .prune_reclaiming(&options, |ids| {
                    let (report, done) = ImageReclaim::run(connect, ids);
                    images = report;
                    done
                })
                .map(|r| print(&format!("{r}{images}")))
        }
        _ => Ok(()),
    };
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            say!("error: {}", shown_lines(&e.to_string()));
            EXIT_FAILED
        }
    }
}
