#!/usr/bin/env bash
# Desktop WebDriver test: a card sale in the real Kasa window, driven through
# tauri-driver and WebKitWebDriver (Debian's webkit2gtk-driver) under Xvfb.
# This script owns the processes: Xvfb on a free display, a fresh data
# directory with no settings file (demo mode: emulated terminal and fiscal
# register, KASA_DEMO_STEP_MS=20), tauri-driver on a free port; the sale and
# its checks are in desktop-webdriver.mjs. The app, tauri-driver,
# WebKitWebDriver and Xvfb are stopped at the end, pass or fail.
#
#   KASA_BIN=target/debug/kasa bash tests/desktop-webdriver.sh
#
# Environment: KASA_BIN (required); TAURI_DRIVER (default: the one make
# installs in $CARGO_TARGET_DIR/tools, else on PATH); WEBKIT_WEBDRIVER (default
# /usr/bin/WebKitWebDriver). Artifacts: tests/artifacts/desktop-card-sale.png,
# and on failure desktop-webdriver-kasa.log and desktop-webdriver-driver.log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out="$here/artifacts"
mkdir -p "$out"

fail() {
  echo "desktop webdriver: FAILED: $*" >&2
  exit 1
}

KASA_BIN=${KASA_BIN:?set KASA_BIN to the kasa binary}
KASA_BIN=$(realpath "$KASA_BIN")
[ -x "$KASA_BIN" ] || fail "KASA_BIN=$KASA_BIN is not an executable"
if [ -z "${TAURI_DRIVER:-}" ]; then
  # Where `make test-desktop` installs it, else on PATH.
  for TAURI_DRIVER in "${CARGO_TARGET_DIR:-$here/../target}"/tools/tauri-driver-*/bin/tauri-driver; do :; done
  if [ ! -x "$TAURI_DRIVER" ]; then
    TAURI_DRIVER=$(command -v tauri-driver) ||
      fail "no tauri-driver: \`make test-desktop\` installs it in \$CARGO_TARGET_DIR/tools (or set TAURI_DRIVER)"
  fi
fi
[ -x "$TAURI_DRIVER" ] || fail "TAURI_DRIVER=$TAURI_DRIVER is not an executable"
WEBKIT_WEBDRIVER=${WEBKIT_WEBDRIVER:-/usr/bin/WebKitWebDriver}
[ -x "$WEBKIT_WEBDRIVER" ] || fail "no $WEBKIT_WEBDRIVER (apt-get install webkit2gtk-driver)"
command -v Xvfb >/dev/null || fail "no Xvfb (apt-get install xvfb)"

work=$(mktemp -d)
xvfb_pid="" driver_pid="" native_pids=""
kasa_log="$out/desktop-webdriver-kasa.log"
driver_log="$out/desktop-webdriver-driver.log"
rm -f "$kasa_log" "$driver_log" "$out/desktop-card-sale.png" "$out/desktop-card-sale-failure.png"

# Stops what this script started, by process id, and waits for each.
stop() {
  local pid
  if [ -s "$work/kasa.pid" ]; then
    pid=$(cat "$work/kasa.pid")
    kill "$pid" 2>/dev/null && for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  if [ -n "$driver_pid" ]; then
    native_pids=$(pgrep -P "$driver_pid" || true)
    kill "$driver_pid" $native_pids 2>/dev/null || true
    wait "$driver_pid" 2>/dev/null || true
    for pid in $native_pids; do
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    done
  fi
  if [ -n "$xvfb_pid" ]; then
    kill "$xvfb_pid" 2>/dev/null || true
    wait "$xvfb_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

# Xvfb picks a free display itself and writes its number to fd 3.
exec 3>"$work/display"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
exec 3>&-
for _ in $(seq 1 100); do
  [ -s "$work/display" ] && break
  kill -0 "$xvfb_pid" 2>/dev/null || break
  sleep 0.1
done
[ -s "$work/display" ] || fail "Xvfb did not start: $(cat "$work/xvfb.log")"
export DISPLAY=":$(head -1 "$work/display")"

# Two free loopback ports: tauri-driver's and WebKitWebDriver's.
read -r port native_port < <(node -e '
  const net = require("net");
  const free = () => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); }); });
  Promise.all([free(), free()]).then((ps) => console.log(ps.join(" ")));')
[ -n "$native_port" ] || fail "found no free ports"

# What kasa inherits (tauri-driver passes no environment through the session):
# a fresh data dir, no settings file, a fast demo terminal, software rendering.
mkdir -p "$work/data" "$work/downloads"
export KASA_BIN KASA_DATA_DIR="$work/data" KASA_CONFIG="$work/no-settings.json" KASA_DEMO_STEP_MS=20
export KASA_DOWNLOADS_DIR="$work/downloads"
export KASA_WD_PIDFILE="$work/kasa.pid" KASA_WD_LOG="$kasa_log"
export WEBKIT_DISABLE_DMABUF_RENDERER=1 LIBGL_ALWAYS_SOFTWARE=1 NO_AT_BRIDGE=1

"$TAURI_DRIVER" --port "$port" --native-port "$native_port" --native-driver "$WEBKIT_WEBDRIVER" >"$driver_log" 2>&1 &
driver_pid=$!

status=0
WEBDRIVER_URL="http://127.0.0.1:$port" \
  KASA_APP="$here/desktop-webdriver-app.sh" \
  SCREENSHOT="$out/desktop-card-sale.png" \
  node "$here/desktop-webdriver.mjs" || status=$?

if [ "$status" -ne 0 ]; then
  echo "desktop webdriver: FAILED. Last lines of kasa's log ($kasa_log):" >&2
  tail -30 "$kasa_log" >&2 2>/dev/null || true
  echo "desktop webdriver: last lines of tauri-driver's log ($driver_log):" >&2
  tail -30 "$driver_log" >&2 || true
  echo "0 passed, 1 failed"
  exit 1
fi
rm -f "$kasa_log" "$driver_log"
echo "1 passed, 0 failed"
