//! The terminal crate's one error type, split by layer: the wire (transport),
//! the protocol, and what the terminal itself reported. A decline is not an
//! error: it is a [`crate::CardOutcome`].
//!
//! [`Error::code`] gives a small stable string the UI can branch on and translate.

use crate::Lang;

/// Which layer an error comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Transport,
    Protocol,
    Device,
    Request,
}

/// Everything that can go wrong while talking to a card terminal.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- transport -------------------------------------------------------
    /// The link failed: the port or socket could not be opened, read or written.
    #[error("terminal link failed: {0}")]
    Transport(#[from] std::io::Error),
    /// The link dropped while a request was outstanding: its outcome is unknown
    /// and must be recovered by a lookup.
    #[error("terminal link dropped: {0}")]
    LinkLost(String),
    /// The terminal did not answer within the allowed time.
    #[error("terminal did not answer within {0} ms")]
    Timeout(u64),

    // ---- protocol --------------------------------------------------------
    /// The terminal answered something the protocol does not allow (bad JSON,
    /// missing or mistyped fields, a reply to some other request...).
    #[error("terminal protocol error: {0}")]
    Protocol(String),
    /// The terminal or this driver does not support the operation.
    #[error("not supported by this terminal: {0}")]
    Unsupported(String),

    // ---- device-reported -------------------------------------------------
    /// The terminal is busy with another operation (`deviceBusy`, LastResult 2).
    #[error("terminal is busy with another operation")]
    Busy,
    /// The terminal refused the request for a reason of its own (no paper, no
    /// host link, journal full...). `code` is the terminal's code, e.g. `1005`.
    #[error("terminal reported {code}: {message}")]
    Device { code: String, message: String },
    /// `confirm()` came too late: the terminal had already cancelled the
    /// approval with this invoice for want of a confirm (B-POS1), so the card
    /// was not charged.
    #[error("the terminal cancelled the unconfirmed approval {invoice}")]
    ConfirmExpired { invoice: String },

    // ---- request ---------------------------------------------------------
    /// The request itself is invalid (amount out of range, missing RRN, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl Error {
    /// The layer the error belongs to.
    pub fn layer(&self) -> Layer {
        match self {
            Error::Transport(_) | Error::LinkLost(_) | Error::Timeout(_) => Layer::Transport,
            Error::Protocol(_) | Error::Unsupported(_) => Layer::Protocol,
            Error::Busy | Error::Device { .. } | Error::ConfirmExpired { .. } => Layer::Device,
            Error::InvalidRequest(_) => Layer::Request,
        }
    }

    /// A small stable code for the UI, e.g. `transport.timeout`, `device.no_paper`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Transport(_) => "transport.io",
            Error::LinkLost(_) => "transport.link_lost",
            Error::Timeout(_) => "transport.timeout",
            Error::Protocol(_) => "protocol.bad_reply",
            Error::Unsupported(_) => "protocol.unsupported",
            Error::Busy => "device.busy",
            Error::Device { code, .. } => device_code_name(code),
            Error::ConfirmExpired { .. } => "device.confirm_expired",
            Error::InvalidRequest(_) => "request.invalid",
        }
    }

    /// `true` when the outcome of a financial request is unknown and must be
    /// resolved by a lookup before anything else is sent.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::LinkLost(_) | Error::Timeout(_) | Error::Protocol(_)
        )
    }

    /// A device error for a terminal response code of the 1000–1008 table.
    pub fn device(code: &str, message: &str) -> Self {
        let message = if message.trim().is_empty() {
            response_text(code, Lang::En).to_string()
        } else {
            message.trim().to_string()
        };
        Error::Device {
            code: code.trim().to_string(),
            message,
        }
    }
}

fn device_code_name(code: &str) -> &'static str {
    match code.trim() {
        "1000" => "device.general",
        "1001" => "device.cancelled",
        "1002" => "device.emv_decline",
        "1003" => "device.journal_full",
        "1004" => "device.no_host_link",
        "1005" => "device.no_paper",
        "1006" => "device.keys",
        "1007" => "device.no_card_reader",
        "1008" => "device.already_complete",
        _ => "device.error",
    }
}

/// The meaning of a terminal response code (the 1000–1008 table shared by
/// B-POS1 and PrivatBank JSON, plus the host codes seen most), in a language.
pub fn response_text(code: &str, lang: Lang) -> &'static str {
    let c = code.trim();
    let host = c.trim_start_matches('0');
    match c {
        "1000" => lang.pick("Загальна помилка", "Общая ошибка", "General error"),
        "1001" => lang.pick(
            "Скасовано користувачем",
            "Отменено пользователем",
            "Cancelled by the user",
        ),
        "1002" => lang.pick("Відмова картки (EMV)", "Отказ карты (EMV)", "EMV decline"),
        "1003" => lang.pick(
            "Журнал транзакцій заповнено, закрийте зміну",
            "Журнал транзакций заполнен, закройте смену",
            "Transaction log full, settle first",
        ),
        "1004" => lang.pick(
            "Немає зв'язку з банком",
            "Нет связи с банком",
            "No connection with the bank",
        ),
        "1005" => lang.pick(
            "Закінчився папір",
            "Закончилась бумага",
            "No paper in the printer",
        ),
        "1006" => lang.pick(
            "Помилка ключів шифрування",
            "Ошибка ключей шифрования",
            "Crypto keys error",
        ),
        "1007" => lang.pick(
            "Зчитувач карток не під'єднано",
            "Считыватель карт не подключён",
            "Card reader not connected",
        ),
        "1008" => lang.pick(
            "Операцію вже завершено",
            "Операция уже завершена",
            "Transaction already complete",
        ),
        _ => match host {
            "" => lang.pick("Схвалено", "Одобрено", "Approved"),
            "10" => lang.pick(
                "Схвалено частково",
                "Одобрено частично",
                "Partially approved",
            ),
            "4" | "7" | "41" | "43" => {
                lang.pick("Вилучіть картку", "Изъять карту", "Pick up the card")
            }
            "5" => lang.pick(
                "Відхилено банком-емітентом",
                "Отклонено банком-эмитентом",
                "Declined by the issuer",
            ),
            "51" => lang.pick(
                "Недостатньо коштів",
                "Недостаточно средств",
                "Insufficient funds",
            ),
            "54" => lang.pick(
                "Термін дії картки минув",
                "Срок действия карты истёк",
                "Expired card",
            ),
            "55" => lang.pick("Невірний PIN", "Неверный PIN", "Incorrect PIN"),
            "61" => lang.pick(
                "Перевищено ліміт суми",
                "Превышен лимит суммы",
                "Amount limit exceeded",
            ),
            "91" => lang.pick(
                "Банк-емітент недоступний",
                "Банк-эмитент недоступен",
                "Issuer unavailable",
            ),
            "96" => lang.pick("Системна помилка", "Системная ошибка", "System malfunction"),
            _ => lang.pick("Відхилено", "Отклонено", "Declined"),
        },
    }
}

/// Result alias for the terminal crate.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(Error::device("1005", "").code(), "device.no_paper");
        assert_eq!(Error::device("1004", "x").layer(), Layer::Device);
        assert_eq!(Error::Timeout(5).code(), "transport.timeout");
        assert!(Error::LinkLost("x".into()).outcome_unknown());
        let late = Error::ConfirmExpired {
            invoice: "42".into(),
        };
        assert_eq!(
            (late.code(), late.layer(), late.outcome_unknown()),
            ("device.confirm_expired", Layer::Device, false)
        );
        assert_eq!(response_text("0051", Lang::En), "Insufficient funds");
        assert_eq!(response_text("55", Lang::Uk), "Невірний PIN");
    }
}
