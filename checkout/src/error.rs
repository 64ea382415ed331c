//! The checkout crate's one error type, and how each error maps to the stable
//! [`ErrorCode`](crate::api::ErrorCode) the UI branches on and translates.

use crate::api::{ApiError, ErrorCode};

/// Everything that can go wrong in the checkout.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The amount typed or sent is not a valid amount.
    #[error("invalid amount: {0}")]
    InvalidAmount(String),
    /// The request is malformed (not JSON, wrong shape).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Another sale is running.
    #[error("another operation is in progress")]
    Busy,
    /// The journal could not be read or written.
    #[error("journal error: {0}")]
    Storage(#[from] rusqlite::Error),
    /// The journal's files could not be created.
    #[error("journal file error: {0}")]
    Io(#[from] std::io::Error),
    /// The card terminal failed (link, protocol, or a refusal of its own).
    #[error("card terminal: {0}")]
    Terminal(#[from] terminal::Error),
    /// The fiscal register failed.
    #[error("fiscal register: {0}")]
    Fiscal(#[from] fiscal::Error),
    /// The settings file is unreadable or invalid.
    #[error("settings: {0}")]
    Settings(String),
    /// No such record.
    #[error("not found: {0}")]
    NotFound(String),
}

/// Result alias for the checkout crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable code the UI branches on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidAmount(_) => ErrorCode::InvalidAmount,
            Error::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Error::Busy => ErrorCode::Busy,
            Error::Storage(_) | Error::Io(_) => ErrorCode::Storage,
            Error::Terminal(_) => ErrorCode::TerminalError,
            Error::Fiscal(_) => ErrorCode::FiscalError,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Settings(_) => ErrorCode::Internal,
        }
    }
}

impl Error {
    /// The device's own stable code, prefixed by the device: `fiscal.paper_out`,
    /// `terminal.transport.link_lost`.
    pub fn device_code(&self) -> Option<String> {
        match self {
            Error::Terminal(e) => Some(format!("terminal.{}", e.code())),
            Error::Fiscal(e) => Some(format!("fiscal.{}", e.code())),
            _ => None,
        }
    }
}

impl From<&Error> for ApiError {
    fn from(e: &Error) -> Self {
        let details = match e {
            Error::Terminal(inner) => Some(inner.to_string()),
            Error::Fiscal(inner) => Some(inner.to_string()),
            Error::Storage(inner) => Some(inner.to_string()),
            _ => None,
        };
        ApiError {
            code: e.code(),
            message: e.to_string(),
            details,
            device_code: e.device_code(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::from(&e)
    }
}
