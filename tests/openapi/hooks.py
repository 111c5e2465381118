"""schemathesis hooks for scripts/test-openapi.sh (loaded through tests/openapi/schemathesis.toml)."""

from datetime import datetime

import schemathesis


def _instant(text):
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return None


def _empty_window(case):
    """`/api/activity`'s `to` must be later than its `from`: JSON Schema cannot compare two parameters."""
    query = case.query if isinstance(case.query, dict) else {}
    start, end = _instant(query.get("from")), _instant(query.get("to"))
    try:
        return start is not None and end is not None and start >= end
    except TypeError:  # one with an offset, one without: not an instant schemathesis would send
        return False


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure but the two rules JSON Schema cannot state: a transfer's `to` must differ from its
    `from`, and activity's `to` must be later than its `from`. A generated transfer to the same place, or an empty
    window of time, matches the document and is refused 400, as docs/API.md says."""
    body = case.body if isinstance(case.body, dict) else {}
    same_place = body.get("type") == "transfer" and body.get("from") == body.get("to")
    excused = same_place or _empty_window(case)
    return not (excused and failure.code == "ST202" and response.status_code == 400)
