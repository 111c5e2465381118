#!/usr/bin/env bash
# End-to-end check of a deployment: post one command and wait until the query side shows it.
# That exercises command -> Cosmos DB -> Event Grid -> projection -> Elasticsearch -> query.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/smoke.sh --resource-group RG [--app NAME] [--timeout SECONDS]
       scripts/smoke.sh --base-url https://APP.azurewebsites.net [--timeout SECONDS]

Posts a stock-take (`count`, quantity 0) for location smoke-test / sku smoke-check with a fresh
commandId to POST /api/commands, then polls GET /api/inventory/smoke-test/smoke-check until
the read model holds at least the version the command returned (default timeout 120 s).
It touches only that one item, so repeated runs do not grow the inventory.

  --resource-group RG  look up the app and its default function key with az
  --app NAME           the function app (default: from the pieshop-infra deployment outputs)
  --base-url URL       call this URL instead; the key comes from env PIESHOP_FUNCTION_KEY
  --timeout SECONDS    how long to wait for the query side (default 120)
  -h, --help           show this help
TXT
}

say() { printf 'smoke.sh: %s\n' "$*"; }
die() { printf 'smoke.sh: FAILED: %s\n' "$*" >&2; exit 1; }

resource_group=${PIESHOP_RESOURCE_GROUP:-}
app=""
base_url=""
timeout=120

while [ $# -gt 0 ]; do
  case "$1" in
    --resource-group) resource_group=${2:?--resource-group needs a name}; shift ;;
    --app) app=${2:?--app needs a name}; shift ;;
    --base-url) base_url=${2:?--base-url needs a URL}; shift ;;
    --timeout) timeout=${2:?--timeout needs seconds}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The key goes into a header file (curl -H @file), so it never shows in a process list.
headers="$work/headers"

if [ -z "$base_url" ]; then
  [ -n "$resource_group" ] || die "--resource-group or --base-url is required"
  if [ -z "$app" ]; then
    app=$(az deployment group show --resource-group "$resource_group" --name pieshop-infra \
            --query properties.outputs.functionAppName.value --output tsv)
  fi
  app=${app//$'\r'/}
  host=$(az functionapp show --resource-group "$resource_group" --name "$app" --query defaultHostName --output tsv)
  base_url="https://${host//$'\r'/}"
  key=$(az functionapp keys list --resource-group "$resource_group" --name "$app" --query functionKeys.default --output tsv)
else
  key=${PIESHOP_FUNCTION_KEY:-}
fi
(umask 077 && printf 'x-functions-key: %s\n' "${key//$'\r'/}" >"$headers")
base_url=${base_url%/}

# call METHOD PATH [BODY]: sets $status (000 on a transport error) and $body.
status=""
body=""
call() {
  local method=$1 path=$2 data=${3:-}
  local args=(--silent --show-error --max-time 30 -X "$method" -H @"$headers"
              -o "$work/body" -w '%{http_code}')
  [ -z "$data" ] || args+=(-H 'Content-Type: application/json' --data "$data")
  rm -f "$work/body"
  status=$(curl "${args[@]}" "$base_url$path") || status=000
  body=$(cat "$work/body" 2>/dev/null || true)
}

say "target: $base_url"
call GET /api/health
[ "$status" = 200 ] || die "GET /api/health answered $status: $body"
say "health: $body"

command_id=$(python3 -c 'import uuid; print(uuid.uuid4())')
payload=$(printf '{"commandId":"%s","type":"count","location":"smoke-test","sku":"smoke-check","quantity":0,"scannerId":"smoke"}' "$command_id")
say "POST /api/commands (count smoke-test/smoke-check, commandId $command_id)"
call POST /api/commands "$payload"
[ "$status" = 200 ] || die "POST /api/commands answered $status: $body"
version=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["version"])' <<<"$body") \
  || die "unexpected command response: $body"
say "applied as version $version; waiting for the query side (up to ${timeout}s)"

deadline=$((SECONDS + timeout))
while :; do
  call GET /api/inventory/smoke-test/smoke-check
  if [ "$status" = 200 ]; then
    seen=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d.get("version", (d.get("item") or {}).get("version"))))' <<<"$body" 2>/dev/null || true)
    if [ -n "$seen" ] && [ "$seen" -ge "$version" ]; then
      say "OK: the query side shows version $seen after $((timeout - (deadline - SECONDS)))s"
      exit 0
    fi
  fi
  [ "$SECONDS" -lt "$deadline" ] || die "the query side still shows '$status $body' after ${timeout}s"
  sleep 2
done
