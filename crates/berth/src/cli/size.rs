//! Sizes on the command line: `50GiB`, `1.5TiB`, `500MB`, `1024` (bytes); and sizes printed for people.

/// Parses a size into bytes. Binary units (`KiB`, `MiB`, `GiB`, `TiB`) are powers of 1024, decimal ones
/// (`KB`, `MB`, `GB`, `TB`) powers of 1000; `B` or no unit means bytes. Case does not matter.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "tib" | "t" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(format!("{text:?} is not a size: use e.g. 50GiB, 500MB, 1.5TiB or a number of bytes")),
    };
    let bad = || format!("{text:?} is not a size: a number must come first (e.g. 50GiB)");
    let bytes = match number.split_once('.') {
        None => number.parse::<u64>().map_err(|_| bad())?.checked_mul(multiplier),
        Some((whole, fraction)) => {
            let value: f64 = number.parse().map_err(|_| bad())?;
            if whole.is_empty() || fraction.is_empty() || multiplier == 1 {
                return Err(bad());
            }
            let bytes = value * multiplier as f64;
            (bytes < 9.2e18).then_some(bytes.round() as u64)
        }
    };
    bytes.filter(|b| i64::try_from(*b).is_ok()).ok_or_else(|| format!("{text:?} is too large"))
}

/// `bytes` for people: `1.5 GiB`, `512 B`.
pub fn human(bytes: u64) -> String {
    berth_registry::quotas::human_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn units() {
        assert_eq!(parse_size("50GiB"), Ok(50 << 30));
        assert_eq!(parse_size("1gib"), Ok(1 << 30));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("1.5TiB"), Ok(3 << 39));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size(" 2 MiB "), Ok(2 << 20));
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "GiB", "-5GiB", "1.5", "5 parsecs", "1..5GiB", ".5GiB", "99999999999TiB", "1e9"] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
    }
}
