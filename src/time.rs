//! Timestamp parsing: every accepted spelling becomes a UTC instant, or an error that says why.
//!
//! Accepted: RFC 3339 / ISO-8601 with `Z`, with an offset, or with neither (taken as UTC); a space
//! instead of `T`; the LiteLLM logger's `…+00:00Z` (an offset followed by a stray `Z`); epoch
//! seconds, milliseconds, microseconds or nanoseconds as numbers or numeric strings (told apart by
//! magnitude). A record without a usable timestamp is never given "now".

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

/// Earliest instant accepted (2000-01-01): anything before is a unit mistake or garbage.
const MIN_EPOCH_S: f64 = 946_684_800.0;
/// Latest instant accepted (2200-01-01).
const MAX_EPOCH_S: f64 = 7_258_118_400.0;

/// Parses a JSON timestamp value (string or number) into UTC.
pub fn parse_value(v: &Value) -> Result<DateTime<Utc>, String> {
    match v {
        Value::String(s) => parse_str(s),
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("timestamp {n} is not a number"))
            .and_then(from_epoch),
        other => Err(format!(
            "timestamp has type {}",
            crate::sources::fields::type_name(other)
        )),
    }
}

/// Parses a timestamp string into UTC.
pub fn parse_str(raw: &str) -> Result<DateTime<Utc>, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("timestamp is empty".into());
    }
    if s.bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && !s[1..].contains('-')
    {
        if let Ok(x) = s.parse::<f64>() {
            return from_epoch(x);
        }
    }
    // `2025-10-12T19:00:00.123456+00:00Z`: an explicit offset followed by a stray `Z`.
    let s = match s.strip_suffix(['Z', 'z']) {
        Some(rest) if has_offset(rest) => rest,
        _ => s,
    };
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(dt.with_timezone(&Utc));
    }
    let t = s.replacen(' ', "T", 1);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%:z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(&t, fmt) {
            return Ok(dt.with_timezone(&Utc));
        }
    }
    if let Some(rest) = t.strip_suffix(['Z', 'z']) {
        if let Some(dt) = naive(rest) {
            return Ok(Utc.from_utc_datetime(&dt));
        }
    }
    if let Some(dt) = naive(&t) {
        return Ok(Utc.from_utc_datetime(&dt));
    }
    Err(format!("unrecognised timestamp {:?}", truncate(raw, 64)))
}

fn naive(s: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// True when the string ends in a numeric UTC offset such as `+00:00` or `-0530`.
fn has_offset(s: &str) -> bool {
    let b = s.as_bytes();
    let tail = |n: usize| b.len() > n && matches!(b[b.len() - n - 1], b'+' | b'-');
    (tail(5) && b[b.len() - 3] == b':')
        || (tail(4) && b[b.len() - 4..].iter().all(u8::is_ascii_digit))
}

/// A date as `YYYY-MM-DD`, the text the store and the lake keep: chrono's `%Y-%m-%d` without its
/// format parser (a stored row's date is written once per row). Years outside 0–9999 use chrono.
pub fn iso_date(d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    let (y, m, day) = (d.year(), d.month(), d.day());
    if !(0..=9999).contains(&y) {
        return d.format("%Y-%m-%d").to_string();
    }
    let digit = |v: u32| char::from(b'0' + (v % 10) as u8);
    let y = y as u32;
    [
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        '-',
        digit(m / 10),
        digit(m),
        '-',
        digit(day / 10),
        digit(day),
    ]
    .iter()
    .collect()
}

/// Formats stored UTC microseconds as RFC 3339 with milliseconds (`…T09:05:00.000Z`);
/// `None` when out of range.
pub fn iso_micros(us: i64) -> Option<String> {
    DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Converts an epoch number to UTC, inferring seconds / ms / µs / ns from its magnitude.
pub fn from_epoch(x: f64) -> Result<DateTime<Utc>, String> {
    if !x.is_finite() || x < 0.0 {
        return Err(format!(
            "epoch timestamp {x} is not a positive finite number"
        ));
    }
    let secs = if x < 1e11 {
        x
    } else if x < 1e14 {
        x / 1e3
    } else if x < 1e17 {
        x / 1e6
    } else {
        x / 1e9
    };
    if !(MIN_EPOCH_S..MAX_EPOCH_S).contains(&secs) {
        return Err(format!("epoch timestamp {x} is outside 2000–2200"));
    }
    let micros = (secs * 1e6).round() as i64;
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| format!("epoch timestamp {x} out of range"))
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_date_is_chronos_format() {
        use chrono::{Datelike, NaiveDate};
        for (y, m, d) in [
            (2025, 9, 1),
            (1, 1, 1),
            (0, 12, 31),
            (999, 10, 9),
            (9999, 12, 31),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(iso_date(date), date.format("%Y-%m-%d").to_string());
        }
        for date in [NaiveDate::MIN, NaiveDate::MAX] {
            assert_eq!(iso_date(date), date.format("%Y-%m-%d").to_string());
        }
        let mut d = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        while d.year() < 2026 {
            assert_eq!(iso_date(d), d.format("%Y-%m-%d").to_string());
            d = d.succ_opt().unwrap();
        }
    }
    use serde_json::json;

    fn iso(v: Value) -> String {
        parse_value(&v)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string()
    }

    #[test]
    fn iso_with_z_offset_and_none() {
        assert_eq!(
            iso(json!("2025-10-12T19:00:00Z")),
            "2025-10-12T19:00:00.000000Z"
        );
        assert_eq!(
            iso(json!("2025-10-12T21:00:00+02:00")),
            "2025-10-12T19:00:00.000000Z"
        );
        assert_eq!(
            iso(json!("2025-10-12T19:00:00.5")),
            "2025-10-12T19:00:00.500000Z"
        );
        assert_eq!(
            iso(json!("2025-10-12 19:00:00")),
            "2025-10-12T19:00:00.000000Z"
        );
        assert_eq!(
            iso(json!("2025-10-12T14:00:00-0500")),
            "2025-10-12T19:00:00.000000Z"
        );
    }

    #[test]
    fn litellm_logger_offset_then_stray_z() {
        assert_eq!(
            iso(json!("2025-10-12T19:00:00.123456+00:00Z")),
            "2025-10-12T19:00:00.123456Z"
        );
    }

    #[test]
    fn epoch_units_by_magnitude() {
        let want = "2025-10-12T19:00:00.000000Z";
        assert_eq!(iso(json!(1760295600)), want);
        assert_eq!(iso(json!(1760295600.0)), want);
        assert_eq!(iso(json!(1760295600000_i64)), want);
        assert_eq!(iso(json!(1760295600000000_i64)), want);
        assert_eq!(iso(json!(1760295600000000000_i64)), want);
        assert_eq!(iso(json!("1760295600")), want);
        assert_eq!(iso(json!(1760295600.25)), "2025-10-12T19:00:00.250000Z");
    }

    #[test]
    fn garbage_is_an_error_not_now() {
        for bad in [
            json!(""),
            json!("yesterday"),
            json!(null),
            json!(true),
            json!(-5),
            json!(12),
            json!([1]),
        ] {
            assert!(parse_value(&bad).is_err(), "{bad}");
        }
    }
}
