#!/usr/bin/env bash
# Compile-checks the Windows-only code (the B-POS1 COM backend) for
# x86_64-pc-windows-gnu.
set -euo pipefail
target=x86_64-pc-windows-gnu
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  rustup target add "$target" >/dev/null 2>&1 || { echo "windows-check: cannot add the $target target" >&2; exit 1; }
fi
cargo check -p terminal --target "$target"
