#!/usr/bin/env bash
# The "application" tauri-driver hands to WebKitWebDriver in the desktop
# WebDriver test (tests/desktop-webdriver.sh): notes the process id (kasa's,
# after exec) in $KASA_WD_PIDFILE so the test can always stop the window, and
# runs $KASA_BIN with the session's arguments, its output in $KASA_WD_LOG.
set -euo pipefail
echo $$ >"${KASA_WD_PIDFILE:?}"
exec "${KASA_BIN:?}" "$@" >>"${KASA_WD_LOG:?}" 2>&1
