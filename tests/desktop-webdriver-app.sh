#!/usr/bin/env bash
# The "application" tauri-driver hands to WebKitWebDriver in the desktop
# WebDriver test (tests/desktop-webdriver.sh). WebKitWebDriver starts the
# program it drives as `PROGRAM --automation ARGS...`; kasa's command line has
# no --automation (Tauri allows automation from TAURI_WEBVIEW_AUTOMATION, which
# tauri-driver sets), so this drops that one argument, notes kasa's process id
# and runs $KASA_BIN in its place, its output in $KASA_WD_LOG.
set -euo pipefail
args=()
for a in "$@"; do
  [ "$a" = --automation ] || args+=("$a")
done
echo $$ >"${KASA_WD_PIDFILE:?}"
exec "${KASA_BIN:?}" "${args[@]}" >>"${KASA_WD_LOG:?}" 2>&1
