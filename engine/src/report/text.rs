//! Text that leaves tanto for a person or a CI runner: what a container printed is shown, never
//! interpreted, and standard output survives a closed pipe.
//!
//! Everything a step prints is hostile input: escape sequences could redraw a terminal, and a
//! line that starts with `::` is a GitHub Actions workflow command (`::add-mask::`,
//! `::error::`). Every human view passes such text through [`shown`]; the GitHub view also
//! escapes what it puts inside a workflow command of its own with [`github_message`] and
//! [`github_property`].

use crate::shown::shown;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// `text` of one line or several, for where its lines start lines of the output (an error that
/// quotes what a user typed or a command printed): each line [`shown`], and a `::` that starts
/// one after blanks, which the GitHub Actions runner would read as a workflow command, written
/// as `\u{3a}:`.
pub(crate) fn shown_lines(text: &str) -> String {
    let line_start = |line: &str| {
        let shown = shown(line);
        let blanks = shown.len() - shown.trim_start().len();
        match shown[blanks..].strip_prefix("::") {
            Some(rest) => format!("{}\\u{{3a}}:{rest}", &shown[..blanks]),
            None => shown,
        }
    };
    text.lines().map(line_start).collect::<Vec<_>>().join("\n")
}

/// How many columns `shown` text takes on a terminal: what a table's width is measured by, so
/// that its columns line up as printed (an escaped control is several columns, a wide
/// character two).
pub(crate) fn columns(shown: &str) -> usize {
    console::measure_text_width(shown)
}

/// `shown` text padded with spaces to `width` [columns]; text as wide or wider is left as it is.
pub(crate) fn padded(shown: &str, width: usize) -> String {
    let pad = width.saturating_sub(columns(shown));
    format!("{shown}{:pad$}", "")
}

/// `text` as the message of a GitHub Actions workflow command: [`shown`], then
/// [`github_escaped`].
pub(crate) fn github_message(text: &str) -> String {
    github_escaped(&shown(text))
}

/// `text` as the data of a GitHub Actions workflow command, exactly: `%`, carriage returns and
/// newlines escaped as the runner unescapes them (`::add-mask::` must register the text
/// itself, never what the runner would read it as).
pub(crate) fn github_escaped(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// `text` as a property of a GitHub Actions workflow command (`title=..`): like
/// [`github_message`], with `:` and `,` escaped too.
pub(crate) fn github_property(text: &str) -> String {
    github_message(text).replace(':', "%3A").replace(',', "%2C")
}

/// `1 step`, `2 steps`.
pub(crate) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `items` joined for a sentence, the first three and how many more.
pub(crate) fn listed(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [first @ .., last] if items.len() <= 3 => format!("{} and {last}", first.join(", ")),
        _ => format!("{} and {} more", items[..3].join(", "), items.len() - 3),
    }
}

/// `at` as people read it in UTC: `2026-11-30 13:45:02 UTC`.
pub(crate) fn utc(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil, for days since 1970-01-01.
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `eprintln!` that never panics: when standard error is a closed pipe (`BIN 2>&1 | head -1`)
/// or fails, what tanto says about the run is dropped, and the run ends as it would have.
macro_rules! say {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr().lock(), $($arg)*);
    }};
}
pub(crate) use say;

/// Set once standard output is a closed pipe: nothing more is written to it.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Standard output for what a command produces. Writes to a closed pipe (`BIN --list | head
/// -1`) are dropped instead of failing, so the command ends quietly (and a run still removes
/// its containers); other errors are dropped too, as `print!` would have panicked on them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !STDOUT_CLOSED.load(Ordering::Relaxed)
            && let Err(e) = io::stdout().lock().write_all(buf)
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !STDOUT_CLOSED.load(Ordering::Relaxed)
            && let Err(e) = io::stdout().lock().flush()
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Writes `text` to standard output through [`Stdout`].
pub(crate) fn print(text: &str) {
    let _ = Stdout.write_all(text.as_bytes());
    let _ = Stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_dates() {
        use std::time::{Duration, UNIX_EPOCH};
        let at = |secs| utc(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(at(1_796_046_302), "2026-11-30 13:45:02 UTC");
    }

    #[test]
    fn colours_go_and_controls_are_shown_not_obeyed() {
        assert_eq!(shown("\u{1b}[1;31merror\u{1b}[0m: x\r"), "error: x");
        assert_eq!(
            shown("a\n::add-mask::secret"),
            "a\\u{a}::add-mask::secret",
            "a newline cannot start a workflow command"
        );
        assert_eq!(
            shown("bell\u{7}\u{1b}]0;title\u{7}"),
            "bell\\u{7}\\u{1b}]0;title\\u{7}"
        );
        assert_eq!(shown("tab\tkept"), "tab\tkept");
        assert_eq!(
            shown_lines("  ::error::x\n::a"),
            "  \\u{3a}:error::x\n\\u{3a}:a",
            "the runner reads a command after leading blanks"
        );
        assert_eq!(shown_lines("a ::b:: c"), "a ::b:: c");
        assert_eq!(
            shown("[x] ##[error]legacy ##[add-mask]t"),
            "[x] #\\u{23}[error]legacy #\\u{23}[add-mask]t",
            "the runner reads the old form anywhere in a line"
        );
        assert_eq!(shown("# [x] ## x #"), "# [x] ## x #");
        assert_eq!(
            shown_lines("failing x\n    ::warning::injected"),
            "failing x\n    \\u{3a}:warning::injected"
        );
        assert_eq!(shown("c1 \u{9b}2J"), "c1 \\u{9b}2J");
    }

    #[test]
    fn padding_counts_the_columns_printed() {
        let label = shown("a\nb");
        assert_eq!(columns(&label), 7, "{label}");
        assert_eq!(padded(&label, 9), "a\\u{a}b  ");
        assert_eq!(
            padded("日本", 5),
            "日本 ",
            "a wide character takes two columns"
        );
        assert_eq!(padded("long", 2), "long");
    }

    #[test]
    fn workflow_command_fields_are_escaped() {
        assert_eq!(github_message("100% done\nnext"), "100%25 done\\u{a}next");
        assert_eq!(github_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(github_escaped("p%25w\r\n\u{1b}"), "p%2525w%0D%0A\u{1b}");
    }

    #[test]
    fn a_list_in_a_sentence_names_three_and_counts_the_rest() {
        let items = |n: usize| (1..=n).map(|i| format!("`s{i}`")).collect::<Vec<_>>();
        assert_eq!(listed(&items(1)), "`s1`");
        assert_eq!(listed(&items(2)), "`s1` and `s2`");
        assert_eq!(listed(&items(3)), "`s1`, `s2` and `s3`");
        assert_eq!(listed(&items(5)), "`s1`, `s2`, `s3` and 2 more");
    }
}
