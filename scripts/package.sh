#!/usr/bin/env bash
# Make the zip the Functions host expects: the zip root is the app root, holding host.json,
# one folder per function, and the `handler` executable named by host.json.
#
# The execute bit matters: a mounted package is read-only, so a handler without it cannot be
# made executable later. `zip` on Linux stores Unix modes, which is why we build the zip here
# rather than with a tool that drops them.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/package.sh [--binary PATH] [--out ZIP]

Builds the deployment zip: host.json, command/ query/ projection/ relay/ (each with its
function.json) and `handler` (mode 0755) at the zip root. local.settings.json is never included.

  --binary PATH  the handler binary to package (default: artifacts/handler, from build.sh)
  --out ZIP      where to write the zip (default: artifacts/pieshop.zip)
  -h, --help     show this help
TXT
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binary="$root/artifacts/handler"
out="$root/artifacts/pieshop.zip"

while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=${2:?--binary needs a path}; shift ;;
    --out) out=${2:?--out needs a path}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "package.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ ! -f "$binary" ]; then
  echo "package.sh: no binary at $binary; run scripts/build.sh or pass --binary PATH" >&2
  exit 1
fi
command -v zip >/dev/null || { echo "package.sh: needs zip (apt-get install zip)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

cp "$root/host.json" "$stage/"
for dir in "$root"/functions/*/; do
  name=$(basename "$dir")
  mkdir -p "$stage/$name"
  cp "$dir/function.json" "$stage/$name/"
done
install -m 0755 "$binary" "$stage/handler"

mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
rm -f "$out"
# -X: no extra (uid/gid, timestamps) fields, so the zip depends only on content and mode.
(cd "$stage" && zip -q -X -r "$out" .)
echo "package.sh: wrote $out"
unzip -Z1 "$out" | sed 's/^/  /'
