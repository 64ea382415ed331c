#!/usr/bin/env bash
# The Windows build in CI: the whole app (the B-POS1 COM backend included)
# cross-built for x86_64-pc-windows-gnu with Debian's mingw-w64, its NSIS
# installer built with Debian's makensis (scripts/windows-build.sh, debug
# profile to keep CI short), then kasa.exe run under Wine: a card sale
# against the emulators on TCP (scripts/windows-wine-test.sh).
#
#   scripts/windows-check.sh [LINUX_KASA]   (default: $CARGO_TARGET_DIR/debug/kasa)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
linux_kasa=${1:-$CARGO_TARGET_DIR/debug/kasa}
installer=$(KASA_WINDOWS_PROFILE=${KASA_WINDOWS_PROFILE:-debug} bash scripts/windows-build.sh)
exe="$(dirname "$installer")/kasa.exe"
echo "windows-check: built $(basename "$installer")"
bash scripts/windows-wine-test.sh "$exe" "$linux_kasa"
