# shellcheck shell=bash
# Helpers for scripts that start local servers (bench.sh, soak.sh): source it, do not run it.

# A port nothing listens on (bash only: a refused connect means free).
free_port() {
  local port
  while :; do
    # Below Linux's ephemeral range (32768+): a port there can be taken by any outgoing connection (an
    # Elasticsearch client's, say) between this check and the bind.
    port=$((20000 + RANDOM % 12000))
    if ! (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

# Waits until the URL answers 2xx; fails (with a message) after the given seconds.
wait_http() { # url seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "$(basename "$0"): $1 did not answer within $2 s" >&2
      return 1
    fi
    sleep 0.05
  done
}
