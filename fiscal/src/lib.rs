//! Fiscal-register adapters for Kasa.
//!
//! The checkout talks to a fiscal register through the [`FiscalRegister`] trait
//! in [`api`]. The Datecs driver implements it in four layers (frame, codec,
//! link, driver); [`sim`] is a small in-process register used until the Datecs
//! emulator replaces it.

pub mod api;
pub mod error;
pub mod sim;

pub use api::*;
pub use error::{Error, Result};
