#!/usr/bin/env bash
# Builds the web UI into services/gateway/web/dist, which the gateway serves at /.
set -euo pipefail
cd "$(dirname "$0")/../services/gateway/web"
npm ci --no-audit --no-fund
# Same stamp as scripts/web-test.sh, so running the tests next does not install again.
sha256sum package-lock.json >node_modules/.aic-lock.sha256
npm run build
