//! The clock, passed in rather than read from globals, so tests set the time:
//! the UTC instant of every journal row and the shop's business day (its
//! local date in the shop's time zone, never the UTC date).

use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// The shop's time zone when the settings name none.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Europe::Kyiv;

/// Where the time comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that says what it is told (tests).
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    /// A clock stopped at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    /// Move the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The shop's local date at `at`.
pub fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_business_day_is_the_shops_date_not_utcs() {
        // 23:30 UTC on 1 June is 02:30 on 2 June in Kyiv (summer time, UTC+3).
        let at = Utc.with_ymd_and_hms(2026, 6, 1, 23, 30, 0).unwrap();
        assert_eq!(
            local_date(at, DEFAULT_TIME_ZONE),
            NaiveDate::from_ymd_opt(2026, 6, 2).unwrap()
        );
        // 21:30 UTC on 1 December is 23:30 in Kyiv (winter time, UTC+2).
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 21, 30, 0).unwrap();
        assert_eq!(
            local_date(at, DEFAULT_TIME_ZONE),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
        let c = FixedClock::new(at);
        assert_eq!(c.now(), at);
    }
}
