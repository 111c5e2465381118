#!/usr/bin/env bash
# Live push with the official SignalR client: @microsoft/signalr (pinned in tests/browser/package.json) under Node
# against a standalone handler, over WebSockets and Server-Sent Events, restart included; plus the hub protocol's
# edges with a raw WebSocket. No browser needed.
#
# Usage: scripts/test-signalr.sh [node --test arguments...]
#
# Needs node >= 20 and npm. The server binary comes from PIESHOP_HANDLER_BIN, else target/debug/handler (built
# with cargo when missing).
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "test-signalr: FAIL: $tool is not installed" >&2; exit 1; }
done

cd "$repo_root/tests/browser"
npm ci --prefer-offline --no-audit --no-fund --loglevel=error
exec node --test --test-concurrency=1 "$@" signalr.test.mjs
