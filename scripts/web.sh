#!/usr/bin/env bash
# The web UI in services/gateway/web: `web.sh build` builds it into dist/ (served by the gateway at /),
# `web.sh test` runs its unit tests. Dependencies are installed with `npm ci` only when node_modules is
# missing or was installed from another package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/../services/gateway/web"
stamp=node_modules/.aic-lock.sha256
if [ ! -d node_modules ] || ! sha256sum --check --status "$stamp" 2>/dev/null; then
  echo "==> installing the web UI's packages (npm ci)"
  npm ci --no-audit --no-fund
  sha256sum package-lock.json >"$stamp"
fi
case "${1:-build}" in
  build) npm run build ;;
  test) npm test ;;
  *) echo "usage: scripts/web.sh [build|test]" >&2; exit 2 ;;
esac
