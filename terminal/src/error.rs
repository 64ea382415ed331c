//! The terminal crate's one error type, split by layer: the wire, the protocol,
//! and what the terminal itself reported. A decline is not an error: it is a
//! [`crate::CardOutcome`].

/// Everything that can go wrong while talking to a card terminal.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The link failed: the port or socket could not be opened, read or written.
    #[error("terminal link failed: {0}")]
    Transport(#[from] std::io::Error),
    /// The terminal did not answer within the allowed time.
    #[error("terminal did not answer within {0} ms")]
    Timeout(u64),
    /// The terminal answered something the protocol does not allow.
    #[error("terminal protocol error: {0}")]
    Protocol(String),
    /// The terminal refused the request for a reason of its own (busy, no paper, ...).
    #[error("terminal reported {code}: {message}")]
    Device { code: String, message: String },
    /// The request itself is invalid (amount out of range, missing RRN, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// Result alias for the terminal crate.
pub type Result<T> = std::result::Result<T, Error>;
