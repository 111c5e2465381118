#!/usr/bin/env bash
# Give one barcode scanner (or one dashboard user) its own function key, so it can be revoked
# alone. Keys are named `scanner-<name>` on the function they unlock.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/add-scanner.sh --resource-group RG [--app NAME] [--function command|query] NAME
       scripts/add-scanner.sh --resource-group RG [--app NAME] [--function ...] --revoke NAME
       scripts/add-scanner.sh --resource-group RG [--app NAME] [--function ...] --list

Creates (or, if it exists, rotates) the function key `scanner-NAME` on the `command` function
and prints its value once: configure the scanner to send it as the x-functions-key header.
Use --function query for a key that reads (dashboard, reports): the same key value is also set
on the `negotiate` function, which a wall display calls for live push (in Azure it is a function
of its own; without the key there it gets 401 and falls back to polling). --revoke deletes the
key (from both, for query): the scanner gets 401 from then on. --list prints key names, never values.

  --resource-group RG  the resource group scripts/deploy.sh deployed into (env PIESHOP_RESOURCE_GROUP)
  --app NAME           the function app (default: read from the pieshop-infra deployment's outputs)
  --function FN        command (default) or query
  -h, --help           show this help
TXT
}

say() { printf 'add-scanner.sh: %s\n' "$*" >&2; }
die() { printf 'add-scanner.sh: error: %s\n' "$*" >&2; exit 1; }

resource_group=${PIESHOP_RESOURCE_GROUP:-}
app=""
function_name="command"
action=add
scanner=""

while [ $# -gt 0 ]; do
  case "$1" in
    --resource-group) resource_group=${2:?--resource-group needs a name}; shift ;;
    --app) app=${2:?--app needs a name}; shift ;;
    --function) function_name=${2:?--function needs command or query}; shift ;;
    --revoke) action=revoke ;;
    --list) action=list ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) [ -z "$scanner" ] || die "one scanner name at a time"; scanner=$1 ;;
  esac
  shift
done

[ -n "$resource_group" ] || die "--resource-group is required (or set PIESHOP_RESOURCE_GROUP)"
case "$function_name" in command|query) ;; *) die "--function must be command or query" ;; esac
if [ "$action" != list ]; then
  [[ "$scanner" =~ ^[a-z0-9][a-z0-9-]{0,39}$ ]] \
    || die "scanner name must be 1-40 lowercase letters, digits or '-', e.g. store-1-till-2"
fi

az account show --output none 2>/dev/null || die "not logged in to Azure: run 'az login' first"
if [ -z "$app" ]; then
  app=$(az deployment group show --resource-group "$resource_group" --name pieshop-infra \
          --query properties.outputs.functionAppName.value --output tsv)
  app=${app//$'\r'/}
  [ -n "$app" ] || die "could not find the function app; pass --app NAME"
fi

key_name="scanner-$scanner"
# A query key reads through two functions: `query` and live push's `negotiate` (README, "Live push").
functions=("$function_name")
if [ "$function_name" = query ]; then functions+=(negotiate); fi
app_args=(--resource-group "$resource_group" --name "$app")
case "$action" in
  add)
    say "creating function key $key_name on $app/$function_name (re-running rotates it)"
    value=$(az functionapp function keys set "${app_args[@]}" --function-name "$function_name" --key-name "$key_name" --query value --output tsv)
    value=${value//$'\r'/}
    [ -n "$value" ] || die "az returned no key value for $key_name"
    for extra in "${functions[@]:1}"; do
      say "setting the same key $key_name on $app/$extra"
      az functionapp function keys set "${app_args[@]}" --function-name "$extra" --key-name "$key_name" \
        --key-value "$value" --output none
    done
    say "key for $scanner (shown once; send it as the x-functions-key header):"
    printf '%s\n' "$value"
    ;;
  revoke)
    for fn in "${functions[@]}"; do
      say "deleting function key $key_name on $app/$fn"
      az functionapp function keys delete "${app_args[@]}" --function-name "$fn" --key-name "$key_name"
    done
    say "revoked: requests with that key now get 401"
    ;;
  list)
    say "key names on $app/$function_name:"
    az functionapp function keys list "${app_args[@]}" --function-name "$function_name" --query "keys(@)" --output tsv
    ;;
esac
