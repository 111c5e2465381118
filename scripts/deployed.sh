#!/usr/bin/env bash
# The deployed shape on this machine: funchost (the Functions host and Event Grid stand-in) in front of N handler
# instances sharing the Cosmos DB SDK's emulator, and Elasticsearch/Redis when ELASTICSEARCH_URL/REDIS_URL are set.
#   usage: scripts/deployed.sh [funchost options...]   (scripts/deployed.sh --help lists them)
# Builds the handler and funchost (debug) first. State (keys, dead letters, embedded data) goes to .funchost/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
echo "deployed.sh: cargo build -p pieshop -p funchost"
cargo build -q -p pieshop -p funchost
exec "$target/debug/funchost" --app "$root" --handler "$target/debug/handler" --cosmos-emulator "$@"
