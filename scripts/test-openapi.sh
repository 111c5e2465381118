#!/usr/bin/env bash
# The API against its OpenAPI document, checked by tools no one here wrote: openapi-spec-validator on the document
# the server serves (and that it equals docs/openapi.json), then schemathesis (every check, examples, coverage,
# fuzzing and stateful runs that follow the document's links) against a standalone handler on the embedded default,
# started here on a free port with a fresh data directory and function keys (so the key scheme is tested too).
# It also checks that the README's typed client generates (openapi-typescript, through npx).
#
# Usage: scripts/test-openapi.sh [--long] [schemathesis run options...]
#
#   (default)  a bounded, seeded run: at most ~3 minutes on 2 cores, the same test cases every time
#   --long     ten minutes: many more test cases per operation and stateful scenarios, a fresh seed each time
#
# Tools come from a cached venv ($PIESHOP_CACHE/schemathesis-venv, made by scripts/setup.sh). The server binary
# is PIESHOP_HANDLER_BIN, else target/debug/handler (built with cargo when missing). Reports (JUnit, the failing
# cases as curl-able pytest) go to artifacts/schemathesis/.
set -euo pipefail

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
}

long=""
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --long) long=1; shift ;;
esac

# The generator the README shows for a typed client (TypeScript), pinned.
openapi_typescript=7.13.0

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PIESHOP_CACHE="${PIESHOP_CACHE:-$HOME/.cache/pieshop}"
venv="$PIESHOP_CACHE/schemathesis-venv"
if [[ ! -x $venv/bin/schemathesis || ! -x $venv/bin/openapi-spec-validator ]]; then
  echo "test-openapi: FAIL: $venv lacks schemathesis or openapi-spec-validator (run scripts/setup.sh)" >&2
  exit 1
fi
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "test-openapi: FAIL: $tool is not installed (scripts/setup.sh)" >&2; exit 1; }
done

handler="${PIESHOP_HANDLER_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/handler}"
if [[ ! -x $handler ]]; then
  echo "test-openapi: building $handler"
  cargo build -p pieshop --bin handler
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pieshop-openapi.XXXXXX")
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A key of at least 16 characters, made for this run only.
key="openapi-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
echo "test-openapi: starting $handler on 127.0.0.1 (free port, data in $work/data, function keys on)"
env -u COSMOS_ENDPOINT -u EVENTGRID_TOPIC_ENDPOINT -u ELASTICSEARCH_URL -u REDIS_URL -u FUNCTIONS_CUSTOMHANDLER_PORT \
  PIESHOP_LISTEN=127.0.0.1:0 PIESHOP_DATA_DIR="$work/data" PIESHOP_API_KEYS="schemathesis=$key" RUST_LOG=info \
  "$handler" >"$work/handler.log" 2>&1 &
server_pid=$!

# The handler logs its address once it listens: wait for that line, or for the process to die.
base=""
for _ in $(seq 1 300); do
  base=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/handler.log" | head -n1 || true)
  [[ -n $base ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "test-openapi: FAIL: the handler exited:" >&2
    cat "$work/handler.log" >&2
    exit 1
  fi
  sleep 0.1
done
[[ -n $base ]] || { echo "test-openapi: FAIL: the handler did not listen within 30 s" >&2; exit 1; }
echo "test-openapi: handler at $base"

echo "test-openapi: the served document, without a key (401) and with one"
status=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/openapi.json")
[[ $status == 401 ]] || { echo "test-openapi: FAIL: /api/openapi.json without a key answered $status" >&2; exit 1; }
curl -sf -H "x-functions-key: $key" "$base/api/openapi.json" -o "$work/openapi.json"
if ! diff <(jq -S . "$work/openapi.json") <(jq -S . docs/openapi.json) >/dev/null; then
  echo "test-openapi: FAIL: docs/openapi.json is not what the binary serves;" \
    "regenerate it: cargo run -- openapi > docs/openapi.json" >&2
  exit 1
fi

echo "test-openapi: openapi-spec-validator"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

# The README's typed client, one command away: the generator must take the document without a complaint.
if command -v npx >/dev/null; then
  echo "test-openapi: typed client: npx openapi-typescript@$openapi_typescript"
  npx --yes --prefer-offline "openapi-typescript@$openapi_typescript" "$work/openapi.json" -o "$work/pieshop.d.ts" \
    >"$work/openapi-typescript.log" 2>&1 || { cat "$work/openapi-typescript.log" >&2; exit 1; }
  grep -q 'ReceiveCommand' "$work/pieshop.d.ts"
elif [[ -n ${PIESHOP_REQUIRE_ALL:-} ]]; then
  echo "test-openapi: FAIL: npx is not installed and PIESHOP_REQUIRE_ALL is set" >&2
  exit 1
else
  echo "test-openapi: typed client: SKIPPED (no npx)"
fi

if [[ -n $long ]]; then
  # Ten minutes, spent on more cases per operation and stateful scenarios repeated until the time is up
  # (a stateful run with no time budget reached 10 minutes without ending: links lead to `minVersion` waits).
  run=(--max-examples 500 --max-time 600 --generation-database none --phases "examples,coverage,fuzzing,stateful")
  echo "test-openapi: schemathesis, long run (up to 500 cases per operation, 10 minutes, fresh seed)"
else
  run=(--max-examples 40 --seed 16 --generation-deterministic --phases "examples,coverage,fuzzing,stateful")
  echo "test-openapi: schemathesis, bounded run (40 cases per operation, seed 16, deterministic)"
fi

mkdir -p artifacts/schemathesis
started=$(date +%s)
# Every check schemathesis has is on by default (not named with --checks: that would override the per-operation
# settings in tests/openapi/schemathesis.toml, which are few and each explained there).
"$venv/bin/schemathesis" --config-file tests/openapi/schemathesis.toml run "$work/openapi.json" \
  --url "$base" \
  --header "x-functions-key: $key" \
  --workers 1 \
  --report junit,pytest --report-dir artifacts/schemathesis \
  --no-color \
  "${run[@]}" "$@"
echo "test-openapi: passed in $(( $(date +%s) - started )) s"
