#!/usr/bin/env bash
# Browser tests drive Debian's chromium (never a Playwright-downloaded browser).
# Install it when missing and we may; under CI a missing browser makes the tests fail.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "warning: could not install chromium"
fi
[ -x /usr/bin/chromium ] || echo "warning: /usr/bin/chromium missing: browser tests will fail under CI=true"
exit 0
