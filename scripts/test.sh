#!/usr/bin/env bash
# The project's test command (the one README.md gives): every suite, in one go.
#   1. cargo test: domain unit tests, API tests on the embedded default, host-protocol tests, and the
#      contract suites of every adapter whose engine is reachable (see .ci/engines.sh);
#   2. scripts/test-deploy.sh: shellcheck, checkov on bicep/, the deployment pytest suite;
#   3. scripts/test-browser.sh: the dashboard in headless Chromium.
# A suite whose tools are missing is skipped with a message, unless PIESHOP_REQUIRE_ALL=1 (CI sets it).
set -euo pipefail

usage() {
  echo "usage: scripts/test.sh [--rust-only]"
  echo "  Runs every test suite from the repository root. Set PIESHOP_REQUIRE_ALL=1 to fail on missing tools."
}

rust_only=""
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --rust-only) rust_only=1 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

echo "test.sh: cargo test --workspace"
cargo test --workspace
[ -n "$rust_only" ] && exit 0

# The Rust run above built the debug handler; the other suites reuse it instead of building again.
export PIESHOP_HANDLER_BIN="${PIESHOP_HANDLER_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/handler}"

# The deployment and browser suites run the handler on its embedded default, whatever engines are exported.
embedded=(env -u COSMOS_ENDPOINT -u EVENTGRID_TOPIC_ENDPOINT -u ELASTICSEARCH_URL -u REDIS_URL -u REDIS_USERNAME)

echo "test.sh: scripts/test-deploy.sh"
"${embedded[@]}" scripts/test-deploy.sh -q

if [ -x scripts/test-browser.sh ]; then
  echo "test.sh: scripts/test-browser.sh"
  "${embedded[@]}" scripts/test-browser.sh
fi
echo "test.sh: all suites passed"
