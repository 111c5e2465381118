#!/usr/bin/env bash
# Installs what the test suites need, cached, so scripts/test.sh runs on a fresh machine of this project's kind:
#   Debian: shellcheck zip unzip chromium redis-server jq sqlite3 (apt, as root or through sudo)
#   PyPI:   checkov (in a cached venv), schemathesis and openapi-spec-validator (pinned, in another cached venv),
#           pytest and azure-eventgrid (the official SDK parses what we publish)
#   npm:    azurite (the Azure Storage emulator the dead-letter replay is tested against), pinned, into the cache
#   Maven:  Elasticsearch's test distributions (9.x, and the 8.x of scripts/lib/elasticsearch-versions.sh), through
#           .ci/engines.sh install
# Everything is cached under $PIESHOP_CACHE (default ~/.cache/pieshop); a second run takes a second.
set -euo pipefail

usage() {
  echo "usage: scripts/setup.sh   (installs the test suites' tools and engines; idempotent, cached)"
}
case "${1:-}" in -h | --help) usage; exit 0 ;; "") ;; *) usage >&2; exit 2 ;; esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PIESHOP_CACHE="${PIESHOP_CACHE:-$HOME/.cache/pieshop}"
mkdir -p "$PIESHOP_CACHE"

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

packages=(shellcheck zip unzip chromium redis-server jq sqlite3)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup.sh: apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

venv="$PIESHOP_CACHE/checkov-venv"
if [[ ! -x $venv/bin/checkov ]]; then
  echo "setup.sh: checkov into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q checkov
fi
# Pinned: a new schemathesis release brings new checks and generators, which belong in a commit of their own.
openapi_tools=(schemathesis==4.32.5 openapi-spec-validator==0.9.0)
venv="$PIESHOP_CACHE/schemathesis-venv"
if [[ ! -f $venv/.installed ]] || [[ $(cat "$venv/.installed") != "${openapi_tools[*]}" ]]; then
  echo "setup.sh: ${openapi_tools[*]} into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "${openapi_tools[@]}"
  echo "${openapi_tools[*]}" >"$venv/.installed"
fi
if ! python3 -c 'import pytest, azure.eventgrid' >/dev/null 2>&1; then
  echo "setup.sh: pip install pytest azure-eventgrid"
  python3 -m pip install -q pytest azure-eventgrid
fi

azurite_version=3.37.0
azurite="$PIESHOP_CACHE/azurite"
if [[ "$(cat "$azurite/version" 2>/dev/null || true)" != "$azurite_version" ]]; then
  echo "setup.sh: npm install azurite@$azurite_version into $azurite"
  mkdir -p "$azurite"
  npm install --prefix "$azurite" --no-audit --no-fund --loglevel=error "azurite@$azurite_version"
  echo "$azurite_version" >"$azurite/version"
fi

.ci/engines.sh --only redis,elasticsearch install
# shellcheck source=scripts/lib/elasticsearch-versions.sh disable=SC1091
. scripts/lib/elasticsearch-versions.sh
ES_VERSION="$ES8_VERSION" .ci/engines.sh --only elasticsearch install
echo "setup.sh: done (cache: $PIESHOP_CACHE)"
