#!/usr/bin/env bash
# Browser tests of the dashboard: headless Debian Chromium (driven by playwright-core) against a standalone server.
#
# Usage: scripts/test-browser.sh [node --test arguments...]
#
# Needs node >= 20, npm and /usr/bin/chromium (`apt-get install -y chromium`; never `npx playwright install`).
# Without chromium the tests are skipped (exit 0) unless PIESHOP_REQUIRE_ALL is set, which makes it a failure.
# The server binary comes from PIESHOP_HANDLER_BIN, else target/debug/handler (built with cargo when missing).
# Suites: dashboard.test.mjs (the page), catalogue.test.mjs (a 240 x 36 catalogue, windowed), manage.test.mjs
# (locations, barcodes, history, exports, caller: each skips with a SKIPPED line where the server lacks that API 1.2
# part), at desktop and phone width. PIESHOP_DASHBOARD_FILE=<html> serves that page instead of the embedded one.
# A screenshot of the loaded dashboard is written to artifacts/dashboard.png (and artifacts/dashboard-phone.png).
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
chromium="${PIESHOP_CHROMIUM:-/usr/bin/chromium}"

if [[ ! -x "$chromium" ]]; then
  if [[ -n "${PIESHOP_REQUIRE_ALL:-}" ]]; then
    echo "test-browser: FAIL: $chromium not found and PIESHOP_REQUIRE_ALL is set (install it: apt-get install -y chromium)" >&2
    exit 1
  fi
  echo "test-browser: SKIPPED: $chromium not found (apt-get install -y chromium); set PIESHOP_REQUIRE_ALL=1 to make this a failure"
  exit 0
fi
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "test-browser: FAIL: $tool is not installed" >&2; exit 1; }
done

cd "$repo_root/tests/browser"
npm ci --prefer-offline --no-audit --no-fund --loglevel=error
export PIESHOP_CHROMIUM="$chromium"
exec node --test --test-concurrency=1 "$@" dashboard.test.mjs catalogue.test.mjs manage.test.mjs
