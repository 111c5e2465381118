#!/usr/bin/env bash
# Soak: the release handler standalone under scanners + dashboard readers for N minutes, then the read model must
# equal the write model item for item. Exits non-zero on any error (intended rejections excepted) or any drift.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

usage() {
  cat <<'EOF'
usage: scripts/soak.sh [--minutes N] [--help]

  1. builds the optimised handler if needed (cargo build --profile $PIESHOP_PROFILE, default release; CI: ci)
  2. starts target/<profile>/handler standalone on a temp data dir, 127.0.0.1 only
  3. runs loadgen for N minutes (default 3): SOAK_SCANNERS (8) scanners, SOAK_READERS (4) dashboard readers
  4. prints throughput, errors and the server's RSS at start, middle and end
  5. waits (deadline 60 s) until the relay has published every event and the read model has caught up, then compares
     every item of GET /api/inventory (paged, limit=500) with write.db (table streams, state.quantity, version)
Exit status: 0 when there were no errors (409 insufficient-stock rejections are intended) and no drift; 1 otherwise.
Needs: cargo, curl, jq, sqlite3.
EOF
}

MINUTES=3
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --minutes)
      [[ $# -ge 2 && $2 =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "soak: --minutes needs a number" >&2; exit 2; }
      MINUTES=$2
      shift 2
      ;;
    *) usage >&2; exit 2 ;;
  esac
done
SCANNERS=${SOAK_SCANNERS:-8}
READERS=${SOAK_READERS:-4}

for tool in cargo curl jq sqlite3 awk; do
  command -v "$tool" >/dev/null || { echo "soak: $tool is required" >&2; exit 1; }
done

say() { printf '== %s\n' "$*"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pieshop-soak.XXXXXX")
handler_pid=
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  if [[ -n $handler_pid ]]; then
    kill "$handler_pid" 2>/dev/null || true
    wait "$handler_pid" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=scripts/lib/local-server.sh disable=SC1091
. "$ROOT/scripts/lib/local-server.sh"

# PIESHOP_PROFILE=ci (what .ci/run sets) builds the lighter profile of Cargo.toml; the default is release.
profile=${PIESHOP_PROFILE:-release}
say "building profile $profile (no-op when up to date)"
cargo build --profile "$profile" -p pieshop -p loadgen
HANDLER=${CARGO_TARGET_DIR:-$ROOT/target}/$profile/handler
LOADGEN=${CARGO_TARGET_DIR:-$ROOT/target}/$profile/loadgen

port=$(free_port)
base="http://127.0.0.1:$port"
data="$WORK/data"
mkdir -p "$data"
say "starting the handler on $base, data dir $data"
PIESHOP_DATA_DIR="$data" PIESHOP_LISTEN="127.0.0.1:$port" "$HANDLER" >"$WORK/handler.log" 2>&1 &
handler_pid=$!
wait_http "$base/api/health" 10 || { echo "soak: handler did not start" >&2; tail -n 20 "$WORK/handler.log" >&2; exit 1; }

seconds=$(awk -v m="$MINUTES" 'BEGIN { printf "%.0f", m * 60 }')
say "load: $SCANNERS scanners + $READERS dashboard readers for $seconds s"
"$LOADGEN" run "$base" --scanners "$SCANNERS" --readers "$READERS" --seconds "$seconds" --lag-sample 0.01 \
  --pid "$handler_pid" --json | tee "$WORK/run.out"
result=$(tail -n 1 "$WORK/run.out")

failed=0
errors=$(jq -r '.errors + .query_errors' <<<"$result")
if ((errors != 0)); then
  echo "soak: FAIL: $errors errors (rejections for insufficient stock are not counted)"
  failed=1
fi
kill -0 "$handler_pid" 2>/dev/null || { echo "soak: FAIL: the handler died"; exit 1; }

write_side() {
  sqlite3 -batch -noheader -separator ' ' "$data/write.db" \
    "SELECT stream, json_extract(state, '\$.quantity'), json_extract(state, '\$.version') FROM streams
     WHERE json_extract(state, '\$.kind') = 'item' ORDER BY stream;"
}
unpublished() { sqlite3 -batch -noheader "$data/write.db" "SELECT count(*) FROM outbox;"; }
read_side() {
  local cursor="" page
  while :; do
    if [[ -n $cursor ]]; then
      page=$(curl -fsS --get --data-urlencode "limit=500" --data-urlencode "cursor=$cursor" "$base/api/inventory")
    else
      page=$(curl -fsS "$base/api/inventory?limit=500")
    fi
    jq -r '.items[] | "\(.location)/\(.sku) \(.quantity) \(.version)"' <<<"$page"
    cursor=$(jq -r '.nextCursor // empty' <<<"$page")
    [[ -n $cursor ]] || break
  done | LC_ALL=C sort
}

say "waiting for the relay and the projection to catch up (deadline 60 s)"
deadline=$((SECONDS + 60))
while :; do
  left=$(unpublished)
  write_side | LC_ALL=C sort >"$WORK/write.txt"
  read_side >"$WORK/read.txt"
  if [[ $left == 0 ]] && cmp -s "$WORK/write.txt" "$WORK/read.txt"; then
    break
  fi
  if ((SECONDS >= deadline)); then
    echo "soak: FAIL: drift after 60 s ($left events unpublished); write model (<) vs read model (>):"
    diff "$WORK/write.txt" "$WORK/read.txt" | head -n 40 || true
    failed=1
    break
  fi
  sleep 0.5
done
items=$(wc -l <"$WORK/write.txt")
total=$(awk '{ s += $2 } END { print s + 0 }' "$WORK/write.txt")

echo
echo "soak summary ($MINUTES min, $SCANNERS scanners, $READERS readers)"
jq -r '"  commands      \(.commands) (\(.commands_per_s | floor)/s), applied \(.applied), rejected insufficient-stock \(.rejected), errors \(.errors)",
       "  command p99   \(.cmd_p99_ms) ms; projection lag p99 \(.lag_p99_ms) ms (\(.lag_samples) sampled, \(.lag_timeouts) not seen)",
       "  queries       \(.queries) (\(.queries_per_s | floor)/s), errors \(.query_errors), p99 \(.query_p99_ms) ms",
       "  server RSS    start \(.rss_start_mb * 10 | floor / 10) MB, middle \(.rss_mid_mb * 10 | floor / 10) MB, end \(.rss_end_mb * 10 | floor / 10) MB, max \(.rss_max_mb * 10 | floor / 10) MB"' <<<"$result"
if ((failed == 0)); then
  echo "  models        read model equals write model: $items items, $total units on hand, 0 events unpublished"
  echo "soak: PASS"
else
  echo "soak: FAIL"
fi
exit "$failed"
