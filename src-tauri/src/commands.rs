//! The Tauri commands: `rpc` runs any command declared in
//! `checkout::commands` (the same list `kasa serve` routes) as the user
//! logged in to this window, and `ui_ready` is the desktop smoke test's
//! signal.

use checkout::api::ApiError;
use checkout::commands::{dispatch, SessionChange};
use tauri::State;

use crate::desktop::Shell;

#[tauri::command]
pub async fn rpc(
    shell: State<'_, Shell>,
    name: String,
    request: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    let body = serde_json::to_vec(&request).unwrap_or_default();
    let token = shell.session();
    let caller = shell.checkout.auth.caller(token.as_deref());
    let reply = dispatch(&shell.checkout, &caller, &name, &body)
        .await
        .map_err(ApiError::from)?;
    match reply.session {
        SessionChange::Keep => {}
        SessionChange::Start(t) => shell.set_session(Some(t)),
        SessionChange::End => shell.set_session(None),
    }
    Ok(reply.value)
}

#[tauri::command]
pub fn ui_ready(summary: String) {
    crate::desktop::report_ui_ready(&summary);
}
