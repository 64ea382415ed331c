#!/usr/bin/env bash
# Desktop smoke test: starts the real Kasa window under Xvfb (demo mode, a
# fresh data directory, no settings file), waits until the web view has
# rendered the UI, saves a screenshot, and fails unless:
#
# - the UI reported itself ready (it calls the `ui_ready` command only after
#   the backend's `info` command answered, with "mode=M version=V | <the text
#   it shows>", or with "info=failed code=C | ..." when `info` failed);
# - the mode and version it got from the backend are this binary's: demo mode,
#   and the version `kasa --version` prints;
# - the screen shows them (the demo badge, "версія V") and the login screen;
# - the screenshot is not blank.
set -euo pipefail

KASA_BIN=${KASA_BIN:?set KASA_BIN to the kasa binary}
here=$(cd "$(dirname "$0")" && pwd)
out="$here/artifacts"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "desktop smoke: FAILED: $*" >&2
  exit 1
}

# What the backend must have told the UI: `kasa --version` prints "kasa 0.1.0".
version=$("$KASA_BIN" --version | awk '{print $NF}')
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || fail "\`$KASA_BIN --version\` printed no version: \"$version\""
mode=demo

cat > "$work/inside.sh" <<'INNER'
set -u
"$KASA_BIN" --data-dir "$WORK/data" --config "$WORK/no-settings.json" desktop >"$OUT/desktop.log" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
  [ -s "$WORK/ready" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
status=1
if [ -s "$WORK/ready" ]; then
  # Let the first frame reach the X server: wait until the root window is no
  # longer a single colour, for at most 10 s.
  for _ in $(seq 1 20); do
    import -window root "$OUT/desktop.png" 2>/dev/null &&
      [ "$(convert "$OUT/desktop.png" -format %k info: 2>/dev/null || echo 0)" -ge 16 ] && break
    sleep 0.5
  done
  [ -s "$OUT/desktop.png" ] && status=0
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit $status
INNER

export KASA_BIN WORK="$work" OUT="$out" KASA_SMOKE_READY_FILE="$work/ready" KASA_DEMO_STEP_MS=20
export WEBKIT_DISABLE_DMABUF_RENDERER=1 LIBGL_ALWAYS_SOFTWARE=1 NO_AT_BRIDGE=1
rm -f "$out/desktop.png"
if ! xvfb-run -a -s "-screen 0 1280x800x24" bash "$work/inside.sh"; then
  echo "desktop smoke: FAILED: the window never reported its UI. Log:" >&2
  tail -40 "$out/desktop.log" >&2 || true
  exit 1
fi

ready=$(cat "$work/ready")
echo "desktop smoke: the UI reported: ${ready:0:160}"

# What the UI got from `info`, before the visible text.
head=${ready%% | *}
if [[ "$head" == info=failed* ]]; then
  fail "the UI's \`info\` call failed ($head): it cannot say which mode or version it runs"
fi
[[ "$head" == "mode=$mode version=$version" ]] ||
  fail "the UI reported \"$head\", but the backend is \"mode=$mode version=$version\" (kasa --version)"

# What a person sees: the name, the mode and version from the backend, the
# login screen (every user logs in by PIN first).
for want in "Kasa" "Демо-режим" "версія $version" "Вхід"; do
  grep -qF "$want" <<<"${ready#* | }" || fail "the rendered UI lacks \"$want\""
done

# A blank or single-colour screen has no spread of colours.
colours=$(convert "$out/desktop.png" -format %k info:)
if [ "${colours:-0}" -lt 16 ]; then
  fail "the screenshot has only $colours colours"
fi
echo "desktop smoke: screenshot $out/desktop.png ($colours colours); mode $mode, version $version"
echo "1 passed, 0 failed"
