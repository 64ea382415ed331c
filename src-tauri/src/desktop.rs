//! The desktop window: starts the checkout, hands it to the commands, and
//! forwards its events to the web view.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use checkout::settings::Settings;
use checkout::setup::{DemoOptions, Running};
use tauri::Emitter;

/// What the commands reach through Tauri's managed state.
#[derive(Debug)]
pub struct Shell {
    pub checkout: Arc<checkout::Checkout>,
    /// The session of the user logged in to this window.
    session: Mutex<Option<String>>,
    _running: Running,
}

impl Shell {
    /// The window's session token.
    pub fn session(&self) -> Option<String> {
        self.session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Start or end the window's session.
    pub fn set_session(&self, token: Option<String>) {
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = token;
    }
}

/// Open the window; returns the exit code when it closes.
pub fn run(data_dir: PathBuf, config: PathBuf, settings: Settings, demo: DemoOptions) -> i32 {
    let start = checkout::setup::start(&data_dir, &settings, demo);
    let running = match tauri::async_runtime::block_on(start) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kasa: cannot start the checkout: {e}");
            return 1;
        }
    };
    running.checkout.set_settings_path(&config);
    let checkout = Arc::clone(&running.checkout);
    let result = tauri::Builder::default()
        .manage(Shell {
            checkout: Arc::clone(&checkout),
            session: Mutex::new(None),
            _running: running,
        })
        .setup(move |app| {
            let handle = app.handle().clone();
            let mut events = checkout.engine.subscribe();
            tauri::async_runtime::spawn(async move {
                while let Ok(ev) = events.recv().await {
                    let _ = handle.emit("kasa-event", ev);
                }
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            crate::commands::rpc,
            crate::commands::ui_ready,
        ])
        .run(tauri::generate_context!());
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kasa: the window failed: {e}");
            1
        }
    }
}

/// Called by the UI once it has rendered: the desktop smoke test waits for
/// this line (and for the file named by `KASA_SMOKE_READY_FILE`).
pub fn report_ui_ready(summary: &str) {
    let line: String = summary
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    println!("KASA_UI_READY {line}");
    if let Some(path) = std::env::var_os("KASA_SMOKE_READY_FILE") {
        let _ = std::fs::write(path, &line);
    }
}
