//! Image references, checked against the grammar of the OCI distribution reference
//! (`[HOST[:PORT]/]NAME[:TAG][@DIGEST]`) before one reaches the daemon, so a bad one is
//! refused with what is wrong with it, not with the daemon's "no such image" or, worse, a
//! push under a tag it was not given (`name:` pushes `latest`).

/// What a reference is for: an image to run (a tag or a digest may pin it), or a push
/// target (a tag at most: the digest is what the push makes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceUse {
    /// An image a step runs in, or one that is pulled.
    Run,
    /// Where an image is pushed.
    Push,
}

/// Checks `reference` for `usage`; the error says what is wrong, for a message that names
/// the reference and where it came from.
pub fn check_reference(reference: &str, usage: ReferenceUse) -> Result<(), String> {
    if reference.is_empty() {
        return Err("it is empty".to_owned());
    }
    if let Some((scheme, _)) = reference.split_once("://") {
        return Err(format!(
            "a reference has no scheme: drop `{scheme}://` (`REGISTRY/NAME:TAG`)"
        ));
    }
    if let Some(c) = reference
        .chars()
        .find(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "it holds {c:?}: a reference has no blanks or control characters (`REGISTRY/NAME:TAG`)"
        ));
    }
    let (named, digest) = match reference.split_once('@') {
        Some((named, digest)) => (named, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        if usage == ReferenceUse::Push {
            return Err(
                "a push target takes a tag, not a digest (the push returns the digest)".to_owned(),
            );
        }
        check_digest(digest)?;
    }
    // A tag follows the last `:` after the last `/`; a `:` before it is a registry's port.
    let slash = named.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match named[slash..].rfind(':') {
        Some(i) => (&named[..slash + i], Some(&named[slash + i + 1..])),
        None => (named, None),
    };
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 && is_host(parts[0]) {
        check_host(parts[0])?;
        parts.remove(0);
    }
    for part in parts {
        check_component(part)?;
    }
    Ok(())
}

/// Whether the first part of a name is a registry: it holds a `.` or a `:`, or is
/// `localhost` (Docker's own rule; otherwise `team/app` is `docker.io/team/app`).
fn is_host(part: &str) -> bool {
    part.contains(['.', ':']) || part == "localhost"
}

fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        // An IPv6 address: `[::1]:5000`.
        let Some((address, after)) = rest.split_once(']') else {
            return Err(format!(
                "the registry `{host}` opens a `[` it does not close"
            ));
        };
        if address.is_empty() || !address.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(format!(
                "the registry `{host}` is not an IPv6 address in brackets"
            ));
        }
        let port =
            match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(|| {
                    format!("the registry `{host}` has `{after}` after its address")
                })?),
            };
        (None, port)
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (Some(name), Some(port)),
            None => (Some(host), None),
        }
    };
    if let Some(name) = name {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !name.split('.').all(label_ok) {
            return Err(format!(
                "the registry `{host}` is not a host name: letters, digits and `-`, in parts \
                 joined by `.`"
            ));
        }
    }
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!("the port of the registry `{host}` is not a number"));
    }
    Ok(())
}

/// A path component: lowercase letters and digits, joined by one `.`, one or two `_`, or
/// any number of `-`.
fn check_component(part: &str) -> Result<(), String> {
    if part.is_empty() {
        return Err("a part of the name between `/`s is empty".to_owned());
    }
    if part.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("the repository name must be lowercase (`{part}`)"));
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = part.as_bytes();
    let mut ok = alnum(char::from(bytes[0])) && alnum(char::from(bytes[bytes.len() - 1]));
    let mut i = 0;
    while ok && i < bytes.len() {
        let c = char::from(bytes[i]);
        if alnum(c) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(char::from(bytes[i])) {
            i += 1;
        }
        let sep = &part[start..i];
        ok = matches!(sep, "." | "_" | "__") || sep.chars().all(|c| c == '-');
    }
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{part}` is not a name: lowercase letters and digits, joined by `.`, `_`, `__` or \
             dashes"
        ))
    }
}

/// A tag: 1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`.
fn check_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("the tag after `:` is empty (leave out the `:` for `latest`)".to_owned());
    }
    let ok = tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the tag `{tag}` is not one: 1 to 128 letters, digits, `_`, `.` or `-`, not \
             starting with `.` or `-`"
        ))
    }
}

/// A digest: `ALGORITHM:HEX`, as `sha256:` and 64 hex digits.
fn check_digest(digest: &str) -> Result<(), String> {
    let ok = match digest.split_once(':') {
        Some(("sha256", hex)) => {
            hex.len() == 64
                && hex
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        }
        Some((algorithm, hex)) => {
            !algorithm.is_empty()
                && algorithm
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the digest `{digest}` is not one: `sha256:` and 64 lowercase hex digits"
        ))
    }
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;
