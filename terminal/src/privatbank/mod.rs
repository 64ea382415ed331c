//! PrivatBank "ECR JSON" protocol (v1.0.3.1), in four layers: [`frame`]
//! (messages, encode / decode), [`codec`] (0x00 framing on a stream),
//! [`session`] (operation and service lanes on one persistent link) and
//! [`driver`] (the [`crate::CardTerminal`] implementation), plus an
//! [`emulator`] that is a real peer on TCP or a pty.

pub mod codec;
pub mod driver;
pub mod emulator;
pub mod frame;
pub mod session;

pub use driver::{PrivatbankTerminal, PrivatbankTimeouts};
pub use emulator::{EmulatorConfig, PrivatbankEmulator};
pub use session::ConnectScheme;
