"""API fuzzing and bad input (DESIGN §4, the HTTP part), for a service that publishes an
OpenAPI document (kit.toml service.http.openapi; without one every check here is skipped
with the reason printed).

schemathesis reads the document the INSTALLED service serves and sends the requests it
generates from this host to the port the target publishes on loopback (target.url): valid
requests (positive) and invalid ones (negative: wrong types, out-of-range values, missing
fields). Bounded and reproducible: at most EXAMPLES requests per operation and mode, the
same ones every run (Hypothesis derandomized, no example database, no shrinking), so CI
sees the same requests each time (245 for the sample service, a few seconds). Every answer
must be no 5xx, a documented status code, content type and headers, a body matching the
documented schema, and a 4xx for invalid input. (schemathesis leaves out the operation that
serves the document itself: loading it is that check.) The fuzzer creates and deletes
items; nothing else it does outlives the test, and its bodies stay far below the limit.

Then the explicit bad-input checks: a body over the limit gets 413, ids outside the range
404 or 400, malformed JSON 400 — each a JSON error naming what to send — and none of them
writes anything (the collection's item count is unchanged).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.contract.target import Target

EXAMPLES = 40  # per operation and generation mode: 3 operations with inputs → ≤ 240 requests
TIMEOUT = 10  # seconds per request (a VM under TCG answers slower)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Invalid input (negative mode) must get a 4xx — 413 included, which schemathesis' default
# list leaves out; its own config, so no schemathesis.toml of the working directory applies.
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": ["4xx"]}}}
)
SCHEMA_CHECKS = {
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
}
BAD_IDS = ["0", "-1", str(2**63), str(2**64), "abc", "1.5", "1e3", "%20", "0x10"]
MALFORMED = [  # (body, what it is)
    (b"{bad", "not JSON"),
    (b'{"name": "x"', "truncated JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"name": "\\ud800"}', "a lone surrogate"),
    (b"[1]", "an array, not an object"),
    (b'{"name": 3}', "a name that is not a string"),
    (b"{}", "no name"),
    (b"", "no body"),
]


@dataclass
class Tally:
    """What the fuzzer sent and what came back wrong."""

    requests: Counter[str] = field(default_factory=Counter)  # per operation
    server_errors: int = 0
    schema_mismatches: int = 0
    other_failures: int = 0
    no_answer: int = 0
    examples: dict[tuple[str, str], str] = field(default_factory=dict)  # (op, title) -> repro

    def record(self, label: str, failures: list[Failure], repro: str) -> None:
        for failure in failures:
            checks = set(type(failure).checks)
            if "not_a_server_error" in checks:
                self.server_errors += 1
            elif checks & SCHEMA_CHECKS:
                self.schema_mismatches += 1
            else:
                self.other_failures += 1
            self.examples.setdefault((label, failure.title), f"{failure.message}\n    {repro}")

    @property
    def failed(self) -> int:
        return self.server_errors + self.schema_mismatches + self.other_failures + self.no_answer


@pytest.fixture(scope="module")
def openapi_url(target: Target) -> str:
    path = target.path("openapi", "API fuzzing and the bad-input checks (its OpenAPI contract)")
    return target.url(path)


@pytest.fixture(scope="module")
def api(openapi_url: str) -> Any:
    """The document as the installed service serves it, loaded by schemathesis."""
    return schemathesis.openapi.from_url(openapi_url, config=CONFIG, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def items(target: Target, openapi_url: str) -> str:
    return target.path("items", "the bad-input checks on the item collection")


def _fuzz(operation: Any, mode: GenerationMode, base_url: str, tally: Tally) -> None:
    label = operation.label
    session = requests.Session()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # the same examples every run: CI is reproducible
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the request count is bounded
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        tally.requests[label] += 1
        try:
            response = case.call(base_url=base_url, session=session, timeout=TIMEOUT)
        except requests.RequestException as exc:
            tally.no_answer += 1
            tally.examples.setdefault((label, "no answer"), f"{exc}\n    {case.as_curl_command()}")
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            tally.record(label, list(group.exceptions), case.as_curl_command(base_url=base_url))
        except Failure as failure:
            tally.record(label, [failure], case.as_curl_command(base_url=base_url))

    try:
        run()
    finally:
        session.close()


def _has_inputs(operation: Any) -> bool:
    return bool(list(operation.iter_parameters())) or bool(
        operation.definition.raw.get("requestBody")
    )


def test_fuzz_api_no_server_error_every_answer_as_documented(
    target: Target, api: Any, openapi_url: str
) -> None:
    base_url = target.url()
    tally = Tally()
    start = time.monotonic()
    operations = [result.ok() for result in api.get_all_operations()]
    assert operations, f"{openapi_url} describes no operation"
    for operation in operations:
        _fuzz(operation, GenerationMode.POSITIVE, base_url, tally)
        if _has_inputs(operation):  # nothing to make invalid otherwise
            _fuzz(operation, GenerationMode.NEGATIVE, base_url, tally)
    seconds = time.monotonic() - start
    sent = sum(tally.requests.values())
    print(
        f"API fuzzing ({schemathesis.__version__}, {EXAMPLES} examples per operation and "
        f"mode, derandomized) of {openapi_url}: {sent} requests in {seconds:.1f} s, "
        f"{tally.server_errors} server errors, {tally.schema_mismatches} schema mismatches, "
        f"{tally.other_failures} other failures, {tally.no_answer} unanswered"
    )
    for label, count in sorted(tally.requests.items()):
        print(f"  {label}: {count} requests")
    assert not tally.failed, "API fuzzing found:\n" + "\n".join(
        f"- {label}: {title}: {detail}"
        for (label, title), detail in list(tally.examples.items())[:8]
    )


# --- explicit bad input ------------------------------------------------------------------


def _count(target: Target, items: str) -> int:
    """How many items the collection holds (GET <items>: a JSON list, or an object with
    one list in it)."""
    resp = requests.get(target.url(items), timeout=TIMEOUT)
    assert resp.status_code == 200, f"GET {items} gave {resp.status_code}: {resp.text[:200]}"
    body = resp.json()
    lists = [body] if isinstance(body, list) else [v for v in body.values() if isinstance(v, list)]
    if len(lists) != 1:
        pytest.skip(f"not applicable: GET {items} is not a JSON list (or an object with one)")
    return len(lists[0])


@contextmanager
def _writes_nothing(target: Target, items: str) -> Iterator[None]:
    before = _count(target, items)
    yield
    after = _count(target, items)
    assert after == before, f"refused requests changed the item count: {before} → {after}"


def _assert_json_error(resp: requests.Response, statuses: tuple[int, ...], what: str) -> None:
    assert resp.status_code in statuses, (
        f"{what} gave {resp.status_code}, not {' or '.join(map(str, statuses))}: {resp.text[:200]}"
    )
    assert resp.headers.get("content-type", "").startswith("application/json"), (
        f"{what}: the {resp.status_code} is {resp.headers.get('content-type')!r}, not JSON"
    )
    body = resp.json()
    assert isinstance(body, dict) and body.get("title") and body.get("description"), (
        f'{what}: the {resp.status_code} body {body!r} does not say what to send ({{"title", '
        '"description"}})'
    )


def _body_limit(api: Any, items: str) -> int:
    body = api.raw_schema["paths"].get(items, {}).get("post", {}).get("requestBody", {})
    limit = body.get("x-max-body-bytes")
    if not isinstance(limit, int):
        pytest.skip(
            f"not applicable: the OpenAPI document declares no x-max-body-bytes for POST {items}"
        )
    return limit


def test_body_over_the_limit_is_413_and_writes_nothing(
    target: Target, api: Any, items: str
) -> None:
    limit = _body_limit(api, items)
    over = b'{"name": "' + b"x" * limit + b'"}'  # valid JSON, only too large
    url = target.url(items)
    headers = {"Content-Type": "application/json"}
    with _writes_nothing(target, items):
        resp = requests.post(url, data=over, headers=headers, timeout=TIMEOUT)
        _assert_json_error(resp, (413,), f"POST {items} with {len(over)} bytes (limit {limit})")
        chunked = requests.post(
            url, data=iter([over[:4096], over[4096:]]), headers=headers, timeout=TIMEOUT
        )
        _assert_json_error(chunked, (413,), f"POST {items} with {len(over)} bytes, chunked")
    print(f"POST {items} over {limit} bytes: 413, with and without Content-Length")


def test_ids_out_of_range_are_404_or_400_never_500(target: Target, items: str) -> None:
    with _writes_nothing(target, items):
        for bad in BAD_IDS:
            for method in ("GET", "DELETE"):
                resp = requests.request(method, target.url(f"{items}/{bad}"), timeout=TIMEOUT)
                _assert_json_error(resp, (404, 400), f"{method} {items}/{bad}")
    print(f"ids {', '.join(BAD_IDS)}: 404/400 with a JSON error, for GET and DELETE")


@pytest.mark.parametrize("accept", ["application/json", "text/plain"])
def test_malformed_json_is_400_naming_what_to_send(target: Target, items: str, accept: str) -> None:
    """Whatever the client accepts, the error is JSON: it is what the document promises."""
    url = target.url(items)
    headers = {"Content-Type": "application/json", "Accept": accept}
    with _writes_nothing(target, items):
        for body, what in MALFORMED:
            resp = requests.post(url, data=body, headers=headers, timeout=TIMEOUT)
            _assert_json_error(resp, (400,), f"POST {items} with {what} ({body[:20]!r})")
    print(f"POST {items} with {len(MALFORMED)} malformed bodies (Accept: {accept}): 400, JSON")
