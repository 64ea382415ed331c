//! The fiscal crate's one error type, split by layer: the wire, the protocol,
//! and what the register itself reported (paper out, fiscal memory full, ...).
//!
//! Every variant has a stable [`Error::code`] string that the UI can branch on
//! and translate; the `Display` text is for logs and support bundles.

/// Everything that can go wrong while talking to a fiscal register.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- transport -------------------------------------------------------
    /// The port or socket failed.
    #[error("fiscal register link failed: {0}")]
    Transport(#[from] std::io::Error),
    /// The register did not answer in time, even after retries.
    #[error("fiscal register did not answer within {0} ms")]
    Timeout(u64),
    /// The register kept answering NAK (it could not read our frames).
    #[error("fiscal register rejected the frame {0} times (NAK)")]
    Nak(u32),
    /// The register stayed busy (SYN) longer than allowed.
    #[error("fiscal register stayed busy for more than {0} ms")]
    Busy(u64),
    /// Nothing answering as a Datecs register was found.
    #[error("no fiscal register found: {0}")]
    NotFound(String),

    // ---- protocol --------------------------------------------------------
    /// The register answered something the protocol does not allow
    /// (bad checksum after retries, wrong command echo, unparsable data).
    #[error("fiscal protocol error: {0}")]
    Protocol(String),

    // ---- what the register reported --------------------------------------
    /// The printer is out of paper; an open receipt stays open.
    #[error("the fiscal printer is out of paper")]
    PaperOut,
    /// The printer cover is open.
    #[error("the fiscal printer cover is open")]
    CoverOpen,
    /// The printing mechanism failed.
    #[error("the fiscal printer mechanism failed")]
    PrinterFault,
    /// The fiscal memory is full; the register cannot fiscalise any more.
    #[error("the fiscal memory is full")]
    FiscalMemoryFull,
    /// The fiscal memory or electronic journal failed or is missing.
    #[error("fiscal memory error: {0}")]
    FiscalMemory(String),
    /// More than 24 hours since the shift opened: a Z report is needed.
    #[error("the shift is over 24 hours: a Z report is needed")]
    ShiftOver24h,
    /// A receipt is already open where none may be.
    #[error("a receipt is already open on the fiscal register")]
    ReceiptOpen,
    /// No receipt is open where one must be.
    #[error("no receipt is open on the fiscal register")]
    NoReceiptOpen,
    /// The operator password was refused.
    #[error("the fiscal register refused the operator password")]
    WrongPassword,
    /// The clock is not set, or earlier than the last fiscal record.
    #[error("the fiscal register clock is not set or invalid")]
    ClockNotSet,
    /// The register refused the command in its current state.
    #[error("command 0x{cmd:02X} is not permitted now")]
    NotPermitted { cmd: u16 },
    /// The register did not accept the command's parameters.
    #[error("command 0x{cmd:02X}: syntax error in the parameters")]
    Syntax { cmd: u16 },
    /// The register does not know the command.
    #[error("command 0x{cmd:02X} is not supported by the register")]
    InvalidCommand { cmd: u16 },
    /// An amount or counter would overflow.
    #[error("amount overflow on the fiscal register")]
    Overflow,
    /// The SAM (the fiscal-data security module) failed or belongs to
    /// another device (UA status 1.4 / 0.4).
    #[error("the fiscal register's SAM module failed or is not its own")]
    SamError,
    /// The electronic journal (КЛЕФ) is full (UA status 2.2).
    #[error("the electronic journal is full")]
    JournalFull,
    /// The register's subtotal differs from ours: nothing was paid, the
    /// receipt stays open (a person looks at it; the card data is kept).
    #[error("the register's subtotal {register} differs from ours {ours} (minor units)")]
    SubtotalMismatch { ours: i64, register: i64 },
    /// Any other condition the register reported (e.g. an X error code).
    #[error("fiscal register reported {code}: {message}")]
    Device { code: String, message: String },

    // ---- our side --------------------------------------------------------
    /// A card data field (or the whole command) cannot fit what the
    /// register takes: `field` is the slot name, or `data` for the 213-byte
    /// limit of the command; `len` and `max` are in characters (bytes for
    /// `data`). Nothing was sent.
    #[error("card data {field} is {len} long, the register takes at most {max}")]
    CardDataTooLong {
        field: String,
        len: usize,
        max: usize,
    },
    /// The request itself is invalid (empty receipt, bad amount, ...).
    #[error("invalid receipt: {0}")]
    InvalidRequest(String),
}

impl Error {
    /// A small stable identifier for the UI (`paper_out`, `timeout`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Transport(_) => "transport",
            Error::Timeout(_) => "timeout",
            Error::Nak(_) => "nak",
            Error::Busy(_) => "busy",
            Error::NotFound(_) => "not_found",
            Error::Protocol(_) => "protocol",
            Error::PaperOut => "paper_out",
            Error::CoverOpen => "cover_open",
            Error::PrinterFault => "printer_fault",
            Error::FiscalMemoryFull => "fiscal_memory_full",
            Error::FiscalMemory(_) => "fiscal_memory",
            Error::ShiftOver24h => "shift_over_24h",
            Error::ReceiptOpen => "receipt_open",
            Error::NoReceiptOpen => "no_receipt_open",
            Error::WrongPassword => "wrong_password",
            Error::ClockNotSet => "clock_not_set",
            Error::NotPermitted { .. } => "not_permitted",
            Error::Syntax { .. } => "syntax",
            Error::InvalidCommand { .. } => "invalid_command",
            Error::Overflow => "overflow",
            Error::SamError => "sam_error",
            Error::JournalFull => "journal_full",
            Error::SubtotalMismatch { .. } => "subtotal_mismatch",
            Error::Device { .. } => "device",
            Error::CardDataTooLong { .. } => "card_data_too_long",
            Error::InvalidRequest(_) => "invalid_request",
        }
    }

    /// True when the outcome of the command is unknown (the link failed
    /// while it was in flight): the caller must look, never resend blindly.
    pub fn is_uncertain(&self) -> bool {
        matches!(
            self,
            Error::Transport(_) | Error::Timeout(_) | Error::Nak(_) | Error::Busy(_)
        )
    }

    /// True when the condition comes from the register itself and needs a
    /// person (paper, cover, memory, Z report).
    pub fn needs_attention(&self) -> bool {
        matches!(
            self,
            Error::PaperOut
                | Error::CoverOpen
                | Error::PrinterFault
                | Error::FiscalMemoryFull
                | Error::FiscalMemory(_)
                | Error::ShiftOver24h
                | Error::ClockNotSet
                | Error::SamError
                | Error::JournalFull
                | Error::SubtotalMismatch { .. }
        )
    }
}

/// Result alias for the fiscal crate.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(Error::PaperOut.code(), "paper_out");
        assert_eq!(Error::ShiftOver24h.code(), "shift_over_24h");
        assert_eq!(Error::Timeout(500).code(), "timeout");
        assert!(Error::Timeout(1).is_uncertain());
        assert!(!Error::PaperOut.is_uncertain());
        assert!(Error::CoverOpen.needs_attention());
        assert_eq!(
            Error::CardDataTooLong {
                field: "data".into(),
                len: 214,
                max: 213
            }
            .code(),
            "card_data_too_long"
        );
        assert_eq!(
            Error::SubtotalMismatch {
                ours: 1,
                register: 10
            }
            .code(),
            "subtotal_mismatch"
        );
        assert_eq!(Error::SamError.code(), "sam_error");
        assert_eq!(Error::JournalFull.code(), "journal_full");
    }
}
