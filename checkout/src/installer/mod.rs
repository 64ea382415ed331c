//! The installer's back end: what answers on which port ([`scan`]), a test
//! of each configured or candidate device ([`device_test`]), the settings
//! as an installer sees, checks and saves them ([`settings_edit`]), and
//! `kasa doctor`, the same from a shell ([`doctor`]).
//!
//! Nothing here moves money or prints a fiscal document: the scanner sends
//! only each protocol's identify or status request, and the one test that
//! prints makes a non-fiscal document.

pub mod device_test;
pub mod doctor;
pub mod scan;
pub mod settings_edit;

pub use device_test::{DeviceTestKind, DeviceTestRequest, DeviceTestResult};
pub use scan::{Found, PortReport, ScanPortsQuery, ScanReport, UsbInfo};
pub use settings_edit::{
    FieldError, SettingsChange, SettingsCheck, SettingsSaveRequest, SettingsSaved,
    SettingsValidateQuery, SettingsView,
};
