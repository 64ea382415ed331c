//! The Tauri commands: each one line over `checkout`.

use checkout::api::{ApiError, AppInfo, CardSaleRequest, ReceiptTape, SaleResult};
use tauri::State;

use crate::desktop::Shell;

#[tauri::command]
pub fn app_info(shell: State<'_, Shell>) -> AppInfo {
    shell.checkout.info()
}

#[tauri::command]
pub async fn pay_by_card(
    shell: State<'_, Shell>,
    request: CardSaleRequest,
) -> Result<SaleResult, ApiError> {
    shell
        .checkout
        .pay_by_card(&request)
        .await
        .map_err(ApiError::from)
}

#[tauri::command]
pub fn ui_ready(summary: String) {
    crate::desktop::report_ui_ready(&summary);
}

#[tauri::command]
pub fn receipt_tape(shell: State<'_, Shell>, last: usize) -> ReceiptTape {
    shell.checkout.receipt_tape(last.min(100))
}
