//! The pipelines the end-to-end tests run, one module per subject. The tests in `tests/` run
//! this binary against a real Docker daemon (and Podman).

pub mod bench;
pub mod folders;
pub mod grid;
pub mod hardening;
pub mod images;
pub mod layers;
pub mod matrix;
pub mod resolve;
pub mod sched;
pub mod secrets;
pub mod services;
pub mod services_apart;
pub mod services_client;
pub mod shared;
pub mod test_reports;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut cli = tanto::cli();
    // Only where a test names a registry's image: otherwise the step's image is missing.
    if let Ok(image) = std::env::var("TANTO_FIXTURE_PULL") {
        cli = cli.image_alias(resolve::PULLED, image);
    }
    cli = test_reports::register(cli);
    cli.image_alias("tanto-test/aliased:none", "tanto-test/busybox:latest")
        .pipeline(sched::wide)
        .pipeline(sched::spread)
        .pipeline(sched::failing)
        .pipeline(sched::sleepy)
        .pipeline(folders::cutoff)
        .pipeline(folders::names_only)
        .pipeline(folders::named_file)
        .pipeline(folders::selected)
        .pipeline(folders::bad_glob)
        .pipeline(folders::slow)
        .pipeline(sched::silent)
        .pipeline(sched::panicky)
        .pipeline(sched::no_image)
        .pipeline(sched::late)
        .pipeline(sched::dawdling)
        .pipeline(sched::effects)
        .pipeline(resolve::alias)
        .pipeline(resolve::pull)
        .pipeline(sched::limited)
        .pipeline(folders::view)
        .pipeline(folders::stored)
        .pipeline(sched::chatty)
        .pipeline(sched::relay)
        .pipeline(folders::packed)
        .pipeline(secrets::secretive)
        .pipeline(secrets::secretive_fail)
        .pipeline(secrets::secret_by_name)
        .pipeline(secrets::lookalike)
        .pipeline(folders::probe_fail)
        .pipeline(folders::unpacked)
        .pipeline(hardening::shaped)
        .pipeline(hardening::shaped_file)
        .pipeline(hardening::captured)
        .pipeline(hardening::captured_file)
        .pipeline(hardening::shaped_twice)
        .pipeline(hardening::nested)
        .pipeline(services::pg)
        .pipeline(services::svc_probe_hangs)
        .pipeline(services::pg_shared)
        .pipeline(services::pg_wired)
        .pipeline(services::svc_keyed)
        .pipeline(services::svc_never)
        .pipeline(services::svc_exits)
        .pipeline(services::svc_missing)
        .pipeline(services::svc_hold)
        .pipeline(services::svc_restarted)
        .pipeline(services::svc_consumer_fails)
        .pipeline(services::pg_fails)
        .pipeline(services::svc_dies)
        .pipeline(services::svc_twice)
        .pipeline(services::svc_no_image)
        .pipeline(services::svc_localhost)
        .pipeline(services::svc_probe_missing)
        .pipeline(services::svc_probe_fails)
        .pipeline(services_apart::pg_apart)
        .pipeline(services_apart::svc_two_names)
        .pipeline(services_apart::svc_started_by_timed_out)
        .pipeline(images::imaged)
        .pipeline(images::image_read)
        .pipeline(images::pushed)
        .pipeline(images::layered)
        .pipeline(images::fails_after_image)
        .pipeline(layers::bundled)
        .pipeline(services_client::pg_client)
        .pipeline(services_client::redis_client)
        .pipeline(bench::one)
        .pipeline(bench::ci20)
        .pipeline(matrix::matrix)
        .pipeline(grid::grid)
        .pipeline(shared::shared)
        .pipeline(shared::shared_dir)
        .pipeline(shared::shared_logs)
        .pipeline(shared::remade)
        .run()
}
