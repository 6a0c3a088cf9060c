#!/usr/bin/env bash
# Debian packages the test suite runs for real (promtool, alertmanager, chromium).
# Installed only when missing; `apt-get update` runs once, before the first install.
set -euo pipefail
declare -A wanted=(
  [promtool]=prometheus
  [prometheus]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [chromium]=chromium
  [npm]=npm
)
missing=()
for binary in "${!wanted[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || missing+=("${wanted[$binary]}")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
