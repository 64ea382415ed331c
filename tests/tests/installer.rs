//! The installer's settings over HTTP, logged in as the training installer:
//! passwords never come back, invalid settings are refused with field codes
//! and the file is left as it was, a switch from demo to production is
//! refused until confirmed (with what would change), a valid save is
//! written atomically and audited with passwords only as a hash prefix, a
//! password left empty keeps the saved one; a cashier and a manager get
//! `not_allowed`; a device test runs against a candidate configuration.

use std::path::Path;

use serde_json::{json, Value};
use testkit::http::Api;
use testkit::{key, Rig};

/// A settings file with a fiscal register (password `4321`, operator 2's
/// `5555`) and no terminal: demo mode.
fn demo_with_register(path: &Path) {
    let s = json!({
        "fiscal": {
            "endpoint": {"kind": "tcp", "address": "127.0.0.1:4999"},
            "password": "4321",
            "operator_passwords": {"2": "5555"}
        }
    });
    std::fs::write(path, serde_json::to_string_pretty(&s).unwrap()).unwrap();
}

fn production_candidate(view: &Value) -> Value {
    let mut s = view.clone();
    s["terminal"] = json!({
        "protocol": "privatbank",
        "endpoint": {"kind": "tcp", "address": "127.0.0.1:2000"}
    });
    s
}

/// The last `settings_changed` audit row: actor and change.
fn last_settings_row(rig: &Rig) -> (String, String) {
    rig.engine
        .journal()
        .read(|c| {
            Ok(c.query_row(
                "SELECT actor, change FROM audit WHERE action = 'settings_changed'
                 ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .unwrap()
}

#[tokio::test]
async fn the_installer_views_checks_and_saves_settings() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let path = rig.dir.path().join("conf/kasa.json");
    std::fs::create_dir_all(path.parent().unwrap())?;
    demo_with_register(&path);
    let url = rig.serve_installer(&path).await?;
    let installer = Api::login(&url, "installer").await?;

    // The view: every password blanked, named when set.
    let (status, view) = installer.post("settings_view", json!({})).await?;
    assert_eq!(status, 200, "{view}");
    let text = view.to_string();
    for secret in ["4321", "5555"] {
        assert!(!text.contains(secret), "a password came back: {text}");
    }
    let set: Vec<&str> = view["passwords_set"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(set.contains(&"fiscal.password"), "{set:?}");
    assert!(set.contains(&"fiscal.operator_passwords.2"), "{set:?}");
    assert_eq!(view["mode"], "demo");

    // Invalid settings: field codes, and the file untouched.
    let before = std::fs::read(&path)?;
    let mut bad = view["settings"].clone();
    bad["fiscal"]["operator"] = json!("77");
    bad["fiscal"]["endpoint"] = json!({"kind": "tcp", "address": "no-port"});
    bad["receipt"]["tax_group"] = json!("Z");
    let (status, check) = installer
        .post("settings_validate", json!({ "settings": bad }))
        .await?;
    assert_eq!(status, 200, "{check}");
    let errors: Vec<(String, String)> = check["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().into(),
                e["code"].as_str().unwrap().into(),
            )
        })
        .collect();
    for want in [
        ("fiscal.operator", "operator_invalid"),
        ("fiscal.endpoint.address", "address_invalid"),
        ("receipt.tax_group", "tax_group_invalid"),
    ] {
        assert!(
            errors.contains(&(want.0.into(), want.1.into())),
            "{want:?} not in {errors:?}"
        );
    }
    let (status, refused) = installer
        .post(
            "settings_save",
            json!({ "key": key(), "settings": bad, "confirm_mode_change": true }),
        )
        .await?;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["code"], "invalid_settings");
    assert!(
        refused["details"]
            .as_str()
            .unwrap()
            .contains("operator_invalid"),
        "the field codes come with the refusal: {refused}"
    );
    assert_eq!(
        std::fs::read(&path)?,
        before,
        "a refused save leaves the file"
    );

    // Demo to production: refused until confirmed, with what would change.
    let candidate = production_candidate(&view["settings"]);
    let (status, refused) = installer
        .post(
            "settings_save",
            json!({ "key": key(), "settings": candidate }),
        )
        .await?;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "confirmation_required");
    let what: Value = serde_json::from_str(refused["details"].as_str().unwrap())?;
    assert_eq!(what["mode_before"], "demo");
    assert_eq!(what["mode_after"], "production");
    assert!(
        what["changes"].to_string().contains("terminal.protocol"),
        "the refusal lists what changes: {what}"
    );
    assert_eq!(
        std::fs::read(&path)?,
        before,
        "nothing is saved unconfirmed"
    );

    // Confirmed: saved, with the passwords the view blanked kept.
    let (status, saved) = installer
        .post(
            "settings_save",
            json!({ "key": key(), "settings": candidate, "confirm_mode_change": true }),
        )
        .await?;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["mode_after"], "production");
    assert_eq!(saved["restart_needed"], true);
    assert!(!saved.to_string().contains("4321"), "{saved}");
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    assert_eq!(
        on_disk["fiscal"]["password"], "4321",
        "a blank password keeps the saved one"
    );
    assert_eq!(on_disk["fiscal"]["operator_passwords"]["2"], "5555");
    assert_eq!(on_disk["terminal"]["protocol"], "privatbank");
    let leftovers: Vec<String> = std::fs::read_dir(path.parent().unwrap())?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n != "kasa.json")
        .collect();
    assert!(leftovers.is_empty(), "the atomic write left {leftovers:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the file holds passwords: owner only");
    }

    // A new password: audited as a hash prefix, never in clear.
    let (_, view) = installer.post("settings_view", json!({})).await?;
    let mut next = view["settings"].clone();
    next["fiscal"]["password"] = json!("97531");
    let (status, saved) = installer
        .post("settings_save", json!({ "key": key(), "settings": next }))
        .await?;
    assert_eq!(status, 200, "{saved}");
    let changes = saved["changes"].to_string();
    assert!(changes.contains("fiscal.password"), "{changes}");
    assert!(
        !changes.contains("97531"),
        "the new password came back: {changes}"
    );
    let (actor, change) = last_settings_row(&rig);
    assert!(
        actor.contains("Налагоджувальник"),
        "the installer is the actor: {actor}"
    );
    assert!(
        !change.contains("97531") && !change.contains("4321"),
        "{change}"
    );
    assert!(
        change.contains("sha256:"),
        "passwords as a hash prefix: {change}"
    );
    assert!(
        rig.engine.journal().verify_audit(None)?.ok,
        "the chain holds"
    );

    // Back to demo, confirmed: the terminal goes.
    let mut demo = view["settings"].clone();
    demo["terminal"] = Value::Null;
    let (status, refused) = installer
        .post("settings_save", json!({ "key": key(), "settings": demo }))
        .await?;
    assert_eq!(
        (status, refused["code"].clone()),
        (409, json!("confirmation_required"))
    );
    Ok(())
}

#[tokio::test]
async fn only_the_installer_touches_settings_and_devices() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let path = rig.dir.path().join("kasa.json");
    demo_with_register(&path);
    let url = rig.serve_installer(&path).await?;
    for role in ["cashier", "manager"] {
        let api = Api::login(&url, role).await?;
        for (name, body) in [
            ("settings_view", json!({})),
            ("settings_validate", json!({"settings": {}})),
            ("settings_save", json!({"key": key(), "settings": {}})),
            ("scan_ports", json!({"only_given": true})),
            (
                "device_test",
                json!({"key": key(), "kind": "fiscal_status"}),
            ),
            ("support_bundle", json!({"key": key()})),
        ] {
            let (status, v) = api.post(name, body).await?;
            assert_eq!(status, 403, "{name} as {role}: {v}");
            assert_eq!(v["code"], "not_allowed", "{name} as {role}: {v}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_device_test_runs_against_a_candidate_and_the_running_devices() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let path = rig.dir.path().join("kasa.json");
    std::fs::write(&path, "{}")?;
    let url = rig.serve_installer(&path).await?;
    let installer = Api::login(&url, "installer").await?;

    // The running (demo) register: its status.
    let (status, r) = installer
        .post(
            "device_test",
            json!({"key": key(), "kind": "fiscal_status"}),
        )
        .await?;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["ok"], true, "{r}");

    // A non-fiscal test receipt on the running register.
    let (status, r) = installer
        .post(
            "device_test",
            json!({"key": key(), "kind": "fiscal_test_receipt"}),
        )
        .await?;
    assert_eq!((status, r["ok"].clone()), (200, json!(true)), "{r}");
    let tape = rig.tape();
    let test_page = tape
        .iter()
        .find(|d| d.contains("ТЕСТ ДРУКУ"))
        .unwrap_or_else(|| panic!("no test page on the tape: {tape:?}"));
    assert!(
        test_page.contains("НЕФІСКАЛЬНИЙ ДОКУМЕНТ"),
        "the register printed the test page as a non-fiscal document: {test_page}"
    );
    assert_eq!(
        rig.engine.journal().count_operations()?,
        0,
        "a device test is no operation"
    );

    // A candidate terminal nobody listens for: a code, not a crash.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let dead = listener.local_addr()?.to_string();
    drop(listener);
    let candidate = json!({
        "terminal": {"protocol": "privatbank", "endpoint": {"kind": "tcp", "address": dead}}
    });
    let (status, r) = installer
        .post(
            "device_test",
            json!({"key": key(), "kind": "terminal_ping", "settings": candidate}),
        )
        .await?;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["ok"], false, "{r}");
    assert!(
        r["code"]
            .as_str()
            .unwrap_or_default()
            .starts_with("terminal."),
        "{r}"
    );
    // A candidate without a register.
    let (_, r) = installer
        .post(
            "device_test",
            json!({"key": key(), "kind": "fiscal_status", "settings": {}}),
        )
        .await?;
    assert_eq!(r["code"], "not_configured", "{r}");
    Ok(())
}

#[tokio::test]
async fn the_support_bundle_is_made_fetched_and_saved_as_a_zip() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let path = rig.dir.path().join("kasa.json");
    demo_with_register(&path);
    let url = rig.serve_installer(&path).await?;
    let installer = Api::login(&url, "installer").await?;

    let k = key();
    let (status, job) = installer.post("support_bundle", json!({"key": k})).await?;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["kind"], "support_bundle");
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["content_type"], "application/zip");
    let id = job["id"].as_str().unwrap_or_default().to_string();
    // The same key: the same bundle, not a second one.
    let (_, again) = installer.post("support_bundle", json!({"key": k})).await?;
    assert_eq!(again["id"], job["id"]);
    // Not through export_start, which a manager may call.
    let (status, v) = installer
        .post(
            "export_start",
            json!({"key": key(), "kind": "support_bundle"}),
        )
        .await?;
    assert_eq!(status, 400, "{v}");

    // Fetched over HTTP: a zip whose settings hide the passwords.
    let mut r = reqwest::Client::new().get(format!("{url}/api/exports/{id}"));
    if let Some(c) = &installer.cookie {
        r = r.header("cookie", c);
    }
    let resp = r.send().await?;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"].to_str()?, "application/zip");
    let bytes = resp.bytes().await?.to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone()))?;
    let mut settings = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("kasa-support/settings.json")?,
        &mut settings,
    )?;
    for secret in ["4321", "5555"] {
        assert!(
            !settings.contains(secret),
            "a password in the bundle: {settings}"
        );
    }
    assert!(settings.contains("\"***\""), "{settings}");
    zip.by_name("kasa-support/operations.json")?;
    zip.by_name("kasa-support/devices.json")?;

    // Saved twice in the downloads folder (the desktop window's download):
    // the second copy does not overwrite the first.
    let mut saved = Vec::new();
    for _ in 0..2 {
        let (status, v) = installer.post("export_save", json!({"id": id})).await?;
        assert_eq!(status, 200, "{v}");
        saved.push(std::path::PathBuf::from(
            v["path"].as_str().unwrap_or_default(),
        ));
    }
    let downloads = rig.dir.path().join("downloads");
    assert_eq!(saved[0].parent(), Some(downloads.as_path()));
    assert_eq!(
        saved[0].file_name().and_then(|n| n.to_str()),
        job["file_name"].as_str()
    );
    assert!(
        saved[1].to_string_lossy().ends_with(" (2).zip"),
        "{}",
        saved[1].display()
    );
    for p in &saved {
        assert_eq!(
            std::fs::read(p)?,
            bytes,
            "{} differs from the download",
            p.display()
        );
    }
    let left: Vec<_> = std::fs::read_dir(&downloads)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left.len(), 2, "only the two copies, no part file: {left:?}");
    // An unknown export is not saved.
    let (status, v) = installer.post("export_save", json!({"id": "nope"})).await?;
    assert_eq!(status, 404, "{v}");
    Ok(())
}
