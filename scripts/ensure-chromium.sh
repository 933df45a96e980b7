#!/usr/bin/env bash
# ensure-chromium.sh: make sure Debian's chromium is installed, for the web
# view's headless-browser test (web/browser_test.go).
#
# Quick and silent when /usr/bin/chromium is already there. Otherwise, as
# root, `apt-get update && apt-get install -y chromium`. Without root (or
# apt-get) it only says so and exits 0: the browser test then skips, except
# under CI=true, where it fails because chromium is missing.
set -euo pipefail

readonly CHROMIUM=/usr/bin/chromium

if [[ -x "${CHROMIUM}" ]]; then
	exit 0
fi

if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-chromium: ${CHROMIUM} is missing and this is not root with apt-get;" \
		"install it with: sudo apt-get install -y chromium (the browser test skips without it)" >&2
	exit 0
fi

echo "ensure-chromium: installing Debian's chromium (once)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
"${CHROMIUM}" --version >&2
