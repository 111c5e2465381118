#!/usr/bin/env bash
# Deploy pieshop to Azure in one run: infrastructure (bicep), code (func publish), then the
# Event Grid subscription, which can only be created once the `projection` function exists.
# Every step is idempotent, so re-running converges instead of duplicating.
set -euo pipefail

usage() {
  cat <<'TXT'
Usage: scripts/deploy.sh --resource-group NAME [options]

Deploys everything into one resource group:
  1. checks that `az` is logged in (az login, or azure/login in CI);
  2. builds the static `handler` binary and the zip (scripts/build.sh, scripts/package.sh);
  3. az group create, then az deployment group create with bicep/main.bicep (with Azure SignalR
     Service for live push unless enableSignalR is false in bicep/main.parameters.json);
  4. func azure functionapp publish (the zip's contents);
  5. waits until the host lists the `projection` function, then deploys
     bicep/subscription.bicep (Event Grid -> projection, with retries and dead-lettering).

Options:
  --resource-group NAME  target resource group (env PIESHOP_RESOURCE_GROUP)
  --location REGION      region for a new resource group (env PIESHOP_LOCATION, default westeurope)
  --name-prefix PREFIX   resource name prefix, 3-11 lowercase letters/digits (default from
                         bicep/main.parameters.json)
  --package ZIP          publish this zip instead of building one
  --binary PATH          package this already-built handler binary instead of building one
  --what-if              show what the infrastructure deployment would change; change nothing
  -h, --help             show this help

Secrets are read from the environment only and written to Key Vault through a temporary
parameters file, never a command-line argument:
  ELASTICSEARCH_URL      your Elasticsearch cluster URL (needed on the first deployment)
  ELASTICSEARCH_API_KEY  its API key (needed on the first deployment; later runs keep the stored one)
When both are set, the cluster is checked first, before anything is deployed: Elasticsearch 8.x or
9.x, and a key with the cluster privilege monitor and create_index, delete_index, manage, read
and write on <ELASTICSEARCH_INDEX_PREFIX, default pieshop>-*.
TXT
}

say() { printf 'deploy.sh: %s\n' "$*"; }
die() { printf 'deploy.sh: error: %s\n' "$*" >&2; exit 1; }
# Print each Azure call before running it. Arguments never carry secrets (see above).
run() { say "+ $*" >&2; "$@"; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
resource_group=${PIESHOP_RESOURCE_GROUP:-}
location=${PIESHOP_LOCATION:-westeurope}
name_prefix=""
package=""
binary=""
what_if=false
infra_deployment=pieshop-infra
subscription_deployment=pieshop-projection-subscription
# How long to wait for the published app to list its functions (seconds).
function_wait=${PIESHOP_FUNCTION_WAIT_SECONDS:-300}

while [ $# -gt 0 ]; do
  case "$1" in
    --resource-group) resource_group=${2:?--resource-group needs a name}; shift ;;
    --location) location=${2:?--location needs a region}; shift ;;
    --name-prefix) name_prefix=${2:?--name-prefix needs a value}; shift ;;
    --package) package=${2:?--package needs a zip}; shift ;;
    --binary) binary=${2:?--binary needs a path}; shift ;;
    --what-if) what_if=true ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

[ -n "$resource_group" ] || die "--resource-group is required (or set PIESHOP_RESOURCE_GROUP)"
command -v az >/dev/null || die "the Azure CLI (az) is not installed: https://aka.ms/azure-cli"
$what_if || command -v func >/dev/null || die "Azure Functions Core Tools (func) v4 is not installed: https://aka.ms/func-core-tools"

# 1. Login check: fail early with a clear message instead of half-way through.
account=$(az account show --query "[name, id]" --output tsv 2>/dev/null) \
  || die "not logged in to Azure: run 'az login' (CI: azure/login) first"
say "subscription: ${account//$'\t'/ }"

infra_params=(
  --resource-group "$resource_group"
  --name "$infra_deployment"
  --template-file "$root/bicep/main.bicep"
  --parameters "@$root/bicep/main.parameters.json"
)
[ -z "$name_prefix" ] || infra_params+=(--parameters "namePrefix=$name_prefix")

# Secrets go into a private temporary parameters file, removed on exit.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
secret_params="$work/secrets.parameters.json"
(umask 077 && python3 - "$secret_params" <<'PY'
import json, os, sys
params = {}
for env, name in (("ELASTICSEARCH_URL", "elasticsearchUrl"), ("ELASTICSEARCH_API_KEY", "elasticsearchApiKey")):
    if os.environ.get(env):
        params[name] = {"value": os.environ[env]}
with open(sys.argv[1], "w") as f:
    json.dump({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
               "contentVersion": "1.0.0.0", "parameters": params}, f)
PY
)
[ -n "${ELASTICSEARCH_URL:-}" ] || say "ELASTICSEARCH_URL not set: keeping the URL already stored in Key Vault"
[ -n "${ELASTICSEARCH_API_KEY:-}" ] || say "ELASTICSEARCH_API_KEY not set: keeping the key already stored in Key Vault"
infra_params+=(--parameters "@$secret_params")

# Elasticsearch, before anything changes: a supported major, and a key that may do what the read model does.
# curl reads the URL and the key from a private config file, so neither is ever a command-line argument.
# shellcheck source=scripts/lib/elasticsearch-versions.sh disable=SC1091
. "$root/scripts/lib/elasticsearch-versions.sh"
es_call() { # method path [json body]: prints the HTTP status, the answer goes to $work/es.out
  (umask 077 && python3 - "$work/es.curl" "$1" "$2" "${3:-}" <<'PY'
import json, os, sys
path, method, target, body = sys.argv[1:]
quote = lambda v: json.dumps(v)  # curl's config strings take the same escapes as JSON's
lines = [f"url = {quote(os.environ['ELASTICSEARCH_URL'].rstrip('/') + target)}",
         f"request = {quote(method)}",
         f"header = {quote('Authorization: ApiKey ' + os.environ['ELASTICSEARCH_API_KEY'])}",
         f"header = {quote('Content-Type: application/json')}"]
if body:
    lines.append(f"data = {quote(body)}")
open(path, "w").write("\n".join(lines) + "\n")
PY
  )
  curl -sS --max-time 20 --config "$work/es.curl" -o "$work/es.out" -w '%{http_code}' || echo "unreachable"
}
es_field() { # key...: that member of the last answer
  python3 -c 'import functools, json, sys; print(functools.reduce(lambda d, k: d[k], sys.argv[2:], json.load(open(sys.argv[1]))))' \
    "$work/es.out" "$@"
}
if [ -n "${ELASTICSEARCH_URL:-}" ] && [ -n "${ELASTICSEARCH_API_KEY:-}" ]; then
  es_host=$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).hostname)' "$ELASTICSEARCH_URL")
  status=$(es_call GET /)
  case "$status" in
    200) ;;
    401) die "Elasticsearch at $es_host refused ELASTICSEARCH_API_KEY (401): create a new API key" ;;
    403) die "the API key may not read the version of Elasticsearch at $es_host (403): it needs the cluster privilege monitor" ;;
    *) die "Elasticsearch at $es_host did not answer GET / (status $status)" ;;
  esac
  es_version=$(es_field version number)
  [[ " $ES_SUPPORTED_MAJORS " == *" ${es_version%%.*} "* ]] \
    || die "Elasticsearch $es_version at $es_host is not supported: the read model supports the majors $ES_SUPPORTED_MAJORS"
  es_prefix=${ELASTICSEARCH_INDEX_PREFIX:-pieshop}
  wanted='["create_index", "delete_index", "manage", "read", "write"]'
  status=$(es_call POST /_security/user/_has_privileges \
    "{\"cluster\": [\"monitor\"], \"index\": [{\"names\": [\"$es_prefix-*\"], \"privileges\": $wanted}]}")
  [ "$status" = 200 ] || die "could not check the API key's privileges on Elasticsearch at $es_host (status $status)"
  if [ "$(es_field has_all_requested)" != True ]; then
    missing=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(", ".join([f"cluster {p}" for p, ok in d.get("cluster", {}).items() if not ok]
                + [f"{p} on {i}" for i, ps in d.get("index", {}).items() for p, ok in ps.items() if not ok]))' "$work/es.out")
    die "the API key lacks what the read model needs on Elasticsearch at $es_host: $missing"
  fi
  say "Elasticsearch $es_version at $es_host: supported, and the key may manage, write and read $es_prefix-*"
fi

if $what_if; then
  if [ "$(az group exists --name "$resource_group")" != "true" ]; then
    say "resource group $resource_group does not exist: a real run would create it in $location and deploy everything in bicep/main.bicep"
    exit 0
  fi
  run az deployment group what-if "${infra_params[@]}"
  say "what-if only: a real run would then publish the code and deploy bicep/subscription.bicep"
  exit 0
fi

# 2. Build and package (unless given a zip).
if [ -z "$package" ]; then
  package="$work/pieshop.zip"
  if [ -z "$binary" ]; then
    run "$root/scripts/build.sh" --out "$work/bin"
    binary="$work/bin/handler"
  fi
  run "$root/scripts/package.sh" --binary "$binary" --out "$package"
fi
[ -f "$package" ] || die "no package at $package"

# 3. Infrastructure.
run az group create --name "$resource_group" --location "$location" --output none
outputs=$(run az deployment group create "${infra_params[@]}" \
  --query "[properties.outputs.functionAppName.value, properties.outputs.eventGridTopicName.value, properties.outputs.storageAccountName.value, properties.outputs.deadLetterContainerName.value, properties.outputs.commandUrl.value, properties.outputs.queryUrl.value, properties.outputs.dashboardUrl.value, properties.outputs.signalrEndpoint.value]" \
  --output tsv)
outputs=${outputs//$'\r'/}
read -r app topic storage dead_letters command_url query_url dashboard_url signalr_endpoint <<<"$outputs"
[ -n "${dashboard_url:-}" ] || die "the infrastructure deployment returned no outputs"
say "function app: $app"

# 4. Code. func publishes the current directory; it writes the custom handler with its
# execute bit. The local.settings.json here only tells func the runtime and is not uploaded.
site="$work/site"
mkdir -p "$site"
unzip -q "$package" -d "$site"
printf '{"IsEncrypted": false, "Values": {"FUNCTIONS_WORKER_RUNTIME": "custom"}}\n' >"$site/local.settings.json"
printf 'local.settings.json\n' >"$site/.funcignore"
(cd "$site" && run func azure functionapp publish "$app")

# 5. Event Grid subscription. Its AzureFunction endpoint must name an indexed function, which
# appears shortly after publishing: poll for it with a deadline.
deadline=$((SECONDS + function_wait))
until az functionapp function show --resource-group "$resource_group" --name "$app" \
        --function-name projection --query name --output tsv >/dev/null 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || die "the projection function did not appear within ${function_wait}s"
  say "waiting for the projection function to be listed..."
  sleep 5
done
run az deployment group create \
  --resource-group "$resource_group" \
  --name "$subscription_deployment" \
  --template-file "$root/bicep/subscription.bicep" \
  --parameters "topicName=$topic" "functionAppName=$app" \
               "storageAccountName=$storage" "deadLetterContainerName=$dead_letters" \
  --output none

say "deployed. Function URLs (each needs a function key; see scripts/add-scanner.sh):"
say "  commands:  $command_url"
say "  queries:   $query_url"
say "  dashboard: $dashboard_url"
if [ -n "${signalr_endpoint:-}" ]; then
  say "live push: $signalr_endpoint (hub inventory; negotiate is POST /api/negotiate, its own function key)"
else
  say "live push: off (enableSignalR=false): dashboards long-poll"
fi
say "check it end to end: scripts/smoke.sh --resource-group $resource_group"
