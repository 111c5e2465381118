#!/usr/bin/env bash
# The project's test command (the one README.md gives): every suite, set up by itself.
#   0. scripts/setup.sh installs the tools and engines (cached), and real Redis and Elasticsearch are started on
#      127.0.0.1 for the run (unless REDIS_URL and ELASTICSEARCH_URL already point at running ones) and stopped after;
#   1. cargo test --workspace: domain unit tests, API tests on the embedded default, host-protocol tests, the
#      port contract suites of every adapter, the fault suite, and the deployed shape through funchost (as a
#      current host: HTTP proxied), then the read-model contract suite on Elasticsearch 8.x (the run above is on
#      9.x), and the deployed-shape suite again as a host without proxying (HTTP forwarded);
#   2. scripts/test-deploy.sh: shellcheck, checkov on bicep/, the deployment pytest suite;
#   3. scripts/test-openapi.sh: the served OpenAPI document validated, and schemathesis against it (bounded, seeded);
#   4. scripts/test-signalr.sh: live push with the official SignalR client under Node;
#   5. scripts/test-browser.sh: the dashboard in headless Chromium.
# Nothing is skipped (PIESHOP_REQUIRE_ALL=1) unless --quick: then only cargo test runs, with whatever engines the
# environment names, and the suites that need a missing engine say SKIPPED.
set -euo pipefail

usage() {
  echo "usage: scripts/test.sh [--quick]"
  echo "  Sets up and runs every test suite from the repository root; --quick runs cargo test alone, set up nothing."
}

quick=""
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --quick) quick=1 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [[ -n $quick ]]; then
  echo "test.sh: --quick: cargo test --workspace (no setup; suites without their engine are skipped)"
  exec cargo test --workspace
fi

export PIESHOP_CACHE="${PIESHOP_CACHE:-$HOME/.cache/pieshop}"
export PIESHOP_REQUIRE_ALL=1
scripts/setup.sh
export PATH="$PATH:$PIESHOP_CACHE/checkov-venv/bin"

if [[ -z ${REDIS_URL:-} || -z ${ELASTICSEARCH_URL:-} ]]; then
  engines_env=$(mktemp "${TMPDIR:-/tmp}/pieshop-engines.XXXXXX.env")
  rm -f "$engines_env"
  engines=(.ci/engines.sh --only "redis,elasticsearch" --env-file "$engines_env")
  trap '"${engines[@]}" stop || true' EXIT
  echo "test.sh: starting Redis and Elasticsearch on 127.0.0.1"
  "${engines[@]}" start >/dev/null
  set -a
  # shellcheck disable=SC1090
  . "$engines_env"
  set +a
fi

echo "test.sh: cargo test --workspace"
cargo test --workspace
# The read model supports Elasticsearch 8 and 9: its contract suite again on the 8.x test distribution (the
# workspace run above used 9.x), which alone needs a cluster of that version (on a port of its own).
# shellcheck source=scripts/lib/elasticsearch-versions.sh disable=SC1091
. scripts/lib/elasticsearch-versions.sh
es8_env=$(mktemp "${TMPDIR:-/tmp}/pieshop-es8.XXXXXX.env")
rm -f "$es8_env"
es8=(env -u ES_PORT ES_VERSION="$ES8_VERSION" .ci/engines.sh --only elasticsearch --env-file "$es8_env")
echo "test.sh: the read-model contract suite on Elasticsearch $ES8_VERSION"
"${es8[@]}" start >/dev/null
es8_url=$(sed -n 's/^export ELASTICSEARCH_URL=//p' "$es8_env" | tail -n 1)
ELASTICSEARCH_URL="$es8_url" cargo test -p pieshop --test port_contracts read_model::elasticsearch || {
  "${es8[@]}" stop || true
  exit 1
}
"${es8[@]}" stop >/dev/null

# host.json asks for proxying with forwarding as the fallback: the deployed shape must hold under both.
echo "test.sh: the deployed-shape suite as a host without enableProxyingHttpRequest (forwarding)"
FUNCHOST_HOST_WITHOUT_PROXYING=true cargo test -p funchost --test deployed

# The Rust run above built the debug handler; the other suites reuse it instead of building again.
export PIESHOP_HANDLER_BIN="${PIESHOP_HANDLER_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/handler}"

# The deployment, OpenAPI and browser suites run the handler on its embedded default, whatever engines are exported.
embedded=(env -u COSMOS_ENDPOINT -u EVENTGRID_TOPIC_ENDPOINT -u ELASTICSEARCH_URL -u REDIS_URL -u REDIS_USERNAME)

echo "test.sh: scripts/test-deploy.sh"
"${embedded[@]}" scripts/test-deploy.sh -q

echo "test.sh: scripts/test-openapi.sh"
"${embedded[@]}" scripts/test-openapi.sh
echo "test.sh: scripts/test-signalr.sh"
"${embedded[@]}" scripts/test-signalr.sh

echo "test.sh: scripts/test-browser.sh"
"${embedded[@]}" scripts/test-browser.sh
echo "test.sh: all suites passed"
