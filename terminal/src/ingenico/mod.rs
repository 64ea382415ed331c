//! Ingenico "ECR web service / COM RS232" protocol (the Vietnamese integration
//! guide, V201): [`frame`] (request line and JSON reply), [`driver`] (HTTP or
//! serial, the [`crate::CardTerminal`] implementation) and [`emulator`] (HTTP
//! and pty).

pub mod driver;
pub mod emulator;
pub mod frame;

pub use driver::IngenicoTerminal;
pub use emulator::IngenicoEmulator;
