#!/usr/bin/env bash
# Desktop smoke test: starts the real Kasa window under Xvfb, waits until the
# web view has rendered the UI (the UI calls the `ui_ready` command with the
# text it shows), saves a screenshot, and fails if the window never shows its
# UI or the screen stays blank.
set -euo pipefail

KASA_BIN=${KASA_BIN:?set KASA_BIN to the kasa binary}
here=$(cd "$(dirname "$0")" && pwd)
out="$here/artifacts"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/inside.sh" <<'INNER'
set -u
"$KASA_BIN" --data-dir "$WORK/data" desktop >"$OUT/desktop.log" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
  [ -s "$WORK/ready" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
status=1
if [ -s "$WORK/ready" ]; then
  sleep 1   # let the first frame reach the X server
  import -window root "$OUT/desktop.png" && status=0
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit $status
INNER

export KASA_BIN WORK="$work" OUT="$out" KASA_SMOKE_READY_FILE="$work/ready" KASA_DEMO_STEP_MS=20
export WEBKIT_DISABLE_DMABUF_RENDERER=1 LIBGL_ALWAYS_SOFTWARE=1 NO_AT_BRIDGE=1
if ! xvfb-run -a -s "-screen 0 1280x800x24" bash "$work/inside.sh"; then
  echo "desktop smoke: FAILED: the window never reported its UI. Log:" >&2
  tail -40 "$out/desktop.log" >&2 || true
  exit 1
fi

ready=$(cat "$work/ready")
echo "desktop smoke: the UI reported: ${ready:0:120}"
for want in "Kasa" "Оплата карткою"; do
  if ! grep -q "$want" <<<"$ready"; then
    echo "desktop smoke: FAILED: the rendered UI lacks \"$want\"" >&2
    exit 1
  fi
done

# A blank or single-colour screen has no spread of colours.
colours=$(convert "$out/desktop.png" -format %k info:)
if [ "${colours:-0}" -lt 16 ]; then
  echo "desktop smoke: FAILED: the screenshot has only $colours colours" >&2
  exit 1
fi
echo "desktop smoke: screenshot $out/desktop.png ($colours colours)"
echo "1 passed, 0 failed"
