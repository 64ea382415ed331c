#!/usr/bin/env bash
# The domain crates (checkout, terminal, fiscal) must build without Tauri:
# fail if `cargo tree` shows any tauri or webkit crate under them.
set -euo pipefail
status=0
for crate in checkout terminal fiscal; do
  if cargo tree -p "$crate" -e normal,build --prefix none 2>/dev/null | grep -Eiq '^(tauri|wry|webkit2gtk|tao)[ -]'; then
    echo "boundaries: $crate depends on Tauri or a web view:" >&2
    cargo tree -p "$crate" -e normal,build -i tauri 2>&1 | head -20 >&2 || true
    status=1
  else
    echo "boundaries: $crate is free of Tauri"
  fi
done
# And the check itself must be able to see Tauri where it is.
cargo tree -p kasa -e normal --prefix none | grep -Eq '^tauri ' || { echo "boundaries: cannot see tauri under kasa: the check is broken" >&2; exit 1; }
exit $status
