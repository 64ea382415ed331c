//! Everything the checkout's pre-flight gate needs from the register in one
//! answer: status bits, shift state (0x2E), data-modem state (0x7A), the
//! clock against the system clock, and the last password check; each turned
//! into stable condition codes, split into blocking ones (refuse a sale
//! before the card is charged) and warnings (say so, sell anyway).
//!
//! Blocking: `paper_out`, `cover_open`, `printer_fault`, `fiscal_memory_full`,
//! `fiscal_memory_error`, `journal_full`, `sam_error`, `shift_over_24h`,
//! `clock_not_set`, `clock_drift`, `modem_lock`, `wrong_password`.
//!
//! Warnings: `near_paper_end`, `journal_nearly_full`, `journal_single_receipts`,
//! `fiscal_memory_nearly_full`, `shift_near_24h`, `modem_down`,
//! `modem_unsent`, `receipt_open`, `return_receipt_open`,
//! `nonfiscal_receipt_open`, `not_fiscalised`.
//!
//! The data modem: a Ukrainian register locks itself when its data has not
//! reached the tax service for 72 hours [inference from the rules; the 0x7A
//! field layout beyond "6th field `ok`" is unconfirmed]. The gate warns from
//! [`MODEM_WARN_HOURS`] and blocks from [`MODEM_LOCK_HOURS`].

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::DeviceStatus;

/// Unsent data this old gives a warning.
pub const MODEM_WARN_HOURS: i64 = 24;
/// Unsent data this old blocks sales (the register is about to lock).
pub const MODEM_LOCK_HOURS: i64 = 72;
/// A shift open this long gives a warning (a Z report is due at 24 h).
pub const SHIFT_WARN_MINUTES: u32 = 23 * 60;

/// The fiscal shift as the register reports it (UA 0x2E).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ShiftState {
    /// A shift is open.
    pub open: bool,
    /// Minutes since it opened.
    pub minutes: u32,
    /// Over 24 hours: the register refuses sales until a Z report.
    pub z_due: bool,
}

/// The fiscal-data modem as the register reports it (UA 0x7A).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ModemState {
    /// The sixth field says `ok`.
    pub ok: bool,
    /// Documents not yet sent, where the register says.
    pub unsent_documents: Option<u32>,
    /// When the oldest unsent document was made, where the register says.
    #[ts(type = "string | null")]
    pub oldest_unsent: Option<NaiveDateTime>,
    /// The raw fields, for a support bundle.
    pub fields: Vec<String>,
}

impl ModemState {
    /// Hours the oldest unsent document has waited at `now`.
    pub fn unsent_hours(&self, now: NaiveDateTime) -> Option<i64> {
        self.oldest_unsent.map(|t| (now - t).num_hours())
    }
}

/// The register's clock against the system clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ClockCheck {
    #[ts(type = "string")]
    pub register: NaiveDateTime,
    #[ts(type = "string")]
    pub system: NaiveDateTime,
    /// Register minus system, seconds.
    #[ts(type = "number")]
    pub drift_s: i64,
    #[ts(type = "number")]
    pub tolerance_s: i64,
    /// The drift is within the tolerance.
    pub ok: bool,
}

/// Compares the register's clock with the system's (both local time).
pub fn clock_drift(register: NaiveDateTime, system: NaiveDateTime, tolerance_s: i64) -> ClockCheck {
    let drift_s = (register - system).num_seconds();
    ClockCheck {
        register,
        system,
        drift_s,
        tolerance_s,
        ok: drift_s.abs() <= tolerance_s.abs(),
    }
}

/// Everything the pre-flight gate needs, with its verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Health {
    pub status: DeviceStatus,
    pub shift: Option<ShiftState>,
    pub modem: Option<ModemState>,
    pub clock: Option<ClockCheck>,
    /// The last operator-password check: `None` when not checked.
    pub password_ok: Option<bool>,
    /// Conditions that refuse a sale (stable codes).
    pub blocking: Vec<String>,
    /// Conditions to show, that do not refuse a sale.
    pub warnings: Vec<String>,
}

impl Health {
    /// No blocking condition.
    pub fn ready(&self) -> bool {
        self.blocking.is_empty()
    }
}

/// Turns the register's reports into blocking conditions and warnings.
pub fn assess(
    status: DeviceStatus,
    shift: Option<ShiftState>,
    modem: Option<ModemState>,
    clock: Option<ClockCheck>,
    password_ok: Option<bool>,
    now: NaiveDateTime,
) -> Health {
    let mut blocking: Vec<&'static str> = Vec::new();
    let mut warnings: Vec<&'static str> = Vec::new();
    let s = &status;
    let when = |cond: bool, list: &mut Vec<&'static str>, code: &'static str| {
        if cond && !list.contains(&code) {
            list.push(code);
        }
    };
    when(s.paper_out, &mut blocking, "paper_out");
    when(s.cover_open, &mut blocking, "cover_open");
    when(s.printer_fault, &mut blocking, "printer_fault");
    when(s.fiscal_memory_full, &mut blocking, "fiscal_memory_full");
    when(s.fiscal_memory_error, &mut blocking, "fiscal_memory_error");
    when(s.journal_full, &mut blocking, "journal_full");
    when(s.sam_error, &mut blocking, "sam_error");
    when(s.clock_not_set, &mut blocking, "clock_not_set");
    let shift_over = s.shift_over_24h || shift.is_some_and(|sh| sh.z_due || sh.minutes >= 24 * 60);
    when(shift_over, &mut blocking, "shift_over_24h");
    when(clock.is_some_and(|c| !c.ok), &mut blocking, "clock_drift");
    let unsent = modem.as_ref().and_then(|m| m.unsent_hours(now));
    when(
        unsent.is_some_and(|h| h >= MODEM_LOCK_HOURS),
        &mut blocking,
        "modem_lock",
    );
    when(password_ok == Some(false), &mut blocking, "wrong_password");

    when(s.near_paper_end, &mut warnings, "near_paper_end");
    when(s.journal_nearly_full, &mut warnings, "journal_nearly_full");
    when(
        s.journal_single_receipts,
        &mut warnings,
        "journal_single_receipts",
    );
    when(
        s.fiscal_memory_nearly_full,
        &mut warnings,
        "fiscal_memory_nearly_full",
    );
    when(
        !shift_over && shift.is_some_and(|sh| sh.open && sh.minutes >= SHIFT_WARN_MINUTES),
        &mut warnings,
        "shift_near_24h",
    );
    when(
        modem.as_ref().is_some_and(|m| !m.ok),
        &mut warnings,
        "modem_down",
    );
    when(
        unsent.is_some_and(|h| (MODEM_WARN_HOURS..MODEM_LOCK_HOURS).contains(&h)),
        &mut warnings,
        "modem_unsent",
    );
    when(
        s.receipt_open && !s.return_receipt_open,
        &mut warnings,
        "receipt_open",
    );
    when(s.return_receipt_open, &mut warnings, "return_receipt_open");
    when(
        s.nonfiscal_receipt_open,
        &mut warnings,
        "nonfiscal_receipt_open",
    );
    when(!s.fiscalised, &mut warnings, "not_fiscalised");
    Health {
        status,
        shift,
        modem,
        clock,
        password_ok,
        blocking: blocking.into_iter().map(String::from).collect(),
        warnings: warnings.into_iter().map(String::from).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    fn idle() -> DeviceStatus {
        DeviceStatus {
            fiscalised: true,
            ..DeviceStatus::default()
        }
    }

    #[test]
    fn drift_is_checked_both_ways() {
        assert!(clock_drift(t(10, 0), t(10, 1), 120).ok);
        assert!(!clock_drift(t(10, 0), t(10, 3), 120).ok);
        let c = clock_drift(t(10, 5), t(10, 0), 120);
        assert_eq!((c.drift_s, c.ok), (300, false));
    }

    #[test]
    fn conditions_are_split_into_blocking_and_warnings() {
        let h = assess(idle(), None, None, None, None, t(12, 0));
        assert!(h.ready() && h.warnings.is_empty(), "{h:?}");

        let shift = ShiftState {
            open: true,
            minutes: 23 * 60 + 5,
            z_due: false,
        };
        let modem = ModemState {
            ok: false,
            oldest_unsent: Some(t(12, 0) - chrono::Duration::hours(30)),
            ..ModemState::default()
        };
        let h = assess(
            DeviceStatus {
                near_paper_end: true,
                journal_nearly_full: true,
                ..idle()
            },
            Some(shift),
            Some(modem.clone()),
            Some(clock_drift(t(12, 0), t(12, 0), 60)),
            Some(true),
            t(12, 0),
        );
        assert!(h.ready(), "{h:?}");
        for w in [
            "near_paper_end",
            "journal_nearly_full",
            "shift_near_24h",
            "modem_down",
            "modem_unsent",
        ] {
            assert!(h.warnings.contains(&w.to_string()), "{w}: {h:?}");
        }

        let h = assess(
            DeviceStatus {
                sam_error: true,
                ..idle()
            },
            Some(ShiftState {
                z_due: true,
                ..shift
            }),
            Some(ModemState {
                oldest_unsent: Some(t(12, 0) - chrono::Duration::hours(72)),
                ..modem
            }),
            Some(clock_drift(t(12, 10), t(12, 0), 60)),
            Some(false),
            t(12, 0),
        );
        assert_eq!(
            h.blocking,
            vec![
                "sam_error",
                "shift_over_24h",
                "clock_drift",
                "modem_lock",
                "wrong_password"
            ]
        );
    }
}
