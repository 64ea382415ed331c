//! Card-terminal drivers for Kasa.
//!
//! The checkout talks to every terminal through the [`CardTerminal`] trait in
//! [`api`]; each protocol (PrivatBank ECR JSON, Ingenico ECR web service / RS232,
//! B-POS1) implements it in its own module, in four layers (frame, codec,
//! session, driver). The [`sim`] module holds a small in-process terminal used
//! until the protocol emulators replace it.

pub mod api;
pub mod error;
pub mod sim;

pub use api::*;
pub use error::{Error, Result};
