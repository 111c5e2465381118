# shellcheck shell=bash
# The Elasticsearch versions pieshop supports and tests, in one place: source it, do not run it.
# The read model speaks plain JSON (the client's default `application/json`, no `compatible-with`), which each
# major answers in its own API; every call it makes (bulk with external versions, search with search_after and
# terms aggregations, aliases, refresh) has the same shape on 8 and 9. The read-model contract suite runs on both.

# Majors the read model supports (deploy.sh refuses a cluster outside them).
# shellcheck disable=SC2034
ES_SUPPORTED_MAJORS="8 9"
# The 8.x test distribution the contract suite also runs on (the 9.x one is .ci/engines.sh's default).
# shellcheck disable=SC2034
ES8_VERSION="${PIESHOP_ES8_VERSION:-8.19.0}"
