//! The TypeScript types in `ui/src/bindings/` must be what ts-rs generates from
//! the Rust structs today. Run with `KASA_UPDATE_BINDINGS=1` (or `make
//! bindings`) to rewrite them.

use std::path::PathBuf;

#[test]
fn typescript_bindings_are_committed_and_fresh() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings");
    let update = std::env::var_os("KASA_UPDATE_BINDINGS").is_some();
    let mut stale = Vec::new();
    for (name, text) in checkout::api::typescript_bindings() {
        assert!(!text.starts_with("// export failed"), "{name}: {text}");
        let path = dir.join(format!("{name}.ts"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(on_disk) if on_disk == text => {}
            _ => stale.push(name),
        }
    }
    assert!(
        stale.is_empty(),
        "stale TypeScript bindings: {stale:?}; run `make bindings` and commit ui/src/bindings"
    );
}
