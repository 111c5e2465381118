#!/usr/bin/env bash
# Real engines for pieshop's integration tests, installed from package registries, cached, started on
# 127.0.0.1 only, and stopped again:
#   - Redis          Debian's redis-server
#   - Elasticsearch  Elastic's test distribution from Maven Central
#                    (org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip)
#   - Cosmos DB      cosmium (github.com/pikami/cosmium, a Cosmos DB NoSQL emulator), built from the Go module proxy
#
# cosmium listens on every interface (":<port>") and has no bind option, so it runs inside its own network
# namespace (unshare -n, loopback only) and socat bridges 127.0.0.1:<port> on the host to it through a Unix socket.
#
# Everything goes to the cache dir (${PIESHOP_CACHE:-$HOME/.cache/pieshop}) so CI can cache one folder:
#   es/<version>/      the unpacked Elasticsearch distribution      m2/      Maven's local repository
#   bin/cosmium-<ver>  the cosmium binary                           go-mod/  Go's module cache
# Runtime data and logs live in a fresh temp dir per `start` (its path is in the env file).
set -euo pipefail

ES_VERSION="${ES_VERSION:-9.1.10}"           # server for the `elasticsearch = "=9.1.0-alpha.1"` crate
COSMIUM_VERSION="${COSMIUM_VERSION:-v0.1.20}" # newest version the Go module proxy serves here (later tags lack the v)
COSMIUM_KEY_DEFAULT="C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
ES_USER="${PIESHOP_ES_USER:-pieshop-es}"     # Elasticsearch refuses to run as root: as root, run it as this user
READY_TIMEOUT="${PIESHOP_ENGINES_READY_TIMEOUT:-180}" # seconds each engine gets to become ready

CACHE_DIR="${PIESHOP_CACHE:-$HOME/.cache/pieshop}"
ENV_FILE=""
ENGINES="redis,elasticsearch,cosmium"

usage() {
  cat <<EOF
usage: $(basename "$0") [--cache-dir DIR] [--env-file FILE] [--only redis,elasticsearch,cosmium] install|start|stop|check

  install  install/fetch/build the engines into the cache dir (idempotent; fast when cached)
  start    start the engines on 127.0.0.1, wait until each answers, write the env file
  stop     stop what 'start' started (reads the env file) and delete its temp dir
  check    one request to each running engine (ES cluster health, redis PING, cosmium GET /dbs)

options (or environment):
  --cache-dir DIR   PIESHOP_CACHE      default \$HOME/.cache/pieshop
  --env-file FILE   PIESHOP_ENV_FILE   default <cache-dir>/engines.env
  --only LIST       PIESHOP_ENGINES    default redis,elasticsearch,cosmium
  ports: REDIS_PORT, ES_PORT, COSMIUM_PORT (default: a free port each); ES_VERSION=$ES_VERSION,
  COSMIUM_VERSION=$COSMIUM_VERSION, ES_JAVA_HOME (default: a JDK >= 21 under /usr/lib/jvm), COSMIUM_KEY,
  PIESHOP_ES_PASSWORD (security on, user elastic), PIESHOP_COSMIUM_ARGS (default -DisableAuth), PIESHOP_COSMIUM_LOG_LEVEL (error), PIESHOP_KEEP_RUN_DIR=1 (keep logs).

The env file exports REDIS_URL, ELASTICSEARCH_URL, COSMIUM_ENDPOINT, COSMIUM_KEY and the PIDs: after 'start',
  set -a; . FILE; set +a        and at the end: $(basename "$0") --env-file FILE stop
EOF
}

log() { printf '[engines] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { date +%s%3N; }
elapsed() { local t0=$1; printf '%d.%03ds' $((($(now_ms) - t0) / 1000)) $((($(now_ms) - t0) % 1000)); }
wants() { [[ ",$ENGINES," == *",$1,"* ]]; }

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi
}

# ---------------------------------------------------------------------------------------------------- install

apt_install() {
  local missing=() pkg
  for pkg in "$@"; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg"); done
  if [[ ${#missing[@]} -eq 0 ]]; then log "apt: $* already installed"; return; fi
  log "apt: installing ${missing[*]}"
  # Don't let the package's init script start a system-wide redis on :6379 (Docker-like images already
  # ship a policy-rc.d that says no; put one in place only for this install if there is none).
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod +x "$policy" && added_policy=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  if [[ $added_policy -eq 1 ]]; then as_root rm -f "$policy"; fi
}

install_redis_and_tools() {
  local t0; t0=$(now_ms)
  local pkgs=(curl unzip)
  if wants redis; then pkgs+=(redis-server); fi
  if wants cosmium; then pkgs+=(socat iproute2 util-linux openssl); fi
  apt_install "${pkgs[@]}"
  log "apt step took $(elapsed "$t0")"
}

install_elasticsearch() {
  local t0 dest zipdir zip
  t0=$(now_ms)
  dest="$CACHE_DIR/es/$ES_VERSION"
  if [[ -x $dest/bin/elasticsearch ]]; then log "elasticsearch $ES_VERSION: cached in $dest"; return; fi
  command -v mvn >/dev/null || die "mvn not found (needed to fetch Elasticsearch from Maven Central)"
  zipdir="$CACHE_DIR/downloads"
  zip="$zipdir/elasticsearch-$ES_VERSION.zip"
  mkdir -p "$zipdir"
  if [[ ! -s $zip ]]; then
    log "elasticsearch $ES_VERSION: mvn dependency:copy from Maven Central"
    # (Maven's metadata for this artifact lists no 9.x version, but the 9.x zips are there: ask for the exact one)
    mvn -B -q -Dstyle.color=never -Dmaven.repo.local="$CACHE_DIR/m2" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
      -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
      -DoutputDirectory="$zipdir" -Dmdep.overWriteReleases=true >"$zipdir/mvn.log" 2>&1 ||
      { sed 's/\x1b\[[0-9;]*m//g' "$zipdir/mvn.log" >&2; die "mvn dependency:copy failed"; }
    [[ -s $zip ]] || die "mvn did not produce $zip"
  fi
  log "elasticsearch $ES_VERSION: unzipping"
  local tmp; tmp=$(mktemp -d "$CACHE_DIR/es/.unzip.XXXXXX")
  unzip -q "$zip" -d "$tmp"
  rm -rf "$dest"
  mv "$tmp/elasticsearch-$ES_VERSION" "$dest"
  rmdir "$tmp"
  rm -f "$zip" # the unpacked tree is the cache; Maven's copy stays in m2/
  log "elasticsearch $ES_VERSION: installed in $dest ($(elapsed "$t0"))"
}

install_cosmium() {
  local t0 bin build
  t0=$(now_ms)
  bin="$CACHE_DIR/bin/cosmium-$COSMIUM_VERSION"
  if [[ -x $bin ]]; then log "cosmium $COSMIUM_VERSION: cached at $bin"; return; fi
  command -v go >/dev/null || die "go not found (needed to build cosmium)"
  # `go install github.com/pikami/cosmium/cmd/server@v0.1.20` fails here: it also asks the proxy for the module's
  # version list (deprecation check), which the proxy refuses. Building the package from a throwaway module that
  # requires the exact version needs only that version.
  build="$CACHE_DIR/go-build/cosmium-$COSMIUM_VERSION"
  rm -rf "$build" && mkdir -p "$build" "$CACHE_DIR/bin"
  log "cosmium $COSMIUM_VERSION: building github.com/pikami/cosmium/cmd/server from the Go module proxy"
  (
    cd "$build"
    export GOMODCACHE="$CACHE_DIR/go-mod" GOFLAGS="-mod=mod -modcacherw" GOTOOLCHAIN=local CGO_ENABLED=0
    go mod init pieshop.invalid/cosmium-build >/dev/null 2>&1
    go mod edit -require="github.com/pikami/cosmium@$COSMIUM_VERSION"
    go build -trimpath -o "$bin.tmp" github.com/pikami/cosmium/cmd/server
  )
  mv "$bin.tmp" "$bin"
  log "cosmium $COSMIUM_VERSION: installed at $bin ($(elapsed "$t0"))"
}

ensure_es_user() {
  [[ $EUID -eq 0 ]] || return 0
  if ! getent passwd "$ES_USER" >/dev/null; then
    log "elasticsearch: creating system user $ES_USER (Elasticsearch will not run as root)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER"
  fi
}

cmd_install() {
  local t0; t0=$(now_ms)
  mkdir -p "$CACHE_DIR/es" "$CACHE_DIR/bin"
  log "install into $CACHE_DIR (engines: $ENGINES)"
  install_redis_and_tools
  if wants elasticsearch; then install_elasticsearch; ensure_es_user; fi
  if wants cosmium; then install_cosmium; fi
  log "install done in $(elapsed "$t0")"
}

# ---------------------------------------------------------------------------------------------------- start

free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port found"
}

# wait_until NAME PID CMD...: run CMD until it succeeds, the process PID dies, or READY_TIMEOUT passes
wait_until() {
  local name=$1 pid=$2; shift 2
  local deadline=$((SECONDS + READY_TIMEOUT)) delay=0.05
  until "$@" >/dev/null 2>&1; do
    if [[ -n $pid ]] && ! alive "$pid"; then die "$name exited before it was ready (logs in $RUN_DIR)"; fi
    if ((SECONDS >= deadline)); then die "$name not ready after ${READY_TIMEOUT}s (logs in $RUN_DIR)"; fi
    sleep "$delay"
    delay=0.2
  done
}

# alive = exists and is no zombie (an orphan's zombie lingers where PID 1 does not reap)
alive() { [[ -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# the RSS of a process and all its descendants, in MiB
tree_rss_mib() {
  local total=0 p
  for p in $(pstree_pids "$1"); do total=$((total + $(rss_kb "$p"))); done
  echo $((total / 1024))
}
pstree_pids() {
  local p=$1 c
  echo "$p"
  # shellcheck disable=SC2013 # /proc/PID/task/*/children is a space-separated list of pids
  for c in $(cat "/proc/$p/task/"*/children 2>/dev/null); do pstree_pids "$c"; done
}

start_redis() {
  local t0 port pid
  t0=$(now_ms)
  command -v redis-server >/dev/null || die "redis-server not installed: run '$0 install'"
  port="${REDIS_PORT:-$(free_port)}"
  log "redis: starting on 127.0.0.1:$port"
  setsid redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes --save '' --appendonly no \
    --dir "$RUN_DIR/redis" --logfile "$RUN_DIR/redis/redis.log" --daemonize no </dev/null >/dev/null 2>&1 &
  pid=$!
  echo "export REDIS_PID=$pid" >>"$ENV_TMP"
  wait_until redis "$pid" sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $port ping)\" = PONG ]"
  log "redis: ready on 127.0.0.1:$port, pid $pid, $(elapsed "$t0"), rss $(tree_rss_mib "$pid") MiB, $(redis-server --version | awk '{print $3}')"
  {
    echo "export REDIS_URL=redis://127.0.0.1:$port/"
    echo "export REDIS_PORT=$port"
  } >>"$ENV_TMP"
}

find_java() {
  if [[ -n ${ES_JAVA_HOME:-} ]]; then echo "$ES_JAVA_HOME"; return; fi
  # Elasticsearch 9 needs Java 21+ (Temurin 25 first); 8.x runs on Java 17 and is not supported on 25, so it takes
  # the first JDK from 17 up to 24.
  local d v min=21 max=99
  local -a dirs=(/usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*)
  if [[ $ES_VERSION == 8.* ]]; then min=17 max=24 dirs=(/usr/lib/jvm/*); fi
  for d in "${dirs[@]}"; do
    [[ -x $d/bin/java ]] || continue
    v=$("$d/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
    if [[ ${v%%.*} =~ ^[0-9]+$ ]] && ((${v%%.*} >= min && ${v%%.*} <= max)); then echo "$d"; return; fi
  done
  die "Elasticsearch $ES_VERSION needs Java $min to $max: set ES_JAVA_HOME (none found under /usr/lib/jvm)"
}

start_elasticsearch() {
  local t0 home port tport java pid dir
  t0=$(now_ms)
  home="$CACHE_DIR/es/$ES_VERSION"
  [[ -x $home/bin/elasticsearch ]] || die "elasticsearch $ES_VERSION not installed: run '$0 install'"
  java=$(find_java)
  port="${ES_PORT:-$(free_port)}"
  tport=$(free_port)
  dir="$RUN_DIR/elasticsearch"
  mkdir -p "$dir/data" "$dir/logs" "$dir/tmp"
  cp -R "$home/config" "$dir/config" # ES writes its keystore into the config dir: keep the cache read-only
  # 8.x's jvm.options write the GC log to logs/gc.log under the distribution (read-only here): into the run dir.
  sed -i "s|file=logs/gc.log|file=$dir/logs/gc.log|" "$dir/config/jvm.options"
  local security=false
  local -a curl_auth=()
  if [[ -n ${PIESHOP_ES_PASSWORD:-} ]]; then
    # security on (http stays plain): user 'elastic' gets this password through the keystore's bootstrap.password;
    # API keys can then be made with POST /_security/api_key
    security=true
    curl_auth=(-u "elastic:$PIESHOP_ES_PASSWORD")
    ES_JAVA_HOME="$java" ES_PATH_CONF="$dir/config" "$home/bin/elasticsearch-keystore" create >/dev/null
    printf '%s' "$PIESHOP_ES_PASSWORD" | ES_JAVA_HOME="$java" ES_PATH_CONF="$dir/config" \
      "$home/bin/elasticsearch-keystore" add -x bootstrap.password >/dev/null
  fi
  local -a run_as=()
  if [[ $EUID -eq 0 ]]; then
    # "can not run elasticsearch as root": run it as $ES_USER, on a home it can read (the cache is usually under
    # /root, which it cannot enter: then a hard-linked copy in the run dir, made in well under a second)
    ensure_es_user
    if ! runuser -u "$ES_USER" -- test -r "$home/lib" 2>/dev/null; then
      cp -al "$home" "$dir/home" 2>/dev/null || cp -a "$home" "$dir/home"
      home="$dir/home"
    fi
    chmod 755 "$RUN_DIR"
    chown -R "$ES_USER:" "$dir/data" "$dir/logs" "$dir/tmp" "$dir/config"
    chown "$ES_USER:" "$dir"
    run_as=(runuser -u "$ES_USER" --)
  fi
  log "elasticsearch $ES_VERSION: starting on 127.0.0.1:$port with $java${run_as:+ as $ES_USER}"
  # integ-test-zip ships only the modules apm, transport-netty4, x-pack-core and x-pack-security (no ML, no
  # ingest-geoip, no monitoring: nothing that downloads). Security off (unless PIESHOP_ES_PASSWORD) = plain http,
  # no auth; APM stays off.
  setsid "${run_as[@]}" env ES_JAVA_HOME="$java" ES_PATH_CONF="$dir/config" ES_TMPDIR="$dir/tmp" \
    ES_JAVA_OPTS="-Xms512m -Xmx512m ${PIESHOP_ES_EXTRA_JAVA_OPTS:-}" \
    "$home/bin/elasticsearch" -d -p "$dir/es.pid" \
    -Ecluster.name=pieshop-ci -Enode.name=pieshop-ci-node \
    -Ediscovery.type=single-node \
    -Enetwork.host=127.0.0.1 -Ehttp.port="$port" -Etransport.port="$tport" \
    -Epath.data="$dir/data" -Epath.logs="$dir/logs" \
    -Ecluster.routing.allocation.disk.threshold_enabled=false \
    -Expack.security.enabled="$security" -Etelemetry.metrics.enabled=false -Etelemetry.tracing.enabled=false \
    </dev/null >"$dir/stdout.log" 2>&1 || { cat "$dir/stdout.log" >&2; die "elasticsearch failed to start"; }
  pid=$(cat "$dir/es.pid")
  echo "export ES_PID=$pid" >>"$ENV_TMP"
  wait_until elasticsearch "$pid" \
    curl -fsS --max-time 5 "${curl_auth[@]}" "http://127.0.0.1:$port/_cluster/health?wait_for_status=yellow&timeout=5s"
  log "elasticsearch: ready on 127.0.0.1:$port, pid $pid, $(elapsed "$t0"), rss $(tree_rss_mib "$pid") MiB"
  {
    echo "export ELASTICSEARCH_URL=http://127.0.0.1:$port"
    echo "export ES_PORT=$port"
    if [[ $security == true ]]; then
      echo "export ELASTICSEARCH_USERNAME=elastic"
      echo "export ELASTICSEARCH_PASSWORD='$PIESHOP_ES_PASSWORD'"
    fi
  } >>"$ENV_TMP"
}

start_cosmium() {
  local t0 bin port key dir sock pid bridge
  t0=$(now_ms)
  bin="$CACHE_DIR/bin/cosmium-$COSMIUM_VERSION"
  [[ -x $bin ]] || die "cosmium $COSMIUM_VERSION not installed: run '$0 install'"
  command -v socat >/dev/null || die "socat not installed: run '$0 install'"
  unshare -n true 2>/dev/null || die "cannot create a network namespace (unshare -n): cosmium would listen on all interfaces"
  port="${COSMIUM_PORT:-$(free_port)}"
  key="${COSMIUM_KEY:-$COSMIUM_KEY_DEFAULT}"
  dir="$RUN_DIR/cosmium"
  sock="$dir/cosmium.sock"
  log "cosmium $COSMIUM_VERSION: starting in its own network namespace, bridged to 127.0.0.1:$port"
  # -DisableAuth by default: cosmium v0.1.20 checks the master-key signature of the pkranges request differently
  # from azure_data_cosmos 1.1.0-beta.1 (401), so the Rust SDK cannot open a container with auth on.
  # PIESHOP_COSMIUM_ARGS="" keeps auth on (the 'check' command signs its request either way).
  # Inside the namespace: loopback up, cosmium on :port (https, its built-in self-signed certificate; it advertises
  # https://127.0.0.1:port/ as its endpoint), socat from the Unix socket to it.
  # shellcheck disable=SC2016 # expanded by the inner bash, from the environment
  COSMIUM_LOG="${PIESHOP_COSMIUM_LOG_LEVEL:-error}" COSMIUM_EXTRA="${PIESHOP_COSMIUM_ARGS--DisableAuth}" COSMIUM_BIN="$bin" COSMIUM_P="$port" COSMIUM_K="$key" SOCK="$sock" DIR="$dir" \
    setsid unshare -n bash -c '
      ip link set lo up
      "$COSMIUM_BIN" -Host 127.0.0.1 -Port "$COSMIUM_P" -AccountKey "$COSMIUM_K" -LogLevel "$COSMIUM_LOG" $COSMIUM_EXTRA \
        >"$DIR/cosmium.log" 2>&1 &
      socat UNIX-LISTEN:"$SOCK",fork,unlink-early TCP:127.0.0.1:"$COSMIUM_P" >"$DIR/socat-inner.log" 2>&1 &
      wait -n
      kill 0' </dev/null >/dev/null 2>&1 &
  pid=$!
  wait_until "cosmium socket" "$pid" test -S "$sock"
  setsid socat TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:"$sock" \
    </dev/null >"$dir/socat-outer.log" 2>&1 &
  bridge=$!
  {
    echo "export COSMIUM_PID=$pid"
    echo "export COSMIUM_BRIDGE_PID=$bridge"
  } >>"$ENV_TMP"
  # any HTTP answer (cosmium answers 401 to an unsigned GET /) means it is serving
  wait_until cosmium "$pid" sh -c \
    "code=\$(curl -k -s -o /dev/null -w '%{http_code}' --max-time 5 https://127.0.0.1:$port/); [ \"\$code\" != 000 ]"
  log "cosmium: ready on https://127.0.0.1:$port/, pid $pid (+ bridge $bridge), $(elapsed "$t0"), rss $(tree_rss_mib "$pid") MiB (+ $(tree_rss_mib "$bridge") MiB bridge)"
  {
    echo "export COSMIUM_ENDPOINT=https://127.0.0.1:$port/"
    echo "export COSMIUM_KEY='$key'"
    echo "export COSMIUM_PORT=$port"
    echo "# for azure_data_cosmos against cosmium: its certificate is self-signed; Linux emulators need JSON"
    echo "export AZURE_COSMOS_EMULATOR_SERVER_CERT_VALIDATION_DISABLED=true"
    echo "export AZURE_COSMOS_BINARY_ENCODING_ENABLED=false"
  } >>"$ENV_TMP"
}

on_start_exit() {
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    cp "$ENV_TMP" "$ENV_FILE"
    log "start failed: stopping what started"
    PIESHOP_KEEP_RUN_DIR=1 cmd_stop || true
  fi
}

cmd_start() {
  local t0; t0=$(now_ms)
  if [[ -s $ENV_FILE ]] && grep -q '^export PIESHOP_ENGINES_RUN_DIR=' "$ENV_FILE"; then
    local old; old=$(sed -n 's/^export PIESHOP_ENGINES_RUN_DIR=//p' "$ENV_FILE")
    if [[ -d $old ]]; then die "engines from $ENV_FILE look still running (run dir $old): '$0 stop' first"; fi
  fi
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pieshop-engines.XXXXXX")
  mkdir -p "$RUN_DIR/redis" "$RUN_DIR/cosmium" "$(dirname "$ENV_FILE")"
  ENV_TMP="$RUN_DIR/engines.env"
  {
    echo "# written by .ci/engines.sh start at $(date -u +%FT%TZ); stop with: .ci/engines.sh --env-file $ENV_FILE stop"
    echo "export PIESHOP_ENGINES_RUN_DIR=$RUN_DIR"
  } >"$ENV_TMP"
  # on failure, stop whatever came up
  trap on_start_exit EXIT
  # one after the other (2 cores: ES's JVM boot is CPU-bound and gains nothing from company)
  if wants redis; then start_redis; fi
  if wants cosmium; then start_cosmium; fi
  if wants elasticsearch; then start_elasticsearch; fi
  cp "$ENV_TMP" "$ENV_FILE"
  trap - EXIT
  log "all up in $(elapsed "$t0"); env file: $ENV_FILE"
  cat "$ENV_FILE"
}

# ---------------------------------------------------------------------------------------------------- stop

stop_pid() { # stop_pid NAME PID [group]: TERM (the process group if asked), wait up to 30 s, then KILL
  local name=$1 pid=$2 group=${3:-} target deadline
  [[ -n $pid ]] || return 0
  alive "$pid" || { log "$name (pid $pid): not running"; return 0; }
  target=$pid
  if [[ -n $group ]]; then target="-$pid"; fi
  log "$name: stopping pid $pid"
  kill -TERM -- "$target" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while alive "$pid"; do
    if ((SECONDS >= deadline)); then
      log "$name: still running after 30 s, KILL"
      kill -KILL -- "$target" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
}

cmd_stop() {
  [[ -s $ENV_FILE ]] || { log "no env file at $ENV_FILE: nothing to stop"; return 0; }
  local REDIS_PID="" ES_PID="" COSMIUM_PID="" COSMIUM_BRIDGE_PID="" PIESHOP_ENGINES_RUN_DIR=""
  eval "$(grep -E '^export (REDIS_PID|ES_PID|COSMIUM_PID|COSMIUM_BRIDGE_PID|PIESHOP_ENGINES_RUN_DIR)=' "$ENV_FILE" | sed 's/^export //')"
  stop_pid "cosmium bridge" "$COSMIUM_BRIDGE_PID" group
  stop_pid cosmium "$COSMIUM_PID" group
  stop_pid elasticsearch "$ES_PID"
  stop_pid redis "$REDIS_PID" group
  if [[ -n $PIESHOP_ENGINES_RUN_DIR && -d $PIESHOP_ENGINES_RUN_DIR && $PIESHOP_ENGINES_RUN_DIR == */pieshop-engines.* ]]; then
    if [[ -n ${PIESHOP_KEEP_RUN_DIR:-} ]]; then
      log "kept $PIESHOP_ENGINES_RUN_DIR (logs)"
    else
      rm -rf "$PIESHOP_ENGINES_RUN_DIR"
    fi
  fi
  rm -f "$ENV_FILE"
  log "stopped"
}

# ---------------------------------------------------------------------------------------------------- check

# Cosmos DB master-key auth: HMAC-SHA256 over "verb\nresourcetype\nresourcelink\ndate\n\n" (lower case)
cosmos_auth() { # cosmos_auth VERB TYPE LINK DATE KEY
  local sig hexkey
  hexkey=$(printf '%s' "$5" | base64 -d | od -An -v -tx1 | tr -d ' \n')
  # straight into openssl: $(...) would drop the payload's two trailing newlines
  sig=$(printf '%s\n%s\n%s\n%s\n\n' "${1,,}" "${2,,}" "$3" "${4,,}" |
    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64 -w0)
  printf 'type=master&ver=1.0&sig=%s' "$sig" | sed 's/+/%2B/g; s/=/%3D/g; s/&/%26/g; s/\//%2F/g'
}

cmd_check() {
  [[ -s $ENV_FILE ]] || die "no env file at $ENV_FILE: run '$0 start' first"
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  local ok=1
  if [[ -n ${ELASTICSEARCH_URL:-} ]]; then
    local -a es_auth=()
    if [[ -n ${ELASTICSEARCH_PASSWORD:-} ]]; then es_auth=(-u "$ELASTICSEARCH_USERNAME:$ELASTICSEARCH_PASSWORD"); fi
    log "elasticsearch: GET $ELASTICSEARCH_URL/_cluster/health"
    curl -fsS --max-time 10 "${es_auth[@]}" "$ELASTICSEARCH_URL/_cluster/health" && echo || ok=0
    # (no GET /: the test distribution lacks the rest-root module and answers 405)
    curl -fsS --max-time 10 "${es_auth[@]}" "$ELASTICSEARCH_URL/_nodes/_local?filter_path=nodes.*.version,nodes.*.modules.name" && echo || ok=0
  fi
  if [[ -n ${REDIS_PORT:-} ]]; then
    log "redis: PING on 127.0.0.1:$REDIS_PORT"
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping || ok=0
  fi
  if [[ -n ${COSMIUM_ENDPOINT:-} ]]; then
    local date auth
    date=$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')
    auth=$(cosmos_auth GET dbs "" "$date" "$COSMIUM_KEY")
    log "cosmium: GET ${COSMIUM_ENDPOINT}dbs (master-key auth)"
    curl -fsS -k --max-time 10 -H "authorization: $auth" -H "x-ms-date: $date" -H "x-ms-version: 2020-07-15" \
      "${COSMIUM_ENDPOINT}dbs" && echo || ok=0
  fi
  [[ $ok -eq 1 ]] || die "check failed"
  log "check ok"
}

# ---------------------------------------------------------------------------------------------------- main

main() {
  local cmd=""
  ENGINES="${PIESHOP_ENGINES:-$ENGINES}"
  ENV_FILE="${PIESHOP_ENV_FILE:-}"
  while [[ $# -gt 0 ]]; do
    case $1 in
      --cache-dir) CACHE_DIR=${2:?}; shift 2 ;;
      --env-file) ENV_FILE=${2:?}; shift 2 ;;
      --only) ENGINES=${2:?}; shift 2 ;;
      -h | --help) usage; exit 0 ;;
      install | start | stop | check) cmd=$1; shift ;;
      *) usage >&2; exit 2 ;;
    esac
  done
  [[ -n $cmd ]] || { usage >&2; exit 2; }
  ENGINES=$(tr ',' '\n' <<<"$ENGINES" | sed 's/^es$/elasticsearch/' | paste -sd, -)
  CACHE_DIR=$(mkdir -p "$CACHE_DIR" && cd "$CACHE_DIR" && pwd)
  ENV_FILE="${ENV_FILE:-$CACHE_DIR/engines.env}"
  case $cmd in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    check) cmd_check ;;
  esac
}

main "$@"
