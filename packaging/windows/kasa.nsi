; The Kasa installer for Windows, built on Debian with makensis
; (scripts/windows-build.sh passes the defines below). It installs kasa.exe
; and the built UI (for `kasa serve`) into Program Files\Kasa, a Start menu
; shortcut and an uninstaller. The journal, logs and backups live in
; %LOCALAPPDATA%\kasa and are never removed by the uninstaller: they are the
; shop's record of money taken.
;
;   makensis -DVERSION=0.1.0 -DEXE=kasa.exe -DWEBVIEW2LOADER=WebView2Loader.dll \
;            -DUI=ui\dist -DOUT=kasa-setup.exe kasa.nsi

!ifndef VERSION
  !error "VERSION is not defined"
!endif
!ifndef EXE
  !error "EXE (the built kasa.exe) is not defined"
!endif
!ifndef UI
  !error "UI (the built ui/dist) is not defined"
!endif
!ifndef WEBVIEW2LOADER
  !error "WEBVIEW2LOADER (the WebView2Loader.dll kasa.exe imports) is not defined"
!endif
!ifndef OUT
  !define OUT "kasa-${VERSION}-setup.exe"
!endif

Unicode true
!ifdef FAST
  SetCompressor zlib
!else
  SetCompressor /SOLID lzma
!endif
!include "MUI2.nsh"
!include "x64.nsh"

!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Kasa"

Name "Kasa ${VERSION}"
OutFile "${OUT}"
InstallDir "$PROGRAMFILES64\Kasa"
InstallDirRegKey HKLM "Software\Kasa" "InstallDir"
RequestExecutionLevel admin
BrandingText "Kasa ${VERSION}"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "Kasa"
VIAddVersionKey "FileDescription" "Kasa checkout installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "Kasa contributors, Apache-2.0"

!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "Ukrainian"
!insertmacro MUI_LANGUAGE "English"

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "Kasa needs 64-bit Windows."
    Abort
  ${EndIf}
  SetRegView 64
FunctionEnd

Section "Kasa"
  SetOutPath "$INSTDIR"
  File "/oname=kasa.exe" "${EXE}"
  File "/oname=WebView2Loader.dll" "${WEBVIEW2LOADER}"
  SetOutPath "$INSTDIR\ui"
  File /r "${UI}\*"
  SetOutPath "$INSTDIR"
  CreateShortcut "$SMPROGRAMS\Kasa.lnk" "$INSTDIR\kasa.exe"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "Software\Kasa" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "Kasa"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "Kasa contributors"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\kasa.exe"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
SectionEnd

Function un.onInit
  SetRegView 64
FunctionEnd

Section "Uninstall"
  ; The journal, logs and backups in %LOCALAPPDATA%\kasa stay.
  Delete "$SMPROGRAMS\Kasa.lnk"
  Delete "$INSTDIR\kasa.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  RMDir /r "$INSTDIR\ui"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${UNINST_KEY}"
  DeleteRegKey HKLM "Software\Kasa"
SectionEnd
