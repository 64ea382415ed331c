//! The checkout crate's one error type, and how each error maps to the stable
//! [`ErrorCode`](crate::api::ErrorCode) the UI branches on and translates.

use crate::api::{ApiError, ErrorCode};

/// Everything that can go wrong in the checkout.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- what the caller sent ---------------------------------------------
    /// An amount is not a positive integer of kopiykas in range.
    #[error("invalid amount: {0}")]
    InvalidAmount(String),
    /// The request is malformed (not JSON, wrong shape, a bad value).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The operation is not allowed in the state things are in.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The idempotency key was used before for another request.
    #[error("the key {0:?} was used before for another request")]
    KeyReused(String),
    /// No such record.
    #[error("not found: {0}")]
    NotFound(String),
    /// No such command.
    #[error("no such command: {0}")]
    UnknownCommand(String),
    /// Settings to save fail their checks (the field errors, JSON).
    #[error("the settings are not valid: {0}")]
    InvalidSettings(String),
    /// The change switches between demo and production: the installer must
    /// confirm it (what would change, JSON).
    #[error("switching between demo and production needs confirmation: {0}")]
    ConfirmationRequired(String),

    // ---- who asks ------------------------------------------------------------
    /// The command needs a logged-in user.
    #[error("log in first")]
    LoginRequired,
    /// The PIN is not the user's; `left` more wrong ones lock them out.
    #[error("wrong PIN ({left} tries left)")]
    WrongPin { left: u32 },
    /// Too many wrong PINs: the user is locked out until then.
    #[error("locked out after wrong PINs until {until}")]
    LockedOut { until: String },
    /// A manager's PIN must come with this request (what it is for, JSON).
    #[error("a manager's approval is needed: {0}")]
    ApprovalRequired(String),

    // ---- the engine's own rules -------------------------------------------
    /// Another operation is running on the devices.
    #[error("another operation is in progress")]
    Busy,
    /// An older operation must be finished before this one starts.
    #[error("operation {operation} is unresolved ({code})")]
    Unresolved { operation: i64, code: String },

    // ---- the devices -------------------------------------------------------
    /// The card terminal failed or refused (link, protocol, its own refusal).
    #[error("card terminal: {0}")]
    Terminal(#[from] terminal::Error),
    /// The fiscal register failed or refused.
    #[error("fiscal register: {0}")]
    Fiscal(#[from] fiscal::Error),
    /// A condition the pre-flight gate found (a stable device code such as
    /// `fiscal.wrong_password`), before anything was charged.
    #[error("the devices are not ready: {code}: {message}")]
    NotReady { code: String, message: String },

    // ---- storage and set-up -----------------------------------------------
    /// The journal could not be read or written.
    #[error("journal error: {0}")]
    Storage(#[from] rusqlite::Error),
    /// A file could not be created or written.
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
    /// The settings file is unreadable or invalid.
    #[error("settings: {0}")]
    Settings(String),
    /// No font with Cyrillic for PDF reports (where it was looked for).
    #[error("report font missing: {0}")]
    ReportFontMissing(String),
    /// An export's file is asked for before the export finished.
    #[error("the export is not ready: {0}")]
    ExportNotReady(String),
    /// The same keyed request was refused before (its answer again).
    #[error("{}", .0.message)]
    Again(ApiError),
    /// A broken invariant; a bug.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias for the checkout crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable code the UI branches on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidAmount(_) => ErrorCode::InvalidAmount,
            Error::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Error::NotAllowed(_) => ErrorCode::NotAllowed,
            Error::KeyReused(_) => ErrorCode::KeyReused,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::UnknownCommand(_) => ErrorCode::UnknownCommand,
            Error::InvalidSettings(_) => ErrorCode::InvalidSettings,
            Error::ConfirmationRequired(_) => ErrorCode::ConfirmationRequired,
            Error::LoginRequired => ErrorCode::LoginRequired,
            Error::WrongPin { .. } => ErrorCode::WrongPin,
            Error::LockedOut { .. } => ErrorCode::LockedOut,
            Error::ApprovalRequired(_) => ErrorCode::ApprovalRequired,
            Error::Busy => ErrorCode::Busy,
            Error::Unresolved { .. } => ErrorCode::Unresolved,
            Error::Terminal(_) => ErrorCode::TerminalError,
            Error::Fiscal(_) => ErrorCode::FiscalError,
            Error::NotReady { code, .. } if code.starts_with("terminal.") => {
                ErrorCode::TerminalError
            }
            Error::NotReady { .. } => ErrorCode::FiscalError,
            Error::Storage(_) | Error::Io(_) => ErrorCode::Storage,
            Error::Settings(_) | Error::Internal(_) => ErrorCode::Internal,
            Error::ReportFontMissing(_) => ErrorCode::ReportFontMissing,
            Error::ExportNotReady(_) => ErrorCode::ExportNotReady,
            Error::Again(e) => e.code,
        }
    }

    /// The device's own stable code, prefixed by the device:
    /// `fiscal.paper_out`, `terminal.transport.link_lost`; for an
    /// unresolved older operation, its problem code.
    pub fn device_code(&self) -> Option<String> {
        match self {
            Error::Terminal(e) => Some(format!("terminal.{}", e.code())),
            Error::Fiscal(e) => Some(format!("fiscal.{}", e.code())),
            Error::NotReady { code, .. } | Error::Unresolved { code, .. } => Some(code.clone()),
            Error::Again(e) => e.device_code.clone(),
            _ => None,
        }
    }
}

impl From<&Error> for ApiError {
    fn from(e: &Error) -> Self {
        if let Error::Again(inner) = e {
            return inner.clone();
        }
        let details = match e {
            Error::Terminal(inner) => Some(inner.to_string()),
            Error::Fiscal(inner) => Some(inner.to_string()),
            Error::Storage(inner) => Some(inner.to_string()),
            Error::Unresolved { operation, .. } => Some(format!("operation {operation}")),
            Error::WrongPin { left } => Some(left.to_string()),
            Error::LockedOut { until } => Some(until.clone()),
            Error::ApprovalRequired(what) => Some(what.clone()),
            Error::InvalidSettings(what) | Error::ConfirmationRequired(what) => Some(what.clone()),
            _ => None,
        };
        ApiError {
            code: e.code(),
            message: e.to_string(),
            details,
            device_code: e.device_code(),
            operation: match e {
                Error::Unresolved { operation, .. } => Some(*operation),
                _ => None,
            },
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::from(&e)
    }
}
