#!/usr/bin/env bash
# The Windows kasa.exe run under Debian's Wine: `kasa.exe serve` with a
# production kasa.json completes a card sale against the emulators on TCP
# (the Linux `kasa emulate terminal|fiscal`: the devices are on the wire, so
# which OS emulates them does not matter), and `kasa.exe backup` writes a
# checked backup. Skipped, saying why, where Wine cannot run.
#
#   scripts/windows-wine-test.sh KASA_EXE LINUX_KASA
set -euo pipefail
exe=${1:?the Windows kasa.exe}
kasa=${2:?the Linux kasa (for the emulators)}

step() { echo "windows-wine-test: $*"; }
fail() {
  echo "windows-wine-test: FAILED: $*" >&2
  exit 1
}
wine=""
for w in wine64 /usr/lib/wine/wine64 wine; do
  if command -v "$w" >/dev/null 2>&1; then
    wine=$(command -v "$w")
    break
  fi
done
if [ -z "$wine" ]; then
  step "skipped: no Wine here (apt-get install wine64)"
  exit 0
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  WINEPREFIX="$work/prefix" timeout 20 "$(dirname "$wine")/wineserver"* -k 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
start=$(date +%s)
timeout 300 "$wine" cmd /c exit >/dev/null 2>&1 || fail "Wine could not make its prefix"
step "Wine prefix ready in $(($(date +%s) - start)) s ($("$wine" --version 2>/dev/null || echo wine))"

first_line() {
  for _ in $(seq 1 200); do
    [ -s "$1" ] && head -1 "$1" && return 0
    sleep 0.1
  done
  return 1
}
"$kasa" emulate terminal --protocol privatbank --tcp 127.0.0.1:0 --step-delay-ms 2 \
  --state "$work/terminal-books.json" >"$work/terminal.out" 2>"$work/terminal.err" &
pids+=($!)
"$kasa" emulate fiscal --tcp 127.0.0.1:0 --state "$work/fiscal-state.json" \
  --tape "$work/fiscal-tape.txt" >"$work/fiscal.out" 2>"$work/fiscal.err" &
pids+=($!)
taddr=$(first_line "$work/terminal.out") || fail "terminal emulator: $(cat "$work/terminal.err")"
faddr=$(first_line "$work/fiscal.out") || fail "fiscal emulator: $(cat "$work/fiscal.err")"

# Windows paths for Wine: Z: is the Linux root (Windows takes / too).
win() { printf 'Z:%s' "$1"; }
cat >"$work/kasa.json" <<JSON
{
  "terminal": {
    "protocol": "privatbank",
    "endpoint": { "kind": "tcp", "address": "$taddr" },
    "timeouts": { "after_handshake_ms": 0, "poll_ms": 10, "operation_ms": 20000 }
  },
  "fiscal": { "endpoint": { "kind": "tcp", "address": "$faddr" } },
  "backup": { "dir": "$(win "$work/backups")", "keep_days": 7 }
}
JSON
cp "$exe" "$work/kasa.exe"
cp "$(dirname "$exe")/WebView2Loader.dll" "$work/"
# Wine 8.0 (Debian 12) has no bcryptprimitives.dll (ProcessPrng, which
# Rust's std imports; every Windows 10/11 has it): a stand-in beside the exe,
# for this test only (tests/wine/bcryptprimitives.c).
wine_dlls=$(dirname "$(readlink -f "$wine")")/../x86_64-windows
[ -d "$wine_dlls" ] || wine_dlls=/usr/lib/x86_64-linux-gnu/wine/x86_64-windows
if [ ! -f "$wine_dlls/bcryptprimitives.dll" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -s -o "$work/bcryptprimitives.dll" \
    "$(dirname "$0")/../tests/wine/bcryptprimitives.c" -ladvapi32 ||
    fail "cannot build the bcryptprimitives.dll stand-in"
  step "this Wine lacks bcryptprimitives.dll: a stand-in giving ProcessPrng is beside kasa.exe"
fi
"$wine" "$work/kasa.exe" --data-dir "$(win "$work/data")" --config "$(win "$work/kasa.json")" \
  serve --addr 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
pids+=($!)
url=""
for _ in $(seq 1 600); do
  url=$(grep -ao 'serving on http://[0-9.:]*' "$work/serve.out" 2>/dev/null | head -1 | sed 's/serving on //') || true
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || fail "kasa.exe serve did not start under Wine: $(cat "$work/serve.out" "$work/serve.err" | tail -20)"
grep -aq "production mode" "$work/serve.out" || fail "not in production mode: $(cat "$work/serve.out")"
step "kasa.exe serves on $url under Wine"

curl -fsS --max-time 60 -c "$work/cookies" -X POST -H 'Content-Type: application/json' \
  -d '{"name":"Installer","pin":"2580"}' "$url/api/cmd/first_manager" >/dev/null ||
  fail "the first manager: $(tail -20 "$work/serve.err")"
sale=$(curl -fsS --max-time 60 -b "$work/cookies" -X POST -H 'Content-Type: application/json' \
  -d '{"key":"wine-1","amount":4200}' "$url/api/cmd/sale") ||
  fail "the sale: $(tail -20 "$work/serve.err")"
python3 - "$sale" "$work/terminal-books.json" "$work/fiscal-tape.txt" <<'PY' || fail "the sale: $sale"
import json, sys
op = json.loads(sys.argv[1])
assert op["state"] == "done", op
card = op["payments"][0]["card"]
books = json.load(open(sys.argv[2]))
charges = [r for r in books["records"] if r["kind"] == "purchase" and r["status"] == "approved"]
assert len(charges) == 1 and charges[0]["amount"] == 4200, charges
assert charges[0]["rrn"] == card["rrn"], (charges[0], card)
tape = open(sys.argv[3], encoding="utf-8").read()
assert "42.00" in tape and card["rrn"] in tape, tape[-800:]
print(f"windows-wine-test: card sale done by kasa.exe: 42.00, {card['masked_pan']}, RRN {card['rrn']}; "
      "the terminal's books and the register's tape agree")
PY

backup=$("$wine" "$work/kasa.exe" --data-dir "$(win "$work/data")" --config "$(win "$work/kasa.json")" \
  backup 2>"$work/backup.err" | tr -d '\r') || fail "kasa.exe backup: $(cat "$work/backup.err")"
ls "$work/backups"/kasa-journal-*.sqlite >/dev/null 2>&1 || fail "no backup from kasa.exe ($backup): $(cat "$work/backup.err")"
step "kasa.exe backup wrote $(basename "$(ls "$work/backups"/kasa-journal-*.sqlite | head -1)")"
step "passed in $(($(date +%s) - start)) s"
echo "1 passed, 0 failed"
