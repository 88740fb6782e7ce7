//! Time in the domain: quota periods (calendar months, UTC) and days, computed from epoch
//! milliseconds the caller passes in (this crate reads no clock).

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// A quota period: a calendar month, UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// `YYYY-MM`.
    pub label: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// Civil date of a day number (days since 1970-01-01): Howard Hinnant's algorithm, so UTC
/// dates need no time-zone database.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The day number of a civil date: [`civil_from_days`] undone.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` of an epoch-milliseconds time (UTC).
pub fn day_label(ms: i64) -> String {
    let (year, month, day) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{year:04}-{month:02}-{day:02}")
}

/// The day number (days since the epoch) of a `YYYY-MM-DD` label; `None` for anything else.
pub fn day_number(label: &str) -> Option<i64> {
    let mut parts = label.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    (day_label(days * DAY_MS) == label).then_some(days)
}

/// The period containing `now_ms`.
pub fn period_of(now_ms: i64) -> Period {
    let (year, month, _) = civil_from_days(now_ms.div_euclid(DAY_MS));
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    Period {
        label: format!("{year:04}-{month:02}"),
        start_ms: days_from_civil(year, month, 1) * DAY_MS,
        end_ms: days_from_civil(next_year, next_month, 1) * DAY_MS,
    }
}

/// The thresholds at which usage alerts are raised, in percent of a monthly quota.
pub const ALERT_THRESHOLDS: [u64; 3] = [80, 100, 200];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_calendar_months() {
        // 2026-12-15T12:00:00Z
        let period = period_of(1_797_336_000_000);
        assert_eq!(period.label, "2026-12");
        assert_eq!(period.start_ms, 1_796_083_200_000);
        assert_eq!(period.end_ms, 1_798_761_600_000);
        let february = period_of(1_771_459_200_000); // 2026-02-19
        assert_eq!(february.label, "2026-02");
        assert_eq!((february.end_ms - february.start_ms) / DAY_MS, 28);
    }

    #[test]
    fn day_labels_are_utc_dates_and_numbers_undo_them() {
        assert_eq!(day_label(0), "1970-01-01");
        assert_eq!(day_label(DAY_MS - 1), "1970-01-01");
        assert_eq!(day_label(951_782_400_000), "2000-02-29");
        assert_eq!(day_label(1_797_336_000_000), "2026-12-15");
        assert_eq!(day_label(-1), "1969-12-31");
        for days in [-1000, 0, 1, 20_424, 20_790, 100_000] {
            assert_eq!(day_number(&day_label(days * DAY_MS)), Some(days));
        }
        for bad in ["2026-02-30", "2026-13-01", "x", "2026-1", ""] {
            assert_eq!(day_number(bad), None, "{bad}");
        }
    }
}
