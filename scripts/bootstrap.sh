#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: uv (in .tools/, not system-wide) and the
# workspace's Python packages (in .venv/, from uv.lock). Safe to run again; does nothing when current.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never

if command -v uv >/dev/null 2>&1; then
  UV=$(command -v uv)
else
  if [ ! -x .tools/bin/uv ]; then
    echo "==> installing uv into .tools/"
    python3 -m venv .tools
    .tools/bin/pip install --quiet --disable-pip-version-check uv
  fi
  UV=.tools/bin/uv
fi

PYTHON=$(command -v python3.11 || command -v python3)
"$UV" sync --frozen --python "$PYTHON" --quiet
