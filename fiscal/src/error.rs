//! The fiscal crate's one error type, split by layer: the wire, the protocol,
//! and what the register itself reported (paper out, fiscal memory full, ...).

/// Everything that can go wrong while talking to a fiscal register.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The port or socket failed.
    #[error("fiscal register link failed: {0}")]
    Transport(#[from] std::io::Error),
    /// The register did not answer in time, even after retries.
    #[error("fiscal register did not answer within {0} ms")]
    Timeout(u64),
    /// The register answered something the protocol does not allow.
    #[error("fiscal protocol error: {0}")]
    Protocol(String),
    /// The register refused the command and said why.
    #[error("fiscal register reported {code}: {message}")]
    Device { code: String, message: String },
    /// The receipt itself is invalid (empty, bad amount, ...).
    #[error("invalid receipt: {0}")]
    InvalidRequest(String),
}

/// Result alias for the fiscal crate.
pub type Result<T> = std::result::Result<T, Error>;
