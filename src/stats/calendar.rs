//! Calendar arithmetic for daily series: UTC instants → calendar days in an IANA timezone,
//! local-day bounds (23- and 25-hour DST days), date windows, ISO weeks and business days.
//!
//! A day is the local calendar date in the chosen timezone (`chrono-tz`, IANA database): an
//! instant belongs to day D when its local wall-clock date is D. A local day therefore lasts
//! 23 or 25 hours on DST change days.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Offset, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

use super::StatsError;

/// Longest date window accepted (100 years of days): a guard against absurd inputs.
pub const MAX_WINDOW_DAYS: i64 = 36_525;

/// Parses an IANA timezone name such as `Europe/Berlin` or `UTC`.
pub fn parse_timezone(name: &str) -> Result<Tz, StatsError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| StatsError::UnknownTimezone(name.to_string()))
}

/// The calendar day, in `tz`, on which `instant` falls.
pub fn local_day(instant: DateTime<Utc>, tz: Tz) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

/// The first instant of local day `day` in `tz`: local midnight, or, where midnight is skipped
/// by a DST change, the instant the day's wall clock starts. `None` if the day does not exist
/// in that timezone at all (e.g. Pacific/Apia skipped 2011-12-30).
pub fn local_day_start(day: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    let midnight = day.and_time(NaiveTime::MIN);
    if let Some(t) = tz.from_local_datetime(&midnight).earliest() {
        return Some(t.with_timezone(&Utc));
    }
    // Midnight falls in a gap: the day starts when the gap ends (transitions are minute-aligned).
    (1..24 * 60).find_map(|m| {
        let local = midnight + Duration::minutes(m);
        if local.date() != day {
            return None;
        }
        tz.from_local_datetime(&local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// The UTC half-open interval `[start, end)` covered by local day `day` in `tz`.
///
/// Its length is 24 hours except on DST change days (23 or 25 hours in Europe/Berlin).
pub fn local_day_bounds(day: NaiveDate, tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = local_day_start(day, tz)?;
    let mut next = day.succ_opt()?;
    // A skipped day (no local start) ends where the next existing day starts.
    for _ in 0..3 {
        if let Some(end) = local_day_start(next, tz) {
            return Some((start, end));
        }
        next = next.succ_opt()?;
    }
    None
}

/// True for Monday to Friday (the `--business-days` filter keeps only these).
pub fn is_business_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// An ISO 8601 week (`2025-W01`): weeks start on Monday; week 1 holds the year's first Thursday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct IsoWeek {
    /// ISO week-numbering year (differs from the calendar year around New Year).
    pub year: i32,
    /// Week number, 1 to 53.
    pub week: u32,
}

impl IsoWeek {
    /// The ISO week that contains `day`.
    pub fn of(day: NaiveDate) -> Self {
        let w = day.iso_week();
        IsoWeek {
            year: w.year(),
            week: w.week(),
        }
    }

    /// The Monday that starts this week, if it is a valid date.
    pub fn monday(self) -> Option<NaiveDate> {
        NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon)
    }
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

/// An inclusive range of calendar days `[since, until]`: the report window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayWindow {
    since: NaiveDate,
    until: NaiveDate,
}

impl DayWindow {
    /// Creates the window; `until` must not precede `since` and it spans at most
    /// [`MAX_WINDOW_DAYS`] days.
    pub fn new(since: NaiveDate, until: NaiveDate) -> Result<Self, StatsError> {
        if until < since {
            return Err(StatsError::InvalidWindow(format!(
                "end {until} is before start {since}"
            )));
        }
        let days = (until - since).num_days() + 1;
        if days > MAX_WINDOW_DAYS {
            return Err(StatsError::InvalidWindow(format!(
                "{days} days is longer than the {MAX_WINDOW_DAYS}-day limit"
            )));
        }
        Ok(DayWindow { since, until })
    }

    /// First day of the window.
    pub fn since(&self) -> NaiveDate {
        self.since
    }

    /// Last day of the window (inclusive).
    pub fn until(&self) -> NaiveDate {
        self.until
    }

    /// Number of days in the window (≥ 1).
    pub fn len(&self) -> usize {
        // Bounded by MAX_WINDOW_DAYS at construction.
        ((self.until - self.since).num_days() + 1) as usize
    }

    /// Always false: a window holds at least one day.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// True when `day` lies inside the window.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.since <= day && day <= self.until
    }

    /// Zero-based position of `day` in the window, if inside.
    pub fn index_of(&self, day: NaiveDate) -> Option<usize> {
        self.contains(day)
            .then(|| (day - self.since).num_days() as usize)
    }

    /// Every day of the window in order.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        self.since.iter_days().take(self.len())
    }

    /// The window `[start of since, start of the day after until)` in UTC for timezone `tz`,
    /// for selecting rows by instant. `None` only for dates at the edge of chrono's range.
    pub fn utc_bounds(&self, tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let (start, _) = local_day_bounds(self.since, tz)?;
        let (_, end) = local_day_bounds(self.until, tz)?;
        Some((start, end))
    }
}

/// True when every UTC hour of `[start, end)` lies inside one local clock hour of `tz`: both
/// bounds on whole UTC hours and, in every hour between, the offset a whole number of hours
/// that does not change inside the hour. Then hourly UTC rollups re-bucket exactly.
pub fn hour_aligned(tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    let (s, e) = (start.timestamp(), end.timestamp());
    if s.rem_euclid(3600) != 0 || e.rem_euclid(3600) != 0 {
        return false;
    }
    let offset = |secs: i64| {
        DateTime::from_timestamp(secs, 0).map(|t| {
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        })
    };
    let mut h = s;
    while h < e {
        match (offset(h), offset(h + 3599)) {
            (Some(a), Some(b)) if a == b && a % 3600 == 0 => {}
            _ => return false,
        }
        h += 3600;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_hour_offsets_are_aligned_and_half_hours_are_not() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let (s, e) = (at("2025-10-20T22:00:00Z"), at("2025-10-31T23:00:00Z"));
        assert!(hour_aligned(chrono_tz::Europe::Berlin, s, e));
        assert!(hour_aligned(chrono_tz::UTC, s, e));
        let (s, e) = (at("2025-10-20T18:30:00Z"), at("2025-10-31T18:30:00Z"));
        assert!(!hour_aligned(chrono_tz::Asia::Kolkata, s, e));
        // Bounds on whole hours do not help when the offset is not whole.
        let (s, e) = (at("2025-10-20T18:00:00Z"), at("2025-10-21T18:00:00Z"));
        assert!(!hour_aligned(chrono_tz::Asia::Kolkata, s, e));
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn berlin_dst_days_are_23_and_25_hours() {
        let tz = parse_timezone("Europe/Berlin").unwrap();
        let (s, e) = local_day_bounds(d("2025-03-30"), tz).unwrap();
        assert_eq!((e - s).num_hours(), 23);
        assert_eq!(s, utc("2025-03-29T23:00:00Z"));
        let (s, e) = local_day_bounds(d("2025-10-26"), tz).unwrap();
        assert_eq!((e - s).num_hours(), 25);
        assert_eq!(e, utc("2025-10-26T23:00:00Z"));
    }

    #[test]
    fn bucketing_follows_the_local_date() {
        let tz = parse_timezone("Europe/Berlin").unwrap();
        assert_eq!(local_day(utc("2025-03-29T22:59:59Z"), tz), d("2025-03-29"));
        assert_eq!(local_day(utc("2025-03-29T23:00:00Z"), tz), d("2025-03-30"));
        assert_eq!(local_day(utc("2025-10-26T22:59:59Z"), tz), d("2025-10-26"));
        assert_eq!(local_day(utc("2025-10-26T23:00:00Z"), tz), d("2025-10-27"));
    }

    #[test]
    fn skipped_midnight_and_skipped_day() {
        // America/Santiago: 2025-09-07 00:00 does not exist (clocks go 24:00 → 01:00).
        let tz = parse_timezone("America/Santiago").unwrap();
        let (s, e) = local_day_bounds(d("2025-09-07"), tz).unwrap();
        assert_eq!(s, utc("2025-09-07T04:00:00Z"));
        assert_eq!((e - s).num_hours(), 23);
        // Pacific/Apia skipped 2011-12-30 entirely.
        let apia = parse_timezone("Pacific/Apia").unwrap();
        assert_eq!(local_day_start(d("2011-12-30"), apia), None);
        let (s, e) = local_day_bounds(d("2011-12-29"), apia).unwrap();
        assert_eq!((e - s).num_hours(), 24);
    }

    #[test]
    fn unknown_timezone_is_an_error() {
        assert!(matches!(
            parse_timezone("Mars/Olympus"),
            Err(StatsError::UnknownTimezone(_))
        ));
        assert_eq!(parse_timezone(" UTC ").unwrap(), Tz::UTC);
    }

    #[test]
    fn iso_weeks_around_new_year() {
        assert_eq!(IsoWeek::of(d("2024-12-30")).to_string(), "2025-W01");
        assert_eq!(IsoWeek::of(d("2021-01-03")).to_string(), "2020-W53");
        assert_eq!(IsoWeek::of(d("2021-01-03")).monday(), Some(d("2020-12-28")));
    }

    #[test]
    fn business_days() {
        assert!(is_business_day(d("2025-10-03"))); // Friday
        assert!(!is_business_day(d("2025-10-04"))); // Saturday
        assert!(!is_business_day(d("2025-10-05"))); // Sunday
    }

    #[test]
    fn window_checks_and_iterates() {
        assert!(DayWindow::new(d("2025-10-02"), d("2025-10-01")).is_err());
        assert!(DayWindow::new(d("1900-01-01"), d("2025-10-01")).is_err());
        let w = DayWindow::new(d("2025-01-30"), d("2025-02-02")).unwrap();
        assert_eq!(w.len(), 4);
        assert_eq!(w.days().last(), Some(d("2025-02-02")));
        assert_eq!(w.index_of(d("2025-02-01")), Some(2));
        assert_eq!(w.index_of(d("2025-02-03")), None);
        let tz = parse_timezone("Europe/Berlin").unwrap();
        let (s, e) = w.utc_bounds(tz).unwrap();
        assert_eq!(s, utc("2025-01-29T23:00:00Z"));
        assert_eq!(e, utc("2025-02-02T23:00:00Z"));
    }
}
