#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Kasa needs to build, run and test, when
# they are missing. Uses sudo when not root. Safe to run again.
set -euo pipefail

packages=(
  build-essential pkg-config libssl-dev
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev   # Tauri
  libudev-dev                                                      # serial ports
  chromium                                                         # browser tests
  xvfb xauth imagemagick                                           # desktop smoke test
  webkit2gtk-driver                                                # desktop WebDriver test
  socat                                                            # virtual serial pairs
  fonts-dejavu-core poppler-utils                                  # PDF reports (font) and their tests
  lintian curl binutils python3 systemd debootstrap                # package test
  mingw-w64 nsis wine64                                            # Windows build
  nodejs npm                                                       # only if no node yet
)

missing=()
for p in "${packages[@]}"; do
  case "$p" in
    nodejs|npm) command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && continue ;;
    python3) command -v python3 >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: missing packages (${missing[*]}) and no apt-get: install them by hand" >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
