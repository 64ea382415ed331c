# Kasa: `make run` opens the app (demo mode when nothing is configured);
# `make test` runs every test. Both do all the set-up a fresh Debian/Ubuntu
# machine needs first.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(CURDIR)/target
KASA_BIN := $(CARGO_TARGET_DIR)/debug/kasa
ADDR ?= 127.0.0.1:8640
TAURI_DRIVER_VERSION := 2.1.0
TAURI_DRIVER_ROOT := $(CARGO_TARGET_DIR)/tools/tauri-driver-$(TAURI_DRIVER_VERSION)
TAURI_DRIVER := $(TAURI_DRIVER_ROOT)/bin/tauri-driver

.PHONY: help setup system ui run serve build test test-rust test-ui test-browser test-desktop mutants \
        lint fmt boundaries windows-check bench bindings clean package package-test windows-installer

help:
	@echo "make run     open Kasa (demo mode unless configured); no display: serve it to a browser"
	@echo "make test    every test: cargo, clippy, UI unit, browser, desktop smoke and WebDriver"
	@echo "make bench   the benchmarks"
	@echo "make mutants mutation testing of the money paths (slow; GROUPS=\"terminal fiscal checkout-units checkout-engine\")"
	@echo "make package the Debian package (release build; the .deb under $$CARGO_TARGET_DIR/release/bundle/deb)"
	@echo "make windows-installer  kasa.exe and its NSIS installer (release, cross-built with mingw-w64)"

system:
	@bash scripts/setup-system.sh

ui/node_modules/.package-lock.json: ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	@touch $@

ui: system ui/node_modules/.package-lock.json
	cd ui && npm run build

setup: system ui

build: setup
	$(CARGO) build -p kasa

run: build
	@if [ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
	  echo "Opening the Kasa window (data: $${KASA_DATA_DIR:-~/.local/share/kasa})"; \
	  $(KASA_BIN); \
	else \
	  echo "No display: serving Kasa to a browser."; \
	  $(KASA_BIN) serve --addr $(ADDR); \
	fi

serve: build
	$(KASA_BIN) serve --addr $(ADDR)

test: build test-rust lint boundaries windows-check test-ui test-browser test-desktop package-test
	@echo "make test: all suites passed"

# The crash and disconnect suites run the freshly built `kasa` as a process.
test-rust: build
	KASA_BIN=$(KASA_BIN) $(CARGO) test --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The domain crates must never depend on Tauri.
boundaries:
	@bash scripts/check-boundaries.sh

# The whole app cross-built for Windows (mingw-w64), its NSIS installer, and
# kasa.exe serving a card sale under Wine (debug build, for CI).
windows-check: build ui
	@bash scripts/windows-check.sh $(KASA_BIN)

# The Windows installer a shop runs (release build):
# $CARGO_TARGET_DIR/x86_64-pc-windows-gnu/release/kasa-<version>-x64-installer.exe
windows-installer: setup
	@bash scripts/windows-build.sh

test-ui: ui
	cd ui && npm test
	cd ui && npm run check

test-browser: build
	cd ui && KASA_BIN=$(KASA_BIN) npm run e2e

# The window smoke test, then a card sale driven in the window through
# tauri-driver and WebKitWebDriver (tests/desktop-webdriver.sh).
test-desktop: build $(TAURI_DRIVER)
	KASA_BIN=$(KASA_BIN) bash tests/desktop-smoke.sh
	KASA_BIN=$(KASA_BIN) TAURI_DRIVER=$(TAURI_DRIVER) bash tests/desktop-webdriver.sh

# tauri-driver, the WebDriver server for Tauri windows (it runs Debian's
# WebKitWebDriver, from scripts/setup-system.sh): pinned, built once into the
# target dir (its build files removed after), so a cached target dir keeps it.
$(TAURI_DRIVER): | system
	CARGO_TARGET_DIR=$(TAURI_DRIVER_ROOT)/build $(CARGO) install tauri-driver \
	  --version $(TAURI_DRIVER_VERSION) --locked --root $(TAURI_DRIVER_ROOT)
	rm -rf $(TAURI_DRIVER_ROOT)/build

# The .deb a shop installs (scripts/package.sh: the Tauri bundler, release).
package: setup
	@bash scripts/package.sh

# The .deb built, inspected (contents, dependencies, lintian, the systemd
# unit) and run from a scratch root against the emulators. Built from the
# debug binary (stripped) to keep CI short; KASA_PACKAGE_PROFILE=release
# checks the package a shop gets.
package-test: setup
	@KASA_PACKAGE_PROFILE=$${KASA_PACKAGE_PROFILE:-debug} bash scripts/package-test.sh

bench:
	$(CARGO) bench -p fiscal -p terminal -p kasa-tests

# Mutation testing of the money paths (cargo-mutants; hours on two cores,
# not part of `make test`): scripts/mutants.sh [GROUP...], results under
# mutants.out/. `make mutants GROUPS="terminal fiscal"` runs some groups.
mutants: setup
	bash scripts/mutants.sh $(GROUPS)

bindings:
	KASA_UPDATE_BINDINGS=1 $(CARGO) test -p checkout --test bindings

clean:
	$(CARGO) clean
	rm -rf ui/dist ui/node_modules
