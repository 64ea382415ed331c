#!/usr/bin/env bash
# The Debian package, built and checked as an installer would meet it:
#
# 1. built with the Tauri bundler (scripts/package.sh);
# 2. inspected: `dpkg-deb --info/--contents` hold what a shop needs (the
#    binary, desktop entry, icons, UI, systemd unit, service user, udev rules,
#    docs, example settings); every shared library the binary needs comes
#    from a declared dependency; `lintian` finds no error; the maintainer
#    scripts parse; apt resolves the dependencies from a minimal Debian
#    (only the required and important packages installed);
# 3. extracted into a scratch root, where the extracted `kasa` serves a card
#    sale against the emulators (`kasa emulate terminal|fiscal` on loopback
#    TCP, a production kasa.json), the emulators' books show it, the UI is
#    served from the package's share/kasa/ui, and `kasa backup` and
#    `kasa support-bundle` work from there;
# 4. installed with apt on a fresh Debian 12 and Ubuntu 24.04
#    (scripts/apt-install-test.sh, in debootstrap chroots; needs root, as CI
#    runs; KASA_APT_INSTALL=0 skips it on a developer's machine), where the
#    installed kasa serves a card sale as its service user.
#
# KASA_PACKAGE_PROFILE=debug|release (default release); KASA_DEB=FILE checks
# an already built package instead.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "package-test: FAILED: $*" >&2
  exit 1
}
step() { echo "package-test: $*"; }

for tool in dpkg-deb lintian objdump curl; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (make system installs it)"
done

start=$(date +%s)
deb=${KASA_DEB:-$(bash scripts/package.sh)}
[ -f "$deb" ] || fail "no package at $deb"
step "built $(basename "$deb") ($(du -h "$deb" | cut -f1)) in $(($(date +%s) - start)) s"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# ---- 2. inspect -------------------------------------------------------------
dpkg-deb --info "$deb" >"$work/info"
dpkg-deb --contents "$deb" >"$work/contents"
field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package)" = kasa ] || fail "package name $(field Package)"
[ "$(field Architecture)" = amd64 ] || fail "architecture $(field Architecture)"
depends=$(field Depends)
step "Depends: $depends"
for want in \
  ./usr/bin/kasa \
  ./usr/share/applications/Kasa.desktop \
  ./usr/share/icons/hicolor/32x32/apps/kasa.png \
  ./usr/share/icons/hicolor/256x256/apps/kasa.png \
  ./usr/share/kasa/ui/index.html \
  ./lib/systemd/system/kasa.service \
  ./usr/lib/sysusers.d/kasa.conf \
  ./lib/udev/rules.d/60-kasa-serial.rules \
  ./usr/share/doc/kasa/copyright \
  ./usr/share/doc/kasa/changelog.gz \
  ./usr/share/doc/kasa/README.installers \
  ./usr/share/doc/kasa/examples/kasa.example.json; do
  # dpkg-deb lists paths as ./usr/... or usr/... depending on the builder.
  grep -qE " (\./)?${want#./}\$" "$work/contents" || fail "the package lacks $want"
done
step "contents: $(wc -l <"$work/contents") entries, all expected files there"

# Maintainer scripts.
mkdir -p "$work/control"
dpkg-deb --control "$deb" "$work/control"
for s in postinst prerm postrm; do
  [ -x "$work/control/$s" ] || fail "no $s"
  sh -n "$work/control/$s" || fail "$s does not parse"
done

# Extracted into a scratch root.
root="$work/root"
dpkg-deb -x "$deb" "$root"
kasa="$root/usr/bin/kasa"
[ -x "$kasa" ] || fail "no executable kasa in the package"

# The systemd unit, as systemd reads it (its ExecStart found in the scratch
# root): no error, no unknown setting.
if command -v systemd-analyze >/dev/null 2>&1; then
  unit="$root/lib/systemd/system/kasa.service"
  grep -qx 'User=kasa' "$unit" && grep -qx 'SupplementaryGroups=dialout' "$unit" ||
    fail "the unit does not run as kasa in dialout"
  grep -q '^ExecStart=/usr/bin/kasa serve' "$unit" || fail "the unit does not run kasa serve"
  mkdir -p "$work/units"
  sed "s#^ExecStart=/usr/bin/kasa#ExecStart=$kasa#" "$unit" >"$work/units/kasa.service"
  SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$work/units/kasa.service" \
    >"$work/verify" 2>&1 || { cat "$work/verify" >&2; fail "systemd-analyze verify failed"; }
  if grep -v 'kasa.service: Failed to determine user\|Unit configured to use\|sysusers' "$work/verify" |
    grep -qi 'kasa.service'; then
    cat "$work/verify" >&2
    fail "systemd-analyze verify complains about the unit"
  fi
  step "systemd-analyze verify: kasa.service is clean$( [ -s "$work/verify" ] && echo " ($(wc -l <"$work/verify") notes)")"
  sed 's/^/  /' "$work/verify"
else
  step "systemd-analyze is not here: the unit was not verified"
fi

# Every shared library the binary needs, from a declared dependency.
deps_names=$(tr ',' '\n' <<<"$depends" | sed 's/^ *//; s/[ (].*//' | sort -u)
# The declared dependencies and everything they pull in (one apt-cache run;
# its output in a file: grep -q on a pipe would cut apt-cache short).
# shellcheck disable=SC2086
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances $deps_names 2>/dev/null |
  sed -n 's/^  \(Pre\)\{0,1\}Depends: //p; /^[^ ]/p' | tr -d '<>' | sort -u >"$work/closure"
printf '%s\n' $deps_names >>"$work/closure"
objdump -p "$kasa" | awk '/NEEDED/ {print $2}' >"$work/needed"
ldconfig -p >"$work/ldconfig"
while read -r lib; do
  path=$(awk -v l="$lib" '$1 == l && /x86-64/ {print $NF; exit}' "$work/ldconfig")
  [ -n "$path" ] || fail "$lib: not found on this machine"
  pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | sed -n '1s/:.*//p') ||
    pkg=$(dpkg -S "$path" 2>/dev/null | sed -n '1s/:.*//p')
  [ -n "$pkg" ] || fail "$lib ($path) belongs to no package"
  grep -qx "$pkg" "$work/closure" || fail "$lib comes from $pkg, which no declared dependency brings"
done <"$work/needed"
step "every shared library of kasa comes with a declared dependency"

# The newest glibc symbol version the binary uses is within the declared libc6.
need_glibc=$(objdump -T "$kasa" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
declared=$(sed -n 's/.*libc6 (>= \([0-9.]*\)).*/\1/p' <<<"$depends")
[ -n "$declared" ] || fail "no libc6 version in Depends"
[ "$(printf '%s\n%s\n' "$need_glibc" "$declared" | sort -V | tail -1)" = "$declared" ] ||
  fail "kasa needs glibc $need_glibc, Depends says libc6 (>= $declared)"
step "glibc: needs $need_glibc, declared >= $declared"

# lintian: no error (warnings are shown).
lintian --tag-display-limit 0 --fail-on error "$deb" >"$work/lintian" 2>&1 || {
  cat "$work/lintian" >&2
  fail "lintian found errors"
}
step "lintian: $(grep -c '^E:' "$work/lintian" || true) errors, $(grep -c '^W:' "$work/lintian" || true) warnings"
sed 's/^/  /' "$work/lintian"

# apt resolves the dependencies on a minimal Debian: only the required and
# important packages installed (and what they depend on).
if command -v apt-get >/dev/null 2>&1 && [ -r /var/lib/dpkg/status ]; then
  python3 - /var/lib/dpkg/status >"$work/status-minimal" <<'PY'
import re, sys
stanzas = [s for s in open(sys.argv[1], encoding="utf-8").read().split("\n\n") if s.strip()]
def fields(s):
    out, key = {}, None
    for line in s.split("\n"):
        if line[:1] in (" ", "\t") and key:
            out[key] += "\n" + line
        elif ":" in line:
            key, _, v = line.partition(":")
            out[key] = v.strip()
    return out
pkgs = {}
for s in stanzas:
    f = fields(s)
    if "install ok installed" in f.get("Status", ""):
        pkgs[f["Package"]] = (f, s)
provides = {}
for name, (f, _) in pkgs.items():
    for p in f.get("Provides", "").split(","):
        p = p.strip().split(" ")[0].split(":")[0]
        if p:
            provides.setdefault(p, []).append(name)
keep = {n for n, (f, _) in pkgs.items()
        if f.get("Priority") in ("required", "important") or f.get("Essential") == "yes"}
todo = list(keep)
while todo:
    f, _ = pkgs[todo.pop()]
    for field in ("Pre-Depends", "Depends"):
        for alt in f.get(field, "").split(","):
            for d in alt.split("|"):
                d = re.split(r"[\s(:]", d.strip())[0]
                for n in ([d] if d in pkgs else []) + provides.get(d, []):
                    if n not in keep:
                        keep.add(n)
                        todo.append(n)
for n in sorted(keep):
    print(pkgs[n][1] + "\n")
PY
  if ! apt-get -s -o Dir::State::status="$work/status-minimal" install "$deb" >"$work/apt-sim" 2>&1; then
    cat "$work/apt-sim" >&2
    fail "apt cannot install the package on a minimal Debian"
  fi
  step "apt on a minimal Debian ($(grep -c '^Package: ' "$work/status-minimal") packages) would install $(grep -c '^Inst ' "$work/apt-sim") packages for it"
  grep -q '^Inst kasa ' "$work/apt-sim" || fail "apt would not install kasa: $(cat "$work/apt-sim")"
fi

# ---- 3. the extracted kasa serves a card sale --------------------------------
"$kasa" --version | grep -qE '^kasa [0-9]+\.[0-9]+\.[0-9]+' || fail "kasa --version"

first_line() { # FILE: wait for the first line of a process's output
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
taddr=$(first_line "$work/terminal.out") || fail "the terminal emulator did not start: $(cat "$work/terminal.err")"
faddr=$(first_line "$work/fiscal.out") || fail "the fiscal emulator did not start: $(cat "$work/fiscal.err")"
cat >"$work/kasa.json" <<JSON
{
  "terminal": {
    "protocol": "privatbank",
    "endpoint": { "kind": "tcp", "address": "$taddr" },
    "timeouts": { "after_handshake_ms": 0, "poll_ms": 10, "operation_ms": 20000 }
  },
  "fiscal": { "endpoint": { "kind": "tcp", "address": "$faddr" } },
  "backup": { "dir": "$work/backups", "keep_days": 7 }
}
JSON
data="$work/data"
"$kasa" --data-dir "$data" --config "$work/kasa.json" serve --addr 127.0.0.1:0 \
  >"$work/serve.out" 2>"$work/serve.err" &
pids+=($!)
url=""
for _ in $(seq 1 300); do
  url=$(grep -o 'serving on http://[0-9.:]*' "$work/serve.out" 2>/dev/null | head -1 | sed 's/serving on //') || true
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || fail "kasa serve did not start: $(cat "$work/serve.out" "$work/serve.err")"
grep -q "production mode" "$work/serve.out" || fail "not in production mode: $(cat "$work/serve.out")"

# The UI, from the package's share/kasa/ui.
curl -fsS "$url/" | grep -qi '<!doctype html' || fail "kasa serve does not serve the packaged UI"

# The first run: the installer creates the first manager, and is logged in.
curl -fsS -c "$work/cookies" -X POST -H 'Content-Type: application/json' \
  -d '{"name":"Installer","pin":"2580"}' "$url/api/cmd/first_manager" >/dev/null ||
  fail "the first manager: $(tail -5 "$work/serve.err")"
sale=$(curl -fsS -b "$work/cookies" -X POST -H 'Content-Type: application/json' \
  -d '{"key":"package-test-1","amount":1250}' "$url/api/cmd/sale") ||
  fail "POST /api/cmd/sale failed: $(tail -5 "$work/serve.err")"
python3 - "$sale" "$work/terminal-books.json" "$work/fiscal-tape.txt" <<'PY' || fail "the sale: $sale"
import json, sys
op = json.loads(sys.argv[1])
assert op["state"] == "done", op
card = op["payments"][0]["card"]
books = json.load(open(sys.argv[2]))
charges = [r for r in books["records"] if r["kind"] == "purchase" and r["status"] == "approved"]
assert len(charges) == 1 and charges[0]["amount"] == 1250, charges
assert charges[0]["rrn"] == card["rrn"], (charges[0], card)
tape = open(sys.argv[3], encoding="utf-8").read()
assert "12.50" in tape and card["rrn"] in tape and card["masked_pan"] in tape, tape[-800:]
print(f"package-test: sale done: 12.50 by card {card['masked_pan']}, RRN {card['rrn']}; "
      "the terminal's books and the register's tape agree")
PY

# Backup and support bundle with the packaged binary, while it runs.
backup=$("$kasa" --data-dir "$data" --config "$work/kasa.json" backup 2>"$work/backup.err") ||
  fail "kasa backup: $(cat "$work/backup.err")"
[ -f "$backup" ] || fail "no backup file"
"$kasa" --data-dir "$data" --config "$work/kasa.json" support-bundle --out "$work/support.zip" \
  >/dev/null 2>"$work/bundle.err" || fail "kasa support-bundle: $(cat "$work/bundle.err")"
python3 -m zipfile -l "$work/support.zip" | grep -q 'kasa-support/logs/kasa' || fail "no log in the support bundle"
step "backup $(basename "$backup") and the support bundle made by the packaged kasa"

# ---- 4. apt install on fresh systems -----------------------------------------
if [ "${KASA_APT_INSTALL:-1}" = 0 ]; then
  step "apt install on fresh systems: skipped (KASA_APT_INSTALL=0)"
elif [ "$(id -u)" != 0 ]; then
  step "apt install on fresh systems: skipped (needs root; CI runs it)"
else
  bash scripts/apt-install-test.sh "$deb" || fail "apt install on a fresh system"
fi
step "passed in $(($(date +%s) - start)) s"
echo "1 passed, 0 failed"
