#!/usr/bin/env bash
# Runs every test: lint, then pytest over libs/, services/ and tests/ against the real services.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/local-services.sh)"
echo "==> lint"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> web UI unit tests"
scripts/web.sh test
scripts/ensure-test-tools.sh  # chromium, CJK fonts, kubectl, mysql client: installed when missing
echo "==> tests"
# The slowest tests are listed at the end: the whole run must stay within its time budget.
exec .venv/bin/python -m pytest --durations=30 "$@"
