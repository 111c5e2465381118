#!/usr/bin/env bash
# Build the `handler` binary the Functions host runs.
#
# Ships a static x86_64-unknown-linux-musl release build: the Functions Linux images differ in
# glibc version, and a glibc build needs glibc >= 2.34, so a static binary is the one that
# runs everywhere. If the musl toolchain is missing, it falls back to a glibc build and says so
# (use --require-static in CI so a fallback cannot slip into a deployment unnoticed).
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/build.sh [--require-static] [--glibc] [--out DIR]

Builds the `handler` binary (crate pieshop, rustls only) in release mode and copies it to
DIR/handler (default: artifacts/handler).

  --require-static  fail instead of falling back to a glibc build
  --glibc           build for the host's glibc target on purpose (not recommended for Azure)
  --out DIR         where to put the binary (default: artifacts)
  -h, --help        show this help

Needs: cargo; for the static build also `rustup target add x86_64-unknown-linux-musl`
and a musl C compiler (Debian/Ubuntu: apt-get install musl-tools) for aws-lc-sys and SQLite.
TXT
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/artifacts"
require_static=false
want_glibc=false
musl=x86_64-unknown-linux-musl

while [ $# -gt 0 ]; do
  case "$1" in
    --require-static) require_static=true ;;
    --glibc) want_glibc=true ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

cd "$root"

# rustls only: an OpenSSL or native-tls dependency would make the static build fail or,
# worse, link a system library the Functions image may not have.
for banned in openssl-sys native-tls; do
  if cargo tree -p pieshop -e normal -i "$banned" >/dev/null 2>&1; then
    echo "build.sh: $banned is in the dependency tree; pieshop must use rustls only." >&2
    cargo tree -p pieshop -e normal -i "$banned" >&2 || true
    exit 1
  fi
done

musl_ready() {
  command -v musl-gcc >/dev/null 2>&1 || return 1
  if command -v rustup >/dev/null 2>&1; then
    rustup target list --installed 2>/dev/null | grep -qx "$musl" && return 0
    echo "build.sh: adding the $musl target with rustup"
    rustup target add "$musl" >/dev/null 2>&1 && return 0
  fi
  return 1
}

target=""
if ! $want_glibc; then
  if musl_ready; then
    target=$musl
  elif $require_static; then
    echo "build.sh: the static musl build is required but the toolchain is missing." >&2
    echo "          Install it: rustup target add $musl && sudo apt-get install musl-tools" >&2
    exit 1
  else
    echo "build.sh: WARNING: musl toolchain missing; building against glibc instead." >&2
    echo "build.sh: WARNING: a glibc binary needs glibc >= 2.34 on the Functions image and may not start there." >&2
  fi
fi

mkdir -p "$out"
if [ -n "$target" ]; then
  echo "build.sh: cargo build --release --target $target -p pieshop --bin handler"
  cargo build --release --locked --target "$target" -p pieshop --bin handler
  built="$root/target/$target/release/handler"
else
  echo "build.sh: cargo build --release -p pieshop --bin handler"
  cargo build --release --locked -p pieshop --bin handler
  built="$root/target/release/handler"
fi

install -m 0755 "$built" "$out/handler"
echo "build.sh: wrote $out/handler ($(du -h "$out/handler" | cut -f1), target ${target:-host glibc})"
