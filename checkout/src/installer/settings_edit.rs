//! The settings as the installer's screen sees, checks and saves them.
//!
//! - Passwords never go back to the screen: [`view`] sends each as an empty
//!   string and names the ones that are set; a candidate that leaves a
//!   password empty (or out) keeps the one saved.
//! - [`validate`] answers field errors as codes with the field's path
//!   (`fiscal.operator`: `operator_invalid`), never sentences.
//! - [`save`] validates, refuses to switch between demo and production
//!   without the installer's confirmation (answering what would change),
//!   writes the file atomically ([`Settings::save`]) and audits the change
//!   with passwords only as a hash prefix ([`Settings::audited`]). Kasa
//!   reads its settings at start, so a saved change needs a restart.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::settings::{Settings, MAIN_REGISTER};
use crate::{Error, Result};

/// The settings with every password blanked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SettingsView {
    /// The settings file's content, passwords as empty strings.
    #[ts(type = "Record<string, unknown>")]
    pub settings: Value,
    /// The paths of the passwords that are set (`fiscal.password`,
    /// `fiscal.operator_passwords.2`).
    pub passwords_set: Vec<String>,
    /// `demo` or `production`, as the file says.
    pub mode: String,
    /// Where the file is.
    pub path: String,
}

/// A candidate to check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SettingsValidateQuery {
    #[ts(type = "Record<string, unknown>")]
    pub settings: Value,
}

/// A candidate to save.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SettingsSaveRequest {
    /// The request's key (kept in the audit row).
    pub key: String,
    #[ts(type = "Record<string, unknown>")]
    pub settings: Value,
    /// The installer confirmed a switch between demo and production.
    #[serde(default)]
    pub confirm_mode_change: bool,
}

/// One field that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FieldError {
    /// The field's path: `terminal.endpoint.address`, `merchants.1.index`.
    pub field: String,
    /// What is wrong, a stable code: `required`, `address_invalid`...
    pub code: String,
    /// The parser's own words when the candidate could not be read at all.
    pub detail: Option<String>,
}

/// The field errors of a candidate (none: it can be saved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SettingsCheck {
    pub errors: Vec<FieldError>,
}

/// One field a save changes; passwords as `set` / `changed`, never their text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SettingsChange {
    pub field: String,
    /// The value before (JSON text), none when the field is new.
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What a save did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SettingsSaved {
    pub changes: Vec<SettingsChange>,
    pub mode_before: String,
    pub mode_after: String,
    /// Kasa must be restarted for the change to take effect.
    pub restart_needed: bool,
}

fn mode(s: &Settings) -> &'static str {
    if s.is_production() {
        "production"
    } else {
        "demo"
    }
}

/// A key holding a password or a map of them (`password`,
/// `operator_passwords`), not one about passwords (`password_check`).
fn is_password_key(k: &str) -> bool {
    k == "password" || k.ends_with("_password") || k.ends_with("passwords")
}

/// `at.k`, or `k` at the top.
fn join_path(at: &str, k: &str) -> String {
    if at.is_empty() {
        k.to_string()
    } else {
        format!("{at}.{k}")
    }
}

/// Blank every password in `v`, collecting the paths of those set.
fn blank_passwords(v: &mut Value, at: &str, set: &mut Vec<String>) {
    let join = |k: &str| join_path(at, k);
    match v {
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                let path = join(k);
                if is_password_key(k) {
                    match x {
                        Value::String(s) => {
                            if !s.is_empty() {
                                set.push(path);
                            }
                            *x = Value::String(String::new());
                        }
                        Value::Object(m) => {
                            for (n, p) in m.iter_mut() {
                                if p.as_str().is_some_and(|s| !s.is_empty()) {
                                    set.push(format!("{path}.{n}"));
                                }
                                *p = Value::String(String::new());
                            }
                        }
                        _ => {}
                    }
                } else {
                    blank_passwords(x, &path, set);
                }
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter_mut().enumerate() {
                blank_passwords(x, &join(&i.to_string()), set);
            }
        }
        _ => {}
    }
}

fn is_unset(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

/// Where the candidate leaves a password empty or out, put back the one in
/// `current` (a map of passwords keeps the saved one of each operator the
/// candidate still lists with an empty password).
fn keep_passwords(candidate: &mut Value, current: &Value) {
    let (Value::Object(cand), Value::Object(cur)) = (candidate, current) else {
        return;
    };
    for (k, old) in cur {
        if is_password_key(k) {
            match old {
                Value::String(_) if is_unset(cand.get(k)) => {
                    cand.insert(k.clone(), old.clone());
                }
                Value::Object(old_map) => {
                    if let Some(Value::Object(new_map)) = cand.get_mut(k) {
                        for (n, p) in new_map.iter_mut() {
                            if is_unset(Some(p)) {
                                if let Some(saved) = old_map.get(n) {
                                    *p = saved.clone();
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        } else if let Some(next) = cand.get_mut(k) {
            keep_passwords(next, old);
        }
    }
}

/// The settings in `path` for the installer's screen.
pub fn view(path: &Path) -> Result<SettingsView> {
    let settings = Settings::load(path)?;
    let mut v = serde_json::to_value(&settings).map_err(|e| Error::Internal(e.to_string()))?;
    let mut passwords_set = Vec::new();
    blank_passwords(&mut v, "", &mut passwords_set);
    Ok(SettingsView {
        settings: v,
        passwords_set,
        mode: mode(&settings).into(),
        path: path.display().to_string(),
    })
}

fn err(field: impl Into<String>, code: &str) -> FieldError {
    FieldError {
        field: field.into(),
        code: code.into(),
        detail: None,
    }
}

/// Serial speeds a terminal or a register may be set to.
const BAUDS: [u32; 8] = [1_200, 2_400, 4_800, 9_600, 19_200, 38_400, 57_600, 115_200];

fn check_endpoint(at: &str, e: &devio::Endpoint, out: &mut Vec<FieldError>) {
    match e {
        devio::Endpoint::Tcp { address } => {
            let ok = address.rsplit_once(':').is_some_and(|(host, port)| {
                !host.trim().is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !ok {
                out.push(err(format!("{at}.address"), "address_invalid"));
            }
        }
        devio::Endpoint::Serial { path, baud } => {
            if path.trim().is_empty() {
                out.push(err(format!("{at}.path"), "required"));
            }
            if !BAUDS.contains(baud) {
                out.push(err(format!("{at}.baud"), "baud_unsupported"));
            }
        }
    }
}

fn digits(s: &str, max_len: usize) -> bool {
    !s.is_empty() && s.len() <= max_len && s.chars().all(|c| c.is_ascii_digit())
}

/// The rules a candidate must pass besides being readable.
pub fn check(s: &Settings) -> Vec<FieldError> {
    let mut out = Vec::new();
    if let Some(t) = &s.terminal {
        check_endpoint("terminal.endpoint", &t.endpoint, &mut out);
        let tcp_only = matches!(t.protocol, terminal::Protocol::Bpos1Bridge);
        if tcp_only && !matches!(t.endpoint, devio::Endpoint::Tcp { .. }) {
            out.push(err("terminal.protocol", "needs_tcp"));
        }
        if t.client_id.chars().count() > terminal::ingenico::frame::MAX_ID {
            out.push(err("terminal.client_id", "too_long"));
        }
    }
    if let Some(f) = &s.fiscal {
        check_endpoint("fiscal.endpoint", &f.endpoint, &mut out);
        if fiscal::Dialect::by_name(&f.dialect).is_none() {
            out.push(err("fiscal.dialect", "dialect_unknown"));
        }
        if !f
            .operator
            .parse::<u32>()
            .is_ok_and(|n| (1..=30).contains(&n))
        {
            out.push(err("fiscal.operator", "operator_invalid"));
        }
        if !digits(&f.password, 8) {
            out.push(err("fiscal.password", "password_invalid"));
        }
        for (op, pw) in &f.operator_passwords {
            if !digits(pw, 8) {
                out.push(err(
                    format!("fiscal.operator_passwords.{op}"),
                    "password_invalid",
                ));
            }
        }
        if !f.till.is_empty() && !digits(&f.till, 5) {
            out.push(err("fiscal.till", "till_invalid"));
        }
    }
    if !"АБВГДABCDE".contains(s.receipt.tax_group) {
        out.push(err("receipt.tax_group", "tax_group_invalid"));
    }
    if s.receipt.item_name.trim().is_empty() {
        out.push(err("receipt.item_name", "required"));
    }
    if s.shop.time_zone().is_err() {
        out.push(err("shop.time_zone", "time_zone_unknown"));
    }
    let mut indexes = BTreeMap::new();
    for (i, m) in s.merchants.iter().enumerate() {
        if indexes.insert(m.index, i).is_some() {
            out.push(err(format!("merchants.{i}.index"), "duplicate"));
        }
        if m.name.trim().is_empty() {
            out.push(err(format!("merchants.{i}.name"), "required"));
        }
        if !m.register.is_empty() && m.register != MAIN_REGISTER {
            out.push(err(format!("merchants.{i}.register"), "register_unknown"));
        }
    }
    let mut ids = BTreeMap::new();
    for (i, d) in s.departments.iter().enumerate() {
        if ids.insert(d.id, i).is_some() {
            out.push(err(format!("departments.{i}.id"), "duplicate"));
        }
        if d.name.trim().is_empty() {
            out.push(err(format!("departments.{i}.name"), "required"));
        }
        if !s.merchants.is_empty() && !indexes.contains_key(&d.merchant) {
            out.push(err(format!("departments.{i}.merchant"), "merchant_unknown"));
        }
    }
    if s.access.lockout_after == 0 {
        out.push(err("access.lockout_after", "must_be_positive"));
    }
    for (i, p) in s.installer.extra_ports.iter().enumerate() {
        if p.trim().is_empty() {
            out.push(err(format!("installer.extra_ports.{i}"), "required"));
        }
    }
    out
}

/// Read a candidate (with the saved passwords put back where it leaves
/// them empty) and check it: the settings, or the field errors.
pub fn read_candidate(
    candidate: &Value,
    current: &Settings,
) -> std::result::Result<Settings, Vec<FieldError>> {
    let mut v = candidate.clone();
    let saved = serde_json::to_value(current).unwrap_or(Value::Null);
    keep_passwords(&mut v, &saved);
    let s: Settings = serde_json::from_value(v).map_err(|e| {
        vec![FieldError {
            field: String::new(),
            code: "unreadable".into(),
            detail: Some(e.to_string()),
        }]
    })?;
    let errors = check(&s);
    if errors.is_empty() {
        Ok(s)
    } else {
        Err(errors)
    }
}

/// The field errors of a candidate against the settings in `path`.
pub fn validate(path: &Path, candidate: &Value) -> Result<SettingsCheck> {
    let current = Settings::load(path)?;
    Ok(SettingsCheck {
        errors: read_candidate(candidate, &current)
            .err()
            .unwrap_or_default(),
    })
}

/// Every leaf of `v` by its path.
fn leaves(v: &Value, at: &str, out: &mut BTreeMap<String, Value>) {
    let join = |k: &str| join_path(at, k);
    match v {
        Value::Object(m) if !m.is_empty() => m.iter().for_each(|(k, x)| leaves(x, &join(k), out)),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| leaves(x, &join(&i.to_string()), out)),
        other => {
            out.insert(at.to_string(), other.clone());
        }
    }
}

/// The value at a dotted `path` of `v`.
fn at_path<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(v, |v, k| match v {
        Value::Object(m) => m.get(k),
        Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Whether the field at `path` of `settings` holds what it would hold
/// anyway if it were left out (its default): a section that is added or
/// removed as a whole then lists only what the installer set in it, not
/// every default that comes with it. A field that cannot be left out (a
/// required one, an item of a list) is never a default.
fn is_default_field(settings: &Settings, path: &str) -> bool {
    let Ok(mut v) = serde_json::to_value(settings) else {
        return false;
    };
    let Some((parent, last)) = path.rsplit_once('.').map_or(Some(("", path)), Some) else {
        return false;
    };
    let holder = if parent.is_empty() {
        Some(&mut v)
    } else {
        parent.split('.').try_fold(&mut v, |v, k| match v {
            Value::Object(m) => m.get_mut(k),
            Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        })
    };
    let Some(Value::Object(m)) = holder else {
        return false;
    };
    let Some(was) = m.remove(last) else {
        return false;
    };
    serde_json::from_value::<Settings>(v)
        .ok()
        .and_then(|back| serde_json::to_value(back).ok())
        .is_some_and(|back| at_path(&back, path) == Some(&was))
}

/// The fields that say which device a section is about: listed whenever
/// the section is added or removed, default or not.
const DEVICE_IDENTITY: &[&str] = &[
    "terminal.protocol",
    "terminal.endpoint",
    "fiscal.dialect",
    "fiscal.endpoint",
    "fiscal.till",
];

/// What changes from `before` to `after`, field by field; a password shows
/// only as `set` (and `changed` when it changes). A field only one side has
/// (its section added or removed) is listed when it names the device
/// ([`DEVICE_IDENTITY`]) or is not the default.
pub fn changes(before: &Settings, after: &Settings) -> Vec<SettingsChange> {
    let (mut b, mut a) = (BTreeMap::new(), BTreeMap::new());
    leaves(&before.audited(), "", &mut b);
    leaves(&after.audited(), "", &mut a);
    let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .filter(|k| {
            let identity = DEVICE_IDENTITY.iter().any(|p| k.starts_with(p));
            match (b.contains_key(*k), a.contains_key(*k)) {
                (false, true) => identity || !is_default_field(after, k),
                (true, false) => identity || !is_default_field(before, k),
                _ => true,
            }
        })
        .map(|k| {
            let secret = k.split('.').any(is_password_key);
            let shown = |v: Option<&Value>, word: &str| {
                v.map(|v| {
                    if secret {
                        word.to_string()
                    } else {
                        v.to_string()
                    }
                })
            };
            SettingsChange {
                field: k.clone(),
                before: shown(b.get(k), "set"),
                after: shown(a.get(k), "changed"),
            }
        })
        .collect()
}

/// Save a candidate to `path` for `actor` (see the module's rules).
pub fn save(
    journal: &crate::journal::Journal,
    actor: &str,
    path: &Path,
    req: &SettingsSaveRequest,
    at: &str,
) -> Result<SettingsSaved> {
    let current = Settings::load(path)?;
    let next = read_candidate(&req.settings, &current).map_err(|errors| {
        Error::InvalidSettings(serde_json::to_string(&errors).unwrap_or_default())
    })?;
    let changes = changes(&current, &next);
    let (mode_before, mode_after) = (mode(&current), mode(&next));
    if mode_before != mode_after && !req.confirm_mode_change {
        let what = serde_json::json!({
            "mode_before": mode_before,
            "mode_after": mode_after,
            "changes": changes,
        });
        return Err(Error::ConfirmationRequired(what.to_string()));
    }
    if changes.is_empty() {
        return Ok(SettingsSaved {
            changes,
            mode_before: mode_before.into(),
            mode_after: mode_after.into(),
            restart_needed: false,
        });
    }
    // Hand edits of the file since the last row are the file's, not the
    // installer's: record them first.
    journal.audit_settings(&current.audited(), at)?;
    next.save(path)?;
    journal.audit_settings_by(
        actor,
        &next.audited(),
        at,
        Some(serde_json::json!({ "key": req.key })),
    )?;
    Ok(SettingsSaved {
        changes,
        mode_before: mode_before.into(),
        mode_after: mode_after.into(),
        restart_needed: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production() -> Settings {
        Settings {
            terminal: Some(terminal::TerminalConfig::default()),
            fiscal: Some(crate::settings::FiscalSettings {
                password: "4321".into(),
                ..Default::default()
            }),
            ..Settings::default()
        }
    }

    #[test]
    fn the_view_blanks_passwords_and_a_blank_keeps_the_saved_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kasa.json");
        production().save(&path).unwrap();
        let v = view(&path).unwrap();
        let text = v.settings.to_string();
        assert!(
            !text.contains("4321"),
            "a password went to the screen: {text}"
        );
        assert_eq!(v.passwords_set, vec!["fiscal.password".to_string()]);
        let back = read_candidate(&v.settings, &production()).unwrap();
        assert_eq!(
            back.fiscal.unwrap().password,
            "4321",
            "sending the view back keeps the password"
        );
    }

    #[test]
    fn field_errors_are_codes_with_paths() {
        let mut s = production();
        if let Some(f) = s.fiscal.as_mut() {
            f.operator = "99".into();
            f.endpoint = devio::Endpoint::Serial {
                path: String::new(),
                baud: 12_345,
            };
        }
        s.receipt.tax_group = 'Ж';
        let codes: Vec<(String, String)> =
            check(&s).into_iter().map(|e| (e.field, e.code)).collect();
        for want in [
            ("fiscal.operator", "operator_invalid"),
            ("fiscal.endpoint.path", "required"),
            ("fiscal.endpoint.baud", "baud_unsupported"),
            ("receipt.tax_group", "tax_group_invalid"),
        ] {
            assert!(
                codes.contains(&(want.0.to_string(), want.1.to_string())),
                "{want:?} not in {codes:?}"
            );
        }
        assert!(
            check(&production()).is_empty(),
            "{:?}",
            check(&production())
        );
    }

    #[test]
    fn an_added_section_lists_its_device_and_what_was_set_not_its_defaults() {
        let before = Settings::default();
        let mut after = production();
        if let Some(t) = after.terminal.as_mut() {
            t.client_id = "shop-7".into();
        }
        let c = changes(&before, &after);
        let fields: Vec<&str> = c.iter().map(|c| c.field.as_str()).collect();
        for f in [
            "terminal.protocol",
            "terminal.endpoint.address",
            "terminal.client_id",
            "fiscal.dialect",
            "fiscal.endpoint.path",
            "fiscal.till",
            "fiscal.password",
        ] {
            assert!(fields.contains(&f), "{f} missing: {fields:?}");
        }
        // The defaults that come with a section are not listed.
        for f in &fields {
            assert!(
                DEVICE_IDENTITY.iter().any(|p| f.starts_with(p)) || !is_default_field(&after, f),
                "{f} is a default: {fields:?}"
            );
        }
        assert!(
            !fields.iter().any(|f| f.starts_with("terminal.timeouts")),
            "{fields:?}"
        );
        // Going back lists the same fields, as removed.
        let back = changes(&after, &before);
        assert_eq!(
            back.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
            fields
        );
        assert!(back.iter().all(|c| c.after.is_none()), "{back:?}");
    }

    #[test]
    fn a_field_of_a_kept_section_set_back_to_its_default_is_a_change() {
        let mut before = production();
        if let Some(t) = before.terminal.as_mut() {
            t.client_id = "shop-7".into();
        }
        let after = production();
        let c = changes(&before, &after);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].field, "terminal.client_id");
        assert_eq!(c[0].after.as_deref(), Some("\"kasa\""));
    }

    #[test]
    fn a_changed_password_shows_as_changed_only() {
        let mut after = production();
        if let Some(f) = after.fiscal.as_mut() {
            f.password = "8888".into();
        }
        let c = changes(&production(), &after);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].field, "fiscal.password");
        assert_eq!(c[0].after.as_deref(), Some("changed"));
    }
}
