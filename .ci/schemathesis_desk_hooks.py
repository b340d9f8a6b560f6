"""Schemathesis hooks for Bisik's desk API (loaded by .ci/run via SCHEMATHESIS_HOOKS).

One rule of the desk cannot be written in JSON Schema, and docs/FUZZING.md names it as the desk
run's only exception: `GET /api/v1/figures` refuses a range whose first month is after its last
(`from` after `to`, or after this month when `to` is left out) with 400 `months_reversed`. Each
bound alone is exactly the documented pattern; the order of the two is not expressible. A
"schema-valid request rejected" failure is dropped exactly when the answer is that refusal and
the query's months really are in the wrong order; every other failure stands.
"""

import datetime
import json

import schemathesis


def error_code(response):
    try:
        return json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def reversed_months(query):
    query = query or {}
    start, end = query.get("from") or "", query.get("to") or ""
    if not start:
        return False  # the default first month is eleven months before the last
    if not end:
        end = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m")
    return start > end  # YYYY-MM compares as text


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """False drops the failure: only the exception above, on a schema-valid request."""
    if failure.code != "ST202" or response is None:
        return True
    if response.status_code == 400 and error_code(response) == "months_reversed":
        return not reversed_months(case.query)
    return True
