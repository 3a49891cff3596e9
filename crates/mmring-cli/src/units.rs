//! Parsing and printing of sizes (`64KiB`), capacities, durations (`500ms`) and modes (`0640`).

use std::time::Duration;

/// Smallest and largest ring capacity the library accepts.
const MIN_CAPACITY: u64 = 64;
const MAX_CAPACITY: u64 = 4 << 30;

/// Parses a byte count: a whole number with an optional unit. `K`, `KiB`, `M`, `MiB`, `G`,
/// `GiB` are powers of 1024; `kB`, `MB`, `GB` are powers of 1000; `B` or nothing means bytes.
/// Units are case-insensitive and may follow a space.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!(
            "'{s}' is not a size: expected a number with an optional unit, e.g. 4096, 64KiB, 16MiB"
        ));
    }
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is too large a number"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{s}' (use B, KiB, MiB, GiB, or kB, MB, GB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large a size"))
}

/// Parses a ring capacity: a size (see [`parse_size`]) that is a power of two from 64 bytes to
/// 4 GiB.
pub fn parse_capacity(s: &str) -> Result<u64, String> {
    let n = parse_size(s)?;
    if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&n) {
        return Err(format!(
            "capacity {} is out of range: a ring holds 64 B to 4 GiB",
            human_bytes(n)
        ));
    }
    if !n.is_power_of_two() {
        return Err(format!(
            "capacity {n} is not a power of two (nearest: {} or {})",
            human_bytes(n.next_power_of_two() / 2),
            human_bytes(n.next_power_of_two())
        ));
    }
    Ok(n)
}

/// Parses a non-zero message size for the benchmark (a size, see [`parse_size`]).
pub fn parse_message_size(s: &str) -> Result<usize, String> {
    let n = parse_size(s)?;
    if n < 8 {
        return Err(format!(
            "message size {n} is too small: benchmark messages carry an 8-byte sequence number"
        ));
    }
    usize::try_from(n).map_err(|_| format!("'{s}' is too large"))
}

/// Parses a duration: a decimal number with an optional unit `ms`, `s` (the default), `m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| {
        format!("'{s}' is not a duration: expected a number with an optional unit, e.g. 2s, 500ms")
    })?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" => n / 1e6,
        "m" | "min" => n * 60.0,
        other => return Err(format!("unknown unit '{other}' in '{s}' (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("'{s}' is out of range"))
}

/// Parses permission bits in octal: `600`, `0640`, `0o660`. Only the permission bits (`777`)
/// are accepted: a ring file has no use for set-uid, set-gid or sticky bits, so they are
/// refused rather than passed on.
pub fn parse_mode(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let digits = t.strip_prefix("0o").unwrap_or(t);
    let m = u32::from_str_radix(digits, 8)
        .map_err(|_| format!("'{s}' is not an octal mode such as 600 or 0640"))?;
    if m & !0o777 != 0 {
        return Err(format!(
            "mode {m:o} has bits outside 777: only permission bits are allowed; set-uid (4000), \
             set-gid (2000) and sticky (1000) bits are refused"
        ));
    }
    Ok(m)
}

/// `65536` → `64 KiB`; sizes that are not a whole number of the unit keep bytes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (name, size) in UNITS {
        if n >= size && n % size == 0 {
            return format!("{} {name}", n / size);
        }
    }
    format!("{n} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("16 MiB"), Ok(16 << 20));
        assert_eq!(parse_size("2k"), Ok(2048));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert!(parse_size("12XB")
            .unwrap_err()
            .contains("unknown unit 'xb'"));
        assert!(parse_size("").is_err());
        assert!(parse_size("KiB").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }

    #[test]
    fn capacities() {
        assert_eq!(parse_capacity("64"), Ok(64));
        assert_eq!(parse_capacity("4GiB"), Ok(4 << 30));
        assert!(parse_capacity("32").unwrap_err().contains("out of range"));
        assert!(parse_capacity("8GiB").unwrap_err().contains("out of range"));
        let e = parse_capacity("1000").unwrap_err();
        assert!(
            e.contains("not a power of two (nearest: 512 B or 1 KiB)"),
            "{e}"
        );
    }

    #[test]
    fn durations_and_modes() {
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3h").is_err());
        assert_eq!(parse_mode("640"), Ok(0o640));
        assert_eq!(parse_mode("0o660"), Ok(0o660));
        assert_eq!(parse_mode("777"), Ok(0o777));
        assert_eq!(parse_mode("0"), Ok(0));
        assert!(parse_mode("9").is_err());
        for bad in ["4755", "2755", "1777", "7777", "0o4600", "17777", "10000"] {
            let e = parse_mode(bad).unwrap_err();
            assert!(
                e.contains("set-uid (4000), set-gid (2000) and sticky"),
                "{bad}: {e}"
            );
        }
        assert_eq!(human_bytes(65536), "64 KiB");
        assert_eq!(human_bytes(1000), "1000 B");
    }
}
