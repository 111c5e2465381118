#!/usr/bin/env bash
# Fault run in the deployed shape: funchost (the Functions host and Event Grid stand-in) in front of two handler
# instances sharing one embedded write store and real Elasticsearch, first with Redis and then without, while
# `loadgen chaos` drives scanners and dashboard readers and injects faults on a seeded schedule. Exits non-zero if
# anything was lost, applied twice, or the read model differs from the write model.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

usage() {
  cat <<'EOF'
usage: scripts/chaos.sh [--minutes N] [--seed S] [--json] [--help]

  1. builds the handler, loadgen and funchost (PIESHOP_PROFILE, default ci: optimised, without fat LTO;
     CHAOS_PREBUILT=1: use what is already built there)
  2. starts its own Redis and Elasticsearch (.ci/engines.sh, cached setup) on free 127.0.0.1 ports
  3. twice, N/2 minutes each (default N = 1), first with Redis then without: funchost with 2 instances, Event
     Grid batches as deployed (500 events, 1024 KB) and retries 10x faster than Event Grid's schedule;
     CHAOS_SCANNERS (8) scanners and CHAOS_READERS (2) dashboard readers through the front door; faults one at a
     time every 3-8 s from a schedule seeded by S (default: the clock; printed, so a run can be replayed):
     instanceKilled (SIGKILL through funchost, which restarts it), elasticsearchFrozen (SIGSTOP 3-8 s, SIGCONT),
     redisFlushed, deliveryTimeouts (Event Grid's answer time cut to 100 ms) and delivery5xx (30% of answered
     deliveries failed with a 500); no fault in the last 10 s
  4. then drains (every event acknowledged, the relay run), compares every item of the read model with the
     scanners' ledger (short: lost, over: doubled), and runs `handler verify` (drift: read model vs write model)
CHAOS_KEEP=1 keeps the work directory (funchost's and the instances' logs); CHAOS_FUNCHOST_LOG sets funchost's
log filter there (default error; warn shows every failed delivery).
The last line is one JSON object: {"commands", "faults": {kind: count}, "lost", "doubled", "drift", ...,
"runs": [the two runs, with lag and readers' answer times during and outside faults]}.
Needs: cargo, curl, jq, and what scripts/setup.sh installs for the engines.
EOF
}

MINUTES=1
SEED=$(date +%s)
JSON=0
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --minutes)
      [[ $# -ge 2 && $2 =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "chaos: --minutes needs a number" >&2; exit 2; }
      MINUTES=$2
      shift 2
      ;;
    --seed)
      [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || { echo "chaos: --seed needs a number" >&2; exit 2; }
      SEED=$2
      shift 2
      ;;
    --json) JSON=1; shift ;;
    *) usage >&2; exit 2 ;;
  esac
done
SCANNERS=${CHAOS_SCANNERS:-8}
READERS=${CHAOS_READERS:-2}
PROFILE=${PIESHOP_PROFILE:-ci}
SECONDS_EACH=$(awk -v m="$MINUTES" 'BEGIN { s = int(m * 30); print (s < 20 ? 20 : s) }')

for tool in cargo curl jq awk; do
  command -v "$tool" >/dev/null || { echo "chaos: $tool is required" >&2; exit 1; }
done
say() { printf '== %s\n' "$*" >&2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pieshop-chaos.XXXXXX")
FUNCHOST_PID=
ENGINES_STARTED=0
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  if [[ -n ${ES_PID:-} ]]; then kill -s CONT "$ES_PID" 2>/dev/null || true; fi
  if [[ -n $FUNCHOST_PID ]]; then
    kill -s KILL -- "-$FUNCHOST_PID" 2>/dev/null || true
    wait "$FUNCHOST_PID" 2>/dev/null || true
  fi
  if ((ENGINES_STARTED)); then .ci/engines.sh --only redis,elasticsearch --env-file "$WORK/engines.env" stop >&2 || true; fi
  if [[ -n ${CHAOS_KEEP:-} ]]; then echo "chaos: logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The handler and loadgen as the soak builds them, funchost apart (as bench.sh does): built together, the
# emulator's features would make it another build of the handler.
if [[ -z ${CHAOS_PREBUILT:-} ]]; then
  say "building $PROFILE: cargo build --profile $PROFILE -p pieshop -p loadgen, then -p funchost"
  cargo build --profile "$PROFILE" -p pieshop -p loadgen >&2
  cargo build --profile "$PROFILE" -p funchost >&2
fi
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE
if [[ $PROFILE == dev ]]; then BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug; fi

say "engines: Redis and Elasticsearch on free ports"
env -u REDIS_URL -u ELASTICSEARCH_URL .ci/engines.sh --only redis,elasticsearch --env-file "$WORK/engines.env" start >&2
ENGINES_STARTED=1
# shellcheck disable=SC1091
. "$WORK/engines.env"
ENGINE_REDIS_URL=$REDIS_URL
unset REDIS_URL
REDIS_ADDRESS=${ENGINE_REDIS_URL#redis://}
REDIS_ADDRESS=${REDIS_ADDRESS%%/*}

# One run: $1 its name, $2 the Redis URL (empty: none). Prints the run's JSON line (with drift) on stdout.
run() {
  local name=$1 redis=$2 state="$WORK/$1" prefix="chaos-$1-$$" status=0 report drift
  local master="chaos-master-$$-0123456789" key="chaos-host-$$-0123456789"
  mkdir -p "$state"
  printf '{"masterKey": "%s", "hostKeys": {"default": "%s"}}\n' "$master" "$key" >"$state/keys.json"
  say "$name: funchost, 2 instances, Elasticsearch${redis:+ and Redis}, $SECONDS_EACH s, seed $SEED"
  (
    unset COSMOS_ENDPOINT EVENTGRID_TOPIC_ENDPOINT PIESHOP_DATA_DIR
    # shellcheck disable=SC2030 # the instances' own environment
    if [[ -n $redis ]]; then export REDIS_URL=$redis REDIS_KEY_PREFIX=$prefix; fi
    ELASTICSEARCH_INDEX_PREFIX=$prefix PIESHOP_RELAY_MIN_AGE_MS=2000 RUST_LOG=warn FUNCHOST_LOG=${CHAOS_FUNCHOST_LOG:-error} \
      exec setsid "$BIN/funchost" --app "$ROOT" --handler "$BIN/handler" --instances 2 --listen 127.0.0.1:0 \
      --keys "$state/keys.json" --state-dir "$state" --timer-period-ms 5000 --time-scale 10 \
      --max-events-per-batch 500 --preferred-batch-size-kb 1024
  ) >"$state/funchost.log" 2>&1 &
  FUNCHOST_PID=$!
  local deadline=$((SECONDS + 120))
  until [[ -s $state/front-door ]]; do
    if ((SECONDS >= deadline)) || ! kill -0 "$FUNCHOST_PID" 2>/dev/null; then
      echo "chaos: funchost did not start (log: $state/funchost.log)" >&2
      cat "$state/funchost.log" >&2
      return 1
    fi
    sleep 0.1 # waiting for a file a server writes once ready, not synchronising a test
  done
  local args=("$(cat "$state/front-door")" --key "$key" --master "$master" --seconds "$SECONDS_EACH" --seed "$SEED"
    --scanners "$SCANNERS" --readers "$READERS" --elasticsearch-pid "$ES_PID" --json)
  if [[ -n $redis ]]; then args+=(--redis "$REDIS_ADDRESS"); fi
  "$BIN/loadgen" chaos "${args[@]}" >"$state/chaos.out" || status=$?
  grep -v '^{' "$state/chaos.out" >&2 || true
  report=$(tail -n 1 "$state/chaos.out")
  kill -s KILL -- "-$FUNCHOST_PID" 2>/dev/null || true
  wait "$FUNCHOST_PID" 2>/dev/null || true
  FUNCHOST_PID=
  local verified
  verified=$(ELASTICSEARCH_INDEX_PREFIX="$prefix" PIESHOP_DATA_DIR="$state/data" RUST_LOG=error \
    "$BIN/handler" verify) || true
  printf '%s\n' "$verified" >&2
  drift=$(awk '/^verify: / { print $2 }' <<<"$verified")
  [[ $report == \{* ]] || report='{"lost": -1, "doubled": -1}'
  jq -c --arg name "$name" --argjson drift "${drift:--1}" --argjson status "$status" \
    '. + {run: $name, drift: $drift, exit: $status}' <<<"$report"
}

with=$(run with-redis "$ENGINE_REDIS_URL")
without=$(run without-redis "")
summary=$(jq -c -s '{
  commands: (map(.commands // 0) | add),
  faults: (reduce (.[].faults // {} | to_entries[]) as $e ({}; .[$e.key] += $e.value)),
  lost: (map(.lost) | add), doubled: (map(.doubled) | add), drift: (map(.drift) | add),
  deadLettered: (map(.deadLettered // 0) | add), retries: (map(.retries // 0) | add),
  seed: .[0].seed, runs: .}' <<<"$with
$without")
if ((JSON == 0)); then
  jq -r '.runs[] | "chaos \(.run): \(.commands) commands, faults \(.faults), lost \(.lost), doubled \(.doubled), drift \(.drift)"' <<<"$summary"
fi
echo "$summary"
jq -e '.lost == 0 and .doubled == 0 and .drift == 0 and all(.runs[]; .exit == 0)' <<<"$summary" >/dev/null
