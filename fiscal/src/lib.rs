//! Fiscal-register adapters for Kasa.
//!
//! The checkout talks to a fiscal register through the [`FiscalRegister`] trait
//! in [`api`]. The Datecs driver implements it in four layers:
//!
//! 1. [`frame`]: both Datecs framings, encode / decode, status bits;
//! 2. [`codec`]: bytes to packets on a stream (split reads, garbage, bad BCC);
//! 3. [`link`]: SEQ reuse on retry, NAK resend, SYN wait, bounded retries;
//! 4. [`driver`]: typed commands and the receipt session with recovery.
//!
//! [`dialect`] holds the per-family tables, [`text`] the cp1251 and number
//! formats, [`transport`] serial and TCP. [`emulator`] is a faithful peer on a
//! pty or TCP; [`demo`] wires it to the real driver inside the process;
//! [`detect`] finds a register on a port; [`cli`] is `kasa emulate fiscal` and
//! `kasa fiscal ...`. [`sim`] is the skeleton's in-process stand-in.

pub mod api;
pub mod cli;
pub mod codec;
pub mod demo;
pub mod detect;
pub mod dialect;
pub mod driver;
pub mod emulator;
pub mod error;
pub mod frame;
pub mod link;
pub mod reconnect;
pub mod sim;
pub mod text;
pub mod transport;

pub use api::*;
pub use dialect::{CardDataMode, Dialect};
pub use driver::{DatecsDriver, DriverConfig, DriverOptions};
pub use error::{Error, Result};
pub use reconnect::ReconnectingRegister;
pub use transport::Endpoint;
