//! Card-terminal drivers for Kasa.
//!
//! The checkout talks to every terminal through the [`CardTerminal`] trait in
//! [`api`]; each protocol implements it in its own module, in four layers
//! (frame, codec, session, driver):
//!
//! * [`privatbank`]: PrivatBank ECR JSON over TCP or serial, with an emulator;
//! * [`ingenico`]: Ingenico ECR web service (HTTP) / RS232, with an emulator;
//! * [`bpos1`]: Ingenico B-POS1 through its ECRCommX API: a behaviour emulator
//!   and, on Windows, the COM backend.
//!
//! [`config`] turns settings into a connected driver, [`demo`] runs the
//! PrivatBank emulator in-process behind the real driver, [`cli`] is
//! `kasa emulate terminal` and `kasa terminal`, [`recovery`] decides whether a
//! looked-up transaction is the one whose reply was lost, [`probe`] tells
//! which protocol answers on a line (the installer's port scanner). The [`sim`] module
//! holds a small in-process terminal without any protocol.

pub mod api;
pub mod bpos1;
pub mod cli;
pub mod config;
pub mod demo;
pub mod emulator;
pub mod error;
pub mod ingenico;
pub mod privatbank;
pub mod probe;
pub mod recovery;
pub mod sim;
pub mod transport;

pub use api::*;
pub use config::{connect, Protocol, TerminalConfig};
pub use error::{response_text, Error, Result};
pub use recovery::{PendingOperation, Recovery};
