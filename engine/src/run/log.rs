//! The runtime's log on standard error: `tracing` events at the levels `TANTO_LOG` picks, one
//! line each (`  WARN could not save the stat cache: .. path=..`), as tracing-subscriber's
//! `fmt` writes them without time or target; a small subscriber, since tanto has no spans.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// The level names `TANTO_LOG` takes, least verbose first.
pub(super) const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// `TANTO_LOG`'s directives: a default level and levels per target prefix (`tanto=debug`).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Filter {
    default: LevelFilter,
    /// Longest prefix first, so the most specific directive wins.
    targets: Vec<(String, LevelFilter)>,
}

impl Filter {
    /// Reads comma-separated directives, each a level or `TARGET=LEVEL`; empty means `warn`.
    /// `None` when one is neither. Without a bare level, targets no directive names log nothing.
    pub(super) fn parse(directives: &str) -> Option<Self> {
        let directives = directives.trim();
        if directives.is_empty() {
            return Some(Self {
                default: LevelFilter::WARN,
                targets: Vec::new(),
            });
        }
        let mut filter = Self {
            default: LevelFilter::OFF,
            targets: Vec::new(),
        };
        for d in directives
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            match d.split_once('=') {
                None => filter.default = level(d)?,
                Some((target, lvl)) => {
                    let target = target.trim();
                    let plain = |c: char| c.is_alphanumeric() || matches!(c, '_' | ':' | '-');
                    if target.is_empty() || !target.chars().all(plain) {
                        return None;
                    }
                    filter.targets.push((target.to_owned(), level(lvl)?));
                }
            }
        }
        filter.targets.sort_by_key(|t| std::cmp::Reverse(t.0.len()));
        Some(filter)
    }

    /// The most verbose level logged for `target`.
    fn level_for(&self, target: &str) -> LevelFilter {
        self.targets
            .iter()
            .find(|(prefix, _)| names(target, prefix))
            .map_or(self.default, |(_, l)| *l)
    }

    fn max(&self) -> LevelFilter {
        self.targets
            .iter()
            .map(|(_, l)| *l)
            .fold(self.default, LevelFilter::max)
    }
}

/// Whether directive `prefix` names `target`. The engine's modules go by `tanto`'s name too,
/// the crate users add: `tanto::cache` names `tanto_engine::cache`.
fn names(target: &str, prefix: &str) -> bool {
    if target.starts_with(prefix) {
        return true;
    }
    let Some(rest) = target.strip_prefix("tanto_engine") else {
        return false;
    };
    match prefix.strip_prefix("tanto") {
        Some(p) => rest.starts_with(p),
        None => "tanto".starts_with(prefix),
    }
}

fn level(word: &str) -> Option<LevelFilter> {
    let word = word.trim().to_ascii_lowercase();
    let i = LEVELS
        .iter()
        .position(|l| *l == word)
        .or_else(|| word.parse::<usize>().ok().filter(|&n| n < LEVELS.len()))?;
    Some(
        [
            LevelFilter::OFF,
            LevelFilter::ERROR,
            LevelFilter::WARN,
            LevelFilter::INFO,
            LevelFilter::DEBUG,
            LevelFilter::TRACE,
        ][i],
    )
}

/// Installs the log as the process's subscriber, unless one is installed already.
pub(super) fn install(filter: Filter, ansi: bool) {
    let max = filter.max();
    let _ = tracing::subscriber::set_global_default(Log { filter, ansi, max });
}

/// Writes each enabled event as one line on standard error.
struct Log {
    filter: Filter,
    ansi: bool,
    max: LevelFilter,
}

impl Log {
    fn line(&self, event: &Event<'_>) -> String {
        let meta = event.metadata();
        let (name, colour) = match *meta.level() {
            Level::TRACE => ("TRACE", "35"),
            Level::DEBUG => ("DEBUG", "34"),
            Level::INFO => (" INFO", "32"),
            Level::WARN => (" WARN", "33"),
            Level::ERROR => ("ERROR", "31"),
        };
        let mut line = if self.ansi {
            format!("\x1b[{colour}m{name}\x1b[0m ")
        } else {
            format!("{name} ")
        };
        let mut fields = Fields {
            out: &mut line,
            ansi: self.ansi,
            first: true,
        };
        event.record(&mut fields);
        line.push('\n');
        line
    }
}

impl Subscriber for Log {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.enabled(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        meta.is_event() && *meta.level() <= self.filter.level_for(meta.target())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max)
    }

    fn event(&self, event: &Event<'_>) {
        // One write per line, so lines of concurrent tasks never interleave.
        let _ = std::io::stderr()
            .lock()
            .write_all(self.line(event).as_bytes());
    }

    // Spans are never enabled, so these are never called with one of ours.
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

/// Writes an event's fields: the message as it is, the others as `name=value` (`Debug`).
struct Fields<'a> {
    out: &'a mut String,
    ansi: bool,
    first: bool,
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name().starts_with("log.") {
            return;
        }
        if !std::mem::take(&mut self.first) {
            self.out.push(' ');
        }
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        let name = field.name();
        match (name, self.ansi) {
            ("message", _) => {}
            (_, true) => {
                let _ = write!(self.out, "\x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m");
            }
            (_, false) => {
                let _ = write!(self.out, "{name}=");
            }
        }
        escape_into(self.out, &text);
    }
}

/// `text` with the characters that could drive a terminal written out, as tracing-subscriber
/// does: what is logged may come from a container.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\x1b' => out.push_str("\\x1b"),
            '\x07' => out.push_str("\\x07"),
            '\x08' => out.push_str("\\x08"),
            '\x0c' => out.push_str("\\x0c"),
            '\x7f' => out.push_str("\\x7f"),
            '\u{80}'..='\u{9f}' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_pick_the_most_specific_level() {
        let f = Filter::parse("info,tanto=debug,tanto::cache=off").unwrap();
        assert_eq!(f.level_for("tanto::run"), LevelFilter::DEBUG);
        assert_eq!(f.level_for("tanto::cache::store"), LevelFilter::OFF);
        assert_eq!(f.level_for("bollard"), LevelFilter::INFO);
        assert_eq!(f.max(), LevelFilter::DEBUG);
        // The engine's modules go by the name of the crate users add.
        assert_eq!(f.level_for("tanto_engine::run"), LevelFilter::DEBUG);
        assert_eq!(f.level_for("tanto_engine::cache::at"), LevelFilter::OFF);
        assert_eq!(f.level_for("tantoengine"), LevelFilter::DEBUG);
        let run = Filter::parse("tanto::run=trace").unwrap();
        assert_eq!(
            run.level_for("tanto_engine::run::runner"),
            LevelFilter::TRACE
        );
        assert_eq!(run.level_for("tanto_engine::cache"), LevelFilter::OFF);
        assert_eq!(run.level_for("tanto_engineering"), LevelFilter::OFF);
        let only = Filter::parse("tanto=TRACE").unwrap();
        assert_eq!(only.level_for("other"), LevelFilter::OFF);
        assert_eq!(
            Filter::parse(" ").unwrap().level_for("x"),
            LevelFilter::WARN
        );
        for bad in ["garbage", "tanto=loud", "=debug", "a[b]=debug"] {
            assert_eq!(Filter::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_line_is_the_level_then_the_message_then_the_fields_escaped() {
        let mut out = String::new();
        escape_into(&mut out, "a\x1b[31mb\u{9b}");
        assert_eq!(out, "a\\x1b[31mb\\u{9b}");
    }
}
