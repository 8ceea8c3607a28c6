#!/usr/bin/env bash
# Runs the web UI's unit tests; installs dependencies first only when they are missing or stale.
set -euo pipefail
cd "$(dirname "$0")/../services/gateway/web"
# A stamp of the lock file that node_modules was installed from; a changed lock means reinstall.
stamp=node_modules/.aic-lock.sha256
if [ ! -d node_modules ] || ! sha256sum --check --status "$stamp" 2>/dev/null; then
  npm ci --no-audit --no-fund
  sha256sum package-lock.json >"$stamp"
fi
npm test
