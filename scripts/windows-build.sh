#!/usr/bin/env bash
# The whole app cross-built for Windows (x86_64-pc-windows-gnu, linked by
# Debian's mingw-w64) and its installer built with Debian's NSIS from
# packaging/windows/kasa.nsi. Nothing is fetched. Checks what it built: a
# 64-bit PE executable that imports only DLLs a Windows machine has, and a
# Nullsoft installer holding it. Prints the installer's path.
#
#   scripts/windows-build.sh                      release (what a shop installs)
#   KASA_WINDOWS_PROFILE=debug scripts/windows-build.sh   quicker, for CI
#
# Why not the Tauri bundler's NSIS target: run from Linux it downloads its
# NSIS plugins (nsis_tauri_utils, ApplicationID) from the internet, which CI
# cannot reach; see packaging/README.installers.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=x86_64-pc-windows-gnu
profile=${KASA_WINDOWS_PROFILE:-release}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}

fail() {
  echo "windows-build: FAILED: $*" >&2
  exit 1
}
for tool in x86_64-w64-mingw32-gcc makensis objdump file; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (make system installs it)"
done
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  rustup target add "$target" >/dev/null 2>&1 || fail "cannot add the $target target"
fi
[ -f ui/dist/index.html ] || fail "build the UI first (make ui)"

start=$(date +%s)
args=(build -p kasa --target "$target")
dir=debug
if [ "$profile" = release ]; then
  # What the Tauri CLI adds for a release: the UI served from the binary.
  args+=(--release --features tauri/custom-protocol)
  dir=release
fi
cargo "${args[@]}" >&2
exe="$CARGO_TARGET_DIR/$target/$dir/kasa.exe"
[ -f "$exe" ] || fail "no $exe"
echo "windows-build: kasa.exe built ($profile, $(du -h "$exe" | cut -f1)) in $(($(date +%s) - start)) s" >&2

# A 64-bit Windows program whose DLLs are all Windows' own (no mingw runtime
# DLL to ship beside it), but for WebView2Loader.dll, which the build puts
# beside it (from the webview2-com-sys crate) and the installer ships.
file "$exe" | grep -q 'PE32+ executable.*x86-64.*MS Windows' || fail "not a 64-bit PE: $(file "$exe")"
dlls=$(objdump -p "$exe" | awk '/DLL Name:/ {print tolower($3)}' | sort -u)
for dll in $dlls; do
  case "$dll" in
    api-ms-win-*|advapi32.dll|bcrypt*.dll|combase.dll|comctl32.dll|comdlg32.dll|crypt32.dll|dwmapi.dll| \
    gdi32.dll|imm32.dll|kernel32.dll|msvcrt.dll|ncrypt.dll|ntdll.dll|ole32.dll|oleaut32.dll| \
    propsys.dll|secur32.dll|setupapi.dll|shell32.dll|shlwapi.dll|user32.dll|userenv.dll| \
    uxtheme.dll|version.dll|winmm.dll|ws2_32.dll|dbghelp.dll|cfgmgr32.dll|iphlpapi.dll| \
    gdiplus.dll|msimg32.dll|winspool.drv|rpcrt4.dll|powrprof.dll|wtsapi32.dll|dwrite.dll| \
    d2d1.dll|d3d11.dll|dxgi.dll|hid.dll|netapi32.dll|mpr.dll|psapi.dll|synchronization.dll| \
    winhttp.dll|wininet.dll|urlmon.dll|credui.dll|uiautomationcore.dll) ;;
    webview2loader.dll) [ -f "$(dirname "$exe")/WebView2Loader.dll" ] ||
      fail "kasa.exe needs WebView2Loader.dll and the build left none beside it" ;;
    *) fail "kasa.exe needs $dll, which Windows does not have" ;;
  esac
done
echo "windows-build: imports $(wc -w <<<"$dlls") DLLs, Windows' own and WebView2Loader.dll: $(tr '\n' ' ' <<<"$dlls")" >&2

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
out="$CARGO_TARGET_DIR/$target/$dir/kasa-$version-x64-installer.exe"
rm -f "$out"
# The installer holds a copy without symbols (a release build has none
# already); a debug one (CI) is compressed quickly.
shipped="$CARGO_TARGET_DIR/$target/$dir/kasa-shipped.exe"
x86_64-w64-mingw32-strip -o "$shipped" "$exe"
fast=()
[ "$profile" = release ] || fast=(-DFAST)
makensis -V2 -WX "${fast[@]}" -DVERSION="$version" -DEXE="$shipped" -DUI="$root/ui/dist" -DOUT="$out" \
  -DWEBVIEW2LOADER="$(dirname "$exe")/WebView2Loader.dll" \
  packaging/windows/kasa.nsi >&2 || fail "makensis"
file "$out" | grep -q 'Nullsoft Installer' || fail "not an NSIS installer: $(file "$out")"
echo "windows-build: installer $(basename "$out") ($(du -h "$out" | cut -f1)) in $(($(date +%s) - start)) s" >&2
echo "$out"
