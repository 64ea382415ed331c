//! The installer's settings: which card terminal and which fiscal register
//! Kasa drives, and how to reach them. Kept as JSON in `kasa.json` in the
//! configuration directory. A device that is not configured is emulated, and
//! Kasa runs in demo mode until both are configured.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Everything an installer configures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The card terminal: protocol, address or serial port, timeouts.
    pub terminal: Option<terminal::TerminalConfig>,
    /// The fiscal register.
    pub fiscal: Option<FiscalSettings>,
    /// How the free-amount line of a receipt is named and taxed.
    pub receipt: ReceiptSettings,
    /// The shop itself.
    pub shop: ShopSettings,
    /// The merchants (legal entities) on the terminal, by index.
    pub merchants: Vec<MerchantSettings>,
    /// Backups of the journal: where, how long kept, after each day close.
    pub backup: crate::backup::BackupSettings,
    /// Who may do what: the manager's approval, lockouts, the served host names.
    pub access: AccessSettings,
    /// The shop's departments, each sold under one merchant.
    pub departments: Vec<DepartmentSettings>,
    /// The installer's own: ports the scanner probes besides the system's.
    pub installer: InstallerSettings,
}

/// What the installer's tools use besides the devices' settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstallerSettings {
    /// Serial paths the port scanner probes besides the ones the system
    /// lists (an adapter the system does not list, a pty).
    pub extra_ports: Vec<String>,
}

/// The one fiscal register Kasa drives: the name a merchant's `register`
/// must give.
pub const MAIN_REGISTER: &str = "main";

/// A department of the shop and the merchant its sales go to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepartmentSettings {
    pub id: u16,
    pub name: String,
    /// The terminal's merchant index its card payments go to.
    pub merchant: u8,
}

/// The rules of logging in and approving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessSettings {
    /// A refund above this (kopiykas) asked by a cashier needs a manager's
    /// PIN; a void always does.
    pub refund_approval_above: i64,
    /// Wrong PINs in a row that lock a user out.
    pub lockout_after: u32,
    /// How long a lockout lasts, seconds.
    pub lockout_seconds: u64,
    /// Host names `kasa serve` answers to besides `localhost` and IP
    /// addresses (a name in the shop's network); any other `Host` is
    /// refused (DNS rebinding).
    pub allowed_hosts: Vec<String>,
}

impl Default for AccessSettings {
    fn default() -> Self {
        Self {
            refund_approval_above: 50_000,
            lockout_after: 5,
            lockout_seconds: 300,
            allowed_hosts: Vec::new(),
        }
    }
}

/// One merchant on the card terminal: its index and the ids its receipts
/// carry. The ids fill a receipt printed after a lookup when the terminal's
/// lookup does not report them (PrivatBank JSON reports no terminal id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MerchantSettings {
    /// The terminal's merchant index (0: the terminal's default merchant).
    pub index: u8,
    pub name: String,
    pub terminal_id: String,
    pub merchant_id: String,
    /// The fiscal register its receipts are printed on (a register belongs
    /// to one taxpayer): `main`, the one configured, unless left empty.
    pub register: String,
}

/// The shop: where it is in time, and who it is on its reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShopSettings {
    /// The shop's time zone (IANA name); its business day is the local date there.
    pub time_zone: String,
    /// The shop's frequent items, offered on the cashier screen with one
    /// press (demo mode offers a few training items when none are set).
    pub quick_items: Vec<crate::api::QuickItem>,
    /// The shop's name as its reports' header gives it.
    pub name: String,
    /// The taxpayer's number (ЄДРПОУ or ДРФО) on the reports' header.
    pub tax_id: String,
    /// This till's number on the reports' header.
    pub till: String,
    /// A TrueType font with Cyrillic to embed in PDF reports (empty: the
    /// system's DejaVu Sans, or Arial on Windows).
    pub report_font: String,
}

impl Default for ShopSettings {
    fn default() -> Self {
        Self {
            time_zone: crate::clock::DEFAULT_TIME_ZONE.name().to_string(),
            quick_items: Vec::new(),
            name: "Kasa".into(),
            tax_id: String::new(),
            till: "1".into(),
            report_font: String::new(),
        }
    }
}

impl ShopSettings {
    /// The time zone, checked against the time-zone database.
    pub fn time_zone(&self) -> Result<chrono_tz::Tz> {
        self.time_zone
            .parse()
            .map_err(|_| Error::Settings(format!("unknown time zone {:?}", self.time_zone)))
    }
}

/// Where the fiscal register is and who operates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FiscalSettings {
    /// `{"kind":"serial","path":"/dev/ttyUSB0","baud":115200}` or `{"kind":"tcp","address":"host:4999"}`.
    pub endpoint: fiscal::Endpoint,
    /// `ua-fp-t260` (default) or `x` (FP-700X family).
    pub dialect: String,
    pub operator: String,
    pub password: String,
    pub till: String,
    /// Passwords of the other operators the till's users are (user →
    /// operator number); an operator not listed uses `password`.
    pub operator_passwords: std::collections::BTreeMap<u32, String>,
    /// How this register takes card data, cash and the password check
    /// (`fiscal::DialectSettings`; what `kasa fiscal field-check` saves).
    pub dialect_settings: fiscal::DialectSettings,
}

impl Default for FiscalSettings {
    fn default() -> Self {
        let d = fiscal::DriverOptions::default();
        Self {
            endpoint: fiscal::Endpoint::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 115_200,
            },
            dialect: "ua-fp-t260".into(),
            operator: d.operator,
            password: d.password,
            till: d.till,
            operator_passwords: d.operator_passwords,
            dialect_settings: fiscal::DialectSettings::default(),
        }
    }
}

impl FiscalSettings {
    /// The driver configuration these settings describe.
    pub fn driver_config(&self) -> Result<fiscal::DriverConfig> {
        let dialect = fiscal::Dialect::by_name(&self.dialect)
            .ok_or_else(|| Error::Settings(format!("unknown fiscal dialect {:?}", self.dialect)))?;
        Ok(fiscal::DriverConfig {
            endpoint: self.endpoint.clone(),
            dialect: dialect.with_settings(self.dialect_settings.clone()),
            options: fiscal::DriverOptions {
                operator: self.operator.clone(),
                password: self.password.clone(),
                till: self.till.clone(),
                operator_passwords: self.operator_passwords.clone(),
                ..fiscal::DriverOptions::default()
            },
        })
    }
}

/// The receipt line a free amount is sold as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiptSettings {
    pub item_name: String,
    /// Tax group letter `А`..`Д` (Latin `A`..`E` accepted).
    pub tax_group: char,
}

impl Default for ReceiptSettings {
    fn default() -> Self {
        Self {
            item_name: "Товари".into(),
            tax_group: 'А',
        }
    }
}

impl Settings {
    /// Both devices configured: production mode.
    pub fn is_production(&self) -> bool {
        self.terminal.is_some() && self.fiscal.is_some()
    }

    /// Read settings from `path`; a missing file means nothing is configured.
    pub fn load(path: &Path) -> Result<Settings> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => {
                return Err(Error::Settings(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        serde_json::from_str(&text)
            .map_err(|e| Error::Settings(format!("{} is not valid: {e}", path.display())))
    }

    /// Write settings to `path` atomically: a temporary file beside it
    /// (readable by its owner only: it holds passwords), flushed to disk,
    /// renamed over the old one, and the directory flushed, so that a crash
    /// leaves the old file or the new one, never half of one.
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)?;
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Settings(format!("cannot encode settings: {e}")))?;
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let written = (|| -> std::io::Result<()> {
            let mut file = options.open(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)?;
            #[cfg(unix)]
            std::fs::File::open(&dir)?.sync_all()?;
            Ok(())
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(written?)
    }
}

/// Where settings live when not told otherwise: `$KASA_CONFIG`, else
/// `$XDG_CONFIG_HOME/kasa/kasa.json`, else `~/.config/kasa/kasa.json`.
pub fn default_settings_path() -> PathBuf {
    crate::setup::user_path(
        "KASA_CONFIG",
        "XDG_CONFIG_HOME",
        ".config",
        "kasa/kasa.json",
    )
}

impl Settings {
    /// The settings as the audit log keeps them: every part, with any
    /// password replaced by a mark (a changed password still shows).
    pub fn audited(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        scrub(&mut v);
        v
    }
}

fn scrub(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if k.contains("password") {
                    if let Some(text) = x.as_str() {
                        use sha2::Digest;
                        let d = sha2::Sha256::digest(text.as_bytes());
                        *x = serde_json::Value::String(format!(
                            "sha256:{:02x}{:02x}{:02x}{:02x}",
                            d[0], d[1], d[2], d[3]
                        ));
                    }
                } else {
                    scrub(x);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_demo_and_a_bad_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kasa.json");
        assert_eq!(Settings::load(&path).unwrap(), Settings::default());
        assert!(!Settings::default().is_production());
        std::fs::write(&path, "{ not json").unwrap();
        assert!(matches!(Settings::load(&path), Err(Error::Settings(_))));
        std::fs::write(&path, r#"{"termnial": {}}"#).unwrap();
        assert!(
            matches!(Settings::load(&path), Err(Error::Settings(_))),
            "typos are reported"
        );
    }

    #[test]
    fn settings_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/kasa.json");
        let s = Settings {
            terminal: Some(terminal::TerminalConfig::default()),
            fiscal: Some(FiscalSettings {
                endpoint: fiscal::Endpoint::tcp("127.0.0.1:4999"),
                ..FiscalSettings::default()
            }),
            ..Settings::default()
        };
        s.save(&path).unwrap();
        let back = Settings::load(&path).unwrap();
        assert_eq!(back, s);
        assert!(back.is_production());
        assert!(back.fiscal.unwrap().driver_config().is_ok());
    }

    #[test]
    fn the_packaged_example_is_valid_production_settings() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/kasa.example.json");
        let s = Settings::load(&path).unwrap();
        assert!(s.is_production(), "the example configures both devices");
        assert_eq!(s.terminal.unwrap().protocol, terminal::Protocol::Privatbank);
        assert!(s.fiscal.unwrap().driver_config().is_ok());
        assert_eq!(s.receipt.tax_group, 'А');
    }

    #[test]
    fn an_unknown_dialect_is_refused() {
        let f = FiscalSettings {
            dialect: "fp-9000".into(),
            ..FiscalSettings::default()
        };
        assert!(matches!(f.driver_config(), Err(Error::Settings(_))));
    }
}
