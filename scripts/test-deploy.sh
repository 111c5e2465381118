#!/usr/bin/env bash
# Every offline check of the deployment: shellcheck, checkov on bicep/, then the pytest suite
# in tests/deploy (package layout, deploy.sh against recording az/func stand-ins, the packaged
# handler started as the Functions host starts it).
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/test-deploy.sh [pytest arguments...]

Runs, from the repository root:
  1. shellcheck on scripts/*.sh and the shell scripts in .ci/ (if any);
  2. checkov on bicep/ (framework bicep, offline);
  3. python3 -m pytest tests/deploy [pytest arguments...].

Needs shellcheck (apt-get install shellcheck), checkov (pip install checkov), zip/unzip,
python3 with pytest, and cargo for the handler test (or PIESHOP_HANDLER_BIN=path/to/handler).
A missing tool is skipped with a message, unless PIESHOP_REQUIRE_ALL=1: then it fails.
TXT
}

case "${1:-}" in -h|--help) usage; exit 0 ;; esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

missing() {
  if [ -n "${PIESHOP_REQUIRE_ALL:-}" ]; then
    echo "test-deploy.sh: $1 is not installed and PIESHOP_REQUIRE_ALL is set" >&2
    exit 1
  fi
  echo "test-deploy.sh: SKIPPED: $1 is not installed"
}

if command -v shellcheck >/dev/null; then
  scripts=(scripts/*.sh scripts/lib/*.sh)
  if [ -d .ci ]; then
    # .ci/ holds both *.sh files and extension-less scripts: take either kind.
    for f in .ci/*; do
      [ -f "$f" ] || continue
      if [[ "$f" == *.sh ]] || head -n 1 "$f" | grep -qE '^#!(/usr/bin/env (ba)?sh|/bin/(ba)?sh)'; then
        scripts+=("$f")
      fi
    done
  fi
  echo "test-deploy.sh: shellcheck ${scripts[*]}"
  shellcheck "${scripts[@]}"
else
  missing shellcheck
fi

if command -v checkov >/dev/null; then
  echo "test-deploy.sh: checkov -d bicep --framework bicep"
  checkov -d bicep --framework bicep --skip-download --compact --quiet
else
  missing checkov
fi

echo "test-deploy.sh: python3 -m pytest tests/deploy $*"
python3 -m pytest tests/deploy "$@"
