//! JUnit XML in the shape nextest writes it, read with `quick-xml`'s event reader, and the
//! text rules for writing it: what a test printed may hold ANSI colours and control
//! characters that XML 1.0 cannot carry, so both are dropped both ways.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// One `<testcase>` with the suite it is in.
#[derive(Debug, Default)]
pub(super) struct Case {
    /// The `name` of its `<testsuite>`.
    pub suite: String,
    pub name: String,
    pub classname: Option<String>,
    /// `time`, in seconds.
    pub time: Option<f64>,
    pub system_out: Option<String>,
    pub system_err: Option<String>,
    /// `<failure>`, `<error>` or `<skipped>`, when there is one.
    pub main: Option<(MainKind, Status)>,
    /// `<flakyFailure>`s and `<flakyError>`s: failed tries before a pass.
    pub flaky: Vec<Status>,
    /// `<rerunFailure>`s and `<rerunError>`s: the retries of a failure.
    pub reruns: Vec<Status>,
}

/// What a test case's main status element says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MainKind {
    /// `<failure>` or `<error>`.
    Failed,
    /// `<skipped>`.
    Skipped,
}

/// A status element: its `message`, its text (trimmed) and what the try printed.
#[derive(Debug, Default)]
pub(super) struct Status {
    pub message: Option<String>,
    /// `type`: nextest's kind of failure (`test timeout`, `test failure with exit code 3`).
    pub kind: Option<String>,
    pub description: Option<String>,
    pub system_out: Option<String>,
    pub system_err: Option<String>,
}

/// Every test case of a JUnit document, in order.
pub(super) fn read(xml: &str) -> Result<Vec<Case>, String> {
    let mut reader = Reader::from_str(xml);
    let mut cases = Vec::new();
    let mut suite = None;
    let mut root = false;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testsuites" => {
                root = true;
            }
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testsuite" => {
                root = true;
                suite = Some(attr(&e, b"name")?.ok_or("a <testsuite> without a name")?);
            }
            Event::End(e) if e.name().as_ref() == b"testsuite" => suite = None,
            ev @ (Event::Start(_) | Event::Empty(_)) => {
                let empty = matches!(ev, Event::Empty(_));
                let (Event::Start(e) | Event::Empty(e)) = ev else {
                    continue;
                };
                if e.name().as_ref() != b"testcase" {
                    continue;
                }
                let suite = suite.clone().ok_or("a <testcase> outside a <testsuite>")?;
                let mut case = Case {
                    suite,
                    name: attr(&e, b"name")?.ok_or("a <testcase> without a name")?,
                    classname: attr(&e, b"classname")?,
                    time: match attr(&e, b"time")? {
                        Some(t) => Some(t.parse().map_err(|_| format!("a time of {t:?}"))?),
                        None => None,
                    },
                    ..Case::default()
                };
                if !empty {
                    read_case(&mut reader, &mut case)?;
                }
                if case.main.is_none() && !case.reruns.is_empty() {
                    return Err(format!("test `{}` has reruns but no failure", case.name));
                }
                cases.push(case);
            }
            Event::Eof if root => return Ok(cases),
            Event::Eof => return Err("no <testsuites> or <testsuite> element".into()),
            _ => {}
        }
    }
}

/// The children of a `<testcase>`, up to its end.
fn read_case(reader: &mut Reader<&[u8]>, case: &mut Case) -> Result<(), String> {
    loop {
        let (e, empty) = match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) if e.name().as_ref() == b"testcase" => return Ok(()),
            Event::Eof => return Err("the file ends inside a <testcase>".into()),
            _ => continue,
        };
        let tag = e.name().as_ref().to_vec();
        let status = |reader: &mut Reader<&[u8]>| read_status(reader, &e, &tag, empty);
        match tag.as_slice() {
            b"failure" | b"error" | b"skipped" => {
                let kind = if tag == b"skipped" {
                    MainKind::Skipped
                } else {
                    MainKind::Failed
                };
                if case.main.is_some() {
                    return Err(format!("test `{}` has two failures", case.name));
                }
                case.main = Some((kind, status(reader)?));
            }
            b"flakyFailure" | b"flakyError" => case.flaky.push(status(reader)?),
            b"rerunFailure" | b"rerunError" => case.reruns.push(status(reader)?),
            b"system-out" if !empty => case.system_out = Some(text(reader, &tag)?),
            b"system-err" if !empty => case.system_err = Some(text(reader, &tag)?),
            _ if !empty => skip(reader, &tag)?,
            _ => {}
        }
    }
}

/// A status element: its message, its own text, and its `<system-out>` and `<system-err>`.
fn read_status(
    reader: &mut Reader<&[u8]>,
    e: &BytesStart<'_>,
    tag: &[u8],
    empty: bool,
) -> Result<Status, String> {
    let mut status = Status {
        message: attr(e, b"message")?,
        kind: attr(e, b"type")?,
        ..Status::default()
    };
    if empty {
        return Ok(status);
    }
    let mut description = String::new();
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(child) => {
                let name = child.name().as_ref().to_vec();
                match name.as_slice() {
                    b"system-out" => status.system_out = Some(text(reader, &name)?),
                    b"system-err" => status.system_err = Some(text(reader, &name)?),
                    _ => skip(reader, &name)?,
                }
            }
            Event::End(end) if end.name().as_ref() == tag => break,
            Event::Eof => return Err("the file ends inside a test's status".into()),
            ev => push_text(&mut description, &ev)?,
        }
    }
    let description = description.trim();
    status.description = (!description.is_empty()).then(|| clean(description));
    Ok(status)
}

/// The text of the element `tag` just opened, up to its end.
fn text(reader: &mut Reader<&[u8]>, tag: &[u8]) -> Result<String, String> {
    let mut out = String::new();
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::End(end) if end.name().as_ref() == tag => return Ok(clean(&out)),
            Event::Eof => return Err("the file ends inside a test's output".into()),
            ev => push_text(&mut out, &ev)?,
        }
    }
}

/// Adds the text an event stands for: plain text, CDATA, or an entity or character reference.
fn push_text(out: &mut String, ev: &Event<'_>) -> Result<(), String> {
    let bad = |e: &dyn std::fmt::Display| e.to_string();
    match ev {
        Event::Text(t) => out.push_str(&t.xml10_content().map_err(|e| bad(&e))?),
        Event::CData(t) => out.push_str(&t.decode().map_err(|e| bad(&e))?),
        Event::GeneralRef(r) => {
            if let Some(c) = r.resolve_char_ref().map_err(|e| bad(&e))? {
                out.push(c);
            } else {
                let name = r.decode().map_err(|e| bad(&e))?;
                let entity = quick_xml::escape::resolve_xml_entity(&name)
                    .ok_or_else(|| format!("an unknown entity `&{name};`"))?;
                out.push_str(entity);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Skips the element `tag` just opened, whatever it holds.
fn skip(reader: &mut Reader<&[u8]>, tag: &[u8]) -> Result<(), String> {
    reader
        .read_to_end(quick_xml::name::QName(tag))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The attribute `key` of `e`, unescaped and cleaned.
fn attr(e: &BytesStart<'_>, key: &[u8]) -> Result<Option<String>, String> {
    let Some(a) = e.try_get_attribute(key).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    // Unescaped but not normalized: a newline in a message stays a newline.
    let raw = std::str::from_utf8(&a.value).map_err(|e| e.to_string())?;
    let value = quick_xml::escape::unescape(raw).map_err(|e| e.to_string())?;
    Ok(Some(clean(&value)))
}

/// `text` without ANSI escape sequences (tools colour their output) and without the control
/// characters XML 1.0 cannot hold; tabs, newlines and carriage returns stay.
pub(crate) fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters, then a final byte from `@` to `~`.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC, DCS and the like: up to BEL or ST (`ESC \`).
                Some(']' | 'P' | '^' | '_' | 'X') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                // Any other escape: intermediates, then one final character.
                Some(c) if (' '..='/').contains(&c) => {
                    while chars.next_if(|c| (' '..='/').contains(c)).is_some() {}
                    chars.next();
                }
                _ => {}
            },
            '\t' | '\n' | '\r' => out.push(c),
            // Not characters XML 1.0 allows.
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `text` [cleaned](clean) and escaped for XML text or, with `attr`, for a quoted attribute,
/// where tabs and line breaks are written as character references so that they survive.
pub(crate) fn escape(text: &str, attr: bool) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in clean(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attr => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}
