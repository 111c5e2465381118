#!/usr/bin/env bash
# Measures pieshop on this machine against its performance targets and prints one table.
# See --help, and docs/PERFORMANCE.md for what limits each figure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

usage() {
  cat <<'EOF'
usage: scripts/bench.sh [--only deployed|catalogue] [--help]

Builds release once (cargo build --release -p pieshop -p loadgen), then measures, in about 3 minutes:
  1. cold start: exec -> first 200 on /api/health, median of 20, release handler vs a minimal Node.js http server
  2. raw limits: SQLite commit rate (WAL, synchronous=NORMAL, one connection, single-row transactions)
     and a hello-world axum 0.8 server under plain GET load
  3. pieshop on the embedded default (fresh temp data dir, 127.0.0.1 only):
     commands/s, p99 and projection lag (scanners only), cached queries (dashboard readers only, If-None-Match),
     uncached queries (distinct query strings; and dashboard reads while scanners write), server RSS under load,
     and a late count and a receipt on items with 10,000 and 100,000 uncounted movements (offline records), each
     beside a fresh item, filling times by half, and the largest state JSON after them
  4. live push: BENCH_PUSH_CLIENTS (500) official SignalR clients (@microsoft/signalr under Node, WebSockets)
     connected to a fresh standalone handler; BENCH_PUSH_COMMANDS (100) commands, one every 50 ms, each for its own
     item: command sent -> stockChanged received at every client, p50/p99, and the handler's RSS (/proc) with them
     connected, beside the same handler's RSS with none
  5. stripped binary size
  6. with ELASTICSEARCH_URL set: raw _bulk indexing rate of inventory-item documents, and the projection's
     rate into Elasticsearch (a handler with the Elasticsearch read model under the same scanners)
  7. with ELASTICSEARCH_URL set, the production path: the same scanners through funchost (the Functions host and
     Event Grid stand-in) in front of 2 release handler instances sharing one embedded write store and
     Elasticsearch: events/s Event Grid delivered one by one and the projection acknowledged, and accepted ->
     visible lag through the front door, beside the raw _bulk rate (funchost is built release separately:
     cargo build --release -p funchost, so the handler binary is not built with the emulator's features);
     run twice back to back: one event per delivery and invocation (no cardinality, maxEventsPerBatch 1, as
     before batching), then batched as deployed (cardinality many, maxEventsPerBatch 500, 1024 KB), each with the
     projection's capacity (a backlog of BENCH_BURST events held, then released) and the CPU seconds per event
     of funchost and of the two handler instances while it drains
  8. a chain's catalogue in the dashboard: 1,000 products x 50 locations seeded through /api/commands/batch on a
     fresh handler, the page opened in headless Chromium (tests/browser/catalogue-bench.mjs): first render, DOM
     elements, pushed change -> visible cell p50/p99; beside the page before windowing (git show
     $BENCH_CATALOGUE_BASELINE:handlers/assets/dashboard.html, default 280803d) served by the same handler
--only deployed: the raw _bulk rate and section 7 alone (both runs), for comparing deliveries on a shared machine.
--only catalogue: section 8 alone (BENCH_HANDLER=<binary> uses that handler as it is, without building).
Every server it starts is stopped on exit. Knobs (environment): BENCH_SCANNERS (16), BENCH_READERS (16),
BENCH_WRITE_SECONDS (20), BENCH_READ_SECONDS (10), BENCH_BURST (50000), BENCH_MIXED_SECONDS (15), BENCH_COLD_RUNS (20),
BENCH_PROFILE (release; ci is the lighter optimised profile, dev the debug build, for comparisons only).
EOF
}

ONLY=all
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --only)
    case ${2:-} in
      deployed | catalogue) ONLY=$2 ;;
      *) usage >&2; exit 2 ;;
    esac
    ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

# Every handler below runs on the embedded default except the one measuring the projection into Elasticsearch,
# which gets the URL explicitly: no engine variable of the caller's may leak into the others.
ES_URL=${ELASTICSEARCH_URL:-}
unset ELASTICSEARCH_URL REDIS_URL COSMOS_ENDPOINT EVENTGRID_TOPIC_ENDPOINT

SCANNERS=${BENCH_SCANNERS:-16}
READERS=${BENCH_READERS:-16}
WRITE_SECONDS=${BENCH_WRITE_SECONDS:-20}
READ_SECONDS=${BENCH_READ_SECONDS:-10}
MIXED_SECONDS=${BENCH_MIXED_SECONDS:-15}
COLD_RUNS=${BENCH_COLD_RUNS:-20}
PUSH_CLIENTS=${BENCH_PUSH_CLIENTS:-500}
BURST=${BENCH_BURST:-50000} # events in the backlog that times the projection's capacity (a multiple of 1,000)
PUSH_COMMANDS=${BENCH_PUSH_COMMANDS:-100}
CATALOGUE_PRODUCTS=${BENCH_CATALOGUE_PRODUCTS:-1000}
CATALOGUE_LOCATIONS=${BENCH_CATALOGUE_LOCATIONS:-50}
CATALOGUE_SAMPLES=${BENCH_CATALOGUE_SAMPLES:-50}
# the dashboard before its matrix was windowed (the last commit of the page that re-read and redrew it all)
CATALOGUE_BASELINE=${BENCH_CATALOGUE_BASELINE:-280803d}
PROFILE=${BENCH_PROFILE:-release}   # release; ci is the lighter optimised profile (no fat LTO), dev the debug build

for tool in cargo curl jq node npm awk; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done

say() { printf '\n== %s\n' "$*" >&2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pieshop-bench.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=scripts/lib/local-server.sh disable=SC1091
. "$ROOT/scripts/lib/local-server.sh"

# the last line of a loadgen --json run; the whole output goes to stderr for the reader (through fd 2 itself:
# `tee /dev/stderr` would reopen a redirected log file and truncate it)
json_of() {
  local out
  out=$(cat)
  printf '%s\n' "$out" >&2
  tail -n 1 <<<"$out"
}
json_of_all() {
  local out
  out=$(cat)
  printf '%s\n' "$out" >&2
  printf '%s\n' "$out"
}
get() { jq -r "$2" <<<"$1"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
meets() { awk "BEGIN { print (($1) ? \"yes\" : \"NO\") }"; }


row() { printf '| %-52s | %-36s | %-14s | %-4s |\n' "$@"; }

# Section 8: the dashboard with a chain's catalogue, in headless Chromium; sets catalogue (its JSON line).
catalogue_bench() {
  say "a chain's catalogue: ${CATALOGUE_PRODUCTS} products x ${CATALOGUE_LOCATIONS} locations on a fresh handler, the dashboard in headless Chromium"
  (cd "$ROOT/tests/browser" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >&2)
  local port pid baseline=()
  port=$(free_port)
  mkdir -p "$WORK/catalogue-data"
  PIESHOP_DATA_DIR="$WORK/catalogue-data" PIESHOP_LISTEN="127.0.0.1:$port" "$HANDLER" >"$WORK/handler-catalogue.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "http://127.0.0.1:$port/api/health" 10
  if git -C "$ROOT" show "$CATALOGUE_BASELINE:handlers/assets/dashboard.html" >"$WORK/baseline.html" 2>/dev/null; then
    baseline=(--baseline "$WORK/baseline.html")
  else
    echo "bench: no baseline page ($CATALOGUE_BASELINE not in this clone); measuring the current page only" >&2
  fi
  catalogue=$(node "$ROOT/tests/browser/catalogue-bench.mjs" "http://127.0.0.1:$port" --products "$CATALOGUE_PRODUCTS" \
    --locations "$CATALOGUE_LOCATIONS" --samples "$CATALOGUE_SAMPLES" "${baseline[@]}" | json_of)
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
catalogue_rows() {
  local c=$catalogue first p50 p99 before_first before_push
  first=$(get "$c" .current.first_render_ms)
  p50=$(get "$c" .current.push_p50_ms)
  p99=$(get "$c" .current.push_p99_ms)
  before_first=$(get "$c" '.baseline.first_render_ms // "n/a"')
  before_push=$(get "$c" 'if .baseline then "\(.baseline.push_p50_ms) / \(.baseline.push_p99_ms) ms" else "n/a" end')
  local size="${CATALOGUE_PRODUCTS} x ${CATALOGUE_LOCATIONS}"
  row "catalogue $size: first render" "$(calc "%.0f ms" "$first") (before: $before_first ms)" "<= 1.5 s" "$(meets "$first <= 1500")"
  row "catalogue $size: pushed change p50 / p99" "$(calc "%.0f" "$p50") / $(calc "%.0f ms" "$p99") (before: $before_push)" "<= 200 ms" "$(meets "$p99 <= 200")"
  row "catalogue $size: DOM elements" "$(get "$c" .current.dom_elements) (before: $(get "$c" '.baseline.dom_elements // "n/a"'))" "" ""
  row "catalogue $size: cells drawn / wrong" "$(get "$c" .current.drawn_cells) / $(get "$c" .current.wrong_cells)" "wrong 0" "$(meets "$(get "$c" .current.wrong_cells) == 0")"
  row "catalogue $size: summary JSON" "$(calc "%.0f KB" "$(get "$c" .summary_bytes) / 1000")" "" ""
}

if [[ $ONLY == catalogue ]]; then
  if [[ -n ${BENCH_HANDLER:-} ]]; then
    HANDLER=$BENCH_HANDLER
    say "using $HANDLER as built (BENCH_HANDLER): the page measured is the one it embeds"
  else
    say "building: cargo build --profile $PROFILE -p pieshop"
    cargo build --profile "$PROFILE" -p pieshop
    HANDLER=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/handler
    if [[ $PROFILE == dev ]]; then HANDLER=${CARGO_TARGET_DIR:-$ROOT/target}/debug/handler; fi
  fi
  catalogue_bench
  echo
  echo "pieshop bench --only catalogue $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, profile $PROFILE, git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "load average (others share this machine): $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  row "figure" "measured" "target" "met"
  row "----------------------------------------------------" "------------------------------------" "--------------" "----"
  catalogue_rows
  exit 0
fi

# BENCH_PROFILE=ci: the lighter optimised profile (no fat LTO), for a quick comparison; figures PERFORMANCE.md
# quotes are release.
say "building $PROFILE once: cargo build --profile $PROFILE -p pieshop -p loadgen"
cargo build --profile "$PROFILE" -p pieshop -p loadgen
OUT=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE
if [[ $PROFILE == dev ]]; then OUT=${CARGO_TARGET_DIR:-$ROOT/target}/debug; fi
HANDLER=$OUT/handler
LOADGEN=$OUT/loadgen
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

if [[ $ONLY == all ]]; then
say "cold start: exec -> first 200 on /api/health, $COLD_RUNS runs each (fresh data dir and port per run)"
cold_handler=$("$LOADGEN" coldstart --binary "$HANDLER" --runs "$COLD_RUNS" --label handler --json | json_of)
cat >"$WORK/node-hello.js" <<'EOF'
require("http").createServer((req, res) => { res.end("ok"); }).listen(Number(process.env.PORT), "127.0.0.1");
EOF
cold_node=$("$LOADGEN" coldstart --binary "$(command -v node)" --runs "$COLD_RUNS" --label node --json -- "$WORK/node-hello.js" | json_of)

say "raw limit: SQLite commit rate, 5 s (WAL, synchronous=NORMAL, single-row transactions, one connection)"
sqlite=$("$LOADGEN" sqlite-commit-rate --seconds 5 --dir "$WORK" --json | json_of)

say "raw limit: hello-world axum 0.8 server, plain GET for 10 s over 32 keep-alive connections"
hello_port=$(free_port)
"$LOADGEN" hello-server --listen "127.0.0.1:$hello_port" >"$WORK/hello.log" 2>&1 &
hello_pid=$!
PIDS+=("$hello_pid")
wait_http "http://127.0.0.1:$hello_port/" 10
hello=$("$LOADGEN" hammer "http://127.0.0.1:$hello_port/" --connections 32 --seconds 10 --json | json_of)
hello_wrk=n/a
if command -v wrk >/dev/null; then
  say "cross-check with wrk (a C client, cheaper per request than reqwest): 1 thread, 32 connections, 5 s"
  hello_wrk=$(wrk -t1 -c32 -d5s "http://127.0.0.1:$hello_port/" | json_of_all | awk '/Requests\/sec/ { printf "%.0f", $2 }')
fi
kill "$hello_pid"
wait "$hello_pid" 2>/dev/null || true

say "pieshop standalone, embedded default, fresh data dir (request log to a file)"
port=$(free_port)
base="http://127.0.0.1:$port"
mkdir -p "$WORK/data"
PIESHOP_DATA_DIR="$WORK/data" PIESHOP_LISTEN="127.0.0.1:$port" "$HANDLER" >"$WORK/handler.log" 2>&1 &
handler_pid=$!
PIDS+=("$handler_pid")
wait_http "$base/api/health" 10

say "commands: $SCANNERS scanners for $WRITE_SECONDS s (receive/remove sold/count/transfer; 2% followed for lag)"
writes=$("$LOADGEN" run "$base" --scanners "$SCANNERS" --seconds "$WRITE_SECONDS" --lag-sample 0.02 --pid "$handler_pid" --json | json_of)

say "cached queries: $READERS dashboard readers for $READ_SECONDS s, no writes (If-None-Match; mostly 304 from cache)"
cached=$("$LOADGEN" run "$base" --scanners 0 --readers "$READERS" --seconds "$READ_SECONDS" --no-setup --pid "$handler_pid" --json | json_of)

say "uncached queries: $READERS readers for $READ_SECONDS s, distinct query strings (limit x location x lowStock), no writes"
uncached=$("$LOADGEN" run "$base" --scanners 0 --readers "$READERS" --seconds "$READ_SECONDS" --no-setup --queries distinct --pid "$handler_pid" --json | json_of)

say "mixed: $((SCANNERS / 2)) scanners + $((READERS / 2)) dashboard readers for $MIXED_SECONDS s (every projection empties the cache)"
mixed=$("$LOADGEN" run "$base" --scanners $((SCANNERS / 2)) --readers $((READERS / 2)) --seconds "$MIXED_SECONDS" --no-setup --pid "$handler_pid" --json | json_of)

say "offline records: a late count (before every movement) and a receipt on an item with 10,000 uncounted movements, beside a fresh item"
history=$("$LOADGEN" history "$base" --movements 10000 --samples 50 --json | json_of)
say "offline records: the same with 100,000 uncounted movements, beside a fresh item"
history_100k=$("$LOADGEN" history "$base" --movements 100000 --samples 50 --json | json_of)
state_max=$(sqlite3 -batch -noheader "$WORK/data/write.db" "SELECT max(length(state)) FROM streams;")

kill "$handler_pid"
wait "$handler_pid" 2>/dev/null || true

say "live push: $PUSH_CLIENTS official SignalR clients (WebSockets) on a fresh handler, $PUSH_COMMANDS commands 50 ms apart"
(cd "$ROOT/tests/browser" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >&2)
push_port=$(free_port)
mkdir -p "$WORK/push-data"
PIESHOP_DATA_DIR="$WORK/push-data" PIESHOP_LISTEN="127.0.0.1:$push_port" "$HANDLER" >"$WORK/handler-push.log" 2>&1 &
push_pid=$!
PIDS+=("$push_pid")
wait_http "http://127.0.0.1:$push_port/api/health" 10
push_idle_rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$push_pid/status")
push=$(node "$ROOT/tests/browser/push-bench.mjs" "http://127.0.0.1:$push_port" "$push_pid" "$PUSH_CLIENTS" "$PUSH_COMMANDS" 50 | json_of)
kill "$push_pid"
wait "$push_pid" 2>/dev/null || true

catalogue_bench
fi

es_rate=n/a
es_projection=n/a
es_lag_p99=n/a
if [[ -n "$ES_URL" ]]; then
  say "Elasticsearch: raw _bulk indexing of inventory-item documents, 1000 per request, 10 s ($ES_URL)"
  index="pieshop-bench-$$"
  for i in $(seq 1 1000); do
    printf '{"index":{"_id":"store-%d/pie-%d"}}\n{"location":"store-%d","sku":"pie-%d","name":"Pie %d","quantity":%d,"version":%d,"reorderLevel":10,"low":false,"updatedAt":"2025-01-01T00:00:00Z"}\n' \
      $((i % 5)) "$i" $((i % 5)) "$i" "$i" $((i % 97)) "$i"
  done >"$WORK/bulk.ndjson"
  docs=0
  start=$(date +%s.%N)
  end=$((SECONDS + 10))
  while ((SECONDS < end)); do
    curl -fsS -o /dev/null -H 'content-type: application/x-ndjson' --data-binary "@$WORK/bulk.ndjson" \
      "${ES_URL%/}/$index/_bulk"
    docs=$((docs + 1000))
  done
  es_rate=$(awk -v d="$docs" -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", d / (e - s) }')
  curl -fsS -o /dev/null -X DELETE "${ES_URL%/}/$index" || true
fi
if [[ -n "$ES_URL" && $ONLY == all ]]; then
  say "projection into Elasticsearch: a handler whose read model is Elasticsearch (write side embedded), $SCANNERS scanners for 10 s; events applied per second from the first command until every event is in the activity index"
  prefix="pieshop-bench-$$"
  es_port=$(free_port)
  mkdir -p "$WORK/es-data"
  ELASTICSEARCH_URL="$ES_URL" ELASTICSEARCH_INDEX_PREFIX="$prefix" PIESHOP_DATA_DIR="$WORK/es-data" PIESHOP_LISTEN="127.0.0.1:$es_port" \
    "$HANDLER" >"$WORK/handler-es.log" 2>&1 &
  es_pid=$!
  PIDS+=("$es_pid")
  wait_http "http://127.0.0.1:$es_port/api/health" 60
  start=$(date +%s.%N)
  es_writes=$("$LOADGEN" run "http://127.0.0.1:$es_port" --scanners "$SCANNERS" --seconds 10 --lag-sample 0.02 --json | json_of)
  events=$(sqlite3 -batch -noheader "$WORK/es-data/write.db" "SELECT count(*) FROM events;")
  projected() { curl -fsS "${ES_URL%/}/$prefix-activity/_count" | jq -r .count; }
  deadline=$((SECONDS + 120))
  while (( $(projected) < events )); do
    if ((SECONDS >= deadline)); then echo "bench: the projection did not catch up within 120 s" >&2; break; fi
    sleep 0.05 # polling a server, not synchronising a test: adds at most 50 ms to ~10 s
  done
  es_projection=$(awk -v d="$(projected)" -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", d / (e - s) }')
  es_lag_p99=$(get "$es_writes" .lag_p99_ms)
  kill "$es_pid"
  wait "$es_pid" 2>/dev/null || true
  curl -fsS -o /dev/null -X DELETE "${ES_URL%/}/$prefix-items-v1,$prefix-products-v1,$prefix-activity-v1" || true
fi

# CPU seconds (user + system) a process and its children so far have used, from /proc (clock ticks).
cpu_seconds() { # pid...
  local ticks=0 pid
  for pid in "$@"; do
    ticks=$((ticks + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
  done
  calc "%.3f" "$ticks / $(getconf CLK_TCK)"
}

# One run of the production path. $1: a label (unbatched, batched), $2: the app root, then funchost's delivery
# arguments. Sets fh_<label>_{cps,errors,rate,lag,lag_p99,capacity,share,cpu_funchost,cpu_handlers,deliveries}.
deployed_run() {
  local label=$1 app=$2
  shift 2
  local port dir key pid writes start deadline before_burst capacity children fh_cpu0 h_cpu0 fh_cpu1 h_cpu1
  local prefix="pieshop-bench-fh-$label-$$"
  port=$(free_port)
  dir="$WORK/funchost-$label"
  mkdir -p "$dir"
  key="bench-host-key-$$-0123456789"
  printf '{"masterKey": "bench-master-%s-0123456789", "hostKeys": {"default": "%s"}}\n' "$$" "$key" >"$dir/keys.json"
  ELASTICSEARCH_URL="$ES_URL" ELASTICSEARCH_INDEX_PREFIX="$prefix" RUST_LOG=warn FUNCHOST_LOG=warn \
    "$FUNCHOST" --app "$app" --handler "$HANDLER" --instances 2 --timer-period-ms 0 "$@" \
    --listen "127.0.0.1:$port" --keys "$dir/keys.json" --state-dir "$dir" >"$WORK/funchost-$label.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "http://127.0.0.1:$port/" 90
  summary() { curl -fsS "http://127.0.0.1:$port/funchost/events/summary"; }
  delivered() { summary | jq .acknowledged; }
  published() { summary | jq .published; }
  start=$(date +%s.%N)
  writes=$("$LOADGEN" run "http://127.0.0.1:$port" --key "$key" --scanners "$SCANNERS" --seconds 10 \
    --lag-sample 0.02 --json | json_of)
  deadline=$((SECONDS + 120))
  while (( $(delivered) < $(published) )); do
    if ((SECONDS >= deadline)); then echo "bench: Event Grid did not deliver every event within 120 s" >&2; break; fi
    sleep 0.05 # polling a server, not synchronising a test: adds at most 50 ms to ~10 s
  done
  printf -v "fh_${label}_rate" '%s' "$(awk -v d="$(delivered)" -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", d / (e - s) }')"
  printf -v "fh_${label}_lag" '%s' "$(calc "%.0f" "$(get "$writes" .lag_p50_ms)") / $(calc "%.0f ms" "$(get "$writes" .lag_p99_ms)")"
  printf -v "fh_${label}_lag_p99" '%s' "$(get "$writes" .lag_p99_ms)"
  # The Event Grid leg of that lag (publish -> first acknowledgement, as funchost saw it), before the burst below.
  printf -v "fh_${label}_acked" '%s' "$(curl -fsS "http://127.0.0.1:$port/funchost/events/summary?latency=true" |
    jq -r '.acknowledgedAfterMs | "\(.p50 // 0 | floor) / \(.p99 // 0 | floor) ms"')"
  printf -v "fh_${label}_cps" '%s' "$(calc "%.0f" "$(get "$writes" .commands_per_s)")"
  printf -v "fh_${label}_errors" '%s' "$(get "$writes" .errors)"
  # The rate above is bounded by the commands' own rate through funchost. The projection's capacity is measured
  # apart: a backlog of $BURST events (distinct items, version 1) published straight to the topic in 1,000-event
  # requests while deliveries are held (as behind an endpoint that was not taking them), then timed from their
  # release until Event Grid delivered each and a projection acknowledged it. Held, so that the bench's own
  # publishing (curl and funchost's intake, ~0.7 of the 1.1 s a 20,000-event burst took on a quiet machine) is
  # not timed as the projection's.
  mapfile -t children < <(ps -o pid= --ppid "$pid")
  before_burst=$(published)
  hold() { curl -fsS -X PUT -H "x-functions-key: bench-master-$$-0123456789" -d "$1" "http://127.0.0.1:$port/funchost/faults"; }
  hold '{"paused": true}'
  for file in "$WORK"/events/*.json; do
    curl -fsS -o /dev/null -H 'content-type: application/cloudevents-batch+json; charset=utf-8' \
      -H "aeg-sas-key: bench-master-$$-0123456789-topic" --data-binary "@$file" \
      "http://127.0.0.1:$port/eventgrid/api/events?api-version=2018-01-01"
  done
  fh_cpu0=$(cpu_seconds "$pid")
  h_cpu0=$(cpu_seconds "${children[@]}")
  start=$(date +%s.%N)
  hold '{}'
  deadline=$((SECONDS + 180))
  while (( $(delivered) < before_burst + BURST )); do
    if ((SECONDS >= deadline)); then echo "bench: Event Grid did not deliver the burst within 180 s" >&2; break; fi
    sleep 0.05 # polling a server, not synchronising a test
  done
  capacity=$(awk -v d="$(( $(delivered) - before_burst ))" -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", d / (e - s) }')
  fh_cpu1=$(cpu_seconds "$pid")
  h_cpu1=$(cpu_seconds "${children[@]}")
  printf -v "fh_${label}_capacity" '%s' "$capacity"
  printf -v "fh_${label}_share" '%s' "$(calc "%.1f%%" "100 * $capacity / $es_rate")"
  printf -v "fh_${label}_cpu_funchost" '%s' "$(calc "%.1f" "1000000 * ($fh_cpu1 - $fh_cpu0) / $BURST")"
  printf -v "fh_${label}_cpu_handlers" '%s' "$(calc "%.1f" "1000000 * ($h_cpu1 - $h_cpu0) / $BURST")"
  printf -v "fh_${label}_deliveries" '%s' "$(summary | jq -r '"\(.deliveries) deliveries, \(.invocations) invocations"')"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  curl -fsS -o /dev/null -X DELETE "${ES_URL%/}/$prefix-items-v1,$prefix-products-v1,$prefix-activity-v1" || true
}

for label in unbatched batched; do
  for figure in cps errors rate lag lag_p99 acked capacity share cpu_funchost cpu_handlers deliveries; do
    printf -v "fh_${label}_${figure}" '%s' n/a
  done
done
if [[ -n "$ES_URL" ]]; then
  # The write store is the instances' shared write.db, not funchost's Cosmos emulator: the emulator copies its
  # store on every request (its cost grows with the data; ~190 commands/s here), which would measure the test
  # double instead of the path from a commit through Event Grid to Elasticsearch.
  say "the production path: funchost, 2 instances sharing write.db, Elasticsearch; $SCANNERS scanners for 10 s through the front door with a function key; events/s from the first command until Event Grid delivered every event and a projection acknowledged it; then a backlog of $BURST events held and released; first one event per delivery and invocation, then batched"
  cargo build --profile "$PROFILE" -p funchost
  FUNCHOST=$OUT/funchost
  python3 - "$WORK/events" "$BURST" <<'PY'
import json, sys, uuid, datetime, os
os.makedirs(sys.argv[1], exist_ok=True)
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
for chunk in range(int(sys.argv[2]) // 1000):
    events = []
    for n in range(1000):
        i = chunk * 1000 + n
        location, sku = f"bulk-{i % 50}", f"pie-{i // 50}"
        events.append({"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/pieshop/inventory",
                       "subject": f"{location}/{sku}", "type": "pieshop.StockReceived", "time": now,
                       "datacontenttype": "application/json", "dataversion": "1",
                       "data": {"location": location, "sku": sku, "delta": 5, "quantity": 5, "version": 1,
                                "commandId": str(uuid.uuid4()), "recordedAt": now}})
    with open(f"{sys.argv[1]}/{chunk:02}.json", "w") as f:
        json.dump(events, f)
PY
  # Before batching: the projection's trigger without cardinality and a subscription of one event per delivery.
  mkdir -p "$WORK/app-unbatched"
  cp host.json "$WORK/app-unbatched/"
  cp -r functions "$WORK/app-unbatched/"
  jq 'del(.bindings[].cardinality)' functions/projection/function.json >"$WORK/app-unbatched/functions/projection/function.json"
  deployed_run unbatched "$WORK/app-unbatched" --max-events-per-batch 1
  # As deployed (bicep/subscription.bicep): cardinality many, 500 events or 1024 KB per delivery.
  deployed_run batched "$ROOT" --max-events-per-batch 500 --preferred-batch-size-kb 1024
fi

deployed_rows() {
  local label
  for label in unbatched batched; do
    local cps="fh_${label}_cps" errors="fh_${label}_errors" rate="fh_${label}_rate" lag="fh_${label}_lag"
    local lag_p99="fh_${label}_lag_p99" acked="fh_${label}_acked" capacity="fh_${label}_capacity" share="fh_${label}_share"
    local cpu_f="fh_${label}_cpu_funchost" cpu_h="fh_${label}_cpu_handlers" deliveries="fh_${label}_deliveries"
    row "deployed, $label: commands/s through funchost" "${!cps} (errors ${!errors})" "" ""
    row "deployed, $label: events/s behind the commands" "${!rate}" "" ""
    row "deployed, $label: accepted -> visible p50 / p99" "${!lag}" "p99 <= 1 s" "$(if [[ ${!lag_p99} == n/a ]]; then echo n/a; else meets "${!lag_p99} <= 1000"; fi)"
    row "deployed, $label: published -> acknowledged p50 / p99" "${!acked}" "" ""
    row "deployed, $label: projection capacity, events/s" "${!capacity} ($BURST held, then released)" "" ""
    row "deployed, $label: capacity vs raw _bulk docs/s" "${!share}" ">= 50%" "$(if [[ ${!capacity} == n/a ]]; then echo n/a; else meets "${!capacity} >= 0.5 * $es_rate"; fi)"
    row "deployed, $label: CPU us/event funchost" "${!cpu_f}" "" ""
    row "deployed, $label: CPU us/event 2 handlers" "${!cpu_h}" "" ""
    row "deployed, $label: burst delivered as" "${!deliveries}" "" ""
  done
}

if [[ $ONLY == deployed ]]; then
  echo
  echo "pieshop bench --only deployed $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -sr), git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "load average (others share this machine): $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo
  row "figure" "measured" "target" "met"
  row "----------------------------------------------------" "------------------------------------" "--------------" "----"
  row "Elasticsearch raw _bulk docs/s" "$es_rate" "" ""
  deployed_rows
  exit 0
fi

binary_bytes=$(stat -c %s "$HANDLER")

# ---- the table ------------------------------------------------------------------------------------------------
cold_h=$(get "$cold_handler" .median_ms)
cold_n=$(get "$cold_node" .median_ms)
cold_ratio=$(calc "%.2f" "$cold_h / $cold_n")
commit_rate=$(get "$sqlite" .commits_per_s)
hello_rate=$(get "$hello" .requests_per_s)
cps=$(get "$writes" .commands_per_s)
cmd_p99=$(get "$writes" .cmd_p99_ms)
lag_p50=$(get "$writes" .lag_p50_ms)
lag_p99=$(get "$writes" .lag_p99_ms)
cached_qps=$(get "$cached" .queries_per_s)
cached_p99=$(get "$cached" .query_p99_ms)
uncached_qps=$(get "$uncached" .queries_per_s)
uncached_p99=$(get "$uncached" .query_p99_ms)
mixed_qps=$(get "$mixed" .queries_per_s)
mixed_p99=$(get "$mixed" .query_p99_ms)
mixed_cps=$(get "$mixed" .commands_per_s)
rss_max=$(jq -rn --argjson a "$writes" --argjson b "$cached" --argjson c "$uncached" --argjson d "$mixed" \
  '[$a, $b, $c, $d | .rss_max_mb] | max')
errors=$(jq -rn --argjson a "$writes" --argjson b "$cached" --argjson c "$uncached" --argjson d "$mixed" \
  '[$a, $b, $c, $d | .errors + .query_errors] | add')
binary_mb=$(calc "%.1f" "$binary_bytes / 1048576")

echo
echo "pieshop bench $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -sr), git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "load average (others share this machine): $(cut -d' ' -f1-3 /proc/loadavg) at the end, $LOAD_BEFORE after the build"
echo
row "figure" "measured" "target" "met"
row "----------------------------------------------------" "------------------------------------" "--------------" "----"
row "cold start, median of $COLD_RUNS (release handler)" "$(calc "%.1f ms" "$cold_h")" "<= 15 ms" "$(meets "$cold_h <= 15")"
row "cold start, minimal Node.js http server" "$(calc "%.1f ms" "$cold_n")" "" ""
row "cold start handler / Node" "${cold_ratio}x" "<= 0.25x" "$(meets "$cold_ratio <= 0.25")"
row "raw: SQLite commits/s (WAL, sync=NORMAL)" "$(calc "%.0f" "$commit_rate")" "" ""
row "raw: hello-world axum req/s (loadgen hammer)" "$(calc "%.0f" "$hello_rate") (p99 $(calc "%.2f" "$(get "$hello" .p99_ms)") ms)" "" ""
row "raw: hello-world axum req/s (wrk, 1 thread)" "$hello_wrk" "" ""
row "commands/s end-to-end ($SCANNERS scanners)" "$(calc "%.0f" "$cps")" ">= 10000" "$(meets "$cps >= 10000")"
row "command latency p99" "$(calc "%.2f ms" "$cmd_p99")" "<= 10 ms" "$(meets "$cmd_p99 <= 10")"
row "commands/s as a fraction of SQLite commits/s" "$(calc "%.1f%%" "100 * $cps / $commit_rate")" ">= 50%" "$(meets "$cps >= 0.5 * $commit_rate")"
row "commands/s as a fraction of hello-world req/s" "$(calc "%.1f%%" "100 * $cps / $hello_rate")" "" ""
row "projection lag p50 / p99" "$(calc "%.1f" "$lag_p50") / $(calc "%.1f ms" "$lag_p99")" "p99 <= 50 ms" "$(meets "$lag_p99 <= 50")"
row "cached queries/s ($READERS readers, no writes)" "$(calc "%.0f" "$cached_qps")" ">= 20000" "$(meets "$cached_qps >= 20000")"
row "cached query p99" "$(calc "%.2f ms" "$cached_p99")" "<= 5 ms" "$(meets "$cached_p99 <= 5")"
row "uncached queries/s (distinct strings)" "$(calc "%.0f" "$uncached_qps") (p99 $(calc "%.2f" "$uncached_p99") ms)" "" ""
row "queries/s while writing (mixed)" "$(calc "%.0f" "$mixed_qps") (p99 $(calc "%.2f" "$mixed_p99") ms)" "" ""
row "commands/s while reading (mixed)" "$(calc "%.0f" "$mixed_cps")" "" ""
row "server RSS under load (max sampled)" "$(calc "%.1f MB" "$rss_max")" "<= 40 MB" "$(meets "$rss_max <= 40")"
push_p50=$(get "$push" .p50_ms)
push_p99=$(get "$push" .p99_ms)
push_rss=$(get "$push" .rss_connected_mb)
row "live push: command -> message p50 / p99" "$(calc "%.1f" "$push_p50") / $(calc "%.1f ms" "$push_p99") ($PUSH_CLIENTS clients)" "p99 <= 100 ms" "$(meets "$push_p99 <= 100")"
row "live push: messages missed" "$(get "$push" .missed) of $((PUSH_CLIENTS * PUSH_COMMANDS))" "0" "$(meets "$(get "$push" .missed) == 0")"
row "live push: handler RSS, clients connected" "$(calc "%.1f MB" "$push_rss") (idle $push_idle_rss MB, max $(calc "%.1f" "$(get "$push" .rss_max_mb)"))" "<= 60 MB" "$(meets "$push_rss <= 60")"
row "stripped binary (target/release/handler)" "$binary_mb MB ($binary_bytes B)" "<= 30 MB" "$(meets "$binary_mb <= 30")"
row "Elasticsearch raw _bulk docs/s" "$es_rate" "" ""
row "projection into Elasticsearch, events/s" "$es_projection (lag p99 $es_lag_p99 ms)" "" ""
if [[ $es_projection != n/a ]]; then es_share=$(calc "%.1f%%" "100 * $es_projection / $es_rate"); else es_share=n/a; fi
row "projection throughput vs raw _bulk docs/s" "$es_share" "" ""
deployed_rows
hist_ms() { echo "$(calc "%.2f" "$(get "$1" ".$2.p50_ms")") / $(calc "%.2f ms" "$(get "$1" ".$2.p99_ms")")"; }
within() { meets "$(get "$1" ".$2.p50_ms") <= 1.5 * $(get "$1" ".$2_baseline.p50_ms")"; }
history_rows() {
  local h=$1 n
  n=$(get "$h" .movements)
  row "late count p50 / p99, item with $n uncounted movements" "$(hist_ms "$h" count)" "p50 <= 1.5x fresh" "$(within "$h" count)"
  row "late count p50 / p99, fresh item (same run)" "$(hist_ms "$h" count_baseline)" "" ""
  row "receipt p50 / p99, item with $n uncounted movements" "$(hist_ms "$h" receipt)" "p50 <= 1.5x fresh" "$(within "$h" receipt)"
  row "receipt p50 / p99, fresh item (same run)" "$(hist_ms "$h" receipt_baseline)" "" ""
  row "filling $n movements: first / second half" "$(calc "%.1f" "$(get "$h" .fill_first_half_seconds)") / $(calc "%.1f s" "$(get "$h" .fill_second_half_seconds)")" "linear: halves within 1.5x" "$(meets "$(get "$h" .fill_second_half_seconds) <= 1.5 * $(get "$h" .fill_first_half_seconds)")"
}
history_rows "$history"
history_rows "$history_100k"
row "largest state JSON after them (SQLite)" "$state_max B" "" ""
catalogue_rows
row "errors (all runs; rejections not counted)" "$errors" "0" "$(meets "$errors == 0")"
