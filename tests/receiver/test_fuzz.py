"""Hostile input: property-based fuzzing of every endpoint, and a corpus of the nastiest bodies found.

Whatever arrives, the answer is a 2xx or a 4xx in the error shape, never a 5xx, and a refused POST stores
nothing. Valid payloads with one field replaced by arbitrary JSON are the most productive mutation: they get
past authentication and the outer shape and probe each field's validation.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver.app import create_app
from store import quarantine as stored_quarantine
from tests.conftest import AEROHIVE_SECRET, count_observations, make_settings, sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NASTY = FIXTURES / "nasty"
SAMPLES = {
    "engenius": json.loads((FIXTURES / "engenius_sample.json").read_text()),
    "aerohive": json.loads((FIXTURES / "aerohive_sample.json").read_text()),
    "meraki": json.loads((FIXTURES / "meraki_v3_sample.json").read_text()) | {"secret": "meraki-secret"},
}
ALLOWED = {200, 400, 401, 413, 422}
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80)  # what HTTP carries

# Numbers and times at and beyond every bound: integers of thousands of digits (json.loads reads up to 4300),
# floats at the ends of the double range and beyond it (written as raw JSON tokens: `1e400` is valid JSON that
# Python reads as infinity), and ISO times at the ends of the date range under every offset a vendor could send.
RAW = "\u0000raw:"  # a string value starting with this is written into the body as the raw JSON token after it
huge_integers = st.integers(min_value=1, max_value=4000).flatmap(
    lambda digits: st.sampled_from([1, -1]).map(lambda sign: sign * (10 ** (digits - 1) + 7))
)
edge_floats = st.sampled_from(
    [1.7976931348623157e308, -1.7976931348623157e308, 5e-324, -5e-324, 2.2250738585072014e-308, 0.0, -0.0]
)
beyond_double = st.sampled_from(["1e309", "-1e309", "1e400", "-1e99999", "1e-400", "123456789e999", "1" * 400 + ".5"])
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
)
edge_moments = st.sampled_from(
    [
        "0001-01-01T00:00:00",
        "0001-01-01T23:59:59",
        "1999-12-31T23:59:59",
        "2000-01-01T00:00:00",
        "2099-12-31T23:59:59",
        "2100-01-01T00:00:00",
        "9999-12-31T00:00:00",
        "9999-12-31T23:59:59.999999",
    ]
)
edge_times = st.tuples(edge_moments, offsets | st.sampled_from(["Z", "", "+0000", "-1400"])).map("".join)
edge_epochs = st.sampled_from(
    [946684799, 946684800, 4102444799, 4102444800, 946684800000, 4102444800000, 10**11 - 1, 10**11, -1, 2**63, -(2**63)]
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | huge_integers
    | st.floats(allow_nan=True, allow_infinity=True)
    | edge_floats
    | beyond_double.map(lambda token: RAW + token)
    | edge_times
    | edge_epochs
    | edge_epochs.map(str)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def encoded(document) -> bytes:
    """JSON with NaN/Infinity literals allowed, and every RAW string written as the token it carries."""
    text = json.dumps(document, allow_nan=True)
    return re.sub(r'"\\u0000raw:([^"]*)"', r"\1", text).encode()


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    app = create_app(
        make_settings(
            tmp,
            PRESENCE_MERAKI_SECRET="meraki-secret",
            PRESENCE_MERAKI_VALIDATOR="v",
            PRESENCE_MAX_BODY_BYTES="200000",
            PRESENCE_REFUSAL_LIMIT="0",  # every refusal here is deliberate; the limiter has its own tests
        )
    )
    yield app
    app.extensions["presence"]["engine"].dispose()


def post(client, vendor: str, body: bytes):
    headers = {"Signature": sign(body), "Authorization": f"Bearer {AEROHIVE_SECRET}"}
    return client.post(f"/ingest/{vendor}", data=body, headers=headers)


def assert_answer_is_well_formed(response) -> None:
    assert response.status_code in ALLOWED, response.get_data(as_text=True)
    answer = response.json
    if response.status_code == 200:
        assert answer["ok"] is True
        assert answer["stored"] >= 0
        assert answer["duplicates"] >= 0
    else:
        assert answer["ok"] is False
        assert answer["status"] == response.status_code
        assert isinstance(answer["error"], str)
        assert answer["error"]


def paths(document, prefix=()):
    """Every path into a JSON document, for picking a field to replace."""
    yield prefix
    if isinstance(document, dict):
        for key, value in document.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from paths(value, (*prefix, index))


def replaced(document, path, value):
    if not path:
        return value
    head, *rest = path
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[head] = replaced(document[head], rest, value)
    return copy


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(vendor=st.sampled_from(sorted(SAMPLES)), data=st.data(), value=json_values)
def test_one_field_replaced_by_anything_never_crashes_or_half_writes(fuzz_app, vendor, data, value):
    document = SAMPLES[vendor]
    path = data.draw(st.sampled_from(list(paths(document))))
    client = fuzz_app.test_client()
    engine = fuzz_app.extensions["presence"]["engine"]
    before = count_observations(engine)
    quarantined = newest_quarantined(engine)
    body = encoded(replaced(document, path, value))
    response = post(client, vendor, body)
    assert_answer_is_well_formed(response)
    after = count_observations(engine)
    if response.status_code != 200:
        assert after == before
    else:
        assert after - before == response.json["stored"]
    if response.status_code == 422:  # authenticated (signed, or the secret in place) but invalid: always kept
        assert newest_quarantined(engine) > quarantined


def newest_quarantined(engine) -> int:
    return max((entry["id"] for entry in stored_quarantine.entries(engine)), default=0)


extreme_values = (
    huge_integers | edge_floats | beyond_double.map(lambda token: RAW + token) | edge_times | edge_epochs
    | edge_epochs.map(str) | huge_integers.map(str)
)  # fmt: skip


def number_and_time_paths(document) -> list[tuple]:
    """The paths to every number, and every string that is a number or a time, in a sample."""

    def numeric(value) -> bool:
        if isinstance(value, bool):
            return False
        if isinstance(value, int | float):
            return True
        return isinstance(value, str) and (value.strip().lstrip("-").replace(".", "", 1).isdigit() or value[:2] == "20")

    return [path for path in paths(document) if path and numeric(value_at(document, path))]


def value_at(document, path):
    for part in path:
        document = document[part]
    return document


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(vendor=st.sampled_from(sorted(SAMPLES)), data=st.data(), value=extreme_values)
def test_every_number_and_time_at_any_magnitude_or_offset_is_answered_and_quarantined(fuzz_app, vendor, data, value):
    """Each number or time field of every vendor, replaced by a value at or beyond its type's range."""
    document = SAMPLES[vendor]
    path = data.draw(st.sampled_from(number_and_time_paths(document)))
    engine = fuzz_app.extensions["presence"]["engine"]
    quarantined = newest_quarantined(engine)
    response = post(fuzz_app.test_client(), vendor, encoded(replaced(document, path, value)))
    assert_answer_is_well_formed(response)
    if response.status_code == 422:
        assert newest_quarantined(engine) > quarantined


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    vendor=st.sampled_from(sorted(SAMPLES)),
    body=st.binary(max_size=300) | json_values.map(encoded),
)
def test_arbitrary_bodies_get_a_clean_answer(fuzz_app, vendor, body):
    assert_answer_is_well_formed(post(fuzz_app.test_client(), vendor, body))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=header_text, authorization=header_text, query=st.text(max_size=40))
def test_arbitrary_credentials_are_refused_cleanly(fuzz_app, header, authorization, query):
    client = fuzz_app.test_client()
    body = json.dumps(SAMPLES["aerohive"]).encode()
    headers = {"Signature": header, "Authorization": authorization}
    for vendor in SAMPLES:
        response = client.post(f"/ingest/{vendor}", data=body, headers=headers, query_string={"secret": query})
        assert_answer_is_well_formed(response)


def nasty_bodies() -> list[Path]:
    return sorted(NASTY.glob("*"))


@pytest.mark.parametrize("path", nasty_bodies(), ids=lambda path: path.name)
def test_nasty_corpus(fuzz_app, path):
    """Regression corpus: each file is `<vendor>--<what>.<ext>`; the body must get a clean 4xx, never 5xx."""
    vendor = path.name.split("--")[0]
    body = path.read_bytes()
    if path.suffix == ".b64":
        body = base64.b64decode(body)
    response = post(fuzz_app.test_client(), vendor, body)
    assert_answer_is_well_formed(response)
    assert response.status_code != 200
