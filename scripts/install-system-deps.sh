#!/usr/bin/env bash
# Debian packages the test suite runs for real (promtool, alertmanager, chromium,
# docker-compose, kubectl and haproxy for the deploy checks, buildah for the image test,
# PostgreSQL for the metadata tests).
# Installed only when missing; `apt-get update` runs once, before the first install.
set -euo pipefail
declare -A wanted=(
  [promtool]=prometheus
  [prometheus]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [chromium]=chromium
  [npm]=npm
  [docker-compose]=docker-compose
  [kubectl]=kubernetes-client
  [haproxy]=haproxy
  [podman]=podman
  [buildah]=buildah
  [mmdebstrap]=mmdebstrap
  [logrotate]=logrotate
  [systemd-analyze]=systemd
)
missing=()
for binary in "${!wanted[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || missing+=("${wanted[$binary]}")
done
# Debian keeps initdb/pg_ctl off PATH, in /usr/lib/postgresql/<version>/bin (where the
# tests' PostgresServer looks for them).
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  missing+=(postgresql)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
