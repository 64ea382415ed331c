#!/usr/bin/env bash
# Builds the Debian package with the Tauri bundler: packaging/tauri-cli holds
# the bundler (the prebuilt Tauri CLI from npm), tauri.conf.json says what
# goes in (binary, desktop entry, icons, the built UI for `kasa serve`, the
# systemd unit, the service user, udev rules, docs, the example settings).
# Prints the path of the .deb.
#
#   scripts/package.sh            release build (what a shop installs)
#   KASA_PACKAGE_PROFILE=debug scripts/package.sh   quicker, for checks
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
profile=${KASA_PACKAGE_PROFILE:-release}
target=${CARGO_TARGET_DIR:-$root/target}
export CARGO_TARGET_DIR=$target

# The bundler itself (prebuilt; nothing else is fetched).
if [ ! -x packaging/tauri-cli/node_modules/.bin/tauri ] ||
   [ packaging/tauri-cli/package-lock.json -nt packaging/tauri-cli/node_modules/.package-lock.json ]; then
  (cd packaging/tauri-cli && npm ci --no-audit --no-fund --silent)
fi
[ -f ui/dist/index.html ] || { echo "package: build the UI first (make ui)" >&2; exit 1; }

# The Debian changelog of a native package, dated by the last commit.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
when=$(git log -1 --format=%ct 2>/dev/null || date +%s)
mkdir -p packaging/deb/build
{
  echo "kasa ($version) unstable; urgency=medium"
  echo
  echo "  * Kasa $version, built from commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo
  echo " -- Kasa contributors <kasa@example.invalid>  $(LC_ALL=C date -u -R -d "@$when")"
} > packaging/deb/build/changelog
gzip -9nf packaging/deb/build/changelog
export SOURCE_DATE_EPOCH=$when

args=(build --bundles deb --ci)
[ "$profile" = debug ] && args+=(--debug)
(cd src-tauri && "$root/packaging/tauri-cli/node_modules/.bin/tauri" "${args[@]}") >&2
built=$(ls -t "$target/$profile/bundle/deb/"Kasa_*.deb | head -1)
# Debian's name for it: the package's own name, lower case.
deb="$target/$profile/bundle/deb/kasa_${version}_amd64.deb"
mv -f "$built" "$deb"

# A debug build (for checks) keeps its symbols: the package gets a stripped
# copy of the binary, as a release build is (profile.release strips), so
# lintian judges what a shop would install.
if [ "$profile" = debug ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  dpkg-deb -R "$deb" "$tmp/root"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$tmp/root/usr/bin/kasa"
  (cd "$tmp/root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
    xargs -0 md5sum >DEBIAN/md5sums)
  size=$(du -k -s --exclude=DEBIAN "$tmp/root" | cut -f1)
  sed -i "s/^Installed-Size: .*/Installed-Size: $size/" "$tmp/root/DEBIAN/control"
  dpkg-deb --root-owner-group -Zxz --build "$tmp/root" "$deb" >/dev/null
fi
echo "$deb"
