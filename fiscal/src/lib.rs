//! Fiscal-register adapters for Kasa.
//!
//! The checkout talks to a fiscal register through the [`FiscalRegister`] trait
//! in [`api`]. The Datecs driver implements it in four layers:
//!
//! 1. [`frame`]: both Datecs framings, encode / decode, status bits;
//! 2. [`codec`]: bytes to packets on a stream (split reads, garbage, bad BCC);
//! 3. [`link`]: SEQ reuse on retry, NAK resend, SYN wait, bounded retries;
//! 4. [`driver`]: typed commands, card data in the payment command, and the
//!    receipt session with recovery and read-back.
//!
//! [`dialect`] holds the per-family tables and [`settings`] the installer's
//! choices (card slots, cash, password check, clock tolerance); [`text`] the
//! cp1251 and number formats; [`rounding`] the Ukrainian cash rounding;
//! [`readback`] checks a document read from the electronic journal;
//! [`health`] turns what the register reports into the pre-flight gate's
//! blocking conditions and warnings; [`field_check`] is the installer's test
//! print; [`transport`] serial and TCP. [`emulator`] is a faithful peer on a
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
pub mod field_check;
pub mod frame;
pub mod health;
pub mod link;
pub mod readback;
pub mod reconnect;
pub mod rounding;
pub mod settings;
pub mod sim;
pub mod text;
pub mod transport;

pub use api::*;
pub use dialect::Dialect;
pub use driver::{DatecsDriver, DriverConfig, DriverOptions};
pub use error::{Error, Result};
pub use health::{ClockCheck, Health, ModemState, ShiftState};
pub use readback::{Needle, ReadbackCheck, ReadbackStatus};
pub use reconnect::ReconnectingRegister;
pub use rounding::round_cash;
pub use settings::{
    CardDataMode, CardDataSettings, CashSettings, DialectSettings, PasswordCheck, SlotField,
};
pub use transport::Endpoint;
