"""The receiver against its own OpenAPI description, with schemathesis generating the requests.

schemathesis reads `/openapi.json` from the running app and generates requests for every operation, both
bodies that fit the payload schemas (positive) and bodies that break them (negative). Each request is sent
*authenticated* (EnGenius signed over the exact bytes sent, Aerohive and Meraki with their secrets), so the
cases reach validation and storage instead of stopping at a 401. Every response must be documented (status,
content type, body schema), never a 5xx, and a refused POST must store nothing.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from receiver.app import create_app
from tests.conftest import AEROHIVE_SECRET, count_observations, make_settings, sign

MERAKI_SECRET = "meraki-secret"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    app = create_app(
        make_settings(
            tmp_path_factory.mktemp("schemathesis"),
            PRESENCE_MERAKI_SECRET=MERAKI_SECRET,
            PRESENCE_MERAKI_VALIDATOR="validator",
            PRESENCE_REFUSAL_LIMIT="0",  # every refusal here is deliberate; the limiter has its own tests
        )
    )
    yield app
    app.extensions["presence"]["engine"].dispose()


OPERATIONS = [
    ("POST", "/ingest/engenius"),
    ("POST", "/ingest/aerohive"),
    ("POST", "/ingest/meraki"),
    ("GET", "/ingest/meraki"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
]


@pytest.fixture(scope="module")
def receiver_schema(receiver):
    return schemathesis.openapi.from_wsgi("/openapi.json", receiver)


def test_the_description_lists_every_operation(receiver_schema):
    operations = [result.ok() for result in receiver_schema.get_all_operations()]
    listed = {(operation.method.upper(), operation.path) for operation in operations}
    assert listed == set(OPERATIONS)


def authenticated(case) -> tuple[bytes | None, dict[str, str]]:
    """The exact bytes to send and the headers that authenticate them for the case's vendor."""
    headers = {key: str(value) for key, value in (case.headers or {}).items()}
    body = case.body
    if body is None or type(body).__name__ == "NotSet":
        return None, headers
    if isinstance(body, dict) and case.path == "/ingest/meraki":
        body = {**body, "secret": MERAKI_SECRET}
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()  # negative cases may be raw bytes
    headers["Content-Type"] = case.media_type or "application/json"
    if case.path == "/ingest/engenius":
        headers["Signature"] = sign(raw)
    elif case.path == "/ingest/aerohive":
        headers["Authorization"] = f"Bearer {AEROHIVE_SECRET}"
    return raw, headers


# schemathesis' own pytest integration (schema.parametrize) does not run under pytest 9, so its case strategies
# are drawn by hypothesis directly, per operation and generation mode.
# The GETs take no input, so only the POSTs have negative (schema-breaking) cases.
CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in GenerationMode
    if method == "POST" or mode is GenerationMode.POSITIVE
]


@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{method} {path} {mode.value}" for method, path, mode in CASES]
)
def test_every_response_is_documented_and_refusals_store_nothing(receiver, receiver_schema, method, path, mode):
    operation = receiver_schema[path][method]
    engine = receiver.extensions["presence"]["engine"]
    client = receiver.test_client()
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(case):
        before = count_observations(engine)
        body, headers = authenticated(case)
        response = client.open(
            case.formatted_path, method=case.method, data=body, headers=headers, query_string=case.query
        )
        case.validate_response(response, checks=CHECKS)
        statuses.append(response.status_code)
        if response.status_code >= 300:
            assert count_observations(engine) == before, f"a {response.status_code} left rows behind"

    check()
    if method == "POST" and mode is GenerationMode.POSITIVE:  # the description is precise enough to get past validation
        assert 200 in statuses, f"no generated {path} payload was accepted: {sorted(set(statuses))}"
