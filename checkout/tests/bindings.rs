//! The TypeScript in `ui/src/bindings/` (the API types and the command
//! client) must be what the Rust declarations generate today. Run with
//! `KASA_UPDATE_BINDINGS=1` (or `make bindings`) to rewrite them.

use std::path::PathBuf;

#[test]
fn typescript_bindings_are_committed_and_fresh() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings");
    let update = std::env::var_os("KASA_UPDATE_BINDINGS").is_some();
    let generated = checkout::typescript_bindings();
    let mut stale = Vec::new();
    for (name, text) in &generated {
        assert!(!text.starts_with("// export failed"), "{name}: {text}");
        let path = dir.join(format!("{name}.ts"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(on_disk) if &on_disk == text => {}
            _ => stale.push(name.clone()),
        }
    }
    // A file nothing generates any more is stale too.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if !generated.iter().any(|(n, _)| *n == name) {
            if update {
                std::fs::remove_file(&path).unwrap();
            } else {
                stale.push(name);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale TypeScript bindings: {stale:?}; run `make bindings` and commit ui/src/bindings"
    );
}
