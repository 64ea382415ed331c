//! Build script: lets Tauri generate the app context (config, icons, the built UI).

fn main() {
    tauri_build::build()
}
