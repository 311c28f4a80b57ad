//! The token's clock: `utcTime` of `CK_TOKEN_INFO`, and the time used by the
//! layers above (injectable in tests).

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now: the time every KMS rule (rotation,
/// deletion, expiry) is checked against.
pub(crate) fn now_unix() -> i64 {
    let t = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    };
    t.saturating_add(test_offset())
}

/// Milliseconds since the Unix epoch, now, from one reading of the clock (the
/// audit log's times).
pub(crate) fn now_ms() -> i64 {
    let t = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    };
    t.saturating_add(test_offset().saturating_mul(1000))
}

/// [`now_ms`] from the system's coarse clock: a few nanoseconds, but up to a
/// scheduler tick (a few ms) behind. For deciding whether something is due,
/// never for a time that is recorded.
pub(crate) fn coarse_now_ms() -> i64 {
    match crate::sys::coarse_realtime_ms() {
        Some(t) => t.saturating_add(test_offset().saturating_mul(1000)),
        None => now_ms(),
    }
}

/// Test builds only (cargo feature `test-clock`, never in a release): the
/// black-box tests move the module's clock forward through
/// `SOFTKMS_TEST_CLOCK_OFFSET` (seconds) to see rotation, deletion and expiry.
#[cfg(feature = "test-clock")]
fn test_offset() -> i64 {
    std::env::var("SOFTKMS_TEST_CLOCK_OFFSET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[cfg(not(feature = "test-clock"))]
fn test_offset() -> i64 {
    0
}

/// Civil date from days since 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// `YYYYMMDDhhmmss00`, as `CK_TOKEN_INFO.utcTime` wants it.
pub(crate) fn utc_time_string(unix: i64) -> String {
    let (y, mo, d) = civil(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    format!(
        "{y:04}{mo:02}{d:02}{:02}{:02}{:02}00",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// RFC 3339 form (`2026-11-28T15:09:59Z`).
pub(crate) fn rfc3339(unix: i64) -> String {
    let (y, mo, d) = civil(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339 in UTC, as [`rfc3339`] writes it).
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(se))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_times() {
        assert_eq!(utc_time_string(0), "1970010100000000");
        assert_eq!(utc_time_string(1_795_878_599), "2026112815095900");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        for t in [0, 951_782_400, 1_795_878_599, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        }
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-11-28 15:09:59"), None);
    }
}
