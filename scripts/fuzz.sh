#!/usr/bin/env bash
# Fuzzes the wire contract and the host envelopes with cargo fuzz (libFuzzer + AddressSanitizer): each target
# runs for N seconds from its corpus, then prints executions, speed, corpus size and crashes. Fails on a crash.
#
# Needs cargo-fuzz (installed from crates.io when missing) and nightly compiler features: the stable
# toolchain is used with RUSTC_BOOTSTRAP=1, so no nightly toolchain has to be installed.
set -euo pipefail

usage() {
  echo "usage: scripts/fuzz.sh [--seconds N] [target ...]   (targets: command_body event_decode host_envelope export; N defaults to 20)" >&2
  exit 2
}

seconds=20
targets=()
while (($#)); do
  case "$1" in
    --seconds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; seconds="$2"; shift 2 ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=(command_body event_decode host_envelope export)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
if [[ ! -f Cargo.lock ]]; then
  echo "== seeding fuzz/Cargo.lock from the workspace's, so the fuzzed code builds with the app's versions"
  cp ../Cargo.lock Cargo.lock
fi

echo "== building fuzz targets (release, AddressSanitizer): ${targets[*]}"
for target in "${targets[@]}"; do
  cargo fuzz build -O "$target"
done

logs="$root/fuzz/artifacts/logs"
mkdir -p "$logs"
failed=()
for target in "${targets[@]}"; do
  corpus="corpus/$target"
  artifacts="artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  before=$(find "$artifacts" -type f | wc -l)
  log="$logs/$target.log"
  echo "== fuzzing $target for ${seconds}s (log: $log)"
  status=0
  cargo fuzz run -O "$target" "$corpus" -- -max_total_time="$seconds" -max_len=8192 -timeout=10 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  crashes=$(($(find "$artifacts" -type f | wc -l) - before))
  executions=$(awk '/stat::number_of_executed_units/ {print $NF}' "$log" | tail -n 1)
  speed=$(awk '/stat::average_exec_per_sec/ {print $NF}' "$log" | tail -n 1)
  size=$(find "$corpus" -type f | wc -l)
  echo "   $target: executions=${executions:-?} exec/s=${speed:-?} corpus=$size files crashes=$crashes exit=$status"
  if ((status != 0 || crashes > 0)); then
    failed+=("$target")
    grep -m 1 -A 12 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log" >&2 || tail -n 20 "$log" >&2
    find "$artifacts" -type f | sed 's/^/   artifact: fuzz\//' >&2
  fi
done

if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]} (reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O <target> <artifact>)" >&2
  exit 1
fi
echo "== no crash in ${targets[*]}"
