"""Schemathesis hooks for Bisik's intake API (loaded by .ci/run via SCHEMATHESIS_HOOKS).

Two rules of the server cannot be written in JSON Schema, and docs/FUZZING.md names them as the
run's only exceptions. These hooks keep generated requests from tripping them by accident, and
drop a failure only when it is exactly one of them, without hiding any other behaviour:

1. A follow-up code ends in a Damm check digit. A string that matches the documented pattern
   gets the right check digit here, so the positive examples are codes a reporter could hold
   (the server then answers 404 for an unknown code, as documented). Strings that do not match
   the pattern are left alone, so negative examples stay negative. The coverage phase builds its
   cases without these hooks, so a "schema-valid request rejected" failure is dropped when the
   answer is 400 `invalid_code` and the code matches the pattern but fails the check digit.
2. A text that holds a follow-up code (20 digits passing the check) is refused with 422
   `contains_code`, wherever it stands in the text. Bodies whose text fields (any field but
   `code`) hold 20 or more ASCII digits are dropped from generation; that is a superset of
   the refused texts and leaves every other text in. A "schema-valid request rejected" failure
   answered 422 `contains_code` is dropped too.
The summary line counts what filter_failure dropped.
"""

import json

import re

import schemathesis

DAMM = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
]
SEP = "[ \\-.\\t\u00a0\u202f]"
CODE = re.compile(f"^{SEP}*1({SEP}*[0-9]){{19}}{SEP}*$")


def damm(digits):
    acc = 0
    for d in digits:
        acc = DAMM[acc][d]
    return acc


def with_check_digit(code):
    positions = [i for i, c in enumerate(code) if "0" <= c <= "9"]
    digits = [int(code[i]) for i in positions[:19]]
    last = positions[19]
    return code[:last] + str(damm(digits)) + code[last + 1 :]


@schemathesis.hook
def map_body(context, body):
    if isinstance(body, dict):
        code = body.get("code")
        if isinstance(code, str) and CODE.match(code):
            body = dict(body, code=with_check_digit(code))
    return body


@schemathesis.hook
def filter_body(context, body):
    if not isinstance(body, dict):
        return True
    for key, value in body.items():
        if key != "code" and isinstance(value, str):
            if sum(1 for c in value if "0" <= c <= "9") >= 20:
                return False
    return True


def error_code(response):
    try:
        return json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def bad_check_digit(code):
    if not isinstance(code, str) or not CODE.match(code):
        return False
    digits = [int(c) for c in code if "0" <= c <= "9"]
    return damm(digits) != 0


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """False drops the failure: only the two exceptions above, on a schema-valid request."""
    if failure.code != "ST202" or response is None:
        return True
    body = case.body if isinstance(case.body, dict) else {}
    if response.status_code == 400 and error_code(response) == "invalid_code":
        return not bad_check_digit(body.get("code"))
    if response.status_code == 422 and error_code(response) == "contains_code":
        return False
    return True
