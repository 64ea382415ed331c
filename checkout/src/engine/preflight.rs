//! The pre-flight gate before anything new starts, and in full before any
//! card step: no older operation unresolved, and a fiscal register that can
//! print the receipt (paper, cover, memory, shift under 24 hours, the
//! operator password accepted when it was checked). Nothing is written and
//! nothing is charged when it refuses.
//!
//! The operator password is checked once, at start-up (and when the
//! register was unreachable then, at the first gate after), never again by
//! itself after a refusal: three wrong passwords lock a Datecs register
//! until it is power-cycled.

use crate::api::{DeviceHealth, OperationState};
use crate::{Error, Result};

use super::Engine;

/// What the one password check found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PasswordCheck {
    /// Not checked yet (the register did not answer).
    #[default]
    Unchecked,
    Accepted,
    /// The register has no way to check it without printing.
    Unsupported,
    /// Refused: card sales are blocked until the settings change.
    Refused(String),
}

impl Engine {
    /// Check the operator password, once.
    pub(crate) async fn check_password(&self) {
        if self.inner.password() != PasswordCheck::Unchecked {
            return;
        }
        let result = match self.inner.devices.fiscal.check_password().await {
            Ok(()) => PasswordCheck::Accepted,
            Err(fiscal::Error::WrongPassword) => {
                PasswordCheck::Refused(fiscal::Error::WrongPassword.to_string())
            }
            Err(fiscal::Error::InvalidRequest(_)) => PasswordCheck::Unsupported,
            Err(e) if e.is_uncertain() => PasswordCheck::Unchecked,
            Err(e) => PasswordCheck::Refused(e.to_string()),
        };
        self.inner.set_password(result);
    }

    /// Refuse if an older operation is unresolved. A running one (waiting
    /// for a device) holds everything back; one that awaits a payment or a
    /// person holds back every new money operation (`strict`), but not cash
    /// in or out of the drawer or an X report.
    pub(crate) fn gate_unresolved(&self, strict: bool, except: Option<i64>) -> Result<()> {
        for op in self.inner.journal.unresolved()? {
            if Some(op.id) == except {
                continue;
            }
            if op.state == OperationState::Running || strict {
                return Err(Error::Unresolved {
                    operation: op.id,
                    code: op
                        .error_code
                        .clone()
                        .unwrap_or_else(|| format!("operation.{}", op.state.as_str())),
                });
            }
        }
        Ok(())
    }

    /// The devices' blocking conditions and warnings, as codes: the
    /// register's own health check where it has one (status, shift, data
    /// modem, clock), else its status bits; and the password check.
    pub async fn health(&self) -> DeviceHealth {
        let mut h = DeviceHealth::default();
        let f = &self.inner.devices.fiscal;
        let now = self
            .inner
            .clock
            .now()
            .with_timezone(&self.inner.config.time_zone)
            .naive_local();
        match f.health(now).await {
            Ok(report) => {
                h.blocking = report
                    .blocking
                    .iter()
                    .map(|c| format!("fiscal.{c}"))
                    .collect();
                h.warnings = report
                    .warnings
                    .iter()
                    .map(|c| format!("fiscal.{c}"))
                    .collect();
            }
            Err(fiscal::Error::InvalidRequest(_)) => match f.status().await {
                Ok(st) => {
                    for (on, code) in [
                        (st.paper_out, "fiscal.paper_out"),
                        (st.cover_open, "fiscal.cover_open"),
                        (st.fiscal_memory_full, "fiscal.fiscal_memory_full"),
                        (st.shift_over_24h, "fiscal.shift_over_24h"),
                    ] {
                        if on {
                            h.blocking.push(code.into());
                        }
                    }
                    if st.near_paper_end {
                        h.warnings.push("fiscal.near_paper_end".into());
                    }
                }
                Err(e) => h.blocking.push(format!("fiscal.{}", e.code())),
            },
            Err(e) => h.blocking.push(format!("fiscal.{}", e.code())),
        }
        if let PasswordCheck::Refused(_) = self.inner.password() {
            if !h.blocking.iter().any(|c| c == "fiscal.wrong_password") {
                h.blocking.push("fiscal.wrong_password".into());
            }
        }
        h
    }

    /// The gate before a card step: nothing is charged for a sale the
    /// register could not print.
    pub(crate) async fn preflight_card(&self) -> Result<()> {
        self.check_password().await;
        let h = self.health().await;
        match h.blocking.first() {
            Some(code) => Err(Error::NotReady {
                code: code.clone(),
                message: format!(
                    "the register cannot print a receipt now ({})",
                    h.blocking.join(", ")
                ),
            }),
            None => Ok(()),
        }
    }
}
