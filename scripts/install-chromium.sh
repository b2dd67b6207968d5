#!/usr/bin/env bash
# Installs headless Chromium for the browser check (make e2e), if missing:
# Debian's chromium package (/usr/bin/chromium). Opt-in: make tools does not
# run it. CHROMIUM_BIN names another binary to use instead.
set -euo pipefail

if [ -n "${CHROMIUM_BIN:-}" ]; then
  [ -x "$CHROMIUM_BIN" ] || { echo "install-chromium: CHROMIUM_BIN=$CHROMIUM_BIN is not executable" >&2; exit 1; }
  exit 0
fi
for b in chromium chromium-browser google-chrome; do
  command -v "$b" >/dev/null 2>&1 && exit 0
done

echo "installing chromium (Debian package)..." >&2
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "install-chromium: chromium not found after apt-get install" >&2; exit 1; }
