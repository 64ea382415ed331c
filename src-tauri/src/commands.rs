//! The Tauri commands: `rpc` runs any command declared in
//! `checkout::commands` (the same list `kasa serve` routes), and `ui_ready`
//! is the desktop smoke test's signal.

use checkout::api::ApiError;
use checkout::commands::{dispatch, Caller};
use tauri::State;

use crate::desktop::Shell;

#[tauri::command]
pub async fn rpc(
    shell: State<'_, Shell>,
    name: String,
    request: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    let body = serde_json::to_vec(&request).unwrap_or_default();
    dispatch(&shell.checkout, &Caller::desktop(), &name, &body)
        .await
        .map_err(ApiError::from)
}

#[tauri::command]
pub fn ui_ready(summary: String) {
    crate::desktop::report_ui_ready(&summary);
}
