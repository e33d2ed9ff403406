//! The run's secrets, made redacted from everything it prints and records before anything is
//! printed: its `Secret` inputs and the shared cache's token.

use std::io::Write as _;

use crate::artifact::Artifact;
use crate::report::{EventSink, github_escaped, say, shown};

/// A secret shorter than this is warned about: masking its text masks ordinary text too.
const SHORT_SECRET: usize = 8;

/// Makes every secret among the run's inputs, and the shared cache's `token`, redacted from
/// all that tanto prints and records; under GitHub Actions, also masked by the runner
/// (`::add-mask::`), before anything else is printed.
pub(super) fn guard_secrets(inputs: &[Artifact], token: Option<&str>, events: &EventSink) {
    let secrets = inputs.iter().filter_map(|input| match input {
        Artifact::Secret(secret) => Some((secret.name(), secret.expose())),
        _ => None,
    });
    for (name, value) in secrets.chain(token.map(|t| ("remote-token", t))) {
        events.add_secret(value);
        if value.chars().count() < SHORT_SECRET {
            say!(
                "warning: the secret `{}` is shorter than {SHORT_SECRET} characters: every place \
                 its text shows in what tanto prints and records is masked as `***`, ordinary \
                 text too; a real secret is longer",
                shown(name)
            );
        }
    }
    if std::env::var_os("GITHUB_ACTIONS").is_some() {
        let redactor = events.redactor();
        let mut err = std::io::stderr().lock();
        for form in redactor.mask_lines() {
            let _ = writeln!(err, "::add-mask::{}", github_escaped(form));
        }
    }
}
