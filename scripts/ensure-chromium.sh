#!/usr/bin/env bash
# Makes sure the browser tests (tests/browser) have Debian's Chromium, never Playwright's downloaded
# browsers, and CJK fonts so Chinese screenshots are readable. Installs with apt-get only what is
# missing and only as root; otherwise says what is missing (the browser tests then skip, and fail with
# CI=true). Safe to run again: does nothing when both are there. AIC_CHROMIUM names another binary.
set -euo pipefail

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
if [ -z "${AIC_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 \
  && ! command -v chromium-browser >/dev/null 2>&1; then
  missing+=(chromium)
fi
if command -v dpkg-query >/dev/null 2>&1 && ! installed fonts-noto-cjk; then
  missing+=(fonts-noto-cjk)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "!! the browser tests need ${missing[*]}: as root, apt-get install ${missing[*]}" >&2
  exit 0
fi
echo "==> installing ${missing[*]} for the browser tests"
export DEBIAN_FRONTEND=noninteractive
# A failed install must not stop the other tests; the browser tests then say what is missing.
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; then
  echo "!! could not install ${missing[*]}; the browser tests will report Chromium missing" >&2
fi
