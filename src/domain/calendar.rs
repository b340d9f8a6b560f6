//! Working days for the SLA (issue 7): Monday to Friday, minus the holidays in the config.
//!
//! The clock counts whole UTC days, the only time the plaintext columns keep (a report's
//! received day, a message's day). A report received on day `r` has had `n` working days when
//! `n` working days lie in `(r, today]`: the day it arrived does not count, since it may have
//! arrived in the evening.

use std::collections::BTreeSet;

/// Indonesia's national holidays (libur nasional) and collective leave days (cuti bersama), on
/// which the office is closed. 2026 follows the joint decree of the three ministers (SKB
/// 1497/2025, 2/2025, 5/2025). 2027's moveable feasts are provisional, computed ahead of its
/// decree: an operator replaces them with `[sla] holidays` once the decree is out (README).
pub const INDONESIAN_HOLIDAYS: &[&str] = &[
    // 2026, libur nasional
    "2026-01-01",
    "2026-01-16",
    "2026-02-17",
    "2026-03-19",
    "2026-03-21",
    "2026-03-22",
    "2026-04-03",
    "2026-04-05",
    "2026-05-01",
    "2026-05-14",
    "2026-05-27",
    "2026-05-31",
    "2026-06-01",
    "2026-06-16",
    "2026-08-17",
    "2026-08-25",
    "2026-12-25",
    // 2026, cuti bersama
    "2026-02-16",
    "2026-03-18",
    "2026-03-20",
    "2026-03-23",
    "2026-03-24",
    "2026-05-15",
    "2026-05-28",
    "2026-12-24",
    // 2027: fixed dates, then provisional moveable feasts
    "2027-01-01",
    "2027-05-01",
    "2027-06-01",
    "2027-08-17",
    "2027-12-25",
    "2027-01-05",
    "2027-02-06",
    "2027-03-08",
    "2027-03-10",
    "2027-03-11",
    "2027-03-26",
    "2027-03-28",
    "2027-05-06",
    "2027-05-17",
    "2027-05-20",
    "2027-06-06",
    "2027-08-15",
];

/// The working-day calendar: weekends and a set of holidays (day numbers).
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    holidays: BTreeSet<i64>,
}

/// Parses `YYYY-MM-DD` to a day number (days since 1970-01-01).
pub fn parse_day(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    Some(crate::domain::day_number(
        date.midnight().assume_utc().unix_timestamp(),
    ))
}

impl Calendar {
    /// A calendar with these holidays (`YYYY-MM-DD`); `Err` names the first that is not a date.
    pub fn new<S: AsRef<str>>(holidays: &[S]) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for h in holidays {
            let h = h.as_ref();
            set.insert(parse_day(h).ok_or_else(|| format!("{h:?} is not a date (YYYY-MM-DD)"))?);
        }
        Ok(Calendar { holidays: set })
    }

    /// Whether `day` is a working day.
    pub fn is_working(&self, day: i64) -> bool {
        // 1970-01-01 was a Thursday: day 0 is weekday 3 counting Monday as 0.
        let weekday = (day + 3).rem_euclid(7);
        weekday < 5 && !self.holidays.contains(&day)
    }

    /// Working days in `(from, to]`.
    pub fn working_days_between(&self, from: i64, to: i64) -> i64 {
        (from.saturating_add(1)..=to)
            .filter(|d| self.is_working(*d))
            .count() as i64
    }

    /// The latest day `d` such that something dated `d` or earlier has had more than `limit`
    /// working days by `today`: the cut-off an SLA query compares day columns with, so the
    /// database filters without knowing the calendar.
    pub fn overdue_cutoff(&self, today: i64, limit: i64) -> i64 {
        let mut count = 0;
        let mut d = today;
        // A year of holidays cannot hold more than a few hundred days back: bounded.
        for _ in 0..4000 {
            if self.is_working(d) {
                count += 1;
                if count > limit {
                    return d - 1;
                }
            }
            d -= 1;
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> i64 {
        parse_day(s).unwrap()
    }

    #[test]
    fn weekdays_and_holidays() {
        let c = Calendar::new(INDONESIAN_HOLIDAYS).unwrap();
        assert_eq!(day("1970-01-01"), 0);
        assert!(c.is_working(day("2026-12-01"))); // a Tuesday
        assert!(!c.is_working(day("2026-12-05"))); // Saturday
        assert!(!c.is_working(day("2026-12-06"))); // Sunday
        assert!(!c.is_working(day("2026-12-25"))); // Christmas, a Friday
        assert!(!c.is_working(day("2026-03-23"))); // cuti bersama Idul Fitri, a Monday
        assert!(c.is_working(day("2026-03-25")));
    }

    #[test]
    fn three_working_days_skip_the_weekend_and_holidays() {
        let c = Calendar::new(INDONESIAN_HOLIDAYS).unwrap();
        // Received Thursday 2026-12-03: Fri, Mon, Tue are its three days; Wednesday is late.
        let r = day("2026-12-03");
        assert_eq!(c.working_days_between(r, day("2026-12-08")), 3);
        assert_eq!(c.working_days_between(r, day("2026-12-09")), 4);
        assert_eq!(c.overdue_cutoff(day("2026-12-08"), 3), r - 1);
        assert_eq!(c.overdue_cutoff(day("2026-12-09"), 3), r);
        // Received Wednesday 2026-12-23: 24 and 25 are closed, so Mon 28, Tue 29, Wed 30.
        let r = day("2026-12-23");
        assert_eq!(c.working_days_between(r, day("2026-12-30")), 3);
        assert!(c.overdue_cutoff(day("2026-12-30"), 3) < r);
        assert!(c.overdue_cutoff(day("2026-12-31"), 3) >= r);
        // Every day agrees with the count it summarises.
        for t in day("2026-03-01")..day("2026-04-30") {
            let cut = c.overdue_cutoff(t, 3);
            assert!(c.working_days_between(cut, t) > 3, "{t}");
            assert!(c.working_days_between(cut + 1, t) <= 3, "{t}");
        }
    }

    #[test]
    fn a_bad_holiday_is_named() {
        let e = Calendar::new(&["2026-02-30"]).unwrap_err();
        assert!(e.contains("2026-02-30"), "{e}");
    }
}
