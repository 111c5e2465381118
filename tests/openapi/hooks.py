"""schemathesis hooks for scripts/test-openapi.sh (loaded through tests/openapi/schemathesis.toml)."""

import schemathesis


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure but the one rule JSON Schema cannot state: a transfer's `to` must differ from its
    `from`. A generated transfer to the same place matches the document and is refused 400, as docs/API.md says."""
    body = case.body if isinstance(case.body, dict) else {}
    same_place = body.get("type") == "transfer" and body.get("from") == body.get("to")
    return not (same_place and failure.code == "ST202" and response.status_code == 400)
