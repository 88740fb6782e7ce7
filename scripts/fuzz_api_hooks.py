"""schemathesis hooks for scripts/fuzz-api.

1. Fuzzed requests may carry URLs the worker would call later: a run's `webhook_url` (POSTed
   when the run ends), a workspace's `alert_webhook_url`, a webhook tool's `url`. A fuzzer must
   never make the worker reach beyond this machine, so every such URL the API would accept is
   rewritten to a closed loopback port before the request is sent (the worker refuses loopback
   targets anyway, unless allowlisted, and none is). URLs the API would refuse are left as they
   are, so negative tests still see them refused.
2. JSON Lines answers (the billing export): the document's schema describes one line. The
   first line is handed to schemathesis' own schema check; `ndjson_lines_conformance` checks
   every line.
"""

import json

import jsonschema_rs
import schemathesis

URL_FIELDS = {"webhook_url", "alert_webhook_url", "url"}
SAFE_URL = "http://127.0.0.1:9/fuzz"
NDJSON = "application/x-ndjson"


def _accepted_url(value):
    return (
        isinstance(value, str)
        and value.startswith(("http://", "https://"))
        and len(value.encode("utf-8", "surrogatepass")) <= 2048
    )


def _defuse(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key in URL_FIELDS and _accepted_url(item):
                value[key] = SAFE_URL
            else:
                _defuse(item)
    elif isinstance(value, list):
        for item in value:
            _defuse(item)


@schemathesis.hook
def before_call(context, case, **kwargs):
    if isinstance(case.body, (dict, list)):
        _defuse(case.body)


@schemathesis.deserializer(NDJSON)
def first_line(ctx, response):
    lines = response.content.decode("utf-8").splitlines()
    if not lines:
        # Nothing to check (an export of an empty period).
        raise NotImplementedError
    return json.loads(lines[0])


def _media_type(response):
    values = response.headers.get("content-type") or [""]
    return values[0].split(";")[0].strip().lower()


_validators = {}


@schemathesis.check
def ndjson_lines_conformance(ctx, response, case):
    """Every line of a JSON Lines answer is valid against the schema documented for a line."""
    if _media_type(response) != NDJSON:
        return None
    document = case.operation.schema.raw_schema
    key = (case.operation.path, case.method.lower(), response.status_code)
    validator = _validators.get(key)
    if validator is None:
        content = document["paths"][case.operation.path][case.method.lower()]["responses"]
        schema = content[str(response.status_code)]["content"][NDJSON]["schema"]
        validator = jsonschema_rs.validator_for(
            {"allOf": [schema], "components": document.get("components", {})}
        )
        _validators[key] = validator
    for number, line in enumerate(response.content.decode("utf-8").splitlines(), 1):
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise AssertionError(f"line {number} is not JSON: {exc}: {line[:200]}") from None
        for error in validator.iter_errors(value):
            raise AssertionError(f"line {number} does not match its schema: {error}: {line[:200]}")
    return None
