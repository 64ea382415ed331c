//! The installer's settings of a dialect: how card data goes into the
//! payment command (slot template, letter, prefix, operation words, merchant,
//! commission), how cash is paid, how the operator password is checked and
//! how far the register's clock may drift.
//!
//! No public document gives the FP-T260 v4.00 syntax (reference §7), so what
//! the register accepts is configuration, not code: the defaults follow the
//! Ukrainian FP-700 drivers (§7.8); the field check (`kasa fiscal
//! field-check`) finds what a real register takes and saves it in this shape.
//! The checkout embeds [`DialectSettings`] in the fiscal section of
//! `kasa.json` and passes it into the driver through
//! [`crate::Dialect::with_settings`].
//!
//! JSON shape (every field optional; unknown fields are refused):
//!
//! ```json
//! {
//!   "card": {
//!     "mode": "slots",
//!     "template": ["rrn","merchant","terminal_id","payment_system",
//!                  "operation","masked_pan","auth_code","commission"],
//!     "code": null, "plus": true, "prefix": "\n\t",
//!     "words": {"sale": "оплата", "refund": "повернення", "cash_out": "видача"},
//!     "merchant_source": "terminal_mid", "merchant_name": "Магазин",
//!     "commission": "zero", "unknown_payment_system": "картка",
//!     "fallback_to_text": true, "long_form_refused": false,
//!     "signature_line": "ПІДПИС КЛІЄНТА ______________"
//!   },
//!   "cash": {"code": null, "plus": true},
//!   "password_check": "set_same",
//!   "clock_tolerance_s": 120,
//!   "readback": true
//! }
//! ```

use serde::{Deserialize, Serialize};

use crate::Error;

/// Where the card transaction's data goes on the fiscal receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardDataMode {
    /// As comma-separated slots after the amount in the payment command
    /// (`D+12.50,<rrn>,<merchant>,...`, reference §7.8). The `ua-fp-t260`
    /// default; unconfirmed on an FP-T260.
    Slots,
    /// In the payment command's own text (old syntax: `Line1 LF Line2 TAB
    /// code amount`).
    #[serde(alias = "payment-text")]
    PaymentText,
    /// As fiscal text lines (command 0x36) inside the receipt, before the
    /// payment. Works on any firmware that prints fiscal text.
    #[serde(alias = "text-lines")]
    TextLines,
    /// Payment text and text lines.
    Both,
}

impl std::str::FromStr for CardDataMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "slots" => Ok(CardDataMode::Slots),
            "payment-text" | "payment_text" => Ok(CardDataMode::PaymentText),
            "text-lines" | "text_lines" => Ok(CardDataMode::TextLines),
            "both" => Ok(CardDataMode::Both),
            _ => Err(Error::InvalidRequest(format!(
                "unknown card data mode {s:?}"
            ))),
        }
    }
}

/// One named slot of the card payment command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotField {
    /// The bank's retrieval reference number.
    Rrn,
    /// The merchant (acquirer and seller identification).
    Merchant,
    /// The payment device's (terminal's) id.
    TerminalId,
    /// The payment system or issuer (VISA, MASTERCARD, ...).
    PaymentSystem,
    /// The operation word (`оплата`, `повернення`, `видача`).
    Operation,
    /// The masked card number (ЕПЗ).
    MaskedPan,
    /// The authorisation code.
    AuthCode,
    /// The acquirer's commission.
    Commission,
    /// The terminal's receipt (invoice) number.
    Invoice,
    /// A literal `0` (a slot the register ignores, as in the Exellio order).
    Zero,
    /// An empty slot.
    Empty,
}

impl SlotField {
    /// The field's name as in the settings (`rrn`, `auth_code`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SlotField::Rrn => "rrn",
            SlotField::Merchant => "merchant",
            SlotField::TerminalId => "terminal_id",
            SlotField::PaymentSystem => "payment_system",
            SlotField::Operation => "operation",
            SlotField::MaskedPan => "masked_pan",
            SlotField::AuthCode => "auth_code",
            SlotField::Commission => "commission",
            SlotField::Invoice => "invoice",
            SlotField::Zero => "zero",
            SlotField::Empty => "empty",
        }
    }

    /// Parses a settings name (`rrn`, `terminal-id` and `terminal_id`, ...).
    pub fn parse(name: &str) -> Option<SlotField> {
        let n = name.trim().replace('-', "_");
        ALL_SLOT_FIELDS.iter().copied().find(|f| f.name() == n)
    }

    /// Longest value (in characters) the field may have. Identifying fields
    /// are never cut: a longer value is an error. Descriptive fields
    /// (merchant, payment system) are cut to this length instead.
    pub fn max_chars(self) -> usize {
        match self {
            SlotField::Rrn => 24,
            SlotField::Merchant => 24,
            SlotField::TerminalId => 16,
            SlotField::PaymentSystem => 16,
            SlotField::Operation => 16,
            SlotField::MaskedPan => 24,
            SlotField::AuthCode => 12,
            SlotField::Commission => 12,
            SlotField::Invoice => 12,
            SlotField::Zero | SlotField::Empty => 1,
        }
    }

    /// True for the fields that may be cut to fit (they describe, they do
    /// not identify the transaction).
    pub fn may_be_cut(self) -> bool {
        matches!(self, SlotField::Merchant | SlotField::PaymentSystem)
    }
}

/// Every slot field, in the §7.8 order first.
pub const ALL_SLOT_FIELDS: [SlotField; 11] = [
    SlotField::Rrn,
    SlotField::Merchant,
    SlotField::TerminalId,
    SlotField::PaymentSystem,
    SlotField::Operation,
    SlotField::MaskedPan,
    SlotField::AuthCode,
    SlotField::Commission,
    SlotField::Invoice,
    SlotField::Zero,
    SlotField::Empty,
];

/// The §7.8 slot order (Ukrainian FP-700 drivers).
pub const UA_FP700_TEMPLATE: [SlotField; 8] = [
    SlotField::Rrn,
    SlotField::Merchant,
    SlotField::TerminalId,
    SlotField::PaymentSystem,
    SlotField::Operation,
    SlotField::MaskedPan,
    SlotField::AuthCode,
    SlotField::Commission,
];

/// The Exellio order of §7.6 (auth code first, RRN seventh).
pub const EXELLIO_TEMPLATE: [SlotField; 8] = [
    SlotField::AuthCode,
    SlotField::Zero,
    SlotField::TerminalId,
    SlotField::Zero,
    SlotField::PaymentSystem,
    SlotField::MaskedPan,
    SlotField::Rrn,
    SlotField::Zero,
];

/// The operation words printed in the card block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperationWords {
    pub sale: String,
    pub refund: String,
    pub cash_out: String,
}

impl Default for OperationWords {
    fn default() -> Self {
        OperationWords {
            sale: "оплата".into(),
            refund: "повернення".into(),
            cash_out: "видача".into(),
        }
    }
}

/// What goes into the merchant slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MerchantSource {
    /// The MID the terminal reported, else the configured name.
    #[default]
    TerminalMid,
    /// Always the configured name.
    Name,
}

/// What goes into the commission slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommissionSource {
    /// Always `0.00` (what public drivers send).
    #[default]
    Zero,
    /// The commission the bank reported, `0.00` when none.
    Reported,
    /// Left empty.
    Off,
}

/// How a card payment carries the card data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CardDataSettings {
    pub mode: CardDataMode,
    /// The slots after the amount, in order (mode `slots`).
    pub template: Vec<SlotField>,
    /// The card payment letter; `None` is the dialect's (`D`).
    pub code: Option<String>,
    /// Write `+` between the letter and the amount (`D+12.50`).
    pub plus: bool,
    /// What comes before the letter: the empty comment lines (LF TAB).
    pub prefix: String,
    pub words: OperationWords,
    pub merchant_source: MerchantSource,
    /// The merchant name when no MID is used (public code sends `Магазин`).
    pub merchant_name: String,
    pub commission: CommissionSource,
    /// The payment-system slot when the terminal names none.
    pub unknown_payment_system: String,
    /// When the register refuses the long form (syntax error or paid code
    /// `F`), pay plain `D+<amount>` and print the card data as text lines.
    pub fallback_to_text: bool,
    /// The register refused the long form before: start with the fallback.
    /// The driver sets it when it falls back; a caller persists it.
    pub long_form_refused: bool,
    /// Printed (0x36) when the cardholder must sign.
    pub signature_line: String,
}

impl Default for CardDataSettings {
    fn default() -> Self {
        CardDataSettings {
            mode: CardDataMode::Slots,
            template: UA_FP700_TEMPLATE.to_vec(),
            code: None,
            plus: true,
            prefix: "\n\t".into(),
            words: OperationWords::default(),
            merchant_source: MerchantSource::TerminalMid,
            merchant_name: "Магазин".into(),
            commission: CommissionSource::Zero,
            unknown_payment_system: "картка".into(),
            fallback_to_text: true,
            long_form_refused: false,
            signature_line: "ПІДПИС КЛІЄНТА ______________".into(),
        }
    }
}

/// How cash is paid (mode `slots`: `LF TAB P+<amount>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CashSettings {
    /// The cash payment letter; `None` is the dialect's (`P`).
    pub code: Option<String>,
    pub plus: bool,
}

impl Default for CashSettings {
    fn default() -> Self {
        CashSettings {
            code: None,
            plus: true,
        }
    }
}

/// How the operator password is checked before sales.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordCheck {
    /// Command 0x65 "set operator password" with the same old and new
    /// password: refused when the password is wrong, prints nothing.
    /// Unconfirmed on an FP-T260.
    #[default]
    #[serde(alias = "set-same")]
    SetSame,
    /// No check (the first receipt finds a wrong password).
    None,
}

/// Everything configurable about a dialect, with the FP-T260 defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialectSettings {
    pub card: CardDataSettings,
    pub cash: CashSettings,
    pub password_check: PasswordCheck,
    /// Largest drift of the register's clock from the system clock, seconds.
    pub clock_tolerance_s: i64,
    /// Read every receipt back from the electronic journal after it closes.
    pub readback: bool,
}

impl Default for DialectSettings {
    fn default() -> Self {
        DialectSettings {
            card: CardDataSettings::default(),
            cash: CashSettings::default(),
            password_check: PasswordCheck::SetSame,
            clock_tolerance_s: 120,
            readback: true,
        }
    }
}

impl DialectSettings {
    /// Reads settings from a JSON file (as the field check saves them).
    pub fn load(path: &std::path::Path) -> crate::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text)
            .map_err(|e| Error::InvalidRequest(format!("settings {}: {e}", path.display())))
    }

    /// Writes settings as pretty JSON.
    pub fn save(&self, path: &std::path::Path) -> crate::Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::InvalidRequest(format!("settings: {e}")))?;
        std::fs::write(path, text)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_unknown_fields_are_refused() {
        let s = DialectSettings::default();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<DialectSettings>(&json).unwrap(), s);
        assert_eq!(
            serde_json::from_str::<DialectSettings>("{}").unwrap(),
            s,
            "every field has a default"
        );
        assert!(serde_json::from_str::<DialectSettings>(r#"{"card":{"modes":"x"}}"#).is_err());
        let exellio: DialectSettings = serde_json::from_str(
            r#"{"card":{"template":["auth_code","zero","terminal_id","zero",
                "payment_system","masked_pan","rrn","zero"]}}"#,
        )
        .unwrap();
        assert_eq!(exellio.card.template, EXELLIO_TEMPLATE.to_vec());
        let legacy: CardDataSettings = serde_json::from_str(r#"{"mode":"text-lines"}"#).unwrap();
        assert_eq!(legacy.mode, CardDataMode::TextLines);
        assert_eq!(SlotField::parse("terminal-id"), Some(SlotField::TerminalId));
        assert_eq!(SlotField::parse("nope"), None);
    }
}
