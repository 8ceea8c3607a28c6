#!/usr/bin/env bash
# Makes sure the tests have the system tools they drive: Debian's Chromium for the browser tests
# (tests/browser; never Playwright's downloaded browsers) with CJK fonts so Chinese screenshots are
# readable and a colour-emoji font (tests/browser/test_polish.py draws an emoji), kubectl (its
# kustomize renders deploy/k8s in tests/deploy), the mysql client (the database set-up script) and the
# linter shellcheck (actionlint, a dev dependency in .venv, checks the workflows' scripts with it). Installs
# with apt-get only what is missing and only as root; otherwise says what is missing (those tests
# then skip, and fail with CI=true). Safe to run again: does nothing when all are there. AIC_CHROMIUM
# names another browser binary.
# Also checkov (tests/deploy/test_policy.py), in its own virtual environment under .tools/.
set -euo pipefail
cd "$(dirname "$0")/.."

# checkov from its locked, hashed requirements, in .tools/checkov: not in the workspace, whose packages
# its pins would move. Installed again only when the requirements changed (the stamp is a copy of them).
CHECKOV_REQUIREMENTS=deploy/policy/checkov-requirements.txt
CHECKOV_STAMP=.tools/checkov/.requirements
if ! cmp -s "$CHECKOV_REQUIREMENTS" "$CHECKOV_STAMP"; then
  UV=$(command -v uv || echo .tools/bin/uv)
  PYTHON=$(command -v python3.11 || command -v python3)
  echo "==> installing checkov into .tools/checkov"
  rm -rf .tools/checkov
  if UV_PYTHON_DOWNLOADS=never "$UV" venv --quiet --python "$PYTHON" .tools/checkov \
    && "$UV" pip install --quiet --python .tools/checkov/bin/python --require-hashes \
      -r "$CHECKOV_REQUIREMENTS"; then
    cp "$CHECKOV_REQUIREMENTS" "$CHECKOV_STAMP"
  else
    echo "!! could not install checkov; tests/deploy/test_policy.py will say so" >&2
  fi
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
if [ -z "${AIC_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 \
  && ! command -v chromium-browser >/dev/null 2>&1; then
  missing+=(chromium)
fi
if command -v dpkg-query >/dev/null 2>&1; then
  for font in fonts-noto-cjk fonts-noto-color-emoji; do
    installed "$font" || missing+=("$font")
  done
fi
command -v kubectl >/dev/null 2>&1 || missing+=(kubectl)
command -v mysql >/dev/null 2>&1 || missing+=(default-mysql-client)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
# The backup and restore test (tests/deploy/test_backup_restore.py): a MariaDB server of its own to
# restore into, and the AWS CLI the backup script uploads with.
command -v mariadb-install-db >/dev/null 2>&1 || missing+=(mariadb-server)
command -v aws >/dev/null 2>&1 || missing+=(awscli)
# promtool (Debian's prometheus package) checks the alerts and the dashboard's queries (tests/deploy).
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "!! some tests need ${missing[*]}: as root, apt-get install ${missing[*]}" >&2
  exit 0
fi
echo "==> installing ${missing[*]} for the tests"
export DEBIAN_FRONTEND=noninteractive
# A failed install must not stop the other tests; the tests that need it then say what is missing.
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; then
  echo "!! could not install ${missing[*]}; the tests that need it will say so" >&2
fi
