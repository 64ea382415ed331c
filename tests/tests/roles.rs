//! Who may call what, over HTTP: every command against nobody, a cashier, a
//! manager and an installer, checked against a table written out here by
//! hand; five wrong PINs lock a user out and the audit log says so; a
//! cashier's void and large refund need a manager's PIN, and the approval
//! is audited.

use std::collections::BTreeSet;

use checkout::api::TenderRequest;
use serde_json::{json, Value};
use testkit::http::Api;
use testkit::{key, Rig};

/// The least role each command needs, as the shop expects it (not read
/// from the declarations under test).
const EXPECTED: &[(&str, &str)] = &[
    ("info", "anyone"),
    ("login_options", "anyone"),
    ("login", "anyone"),
    ("logout", "anyone"),
    ("whoami", "anyone"),
    ("first_manager", "anyone"),
    ("set_language", "cashier"),
    ("users", "manager"),
    ("save_user", "manager"),
    ("sale", "cashier"),
    ("add_payment", "cashier"),
    ("cancel", "cashier"),
    ("find_payment", "cashier"),
    ("refund", "cashier"),
    ("void", "cashier"),
    ("cash_refund", "cashier"),
    ("cash_in", "cashier"),
    ("cash_out", "cashier"),
    ("x_report", "cashier"),
    ("print_again", "cashier"),
    ("retry_lookup", "cashier"),
    ("customer_copy", "cashier"),
    ("resolve", "cashier"),
    ("operation", "cashier"),
    ("by_key", "cashier"),
    ("current", "cashier"),
    ("unresolved", "cashier"),
    ("quick_items", "cashier"),
    ("receipt_tape", "cashier"),
    ("device_health", "cashier"),
    ("day_status", "cashier"),
    ("day_close", "manager"),
    ("settle_pending", "manager"),
    ("days", "manager"),
    ("day_report", "manager"),
    ("shift_report", "manager"),
    ("search", "manager"),
    ("operation_detail", "manager"),
    ("audit_verify", "manager"),
    ("scan_ports", "installer"),
    ("device_test", "installer"),
    ("settings_view", "installer"),
    ("settings_validate", "installer"),
    ("settings_save", "installer"),
    ("export_start", "manager"),
    ("export_status", "manager"),
    ("export_cancel", "manager"),
    ("export_save", "manager"),
    ("support_bundle", "installer"),
];

/// What a caller with `who` gets for a command needing `need`, sent a body
/// no request type accepts: refused before the body is read (401 nobody,
/// 403 too low a role) or let through to the body's check (400).
fn expected_status(need: &str, who: &str) -> u16 {
    let rank = |r: &str| match r {
        "anyone" | "nobody" => 0,
        "cashier" => 1,
        "manager" => 2,
        "installer" => 3,
        other => panic!("{other}"),
    };
    if rank(who) >= rank(need) {
        400
    } else if who == "nobody" {
        401
    } else {
        403
    }
}

#[tokio::test]
async fn every_command_checks_its_role() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let url = rig.serve().await?;
    let served: BTreeSet<String> = checkout::commands::commands()
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    let table: BTreeSet<String> = EXPECTED.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(
        served, table,
        "a command is missing from the table or extra"
    );

    let callers = [
        ("nobody", Api::anonymous(&url)),
        ("cashier", Api::login(&url, "cashier").await?),
        ("manager", Api::login(&url, "manager").await?),
        ("installer", Api::login(&url, "installer").await?),
    ];
    let mut wrong = Vec::new();
    for (who, api) in &callers {
        for (name, need) in EXPECTED {
            let (status, v) = api.post(name, json!("probe")).await?;
            let want = expected_status(need, who);
            if status != want {
                wrong.push(format!("{name} as {who}: {status} (want {want}) {v}"));
            }
            let code = v["code"].as_str().unwrap_or_default();
            let want_code = match want {
                401 => "login_required",
                403 => "not_allowed",
                _ => "invalid_request",
            };
            if code != want_code {
                wrong.push(format!("{name} as {who}: code {code} (want {want_code})"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(rig.engine.journal().count_operations()?, 0);
    Ok(())
}

fn audit_actions(rig: &Rig) -> anyhow::Result<Vec<(String, String)>> {
    Ok(rig.engine.journal().read(|c| {
        let mut st = c.prepare("SELECT action, actor FROM audit ORDER BY id")?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })?)
}

async fn training_user(url: &str, role: &str) -> anyhow::Result<i64> {
    let (_, v) = Api::anonymous(url).post("login_options", json!({})).await?;
    v["training"]
        .as_array()
        .and_then(|t| t.iter().find(|u| u["role"] == role))
        .and_then(|u| u["user"].as_i64())
        .ok_or_else(|| anyhow::anyhow!("no {role} in {v}"))
}

#[tokio::test]
async fn five_wrong_pins_lock_the_user_out() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let url = rig.serve().await?;
    let nobody = Api::anonymous(&url);
    let user = training_user(&url, "cashier").await?;
    for left in (1..=4).rev() {
        let (status, v) = nobody
            .post("login", json!({ "user": user, "pin": "9999" }))
            .await?;
        assert_eq!(
            (status, v["code"].clone()),
            (401, json!("wrong_pin")),
            "{v}"
        );
        assert_eq!(v["details"], json!(left.to_string()), "tries left: {v}");
    }
    let (status, v) = nobody
        .post("login", json!({ "user": user, "pin": "9999" }))
        .await?;
    assert_eq!(
        (status, v["code"].clone()),
        (429, json!("locked_out")),
        "{v}"
    );
    // Locked out, even the right PIN is refused.
    let (status, v) = nobody
        .post("login", json!({ "user": user, "pin": "1111" }))
        .await?;
    assert_eq!(
        (status, v["code"].clone()),
        (429, json!("locked_out")),
        "{v}"
    );

    let actions = audit_actions(&rig)?;
    let wrong = actions
        .iter()
        .filter(|(a, _)| a == "login.wrong_pin")
        .count();
    assert_eq!(wrong, 5, "{actions:?}");
    assert!(
        actions.iter().any(|(a, _)| a == "lockout"),
        "the lockout is audited: {actions:?}"
    );
    // Another user is not affected, and their login is audited.
    Api::login(&url, "manager").await?;
    assert!(audit_actions(&rig)?.iter().any(|(a, _)| a == "login"));
    Ok(())
}

#[tokio::test]
async fn a_cashiers_void_and_large_refund_need_a_managers_pin() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let url = rig.serve().await?;
    let cashier = Api::login(&url, "cashier").await?;
    let manager = training_user(&url, "manager").await?;
    let other_cashier = training_user(&url, "cashier").await?;

    // Two card sales: one above the refund limit (500,00), one below.
    let big = rig.sale(80_000, vec![TenderRequest::card(80_000)]).await?;
    let small = rig.sale(3_000, vec![TenderRequest::card(3_000)]).await?;
    let rrn = |op: &checkout::api::OperationView| {
        op.payments[0]
            .card
            .as_ref()
            .map(|c| c.rrn.clone())
            .unwrap_or_default()
    };

    // The big refund without approval: refused, nothing refunded.
    let k = key();
    let (status, v) = cashier
        .post("refund", json!({ "key": k, "rrn": rrn(&big) }))
        .await?;
    assert_eq!(
        (status, v["code"].clone()),
        (403, json!("approval_required")),
        "{v}"
    );
    // A cashier's PIN is no approval.
    let (status, v) = cashier
        .post(
            "refund",
            json!({ "key": k, "rrn": rrn(&big), "approval": { "user": other_cashier, "pin": "1111" } }),
        )
        .await?;
    assert_eq!(
        (status, v["code"].clone()),
        (403, json!("not_allowed")),
        "{v}"
    );
    // A wrong manager PIN is a wrong PIN.
    let (status, v) = cashier
        .post(
            "refund",
            json!({ "key": k, "rrn": rrn(&big), "approval": { "user": manager, "pin": "0000" } }),
        )
        .await?;
    assert_eq!(
        (status, v["code"].clone()),
        (401, json!("wrong_pin")),
        "{v}"
    );
    assert_eq!(rig.fiscal.emulator().counters().return_receipts, 0);

    let (status, v) = cashier
        .post(
            "refund",
            json!({ "key": k, "rrn": rrn(&big), "approval": { "user": manager, "pin": "2222" } }),
        )
        .await?;
    assert_eq!((status, v["state"].clone()), (200, json!("done")), "{v}");
    assert_eq!(rig.fiscal.emulator().counters().return_receipts, 1);

    // A small refund needs nobody's PIN.
    let (status, v) = cashier
        .post(
            "refund",
            json!({ "key": key(), "rrn": rrn(&small), "amount": 1000 }),
        )
        .await?;
    assert_eq!((status, v["state"].clone()), (200, json!("done")), "{v}");

    // Every void does.
    let (_, found) = cashier
        .post("find_payment", json!({ "rrn": rrn(&small) }))
        .await?;
    let invoice = found["invoice"].as_str().unwrap_or_default().to_string();
    assert!(!invoice.is_empty(), "{found}");
    assert_eq!(found["refundable"], 2000, "{found}");
    let (status, v) = cashier
        .post("void", json!({ "key": key(), "invoice": invoice }))
        .await?;
    assert_eq!(
        (status, v["code"].clone()),
        (403, json!("approval_required")),
        "{v}"
    );

    let approvals: Vec<Value> = rig.engine.journal().read(|c| {
        let mut st = c.prepare("SELECT change FROM audit WHERE action = 'approve'")?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))?
            .filter_map(|r| r.ok())
            .filter_map(|t| serde_json::from_str(&t).ok())
            .collect();
        Ok(rows)
    })?;
    assert_eq!(approvals.len(), 1, "{approvals:?}");
    assert_eq!(approvals[0]["request"]["command"], "refund");
    assert_eq!(approvals[0]["approver"], manager);
    Ok(())
}

#[tokio::test]
async fn the_receipt_names_the_user_who_sold() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let url = rig.serve().await?;
    // The training cashier is the register's operator 1, the manager 2.
    for (role, operator) in [("manager", 2), ("cashier", 1)] {
        let api = Api::login(&url, role).await?;
        let (status, v) = api
            .post("sale", json!({ "key": key(), "amount": 1200 }))
            .await?;
        assert_eq!((status, v["state"].clone()), (200, json!("done")), "{v}");
        let receipt = rig
            .tape()
            .into_iter()
            .rev()
            .find(|d| d.contains("ФІСКАЛЬНИЙ ЧЕК"))
            .unwrap_or_default();
        assert!(
            receipt.contains(&format!("КАСИР {operator}")),
            "{role}'s receipt: {receipt}"
        );
    }
    Ok(())
}
