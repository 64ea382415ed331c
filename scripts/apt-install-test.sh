#!/usr/bin/env bash
# The package installed the way a shop installs it: `apt install ./kasa_*.deb`
# on a fresh Debian 12 and a fresh Ubuntu 24.04, each a minimal system made
# with debootstrap from the distribution's own mirror. In each:
#
# - apt pulls every dependency the package declares, and the postinst creates
#   the service user `kasa` in `dialout`;
# - the installed /usr/bin/kasa, run as that user with the systemd unit's
#   environment (data in /var/lib/kasa, settings in /etc/kasa/kasa.json),
#   serves a card sale against the emulators of the same package, and the
#   terminal's books and the register's tape show it;
# - `apt purge` takes the program away and leaves the journal (the shop's
#   record of money taken) in place.
#
# Needs root (chroot, mount). Usage: apt-install-test.sh DEB
# KASA_APT_SYSTEMS="debian12 ubuntu24.04" chooses the systems.
set -euo pipefail
deb=$(readlink -f "${1:?usage: apt-install-test.sh DEB}")
fail() {
  echo "apt-install-test: FAILED: $*" >&2
  exit 1
}
step() { echo "apt-install-test: $*"; }
[ "$(id -u)" = 0 ] || fail "needs root (debootstrap and chroot)"
command -v debootstrap >/dev/null || fail "debootstrap is missing (make system installs it)"

work=$(mktemp -d /var/tmp/kasa-apt.XXXXXX)
roots=()
procs=() # the processes started in the new systems (chroot execs its command)
stop_procs() {
  local p
  for p in "${procs[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${procs[@]}"; do wait "$p" 2>/dev/null || true; done
  procs=()
}
cleanup() {
  local r
  stop_procs
  for r in "${roots[@]}"; do
    umount -l "$r/proc" 2>/dev/null || true
    umount -l "$r/dev/pts" 2>/dev/null || true
  done
  # Never remove a tree that still has something mounted in it.
  if ! grep -q " $work/" /proc/mounts; then rm -rf "$work"; fi
}
trap cleanup EXIT

# SYSTEM ROOT: a minimal system with the package installed by apt.
install_on() {
  local system=$1 r=$2
  case "$system" in
    debian12)
      debootstrap --variant=minbase bookworm "$r" http://deb.debian.org/debian
      cat >"$r/etc/apt/sources.list" <<EOF
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
      ;;
    ubuntu24.04)
      # Debian's debootstrap knows Ubuntu releases by the gutsy script.
      # Debian 12 has no Ubuntu keyring, so the bootstrap is not checked;
      # apt inside the new system checks everything it fetches with the
      # ubuntu-keyring the bootstrap installed.
      debootstrap --variant=minbase --no-check-gpg \
        noble "$r" http://archive.ubuntu.com/ubuntu /usr/share/debootstrap/scripts/gutsy
      cat >"$r/etc/apt/sources.list" <<EOF
deb http://archive.ubuntu.com/ubuntu noble main universe
deb http://archive.ubuntu.com/ubuntu noble-updates main universe
deb http://security.ubuntu.com/ubuntu noble-security main universe
EOF
      ;;
    *) fail "unknown system $system" ;;
  esac
  mount -t proc proc "$r/proc"
  cp "$deb" "$r/tmp/"
  chroot "$r" sh -c "apt-get -o Acquire::Retries=3 update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 install -y -q \
      --no-install-recommends /tmp/$(basename "$deb")"
}

# SYSTEM ROOT: the installed kasa serves a card sale as its service user.
sale_on() {
  local system=$1 r=$2
  chroot "$r" kasa --version | grep -qE '^kasa [0-9]' || fail "$system: kasa --version"
  chroot "$r" id -nG kasa | grep -qw dialout || fail "$system: the user kasa is not in dialout"
  for f in /lib/systemd/system/kasa.service /lib/udev/rules.d/60-kasa-serial.rules \
    /usr/share/applications/Kasa.desktop /usr/share/kasa/ui/index.html; do
    [ -e "$r$f" ] || [ -e "$r/usr$f" ] || fail "$system: $f not installed"
  done
  local t="$r/tmp/sale"
  mkdir -p "$t"
  chroot "$r" /usr/bin/kasa emulate terminal --protocol privatbank --tcp 127.0.0.1:0 --step-delay-ms 2 \
    --state /tmp/sale/terminal-books.json >"$t/terminal.out" 2>"$t/terminal.err" &
  procs+=($!)
  chroot "$r" /usr/bin/kasa emulate fiscal --tcp 127.0.0.1:0 --state /tmp/sale/fiscal-state.json \
    --tape /tmp/sale/fiscal-tape.txt >"$t/fiscal.out" 2>"$t/fiscal.err" &
  procs+=($!)
  local taddr="" faddr="" url=""
  for _ in $(seq 1 200); do
    taddr=$(head -1 "$t/terminal.out" 2>/dev/null) || true
    faddr=$(head -1 "$t/fiscal.out" 2>/dev/null) || true
    [ -n "$taddr" ] && [ -n "$faddr" ] && break
    sleep 0.1
  done
  [ -n "$taddr" ] && [ -n "$faddr" ] ||
    fail "$system: the emulators did not start: $(cat "$t"/*.err)"
  mkdir -p "$r/etc/kasa"
  cat >"$r/etc/kasa/kasa.json" <<JSON
{
  "terminal": {
    "protocol": "privatbank",
    "endpoint": { "kind": "tcp", "address": "$taddr" },
    "timeouts": { "after_handshake_ms": 0, "poll_ms": 10, "operation_ms": 20000 }
  },
  "fiscal": { "endpoint": { "kind": "tcp", "address": "$faddr" } }
}
JSON
  # What systemd's StateDirectory= makes for the unit.
  install -d -m 0750 "$r/var/lib/kasa"
  chroot "$r" chown kasa:kasa /var/lib/kasa
  chroot --userspec=kasa:kasa --groups=dialout "$r" env HOME=/var/lib/kasa \
    KASA_DATA_DIR=/var/lib/kasa KASA_CONFIG=/etc/kasa/kasa.json KASA_LOG=info \
    /usr/bin/kasa serve --addr 127.0.0.1:0 >"$t/serve.out" 2>"$t/serve.err" &
  procs+=($!)
  for _ in $(seq 1 300); do
    url=$(grep -o 'serving on http://[0-9.:]*' "$t/serve.out" 2>/dev/null | head -1 | sed 's/serving on //') || true
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || fail "$system: kasa serve did not start: $(cat "$t/serve.out" "$t/serve.err")"
  grep -q "production mode" "$t/serve.out" || fail "$system: not in production mode"
  curl -fsS -c "$t/cookies" -X POST -H 'Content-Type: application/json' \
    -d '{"name":"Installer","pin":"2580"}' "$url/api/cmd/first_manager" >/dev/null ||
    fail "$system: the first manager: $(tail -5 "$t/serve.err")"
  local sale
  sale=$(curl -fsS -b "$t/cookies" -X POST -H 'Content-Type: application/json' \
    -d '{"key":"apt-install-1","amount":4321}' "$url/api/cmd/sale") ||
    fail "$system: the sale: $(tail -5 "$t/serve.err")"
  python3 - "$system" "$sale" "$t/terminal-books.json" "$t/fiscal-tape.txt" <<'PY' || fail "$system: the sale: $sale"
import json, sys
system, op = sys.argv[1], json.loads(sys.argv[2])
assert op["state"] == "done", op
card = op["payments"][0]["card"]
books = json.load(open(sys.argv[3]))
charges = [r for r in books["records"] if r["kind"] == "purchase" and r["status"] == "approved"]
assert len(charges) == 1 and charges[0]["amount"] == 4321, charges
assert charges[0]["rrn"] == card["rrn"], (charges[0], card)
tape = open(sys.argv[4], encoding="utf-8").read()
assert "43.21" in tape and card["rrn"] in tape and card["masked_pan"] in tape, tape[-800:]
print(f"apt-install-test: {system}: the installed kasa, as the user kasa, sold 43.21 by card "
      f"{card['masked_pan']}, RRN {card['rrn']}; the terminal's books and the register's tape agree")
PY
  [ "$(chroot "$r" stat -c %U /var/lib/kasa/journal.sqlite 2>&1)" = kasa ] ||
    fail "$system: the journal is not the kasa user's: $(ls -l "$r/var/lib/kasa")"
  stop_procs
  chroot "$r" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q kasa' >"$t/purge.out" 2>&1 ||
    fail "$system: apt purge: $(tail -5 "$t/purge.out")"
  [ ! -e "$r/usr/bin/kasa" ] || fail "$system: kasa still there after purge"
  [ -n "$(ls "$r/var/lib/kasa")" ] || fail "$system: the purge took the journal"
  step "$system: purged; /usr/bin/kasa gone, the journal in /var/lib/kasa kept"
}

systems=${KASA_APT_SYSTEMS:-debian12 ubuntu24.04}
start=$(date +%s)
pids=()
for s in $systems; do
  r="$work/$s"
  roots+=("$r")
  (install_on "$s" "$r" >"$work/$s.log" 2>&1) &
  pids+=($!)
done
i=0
for s in $systems; do
  if ! wait "${pids[$i]}"; then
    tail -30 "$work/$s.log" >&2
    fail "$s: apt could not install the package"
  fi
  step "$s: apt installed kasa and $(($(grep -c '^Setting up ' "$work/$s.log") - 1)) packages it needs"
  i=$((i + 1))
done
for s in $systems; do sale_on "$s" "$work/$s"; done
step "passed in $(($(date +%s) - start)) s"
