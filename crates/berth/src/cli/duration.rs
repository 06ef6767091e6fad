//! Durations on the command line: `30m`, `24h`, `7d`, `90s`, or plain seconds.

/// Parses a positive duration into seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let multiplier: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("{text:?} is not a duration: use e.g. 30m, 24h, 7d, or a number of seconds")),
    };
    if digits.is_empty() {
        return Err(format!("{text:?} is not a duration: a number must come first (e.g. 24h)"));
    }
    let n: u64 = digits.parse().map_err(|_| format!("{text:?} is too large"))?;
    let seconds = n.checked_mul(multiplier).ok_or_else(|| format!("{text:?} is too large"))?;
    if seconds == 0 {
        return Err("the duration must be positive".to_string());
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn units() {
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("24h"), Ok(86400));
        assert_eq!(parse_duration("7d"), Ok(604800));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("3600"), Ok(3600));
        assert_eq!(parse_duration(" 1h "), Ok(3600));
    }

    #[test]
    fn rejects_nonsense() {
        for bad in
            ["", "h", "-5m", "1.5h", "2w", "10 m", "1h30m", "0", "0d", "99999999999999999999", "999999999999999999d"]
        {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }
}
