//! The small languages of `#[step(..)]`'s values: durations, memory sizes and CPU counts.

/// Parses `90s`, `10m`, `1h30m`, `500ms` into milliseconds.
pub(crate) fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let invalid = || {
        format!(
            "invalid timeout `{text}`, expected a duration like `90s`, `10m`, `1h30m` or `500ms`"
        )
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(invalid)?;
        if digits == 0 {
            return Err(invalid());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let (unit_ms, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else {
            return Err(invalid());
        };
        rest = &rest[len..];
        total = number
            .checked_mul(unit_ms)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("timeout `{text}` is too long"))?;
    }
    if total == 0 {
        return Err(format!("timeout `{text}` must be longer than zero"));
    }
    Ok(total)
}

/// Parses `512m`, `2g`, `64k` or a plain byte count into bytes (binary units, like Docker).
pub(crate) fn parse_memory(text: &str) -> Result<u64, String> {
    let invalid = || {
        format!(
            "invalid memory size `{text}`, expected bytes or a number with `k`, `m` or `g`, like `512m` or `2g`"
        )
    };
    let trimmed = text.trim();
    let (number, unit) = match trimmed.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&trimmed[..i], c.to_ascii_lowercase()),
        _ => (trimmed, 'b'),
    };
    let shift = match unit {
        'b' => 0,
        'k' => 10,
        'm' => 20,
        'g' => 30,
        _ => return Err(invalid()),
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid());
    }
    let n: u64 = number.parse().map_err(|_| invalid())?;
    let bytes = n
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("memory size `{text}` is too large"))?;
    if bytes == 0 {
        return Err(format!("memory size `{text}` must be larger than zero"));
    }
    Ok(bytes)
}

/// Parses `1.5`, `2`, `0.25` into thousandths of a CPU.
pub(crate) fn parse_millicpus(text: &str) -> Result<u32, String> {
    let invalid =
        || format!("invalid CPU count `{text}`, expected a positive number like `2` or `1.5`");
    let trimmed = text.trim();
    let (whole, frac) = trimmed.split_once('.').unwrap_or((trimmed, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > 3 {
        return Err(invalid());
    }
    let whole: u32 = whole.parse().map_err(|_| invalid())?;
    let frac: u32 = format!("{frac:0<3}").parse().map_err(|_| invalid())?;
    let millis = whole
        .checked_mul(1000)
        .and_then(|m| m.checked_add(frac))
        .ok_or_else(invalid)?;
    if millis == 0 {
        return Err(format!("CPU count `{text}` must be larger than zero"));
    }
    Ok(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("90s"), Ok(90_000));
        assert_eq!(parse_duration_ms("10m"), Ok(600_000));
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        for bad in ["ten", "", "10", "m", "1x", "0s", "1.5m", "-1s"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("512m"), Ok(512 << 20));
        assert_eq!(parse_memory("2g"), Ok(2 << 30));
        assert_eq!(parse_memory("2G"), Ok(2 << 30));
        assert_eq!(parse_memory("1024"), Ok(1024));
        for bad in ["", "g", "1.5g", "2x", "0", "-1m"] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpu_counts() {
        assert_eq!(parse_millicpus("1.5"), Ok(1500));
        assert_eq!(parse_millicpus("2"), Ok(2000));
        assert_eq!(parse_millicpus("0.25"), Ok(250));
        for bad in ["", "0", "1.2345", ".5", "one", "-1"] {
            assert!(parse_millicpus(bad).is_err(), "{bad}");
        }
    }
}
